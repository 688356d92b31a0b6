"""Accuracy of a survival model on held-out customers: discrimination, Brier score, calibration.

The metrics come from scikit-survival (``concordance_index_censored``,
``concordance_index_ipcw``, ``cumulative_dynamic_auc``, ``brier_score``); this module prepares
their inputs, keeps them inside their domain and adds calibration by risk group and the
integrated calibration index (ICI).

Time scale. scikit-survival's metrics take no entry times: given left-truncated data on the
tenure scale they would treat a customer who entered observation at tenure 120 as observed from
tenure 0. We therefore measure accuracy on *time since entry into observation* (each customer's
follow-up starts at 0, so nothing is truncated), with predictions *conditional on being on the
book at entry*: ``P(leave within h months | on book at tenure e, x) = 1 - S(e + h | x) / S(e | x)``.
That is also the manager's question: "who will leave in the next 12 months?".
Censoring weights (IPCW) come from the Kaplan-Meier of censoring in the training data.

scikit-survival needs every horizon inside the test follow-up (``min <= t < max``); horizons at
or beyond the longest follow-up are clipped to the last observed time below it
(:func:`clip_horizons`), and the report says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats.km import survival_at
from analysis.stats.splines import restricted_cubic_basis

__all__ = [
    "step_at",
    "conditional_risk",
    "clip_horizons",
    "Accuracy",
    "accuracy",
    "calibration",
    "Calibration",
    "censor_after",
]


def step_at(cumhaz: pd.Series, t) -> np.ndarray:
    """Value of a right-continuous step function (index = jump times) at ``t`` (0 before)."""
    t = np.asarray(t, dtype=float)
    idx = np.searchsorted(cumhaz.index.to_numpy(dtype=float), t, side="right") - 1
    vals = np.r_[0.0, cumhaz.to_numpy(dtype=float)]
    return vals[idx + 1]


def conditional_risk(cumhaz: pd.Series, lp, entry, horizons: Sequence[float]) -> np.ndarray:
    """Risk of leaving within each horizon after entry, given on book at entry.

    ``1 - exp(-(H0(e + h) - H0(e)) * exp(lp))`` for a Cox model with baseline cumulative hazard
    ``cumhaz`` on the tenure scale. Returns an array (n, len(horizons)).
    """
    lp = np.asarray(lp, dtype=float)
    entry = np.asarray(entry, dtype=float)
    h0e = step_at(cumhaz, entry)
    out = np.empty((lp.size, len(horizons)))
    for j, h in enumerate(horizons):
        out[:, j] = -np.expm1(-(step_at(cumhaz, entry + h) - h0e) * np.exp(lp))
    return out


def clip_horizons(horizons: Sequence[float], test_time, train_time=None) -> tuple[list[float], list[str]]:
    """Horizons inside the follow-up that scikit-survival accepts, and notes on any clipping.

    A horizon must be at least the shortest test time and strictly below the longest test time
    (and the longest training time, where the censoring distribution is estimated). Horizons
    beyond are replaced by the last observed test time below the limit; duplicates are dropped.
    """
    test_time = np.asarray(test_time, dtype=float)
    limit = test_time.max()
    if train_time is not None:
        limit = min(limit, np.asarray(train_time, dtype=float).max())
    below = np.unique(test_time[(test_time < limit) & (test_time >= test_time.min())])
    if below.size == 0:
        raise InsufficientDataError("the held-out customers' follow-up is too short to measure accuracy")
    out, notes = [], []
    for h in horizons:
        h = float(h)
        if h < test_time.min():
            notes.append(f"horizon {h:g} is shorter than any follow-up; left out")
            continue
        if h >= limit:
            new = float(below[below < limit].max())
            notes.append(
                f"horizon {h:g} months is at or beyond the longest follow-up ({limit:g}); "
                f"measured at {new:g} months instead"
            )
            h = new
        if h not in out:
            out.append(h)
    if not out:
        raise InsufficientDataError("no horizon lies inside the held-out customers' follow-up")
    return out, notes


def censor_after(time, event, cut: float) -> tuple[np.ndarray, np.ndarray]:
    """Censor follow-up just after ``cut`` (half the smallest gap between distinct times later).

    Events after ``cut`` become censorings at ``cut + gap/2``; nothing at or before ``cut``
    changes. Metrics at horizons up to ``cut`` are unaffected (Harrell's C becomes the C of
    pairs decided by ``cut``), and the censoring distribution stays positive up to ``cut``.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    u = np.unique(time)
    gaps = np.diff(u)
    half = 0.5 * float(gaps[gaps > 0].min()) if (gaps > 0).any() else 0.5
    late = time > cut
    return np.where(late, cut + half, time), event & ~late


def _surv(time, event):
    from sksurv.util import Surv
    return Surv.from_arrays(event=np.asarray(event).astype(bool), time=np.asarray(time, dtype=float))


@dataclass
class Accuracy:
    """Held-out accuracy.

    Attributes
    ----------
    horizons : list of float
        The horizons measured (after clipping).
    c_harrell, c_uno : float
        Concordance (risk score = predicted risk at the last horizon; Uno's truncated there).
    table : DataFrame
        Per horizon: ``auc`` (cumulative/dynamic), ``brier``, ``brier_null`` (Kaplan-Meier of the
        training data, no covariates) and ``ipa`` (1 - brier / brier_null).
    mean_auc : float
        scikit-survival's summary of the AUC over the horizons.
    notes : list of str
    """

    horizons: list
    c_harrell: float
    c_uno: float
    table: pd.DataFrame
    mean_auc: float
    n_train: int
    n_test: int
    events_test: int
    notes: list = field(default_factory=list)


def accuracy(train_time, train_event, test_time, test_event, risk: np.ndarray,
             horizons: Sequence[float]) -> Accuracy:
    """Discrimination and Brier score of predicted risks on held-out data (scikit-survival).

    Follow-up is censored just after the last horizon (:func:`censor_after`) in both sets, so
    Harrell's C is that of the pairs decided by then.

    Parameters
    ----------
    train_time, train_event : arrays
        Training follow-up (time since entry) and events: the censoring distribution.
    test_time, test_event : arrays
        Held-out follow-up and events.
    risk : array (n_test, len(horizons))
        Predicted probability of the event by each horizon (already clipped horizons).
    horizons : sequence of float
        Horizons within the follow-up (see :func:`clip_horizons`).
    """
    from sksurv.metrics import brier_score, concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc  # lazy: scikit-learn is slow to import
    risk = np.atleast_2d(np.asarray(risk, dtype=float))
    if risk.shape[0] != len(np.asarray(test_time)):
        risk = risk.T
    times = np.asarray(horizons, dtype=float)
    test_event = np.asarray(test_event).astype(bool)
    if test_event.sum() < 2:
        raise InsufficientDataError("fewer than 2 held-out customers left: accuracy cannot be measured")
    # censor just after the last horizon: metrics refer to the horizons, and the censoring
    # distribution stays positive wherever it is used
    train_time, train_event = censor_after(train_time, train_event, times.max())
    test_time, test_event = censor_after(test_time, test_event, times.max())
    y_train, y_test = _surv(train_time, train_event), _surv(test_time, test_event)
    score = risk[:, -1]
    c_h = concordance_index_censored(test_event, np.asarray(test_time, dtype=float), score)[0]
    c_u = concordance_index_ipcw(y_train, y_test, score, tau=times[-1])[0]
    with warnings.catch_warnings():
        # A horizon without cases or without controls has no AUC: scikit-survival divides 0 by 0
        # there and the table shows NaN, which is the honest answer. Nothing else is silenced.
        warnings.filterwarnings("ignore", message="invalid value encountered in divide",
                                category=RuntimeWarning)
        auc, mean_auc = cumulative_dynamic_auc(y_train, y_test, risk, times)
    _, bs = brier_score(y_train, y_test, 1.0 - risk, times)
    null = survival_at(pd.DataFrame({"time": train_time, "event": train_event.astype(int)}),
                       list(times), duration="time", event="event")
    s_null = null["survival"].to_numpy()  # horizons lie inside the training follow-up
    _, bs0 = brier_score(y_train, y_test, np.tile(s_null, (risk.shape[0], 1)), times)
    table = pd.DataFrame({"horizon": times, "auc": auc, "brier": bs, "brier_null": bs0,
                          "ipa": 1.0 - bs / bs0})
    return Accuracy(horizons=list(times), c_harrell=float(c_h), c_uno=float(c_u), table=table,
                    mean_auc=float(mean_auc), n_train=len(np.asarray(train_time)),
                    n_test=len(test_event), events_test=int(test_event.sum()))


@dataclass
class Calibration:
    """Calibration at one horizon.

    Attributes
    ----------
    groups : DataFrame
        Per risk group: ``group``, ``n``, ``events``, ``predicted`` (mean predicted risk),
        ``observed`` (1 - Kaplan-Meier at the horizon), ``ci_low``, ``ci_high``.
    curve : DataFrame
        ``predicted``, ``observed``: the smooth calibration curve (hazard regression of the
        outcome on a spline of cloglog(predicted risk), Austin et al. 2020).
    ici, e50, e90 : float
        Mean, median and 90th percentile of |predicted - smoothed observed| over the customers.
    """

    horizon: float
    groups: pd.DataFrame
    curve: pd.DataFrame
    ici: float
    e50: float
    e90: float
    note: str | None = None


def calibration(time, event, risk_h, horizon: float, *, groups: int = 10) -> Calibration:
    """Predicted vs observed risk by horizon ``horizon`` on held-out data (time since entry).

    Risk groups are quantile groups of the predicted risk (``groups``, fewer when there are few
    events: at least 5 events per group on average). The observed risk of a group is one minus
    its Kaplan-Meier estimate at the horizon (log-log 95% CI). The ICI (Austin, Harrell and van
    Klaveren, Stat Med 2020) is the mean absolute difference between predicted risk and the
    smoothed observed risk of a Cox model of the outcome on a restricted cubic spline (3 knots) of
    cloglog(predicted risk).
    """
    from analysis.stats.cox.fit import fit_cox

    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(int)
    p = np.clip(np.asarray(risk_h, dtype=float), 1e-8, 1 - 1e-8)
    n_events = int(event.sum())
    if n_events < 10:
        raise InsufficientDataError(
            f"only {n_events} held-out customers left: too few to check calibration"
        )
    g = int(max(2, min(groups, n_events // 5)))
    ranks = pd.Series(p).rank(method="first")
    grp = pd.qcut(ranks, g, labels=False) + 1
    df = pd.DataFrame({"time": time, "event": event, "group": grp, "p": p})
    surv = survival_at(df, [horizon], duration="time", event="event", group="group")
    surv = surv.set_index("group")
    rows = []
    for k, sub in df.groupby("group"):
        s = surv.loc[k]
        rows.append(dict(group=int(k), n=len(sub), events=int(sub["event"].sum()),
                         predicted=float(sub["p"].mean()), observed=1 - float(s["survival"]),
                         ci_low=1 - float(s["ci_high"]), ci_high=1 - float(s["ci_low"])))
    table = pd.DataFrame(rows)
    # smoothed observed risk: Cox on rcs(cloglog(p), 3 knots)
    cll = np.log(-np.log(1 - p))
    knots = np.unique(np.quantile(cll, [0.1, 0.5, 0.9]))
    note = None
    if knots.size == 3:
        basis = restricted_cubic_basis(cll, knots)
    else:
        basis = cll[:, None]
        note = "predicted risks take few distinct values: linear smoother used"
    cols = [f"b{j}" for j in range(basis.shape[1])]
    fit_df = pd.DataFrame(basis, columns=cols).assign(time=time, event=event)
    cph = fit_cox(fit_df, cols, duration="time", event="event", entry=None)
    b = cph.params.to_numpy()
    h0 = float(step_at(cph.baseline_cumhaz, [horizon])[0])
    obs = -np.expm1(-h0 * np.exp(basis @ b))
    diff = np.abs(p - obs)
    grid_p = np.quantile(p, np.linspace(0.01, 0.99, 50))
    grid_cll = np.log(-np.log(1 - grid_p))
    gb = restricted_cubic_basis(grid_cll, knots) if knots.size == 3 else grid_cll[:, None]
    curve_obs = -np.expm1(-h0 * np.exp(gb @ b))
    curve = pd.DataFrame({"predicted": grid_p, "observed": curve_obs})
    return Calibration(horizon=float(horizon), groups=table, curve=curve, ici=float(diff.mean()),
                       e50=float(np.median(diff)), e90=float(np.quantile(diff, 0.9)), note=note)
