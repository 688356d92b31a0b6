"""Report 05 on a large book: the whole bank's projection, kept as tables and sliced per branch.

Projecting every customer of a large book forward is report 05's cost (minutes at 1M
customers). A render projects the bank once (:func:`analysis.studies.whole_book` keeps the
tables of :func:`pack` for the render) and every branch report reads its customers' rows
(:func:`unpack`): the branch's numbers are then exactly the branch rows of the bank report,
from the bank-wide monthly models (fitted on the bank's model sample, with a term per branch).

The tables hold no customer ids: positions only.

- ``customers``: one row per customer on book, the groupings of the report, the point
  projection of the natural course (``n_<quantity>``), of the outflow scenario (``oc_``) and,
  for the one-more-product targets, the gain (``om_``); flags ``target``, ``waived``.
- ``reps``: the bootstrap replicates, only for the rows a replicate projects (all rows, or the
  bootstrap subsample): ``rep``, ``row`` and the replicate's values as the bank's intervals use
  them (already scaled up for the subsample); every other row keeps its point value.
- ``waiver``: the fee waiver's break-even hazard ratio for the bank (``branch`` null) and each
  branch, point (``rep`` -1) and per replicate.
- ``meta``: one row: replicates, sizes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

__all__ = ["FRAME_COLUMNS", "pack", "unpack"]

#: The per-customer groupings of the report (no ids).
FRAME_COLUMNS = ("tier", "segment", "product_group", "annual_profit", "branch")
ONE_MORE = ("months", "clv")


def pack(frame: pd.DataFrame, sims: dict, quantities, *, sizes: dict,
         margin: dict) -> dict[str, pd.DataFrame]:
    """The tables of a bank-wide projection (``sims`` of
    :func:`analysis.studies.value.estimate._project_all` over the customers of ``frame``;
    ``margin`` the profit model it used)."""
    n = len(frame)
    point = sims["point"]
    cust = frame[list(FRAME_COLUMNS)].reset_index(drop=True).copy()
    for key, prefix in (("natural", "n_"), ("outflow_cut", "oc_")):
        for q in quantities:
            cust[prefix + q] = point[key][q]
    targets, waived = np.asarray(sims["targets"]), np.asarray(sims["waived"])
    for q in ONE_MORE:
        col = np.full(n, np.nan)
        if targets.size:
            col[targets] = point["one_more"][q]
        cust["om_" + q] = col
    cust["target"] = np.isin(np.arange(n), targets)
    cust["waived"] = np.isin(np.arange(n), waived)
    sub = sims.get("sub")
    rows = np.arange(n) if sub is None else np.asarray(sub)
    parts = []
    for b, rep in enumerate(sims["reps"]):
        part = {"rep": np.full(rows.size, b, dtype=np.int32), "row": rows.astype(np.int64)}
        for key, prefix in (("natural", "n_"), ("outflow_cut", "oc_")):
            for q in quantities:
                part[prefix + q] = np.asarray(rep[key][q])[rows]
        for q in ONE_MORE:
            col = np.full(n, np.nan)
            if targets.size and "one_more" in rep:
                col[targets] = rep["one_more"][q]
            part["om_" + q] = col[rows]
        parts.append(pd.DataFrame(part))
    reps = (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame(columns=["rep", "row"]))
    waiver = [{"branch": None, "rep": -1, "hr": float(point["waiver_hr"])}]
    for name, hr in point.get("waiver_hr_branch", {}).items():
        waiver.append({"branch": str(name), "rep": -1, "hr": float(hr)})
    for b, rep in enumerate(sims["reps"]):
        waiver.append({"branch": None, "rep": b, "hr": float(rep["waiver_hr"])})
        for name, hr in rep.get("waiver_hr_branch", {}).items():
            waiver.append({"branch": str(name), "rep": b, "hr": float(hr)})
    meta = pd.DataFrame([{"n_boot": len(sims["reps"]),
                          "fit_customers": int(sizes["fit_customers"]),
                          "fit_sample": bool(sizes["fit_sample"]),
                          "boot_customers": (-1 if sims.get("boot_customers") is None
                                             else int(sims["boot_customers"])),
                          "margin": json.dumps(margin)}])
    return {"customers": cust, "reps": reps,
            "waiver": pd.DataFrame(waiver).astype({"branch": "object"}), "meta": meta}


def unpack(tables: dict[str, pd.DataFrame], quantities, branch: str | None = None
           ) -> tuple[pd.DataFrame, dict, dict, dict]:
    """``(frame, sims, sizes, margin)`` of the bank (``branch`` None) or of one branch's customers,
    read from :func:`pack`'s tables: the same arrays the bank report's tables are built from,
    restricted to the branch's rows."""
    cust = tables["customers"]
    meta = tables["meta"].iloc[0]
    if branch is None:
        rows = np.arange(len(cust))
    else:
        rows = np.flatnonzero(cust["branch"].astype(str).to_numpy() == str(branch))
    mine = cust.iloc[rows].reset_index(drop=True)
    frame = mine[list(FRAME_COLUMNS)].copy()
    targets = np.flatnonzero(mine["target"].to_numpy(dtype=bool))
    waived = np.flatnonzero(mine["waived"].to_numpy(dtype=bool))

    def arrays(src) -> dict:  # a frame or a dict of columns
        out = {key: {q: np.asarray(src[prefix + q], dtype=float) for q in quantities}
               for key, prefix in (("natural", "n_"), ("outflow_cut", "oc_"))}
        if targets.size:
            out["one_more"] = {q: np.asarray(src["om_" + q], dtype=float)[targets]
                               for q in ONE_MORE}
        return out

    waiver = tables["waiver"]
    scope = (waiver["branch"].isna() if branch is None
             else waiver["branch"].astype(str).eq(str(branch)) & waiver["branch"].notna())
    hr = dict(zip(waiver.loc[scope, "rep"].astype(int), waiver.loc[scope, "hr"].astype(float)))
    point = arrays(mine)
    point["waiver_hr"] = hr.get(-1, float("nan"))
    where = np.full(len(cust), -1, dtype=np.int64)
    where[rows] = np.arange(rows.size)
    reps_table = tables["reps"]
    local = where[reps_table["row"].to_numpy(dtype=np.int64)] if len(reps_table) else np.array([])
    reps_table = reps_table[local >= 0].assign(_at=local[local >= 0])
    by_rep = dict(tuple(reps_table.groupby("rep", sort=True))) if len(reps_table) else {}
    values = [c for c in mine.columns if c.startswith(("n_", "oc_", "om_"))]
    base = {c: mine[c].to_numpy(dtype=float) for c in values}
    reps = []
    for b in range(int(meta["n_boot"])):
        full = {c: v.copy() for c, v in base.items()}
        got = by_rep.get(b)
        if got is not None and len(got):
            at = got["_at"].to_numpy()
            for c in values:
                v = got[c].to_numpy(dtype=float)
                keep = ~np.isnan(v) if c.startswith("om_") else slice(None)  # targets only
                full[c][at[keep]] = v[keep]
        rep = arrays(full)
        rep["waiver_hr"] = hr.get(b, float("nan"))
        reps.append(rep)
    boot = int(meta["boot_customers"])
    sims = {"point": point, "reps": reps, "targets": targets, "waived": waived,
            "boot_customers": None if boot < 0 else boot}
    sizes = {"customers": int(len(frame)), "fit_customers": int(meta["fit_customers"]),
             "fit_sample": bool(meta["fit_sample"]), "boot_customers": sims["boot_customers"],
             "models": "bank" if branch is not None else "scope"}
    return frame, sims, sizes, json.loads(meta["margin"])
