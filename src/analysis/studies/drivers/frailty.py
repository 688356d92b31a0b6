"""The outflow warning for a given customer: a sensitivity analysis for unrecorded differences.

The time-varying Cox model compares customers across the book. When customers differ in ways
the data do not record (a *frailty*), the customers most prone to leave go first after a large
outflow, so those still on book a month or two later are the steadier ones, and the ratio
measured across customers is smaller than the ratio for a given customer. This module refits
the same model with a gamma frailty (:mod:`analysis.stats.frailty`) whose variance is estimated
and, as a sensitivity analysis, fixed at stated values. Single spells hardly tell a frailty
apart from the shape of the baseline hazard and from a mis-specified covariate, so the
estimated variance is weak evidence (in the synthetic feedback book it is estimated near 0
although the generator's is 0.25; ``benchmarks/outflow_frailty.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.i18n import tr
from analysis.stats.frailty import FrailtyFit, fit_gamma_frailty
from analysis.studies.drivers.design import DURATION, ENTRY, EVENT

__all__ = ["FRAILTY_VARIANCES", "OutflowFrailty", "monthly_rows", "outflow_given_customer"]

#: Frailty variances of the sensitivity rows (gamma, mean 1: a customer at the 90th percentile
#: of the unrecorded propensity leaves 3.8x as fast as one at the 10th at 0.25, 7.3x at 0.5,
#: 22x at 1).
FRAILTY_VARIANCES: tuple[float, ...] = (0.25, 0.5, 1.0)
#: Above this many customers the frailty models are fitted on a seeded sample of them (one row
#: per customer-month: a 1M-customer book would need ~30M rows). Its four fits took 53 s on a
#: large book's 50,000-customer model sample and 23 s on 20,000 (2 cores), with intervals about
#: 1.6x as wide: a sensitivity analysis, and the report states the sample.
FRAILTY_MAX_CUSTOMERS: int = 20_000


@dataclass
class OutflowFrailty:
    """``table``: one row per assumption (``kind``: ``none``, ``estimated`` or ``assumed``),
    with the frailty ``variance``, the outflow hazard ratio for a given customer and its CI;
    ``theta``/``theta_se``: the variance estimated from the data (``theta_se`` NaN when the
    estimate is 0, at the boundary)."""

    table: pd.DataFrame
    theta: float
    theta_se: float
    fits: dict
    n_customers: int = 0
    sampled: bool = False


def monthly_rows(data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Counting-process rows ``(entry, duration]`` expanded to one row per month at risk.

    >>> d = pd.DataFrame({"customer_id": ["a", "a"], "entry": [3.0, 5.0],
    ...                   "duration": [5.0, 6.0], "event": [0, 1], "x": [0.0, 1.0]})
    >>> monthly_rows(d, ["x"])[["tenure", "event", "x"]].values.tolist()
    [[3.0, 0.0, 0.0], [4.0, 0.0, 0.0], [5.0, 1.0, 1.0]]
    """
    d = data.sort_values(["customer_id", ENTRY], kind="stable")
    start = d[ENTRY].to_numpy(dtype=float)
    n = np.round(d[DURATION].to_numpy(dtype=float) - start).astype(int)
    if np.any(n < 1):
        raise InsufficientDataError(tr("the monthly rows of the time-varying model are not "
                                       "whole months"))
    idx = np.repeat(np.arange(len(d)), n)
    offset = np.arange(idx.size) - np.repeat(np.cumsum(n) - n, n)
    last = offset == np.repeat(n - 1, n)
    out = pd.DataFrame({"customer_id": d["customer_id"].to_numpy()[idx],
                        "tenure": start[idx] + offset})
    out["event"] = np.where(last, d[EVENT].to_numpy(dtype=float)[idx], 0.0)
    for c in columns:
        out[c] = d[c].to_numpy(dtype=float)[idx]
    return out


def outflow_given_customer(tv, variances: Sequence[float] = FRAILTY_VARIANCES, *,
                           max_customers: int = FRAILTY_MAX_CUSTOMERS,
                           seed: int = 1) -> OutflowFrailty:
    """The recent-outflow hazard ratio for a given customer, under gamma frailties.

    Parameters
    ----------
    tv : TimeVarying
        The drivers report's time-varying model (:func:`~analysis.studies.drivers.estimate.time_varying_model`).
    variances : list of float
        Frailty variances assumed in the sensitivity rows.
    max_customers, seed : int
        Larger books are fitted on a sample of this many customers drawn with ``seed``
        (``sampled`` says so; the first row stays the full model's).

    Returns
    -------
    OutflowFrailty
        Rows: the Cox model as fitted (no frailty), the variance estimated from the data, then
        each assumed variance. The months before a customer's first observed month are taken
        to have that month's covariates and no recent outflow.
    """
    if "outflow_3m" not in tv.columns:
        raise InsufficientDataError(tr("no customer had a large outflow in these data"))
    data = tv.data
    ids = data["customer_id"].unique()
    sampled = ids.size > max_customers
    if sampled:
        keep = np.random.default_rng(seed).choice(ids, max_customers, replace=False)
        data = data[data["customer_id"].isin(keep)]
    rows = monthly_rows(data, tv.columns)
    pre = {"outflow_3m": 0.0}
    est = fit_gamma_frailty(rows, tv.columns, pre_entry=pre)
    fits: dict[str, FrailtyFit] = {"estimated": est}
    cox = tv.model.term("outflow_3m")
    out = [dict(kind="none", assumption=tr("none (the model above)"), variance=0.0,
                hr=cox["hr"], ci_low=cox["ci_low"], ci_high=cox["ci_high"])]

    def row(kind, words, variance, fit):
        t = fit.term("outflow_3m")
        out.append(dict(kind=kind, assumption=words, variance=variance, hr=t["hr"],
                        ci_low=t["ci_low"], ci_high=t["ci_high"]))

    row("estimated", tr("estimated from these data"), est.theta, est)
    for v in variances:
        fit = fit_gamma_frailty(rows, tv.columns, pre_entry=pre, theta=float(v), init=est)
        fits[f"{v:g}"] = fit
        row("assumed", tr("assumed"), float(v), fit)
    return OutflowFrailty(table=pd.DataFrame(out), theta=est.theta, theta_se=est.theta_se,
                          fits=fits, n_customers=int(min(ids.size, max_customers)),
                          sampled=bool(sampled))
