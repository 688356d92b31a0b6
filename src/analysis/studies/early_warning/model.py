"""The risk model: a landmark discrete-time hazard fitted only on history before the as-of month.

Why this shape. At every past month ``t`` (a *landmark*) each customer on book has the signals
of :mod:`.features`; the model gives the probability of leaving in month ``t + j`` (``j = 1..6``)
given still on book then, from the signals at ``t`` alone (so nothing has to be forecast), with
a complementary log-log link: the grouped proportional-hazards model of monthly data. The risk
of leaving within ``h`` months is ``1 - prod_{j <= h} (1 - p_j)``. Stacking the landmarks uses
every customer-month; censoring (the as-of month, the end of the data) is exact, because a row
``(t, j)`` enters only when month ``t + j`` (plus the confirmation delay of value attrition) is
at or before the as-of month. Recent signals matter most soon after they appear: outflow
signals get an extra effect in the next 3 months (and in the next month). Tenure enters as a
restricted cubic spline of the tenure at ``t + j`` (the hazard is high in the first year and has
a bump near 30 months). A small ridge penalty on standardised columns keeps rare levels finite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.config import WATCH_HORIZON_MAX, WATCH_RIDGE, WATCH_TRAIN_MONTHS
from analysis.errors import InsufficientDataError
from analysis.i18n import tr
from analysis.stats.discrete_hazard import DiscreteHazardFit, cumulative_risk, fit_discrete_hazard
from analysis.stats.splines import restricted_cubic_basis
from analysis.studies.early_warning.features import PersonMonths, month_text

__all__ = ["RiskModel", "fit_risk_model", "score", "contributions", "BASE_TERMS"]

#: Signals entering the model as they are.
BASE_TERMS = ("out_1m", "out_3m", "share_out_1m", "share_out_3m", "aum_trend_6m",
              "prod_drop_3m", "tier_down_3m", "n_products", "log_aum", "segment_loan", "age10")
#: Signals with an extra effect in the next 3 months ("near") and in the next month ("next").
NEAR_TERMS = ("out_1m", "out_3m", "share_out_1m", "share_out_3m")
NEXT_TERMS = ("out_3m",)


@dataclass
class RiskModel:
    """A fitted risk model and how to build its design for new rows."""

    fit: DiscreteHazardFit
    columns: list[str]
    knots: np.ndarray
    branches: list[str]
    tiers: list[int]
    engagement: bool
    mean: np.ndarray
    scale: np.ndarray
    horizon: int
    as_of_index: int
    n_rows: int
    n_events: int
    notes: list[str] = field(default_factory=list)

    def coefficients(self) -> pd.DataFrame:
        """Coefficients on the standardised scale (per SD of each column) with their SEs."""
        se = np.sqrt(np.diag(self.fit.cov))
        return pd.DataFrame({"term": self.columns, "coef": self.fit.coef, "se": se})


def _base(rows: pd.DataFrame, branches, tiers, engagement) -> tuple[np.ndarray, list[str]]:
    cols = {
        "out_1m": rows["out_1m"].to_numpy(float),
        "out_3m": rows["out_3m"].to_numpy(float),
        "share_out_1m": rows["share_out_1m"].to_numpy(float),
        "share_out_3m": rows["share_out_3m"].to_numpy(float),
        "aum_trend_6m": rows["aum_trend_6m"].to_numpy(float),
        "prod_drop_3m": rows["prod_drop_3m"].to_numpy(float),
        "tier_down_3m": rows["tier_down_3m"].to_numpy(float),
        "n_products": np.clip(rows["n_products"].to_numpy(float), 0, 8),
        "log_aum": np.log1p(rows["aum"].to_numpy(float)),
        "segment_loan": (rows["segment"].astype(str).to_numpy() == "loan").astype(float),
        "age10": np.nan_to_num((rows["age"].to_numpy(float) - 45.0) / 10.0),
    }
    if engagement:
        cols["engagement"] = rows["engagement"].to_numpy(float)
    tier = rows["tier"].to_numpy()
    for t in tiers[1:]:
        cols[f"tier={t}"] = (tier == t).astype(float)
    br = rows["branch"].to_numpy()
    for b in branches[1:]:
        cols[f"branch={b}"] = (br == b).astype(float)
    return np.column_stack(list(cols.values())), list(cols)


def _design(base: np.ndarray, names: list[str], tenure: np.ndarray, j: int, horizon: int,
            knots: np.ndarray) -> np.ndarray:
    """Design rows for month ``t + j``: base signals, tenure spline, month-ahead terms."""
    spl = restricted_cubic_basis(np.log1p(tenure + j), knots)
    if spl.ndim == 1:
        spl = spl[:, None]
    n = base.shape[0]
    ahead = np.zeros((n, horizon - 1))
    if j > 1:
        ahead[:, j - 2] = 1.0
    near = np.column_stack([base[:, names.index(t)] * float(j <= 3) for t in NEAR_TERMS])
    nxt = np.column_stack([base[:, names.index(t)] * float(j == 1) for t in NEXT_TERMS])
    return np.hstack([np.ones((n, 1)), base, spl, ahead, near, nxt])


def _column_names(names, knots, horizon) -> list[str]:
    n_spl = max(len(knots) - 1, 1)
    return (["intercept"] + names + [f"tenure_spline{i}" for i in range(n_spl)]
            + [f"month_ahead={j}" for j in range(2, horizon + 1)]
            + [f"{t} x next 3 months" for t in NEAR_TERMS] + [f"{t} x next month" for t in NEXT_TERMS])


def fit_risk_model(pm: PersonMonths, as_of_index: int, *, horizon: int = WATCH_HORIZON_MAX,
                   train_months: int = WATCH_TRAIN_MONTHS, ridge: float = WATCH_RIDGE,
                   init: np.ndarray | None = None) -> RiskModel:
    """Fit the landmark hazard model on the history strictly before ``as_of_index``.

    Landmarks are the ``train_months`` months before the as-of month; a row ``(t, j)`` needs
    month ``t + j`` (plus the confirmation delay) at or before the as-of month.
    """
    f = pm.frame
    a = int(as_of_index)
    lm = f[f["at_risk"].to_numpy() & (f["m"].to_numpy() >= a - train_months)
           & (f["m"].to_numpy() <= a - 1 - pm.delay)]
    if lm.empty:
        raise InsufficientDataError(tr(
            "no month before {month} to learn from: the risk model needs at least one earlier "
            "month of the panel", month=month_text(pm.months[a])))
    branches = sorted(lm["branch"].unique().tolist())
    tiers = sorted(int(t) for t in lm["tier"].unique())
    base, names = _base(lm, branches, tiers, pm.has_engagement)
    tenure = lm["tenure_months"].to_numpy(float)
    knots = np.unique(np.quantile(np.log1p(tenure + 1), [0.05, 0.275, 0.5, 0.725, 0.95]))
    t = lm["m"].to_numpy()
    egap, ogap = lm["event_gap"].to_numpy(), lm["obs_gap"].to_numpy()
    blocks, ys = [], []
    for j in range(1, horizon + 1):  # one block per month ahead (vectorised over rows)
        keep = (t + j + pm.delay <= a) & (j <= egap) & ((j + pm.delay <= ogap) | (egap == j))
        if keep.any():
            blocks.append(_design(base[keep], names, tenure[keep], j, horizon, knots))
            ys.append((egap[keep] == j).astype(float))
    X = np.vstack(blocks)
    y = np.concatenate(ys)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0  # the intercept column stays a column of ones
    scale[scale == 0] = 1.0
    X -= mean
    X /= scale
    if y.sum() < 5:
        raise InsufficientDataError(tr(
            "only {n} departures before {month}: too few to learn who is at risk (at least 5 "
            "needed)", n=int(y.sum()), month=month_text(pm.months[a])))
    fit = fit_discrete_hazard(X, y, link="cloglog", ridge=ridge,
                              init=init if init is not None and init.size == X.shape[1] else None)
    return RiskModel(fit=fit, columns=_column_names(names, knots, horizon), knots=knots,
                     branches=branches, tiers=tiers, engagement=pm.has_engagement, mean=mean,
                     scale=scale, horizon=horizon, as_of_index=a, n_rows=int(y.size),
                     n_events=int(y.sum()))


def score(model: RiskModel, rows: pd.DataFrame, horizons=(3, 6)) -> pd.DataFrame:
    """Risk of leaving within each horizon for ``rows`` (signals at the as-of month).

    Returns a frame aligned with ``rows``: ``risk_<h>`` per horizon and ``lp_next`` (the
    standardised linear predictor terms of the next month, for the reasons).
    """
    base, names = _base(rows, model.branches, model.tiers, model.engagement)
    tenure = rows["tenure_months"].to_numpy(float)
    probs = np.empty((len(rows), model.horizon))
    for j in range(1, model.horizon + 1):
        X = _design(base, names, tenure, j, model.horizon, model.knots)
        probs[:, j - 1] = model.fit.predict((X - model.mean) / model.scale)
    out = pd.DataFrame(index=rows.index)
    for h in horizons:
        out[f"risk_{h}"] = cumulative_risk(probs[:, : int(h)])
    return out


def contributions(model: RiskModel, rows: pd.DataFrame) -> pd.DataFrame:
    """Each signal's push on next month's log-hazard, relative to a customer with no signal.

    ``coef * x / scale`` summed over a signal's main and near-term columns (month 1), for the
    signals of :data:`~analysis.studies.early_warning.features.SIGNALS`.
    """
    base, names = _base(rows, model.branches, model.tiers, model.engagement)
    X = _design(base, names, rows["tenure_months"].to_numpy(float), 1, model.horizon, model.knots)
    beta = model.fit.coef / model.scale
    cols = model.columns
    out = {}
    for sig in ("out_1m", "out_3m", "share_out_1m", "share_out_3m", "aum_trend_6m",
                "prod_drop_3m", "tier_down_3m"):
        idx = [i for i, c in enumerate(cols) if c == sig or c.startswith(f"{sig} x ")]
        out[sig] = X[:, idx] @ beta[idx]
    return pd.DataFrame(out, index=rows.index)
