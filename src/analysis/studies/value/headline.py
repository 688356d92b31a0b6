"""Headline numbers (JSON) of the customer-value report, under ``value``.

Money is in the data's unit (``assumptions.currency``), lifetime values over
``assumptions.horizon`` months discounted at ``assumptions.discount_rate`` a year; every
interval is a 95% interval. On the synthetic book ``truth`` holds the generator's true value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.value.estimate import CustomerValue, top_share_at_risk

__all__ = ["headline", "truth_by"]


def _key(v) -> str:
    """A group's JSON key: ``"3"`` for tier 3 (``iterrows`` turns integers into floats)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _ci(row) -> dict:
    return {k: float(row[k]) for k in ("estimate", "ci_low", "ci_high")}


def truth_by(cv: CustomerValue, by: tuple, quantity: str = "clv") -> pd.DataFrame | None:
    """The generator's true mean ``quantity`` per group (``clv``, ``months``, ``departs12``...).

    None when the data is not synthetic or the truth was simulated under other assumptions.
    """
    if not cv.truth:
        return None
    cells = cv.truth["cells"]
    keys = list(by)
    s = f"{quantity}_sum"
    if cells.empty or s not in cells:
        return None
    if keys:
        g = cells.groupby(keys, observed=True)[[s, "n"]].sum().reset_index()
    else:
        g = pd.DataFrame({s: [cells[s].sum()], "n": [cells["n"].sum()]})
    g["truth"] = g[s] / g["n"]
    return g[keys + ["truth"]]


def _with_truth(table: pd.DataFrame, truth: pd.DataFrame | None, keys: list) -> pd.DataFrame:
    if truth is None:
        return table.assign(truth=np.nan)
    if not keys:
        return table.assign(truth=float(truth["truth"].iloc[0]))
    t = truth.copy()
    for k in keys:  # the truth's cells carry the data's types; align on text
        t[k] = t[k].astype(str)
    tab = table.copy()
    tab["_k"] = range(len(tab))
    for k in keys:
        tab[k + "_s"] = tab[k].astype(str)
    m = tab.merge(t.rename(columns={k: k + "_s" for k in keys}), on=[k + "_s" for k in keys],
                  how="left").sort_values("_k")
    return m.drop(columns=["_k", *[k + "_s" for k in keys]])


def _scenario_truth(cv: CustomerValue) -> dict:
    if not cv.truth:
        return {}
    c = cv.truth["cells"]
    if "targets" not in c or c["targets"].sum() == 0:
        return {}
    return {"months_gained": float(c["months_gain_sum"].sum() / c["targets"].sum()),
            "profit_gained": float(c["clv_gain_sum"].sum() / c["targets"].sum())}


def _model_sample(cv: CustomerValue) -> dict | None:
    """The seeded sample the monthly models were fitted on, and whose (``scope``): a branch of
    a large book is projected with the bank's models, fitted on the bank's sample."""
    sample = getattr(cv.study, "sample", None)
    if sample is None:
        return None
    if cv.sizes.get("models") == "bank":
        of = sample.book.n_customers if sample.book is not None else sample.of
        return {"customers": int(cv.sizes["fit_customers"]), "of": int(of), "seed": sample.seed,
                "scope": "bank"}
    return {**sample.to_dict(), "scope": cv.scope}


def headline(cv: CustomerValue) -> dict:
    """Machine-readable headline numbers (the JSON next to the HTML). No ids."""
    a = cv.assumptions
    out: dict = {"scope": cv.scope,
                 "as_of": None if cv.as_of is None else f"{cv.as_of:%Y-%m-%d}",
                 "snapshot": cv.snapshot, "assumptions": a.as_dict(),
                 # a large book: the monthly models come from this seeded sample (all projected)
                 "model_sample": _model_sample(cv)}
    out["assumptions"]["currency"] = a.currency
    if not cv.customers.ok:
        out["note"] = cv.customers.note
        return {"value": out}
    g = cv.groups
    out["customers"] = int(len(cv.customers.value))
    ts = (_with_truth(g["tier_segment"], truth_by(cv, ("tier", "segment")), ["tier", "segment"])
          if "tier_segment" in g else pd.DataFrame(columns=["tier", "segment"]))
    out["clv"] = [{"tier": int(r["tier"]), "segment": str(r["segment"]),
                   "customers": int(r["customers"]), **_ci(r),
                   "truth": None if pd.isna(r["truth"]) else float(r["truth"])}
                  for _, r in ts.iterrows()]
    for key in ("tier", "segment", "product_group", "branch"):
        if key in g:
            t = _with_truth(g[key], truth_by(cv, (key,)) if key != "product_group" else None,
                            [key])
            out[f"clv_by_{key}"] = {_key(r[key]): {**_ci(r), "customers": int(r["customers"]),
                                                  "truth": None if pd.isna(r["truth"])
                                                  else float(r["truth"])}
                                    for _, r in t.iterrows()}
    tall = truth_by(cv, ())
    out["clv_mean"] = {**_ci(g["all"].iloc[0]),
                       "truth": None if tall is None else float(tall["truth"].iloc[0])}
    # the scope's total: "bank" in the bank report, "branch" in a branch report
    var = {"bank" if cv.scope == "bank" else "branch": _ci(g["var_all"].iloc[0]),
           "top20_share": top_share_at_risk(cv)}
    if "var_tier" in g:
        var["by_tier"] = {_key(r["tier"]): _ci(r) for _, r in g["var_tier"].iterrows()}
    if "var_branch" in g:
        var["by_branch"] = {_key(r["branch"]): _ci(r) for _, r in g["var_branch"].iterrows()}
    out["value_at_risk_12m"] = var
    dep_truth = truth_by(cv, (), "departs12")
    out["departures_12m"] = {**_ci(g["departs_all"].iloc[0]),
                             "truth": None if dep_truth is None else
                             float(dep_truth["truth"].iloc[0] * out["customers"])}
    if cv.scenarios.ok:
        sc = {k: dict(v) for k, v in cv.scenarios.value.items()}
        truth = _scenario_truth(cv)
        one = sc.get("one_more_product", {})
        for q in ("months_gained", "profit_gained"):
            if isinstance(one.get(q), dict):
                one[q] = {**one[q], "truth": truth.get(q)}
        out["scenarios"] = sc
    if cv.economics.ok:
        e = cv.economics.value
        out["break_even"] = {
            _key(r["tier"]): {"value_kept": float(r["value_kept"]),
                             "max_spend": float(r["max_spend"]),
                             "break_even_success_rate": (None if pd.isna(r["break_even_success"])
                                                         else float(r["break_even_success"]))}
            for _, r in e["by_tier"].iterrows()}
        out["replacement"] = e["replacement"]
    if getattr(cv, "holdout", None) is not None and cv.holdout.ok:
        out["holdout"] = cv.holdout.value["summary"]
    return {"value": out}
