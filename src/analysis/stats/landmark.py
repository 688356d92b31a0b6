"""Landmark analysis: products held at a tenure landmark, attrition afterwards.

At a landmark of ``L`` months of tenure, the population is every customer *observed and still
on book* at that tenure: first seen at tenure ``<= L`` (so their products at ``L`` are known)
and still a customer after ``L``. Their product count at ``L`` is fixed, follow-up starts at
``L`` for everyone (no immortal time: nobody's exposure is defined by surviving past ``L``), and
a Cox model gives the hazard ratio per additional product for the attrition after ``L``.
Customers first seen after ``L`` (the left-truncated part of the book) are not in that
landmark's population: their products at ``L`` were never observed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analysis.stats.cox.fit import fit_cox
from analysis.stats.cox.result import CoxResult
from analysis.errors import InsufficientDataError

__all__ = ["landmark_frame", "landmark_cox"]


def landmark_frame(
    intervals: pd.DataFrame,
    landmark: float,
    *,
    id_col: str = "customer_id",
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    horizon: float | None = None,
) -> pd.DataFrame:
    """One row per customer at risk at tenure ``landmark``, with covariates at the landmark.

    Parameters
    ----------
    intervals : DataFrame
        Counting-process intervals (:func:`analysis.frames.counting_process`).
    landmark : float
        Tenure (months) of the landmark.
    horizon : float, optional
        Follow-up after the landmark is cut at this many months (administrative censoring).

    Returns
    -------
    DataFrame
        The interval covering ``(landmark, landmark + 1]`` for each customer with ``start <=
        landmark < stop`` (so all time-varying covariates are their values at the landmark),
        plus ``time`` (months from the landmark to attrition or censoring) and ``event``.
    """
    iv = intervals
    last = iv.groupby(id_col, sort=False).agg(_last_stop=(stop, "max"), _event=(event, "max"))
    at = iv[(iv[start] <= landmark) & (iv[stop] > landmark)]
    out = at.drop(columns=[event]).merge(last, left_on=id_col, right_index=True, how="left")
    out["time"] = out["_last_stop"] - landmark
    out["event"] = out["_event"].astype(int)
    if horizon is not None:
        beyond = out["time"] > horizon
        out.loc[beyond, "event"] = 0
        out.loc[beyond, "time"] = float(horizon)
    out["landmark"] = float(landmark)
    return out.drop(columns=["_last_stop", "_event"]).reset_index(drop=True)


def landmark_cox(
    intervals: pd.DataFrame,
    landmarks: Sequence[float],
    *,
    exposure: str = "n_products",
    covariates: Sequence[str] = (),
    strata: Sequence[str] | str | None = None,
    id_col: str = "customer_id",
    horizon: float | None = None,
    min_events: int = 10,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, dict[float, CoxResult]]:
    """HR per unit of ``exposure`` at each landmark (Cox, adjusted for ``covariates``).

    Covariates that take a single value among the customers of a landmark, or 0/1 covariates
    with no departure on one side, are left out for that landmark (noted). A landmark with
    fewer than ``min_events`` departures, or where the model
    cannot be fitted, gives a row with NaN estimates and the reason in ``note``.

    Returns
    -------
    table : DataFrame
        ``landmark, n, events, hr, ci_low, ci_high, p, mean_exposure, note``.
    fits : dict
        The fitted models by landmark.
    """
    rows, fits = [], {}
    for L in landmarks:
        lf = landmark_frame(intervals, L, id_col=id_col, horizon=horizon)
        row = {"landmark": float(L), "n": len(lf), "events": int(lf["event"].sum()),
               "hr": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan,
               "mean_exposure": float(lf[exposure].mean()) if len(lf) else np.nan, "note": ""}
        try:
            if row["events"] < min_events:
                raise InsufficientDataError(
                    f"only {row['events']} departures after the {L:g}-month landmark "
                    f"(at least {min_events} needed)"
                )
            covs, dropped = [], []
            ev = lf["event"].to_numpy(dtype=float)
            for c in covariates:
                x = lf[c].to_numpy(dtype=float)
                binary = set(np.unique(x)) <= {0.0, 1.0}
                if np.ptp(x) == 0 or (binary and (ev[x == 1].sum() == 0 or ev[x == 0].sum() == 0)):
                    dropped.append(c)
                else:
                    covs.append(c)
            strata_l = [strata] if isinstance(strata, str) else list(strata or [])
            use_strata = strata_l if strata_l and lf[strata_l[0]].nunique() > 1 else None
            fit = fit_cox(lf, [exposure] + covs, duration="time", event="event", entry=None,
                          strata=use_strata, alpha=alpha)
            est = fit.term(exposure)
            row.update({k: est[k] for k in ("hr", "ci_low", "ci_high", "p")})
            if dropped:
                row["note"] = ("left out (one value, or no departures on one side): "
                               + ", ".join(dropped))
            fits[float(L)] = fit
        except InsufficientDataError as exc:
            row["note"] = f"not estimable: {exc}"
        rows.append(row)
    return pd.DataFrame(rows), fits
