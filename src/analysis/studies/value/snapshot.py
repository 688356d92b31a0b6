"""Customer value on a one-row-per-customer snapshot (a value column, no monthly history).

Without histories there is no model of how products, balances and risk move month to month, so
the lifetime value comes from the **shifted-beta-geometric** model (Fader & Hardie 2007;
:mod:`analysis.stats.sbg`) fitted per product group on tenure (with delayed entry where the
extract has an entry time), and the margin is the value column held constant (read as an annual
amount). Where the customers show no spread of churn chances (the sBG runs off to its limit), a
constant monthly churn chance is used instead. Scenarios, migration and the held-out comparison need monthly histories: the report
says so. Intervals: customers resampled, every sBG refitted.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.errors import Attempt, ConvergenceWarning, InsufficientDataError
from analysis.stats.sbg import fit_sbg
from analysis.studies.population import Study

__all__ = ["snapshot_value", "NEEDS_HISTORY"]

NEEDS_HISTORY = ("Not estimable: scenarios, tier migration and the held-out comparison need "
                 "each customer's monthly history; this dataset has one row per customer")
#: A product group with fewer departures uses the sBG fitted on all customers.
MIN_GROUP_EVENTS = 10


def _periods(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole months: entry (floor), exit (ceiling; after entry for a departure), event."""
    entry = np.floor(f["entry"].to_numpy(dtype=float)) if "entry" in f else np.zeros(len(f))
    exit_ = np.ceil(f["duration"].to_numpy(dtype=float))
    event = f["event"].to_numpy(dtype=int)
    exit_ = np.where(event == 1, np.maximum(exit_, np.maximum(entry + 1, 1)),
                     np.maximum(exit_, entry))
    return entry.astype(int), exit_.astype(int), event


class _Geometric:
    """Constant monthly churn chance ``p`` (the sBG's limit when customers do not differ)."""

    def __init__(self, entry, exit_, event, w):
        at_risk = float(np.sum(w * (exit_ - entry)))
        if at_risk <= 0 or np.sum(w * event) <= 0:
            raise InsufficientDataError("no departure to estimate the churn chance from")
        self.p = float(np.sum(w * event)) / at_risk

    def conditional_survival(self, t0, t1):
        return (1.0 - self.p) ** (np.asarray(t1, float) - np.asarray(t0, float))

    def expected_months(self, t0, horizon, discount=None):
        disc = np.ones(horizon) if discount is None else np.asarray(discount, float)
        terms = (1.0 - self.p) ** np.arange(horizon)
        return np.full(np.shape(t0), float(terms @ disc))


def _fit_quiet(entry, exit_, event, w):
    """An sBG fit, or the constant-churn model when the sBG ran to that limit (no spread of
    churn chances between customers to estimate)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = fit_sbg(entry, exit_, event, w)
    if any(issubclass(c.category, ConvergenceWarning) for c in caught):
        return _Geometric(entry, exit_, event, w)
    return fit


def _fits(entry, exit_, event, groups, w=None) -> dict:
    """sBG per group; the pooled fit for groups with few departures."""
    w = np.ones(len(entry)) if w is None else w
    pooled = _fit_quiet(entry, exit_, event, w)
    out = {}
    for g in np.unique(groups):
        sel = (groups == g) & (w > 0)
        if (event[sel] * w[sel]).sum() >= MIN_GROUP_EVENTS:
            try:
                out[g] = _fit_quiet(entry[sel], exit_[sel], event[sel], w[sel])
            except InsufficientDataError:
                pass
    return {g: out.get(g) or pooled for g in np.unique(groups)}


def _project(fits, groups, t0, monthly, a) -> dict:
    disc = (1.0 + a.discount_rate) ** (-np.arange(1, a.horizon + 1) / 12.0)
    out = {k: np.zeros(len(t0)) for k in ("clv", "months", "departs12", "lost12", "profit12")}
    for g, f in fits.items():
        r = groups == g
        if not r.any():
            continue
        out["months"][r] = f.expected_months(t0[r], a.horizon)
        out["clv"][r] = monthly[r] * f.expected_months(t0[r], a.horizon, disc)
        m12 = f.expected_months(t0[r], 12)
        out["profit12"][r] = monthly[r] * m12
        out["lost12"][r] = monthly[r] * (12.0 - m12)
        out["departs12"][r] = 1.0 - f.conditional_survival(t0[r], t0[r] + 12)
    return out


def snapshot_value(study: Study, a):
    """:class:`~analysis.studies.value.estimate.CustomerValue` of a snapshot study."""
    from analysis.studies.value.estimate import (QUANTITIES, CustomerValue, group_table)

    cv = CustomerValue(study=study, as_of=study.as_of, assumptions=a, customers=Attempt(),
                       snapshot=True)
    cv.scenarios = cv.migration = cv.holdout = cv.economics = Attempt(note=NEEDS_HISTORY)
    f = study.frame
    if not study.value_column or study.value_column not in f:
        cv.customers = Attempt(note="Not estimable: the extract has no value column (map one "
                                    "as 'value' to put money on attrition)")
        return cv
    entry, exit_, event = _periods(f)
    groups = (f["product_group"].astype(str).to_numpy() if "product_group" in f
              else np.full(len(f), "all"))
    try:
        fits = _fits(entry, exit_, event, groups)
    except InsufficientDataError as exc:
        cv.customers = Attempt(note=f"Not estimable: {exc}")
        return cv
    active = event == 0
    t0 = exit_[active]
    monthly = pd.to_numeric(f[study.value_column], errors="coerce").fillna(0.0).to_numpy(
        dtype=float)[active] / 12.0
    point = _project(fits, groups[active], t0, monthly, a)
    rng = np.random.default_rng(a.seed)
    reps = []
    for _ in range(int(a.n_boot)):
        w = rng.multinomial(len(f), np.full(len(f), 1.0 / len(f))).astype(float)
        try:
            reps.append(_project(_fits(entry, exit_, event, groups, w), groups[active], t0,
                                 monthly, a))
        except InsufficientDataError:
            continue
    frame = pd.DataFrame({"product_group": groups[active], "annual_profit": 12.0 * monthly})
    if "branch" in f and f["branch"].nunique() > 1:
        frame["branch"] = f["branch"].astype(str).to_numpy()[active]
    cv.customers = Attempt(value=frame.assign(**{q: point[q] for q in QUANTITIES}))
    keys = ["product_group"] + (["branch"] if "branch" in frame else [])
    for k in [*keys, ()]:
        cv.groups[k or "all"] = group_table(frame, k, point, reps)
    if "branch" in frame:
        cv.groups["var_branch"] = group_table(frame, "branch", point, reps, "lost12", mean=False)
    cv.groups["var_all"] = group_table(frame, (), point, reps, "lost12", mean=False)
    cv.groups["departs_all"] = group_table(frame, (), point, reps, "departs12", mean=False)
    cv.notes.append("snapshot")
    return cv
