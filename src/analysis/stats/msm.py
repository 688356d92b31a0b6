"""Marginal structural Cox model: stabilised time-varying inverse-probability weights.

Robins, Hernan & Brumback (2000); Hernan & Robins, *Causal Inference: What If*, ch. 12 and 21.
The exposure is a count that changes month by month (products held). On person-month rows
(one row per customer and month of follow-up since study entry, ``time = 0, 1, ...``, at risk
while the row exists, ``event`` on the month of attrition):

1. **Treatment model.** At entry (``time = 0``) the count is a category ``lo, lo+1, ...,
   lo+K-1+`` (the top one open); in later months the change against last month is ``down``,
   ``same`` or ``up``. Both are fitted as *continuation-ratio* logistic models (a sequence of
   binary logits: ``P(level j | level >= j)`` at entry; ``P(up)`` then ``P(down | not up)``
   monthly), which is a proper multinomial model built from binary fits. A level at which no
   move up (down) is ever seen gets probability 0 of that move (e.g. no drop below one product):
   a structural zero, not a fitted one.
2. **Weights.** For each row, the ratio of the probability of the observed value under the
   *numerator* model (past counts and time only) and under the *denominator* model (plus the
   baseline and time-varying confounders); the weight of month ``t`` is the product of the
   ratios up to and including ``t`` (Cole & Hernan 2008: stabilised, mean near 1).
   Optional inverse-probability-of-censoring weights (:func:`censoring_weights`) multiply them.
3. **Outcome model.** A Cox model of the hazard on the *time since entry* scale with the current
   count only, fitted to the weighted rows ``(time, time + 1]`` with the package's Efron engine
   and the Lin-Wei sandwich clustered by customer: ``exp(beta)`` is the *marginal* hazard ratio
   of holding one more product, i.e. the ratio the population would show had everyone held
   ``k + 1`` rather than ``k`` products from entry.

Truncation of the weights is offered only as a labelled sensitivity: it changes the estimand.
The sandwich treats the weights as known; the benchmark (``benchmarks/coverage.py``) measures
its coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats.cox.fit import fit_cox
from analysis.stats.cox.result import CoxResult
from analysis.stats.logit import fit_logit, predict_logit

#: L2 penalty of the treatment models (see :func:`analysis.stats.logit.fit_logit`).
RIDGE = 1e-6

__all__ = ["EntryModel", "ChangeModel", "msm_weights", "censoring_weights", "MSMResult",
           "fit_msm_cox", "group_cumprod", "cox_monthly_1d", "MSMBootstrap",
           "bootstrap_interval"]


def group_cumprod(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Cumulative product of ``values`` within runs of equal ``ids`` (rows sorted by id, time).

    >>> group_cumprod(np.array([2.0, 3.0, 0.5, 4.0]), np.array([1, 1, 2, 2])).tolist()
    [2.0, 6.0, 0.5, 2.0]
    """
    # exact products per run (a cumulative sum of logs over the whole book loses digits)
    ids = np.asarray(ids)
    run = np.cumsum(np.r_[True, ids[1:] != ids[:-1]])
    return pd.Series(np.asarray(values, dtype=float)).groupby(run, sort=False).cumprod().to_numpy()


class EntryModel:
    """Continuation-ratio logits of a count at entry over levels ``lo .. lo+K-2`` and ``lo+K-1+``.

    ``fit(X, a)`` with ``X`` holding the intercept; ``prob(X, a)`` is ``P(A = a | X)`` (the top
    level pooled).
    """

    def __init__(self, levels: int = 5):
        self.levels = int(levels)

    def _cat(self, a):
        return np.minimum(np.asarray(a, dtype=float) - self.lo, self.levels - 1).astype(int)

    def fit(self, X, a, weights=None, init=None) -> "EntryModel":
        a = np.asarray(a, dtype=float)
        self.lo = float(np.min(a)) if init is None else init.lo
        c = self._cat(a)
        w = np.ones(len(a)) if weights is None else np.asarray(weights, dtype=float)
        self.betas = {}
        for j in range(self.levels - 1):
            at = (c >= j) & (w > 0)
            y = (c[at] == j).astype(float)
            if at.sum() == 0 or y.min() == y.max():  # nobody, or everybody, stops at level j
                self.betas[j] = float(y.mean()) if at.sum() else 0.0
                continue
            start = None if init is None else init.betas.get(j)
            self.betas[j] = fit_logit(X[at], y, w[at], ridge=RIDGE,
                                      init=start if isinstance(start, np.ndarray) else None)
        return self

    def _stop(self, X, j):
        b = self.betas[j]
        return np.full(len(X), b) if np.isscalar(b) else predict_logit(X, b)

    def prob(self, X, a) -> np.ndarray:
        c = self._cat(a)
        out = np.ones(len(c))
        for j in range(self.levels - 1):
            p = self._stop(X, j)
            out = np.where(c == j, out * p, np.where(c > j, out * (1 - p), out))
        return out


class ChangeModel:
    """Monthly change of a count: ``P(up)``, then ``P(down | not up)`` (continuation ratio).

    Levels of last month's count at which no move up (down) was observed get probability 0 of
    that move; the logits are fitted on the other rows.
    """

    def fit(self, X, a_prev, a, weights=None, init=None, max_iter: int = 50) -> "ChangeModel":
        a_prev = np.asarray(a_prev, dtype=float)
        d = np.sign(np.asarray(a, dtype=float) - a_prev)
        w = np.ones(len(d)) if weights is None else np.asarray(weights, dtype=float)
        if init is None:
            levels = np.unique(a_prev)
            self.no_up = np.array([lv for lv in levels if not np.any((a_prev == lv) & (d > 0))])
            self.no_down = np.array([lv for lv in levels if not np.any((a_prev == lv) & (d < 0))])
        else:  # a refit (bootstrap) keeps the structural zeros of the full data
            self.no_up, self.no_down = init.no_up, init.no_down
        up_rows = ~np.isin(a_prev, self.no_up) & (w > 0)
        self.beta_up = self._fit(X[up_rows], (d[up_rows] > 0), w[up_rows],
                                 None if init is None else init.beta_up, max_iter)
        down_rows = ~np.isin(a_prev, self.no_down) & (d <= 0) & (w > 0)
        self.beta_down = self._fit(X[down_rows], (d[down_rows] < 0), w[down_rows],
                                   None if init is None else init.beta_down, max_iter)
        return self

    @staticmethod
    def _fit(X, y, w, init, max_iter):
        if len(y) == 0 or not y.any():
            return None
        return fit_logit(X, y.astype(float), w, init=init, ridge=RIDGE, max_iter=max_iter)

    def probs(self, X, a_prev) -> tuple[np.ndarray, np.ndarray]:
        """``P(up)`` and ``P(down)`` of each row."""
        a_prev = np.asarray(a_prev, dtype=float)
        up = np.zeros(len(X)) if self.beta_up is None else predict_logit(X, self.beta_up)
        up = np.where(np.isin(a_prev, self.no_up), 0.0, up)
        down = np.zeros(len(X)) if self.beta_down is None else predict_logit(X, self.beta_down)
        down = np.where(np.isin(a_prev, self.no_down), 0.0, down)
        return up, (1 - up) * down

    def prob(self, X, a_prev, a) -> np.ndarray:
        """Probability of the observed change (its sign) of each row."""
        up, down = self.probs(X, a_prev)
        d = np.sign(np.asarray(a, dtype=float) - np.asarray(a_prev, dtype=float))
        return np.where(d > 0, up, np.where(d < 0, down, 1 - up - down))

    def draw(self, X, a_prev, u) -> np.ndarray:
        """Next month's count from uniforms ``u`` (change of -1, 0 or +1)."""
        up, down = self.probs(X, a_prev)
        return np.asarray(a_prev, dtype=float) + (u < up) - (u > 1 - down)


def _design(df: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    return np.column_stack([np.ones(len(df))] + [df[c].to_numpy(dtype=float) for c in cols])


class _WeightModels:
    """The treatment models of :func:`msm_weights` on fixed designs, refittable with case weights."""

    def __init__(self, pm, *, treatment, previous, numerator, denominator, entry_numerator,
                 entry_denominator, time, entry_levels):
        self.entry = (pm[time] == 0).to_numpy()
        self.a = pm[treatment].to_numpy(dtype=float)
        self.levels = entry_levels
        e, later = pm[self.entry], pm[~self.entry]
        self.xe = (_design(e, entry_numerator), _design(e, entry_denominator))
        self.prev = later[previous].to_numpy(dtype=float)
        self.xc = (_design(later, numerator), _design(later, denominator))

    def fit(self, weights=None, init=None, max_iter: int = 50) -> list:
        """Numerator and denominator models (entry, change); ``init`` the full fit's (refit)."""
        ae, ac = self.a[self.entry], self.a[~self.entry]
        we = None if weights is None else weights[self.entry]
        wc = None if weights is None else weights[~self.entry]
        models = []
        for i in range(2):
            em = (EntryModel(self.levels).fit(self.xe[i], ae, we, None if init is None
                                              else init[i][0]) if self.entry.any() else None)
            cm = (ChangeModel().fit(self.xc[i], self.prev, ac, wc, None if init is None
                                    else init[i][1], max_iter=max_iter)
                  if (~self.entry).any() else None)
            models.append((em, cm))
        return models

    def ratio(self, models) -> np.ndarray:
        """Numerator over denominator probability of each row's observed count."""
        (en, cn), (ed, cd) = models
        ratio = np.ones(len(self.a))
        if en is not None:
            ae = self.a[self.entry]
            ratio[self.entry] = en.prob(self.xe[0], ae) / ed.prob(self.xe[1], ae)
        if cn is not None:
            ac = self.a[~self.entry]
            ratio[~self.entry] = (cn.prob(self.xc[0], self.prev, ac)
                                  / cd.prob(self.xc[1], self.prev, ac))
        return ratio


def msm_weights(pm: pd.DataFrame, *, treatment: str, previous: str, numerator: Sequence[str],
                denominator: Sequence[str], entry_numerator: Sequence[str] = (),
                entry_denominator: Sequence[str] = (), id_col: str = "customer_id",
                time: str = "time", entry_levels: int = 5) -> tuple[np.ndarray, dict]:
    """Stabilised time-varying weights of each person-month row (rows sorted by id, time).

    Parameters
    ----------
    pm : DataFrame
        Person-month rows; ``previous`` is last month's count (ignored at ``time == 0``).
    numerator, denominator : list of str
        Covariates of the monthly change models (an intercept is added). The numerator set
        should hold ``previous`` and the time terms only, the denominator adds the confounders.
    entry_numerator, entry_denominator : list of str
        Covariates of the count at entry (numerator usually none: its marginal distribution).

    Returns
    -------
    weights : ndarray
        Product of the ratios up to each row.
    info : dict
        ``mean, sd, min, max, p1, p99`` of the weights.
    """
    wm = _WeightModels(pm, treatment=treatment, previous=previous, numerator=numerator,
                       denominator=denominator, entry_numerator=entry_numerator,
                       entry_denominator=entry_denominator, time=time,
                       entry_levels=entry_levels)
    w = _stabilised(wm.ratio(wm.fit()), pm[id_col].to_numpy())
    return w, _weight_info(w)


def _stabilised(ratio: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(ratio)) or np.any(ratio <= 0):
        raise InsufficientDataError(
            "the weights are not defined: an observed product change has probability 0 under "
            "the treatment model (no overlap)")
    return group_cumprod(ratio, ids)


def _weight_info(w: np.ndarray) -> dict:
    p1, p99 = np.percentile(w, [1, 99])
    return {"mean": float(w.mean()), "sd": float(w.std()), "min": float(w.min()),
            "max": float(w.max()), "p1": float(p1), "p99": float(p99)}


def censoring_weights(pm: pd.DataFrame, *, group: str, event: str = "event",
                      id_col: str = "customer_id", time: str = "time",
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Inverse probability of remaining uncensored up to each row, per ``group``.

    A customer whose last row has no event is censored after it. Within each level of
    ``group`` (e.g. new vs existing customers, whose follow-up the window cuts differently) the
    censoring probability after month ``s`` is estimated by its share among the rows at month
    ``s`` without an event; the weight of month ``t`` is ``1 / prod_{s < t} (1 - c_s)``.
    ``weights``: case weights of the rows (bootstrap counts), default 1.
    """
    ids = pm[id_col].to_numpy()
    last = np.r_[ids[1:] != ids[:-1], True]
    cens = last & (pm[event].to_numpy() == 0)
    w = np.ones(len(pm)) if weights is None else np.asarray(weights, dtype=float)
    d = pd.DataFrame({"g": pm[group].to_numpy(), "t": pm[time].to_numpy(), "cw": cens * w,
                      "w": w, "ok": pm[event].to_numpy() == 0})
    sums = d[d["ok"]].groupby(["g", "t"])[["cw", "w"]].sum()
    # a month nobody of the group reaches (weight 0 in a resample) censors nobody
    rates = (sums["cw"] / sums["w"].where(sums["w"] > 0)).fillna(0.0)
    surv = (1 - rates).groupby(level="g").cumprod()
    # weight at t uses the survival of censoring up to t - 1
    prev = surv.groupby(level="g").shift(1).fillna(1.0)
    key = pd.MultiIndex.from_arrays([d["g"], d["t"]])
    return 1.0 / prev.reindex(key).fillna(1.0).to_numpy()


def cox_monthly_1d(time, x, event, weights, counts=None, *, init: float = 0.0,
                   tol: float = 1e-9, max_iter: int = 30) -> float:
    """Log hazard ratio of one covariate on person-month rows, each at risk only in its month.

    The Cox model of :func:`fit_msm_cox` (rows ``(time, time + 1]``, Efron ties, case weights)
    fitted on the counts and weight sums of each month and covariate value, so a refit costs
    milliseconds (bootstrap). ``counts``: how often each row is drawn (a resample); tied events
    are counted with it, as in the resampled data itself. Equal to :func:`fit_cox` on the same
    rows (``tests/test_msm.py``).
    """
    t = np.asarray(time).astype(np.int64)
    xv, lv = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    ev = np.asarray(event).astype(bool)
    c = np.ones(len(t)) if counts is None else np.asarray(counts, dtype=float)
    cw = c * np.asarray(weights, dtype=float)
    K, L = int(t.max()) + 1, len(xv)
    cell = t * L + lv
    W = np.bincount(cell, cw, minlength=K * L).reshape(K, L)
    E = np.bincount(cell[ev], cw[ev], minlength=K * L).reshape(K, L)
    d = np.bincount(t[ev], c[ev], minlength=K)
    keep = d > 0
    W, E, d = W[keep], E[keep], np.rint(d[keep]).astype(np.int64)
    if d.sum() == 0:
        raise InsufficientDataError("no event in the (resampled) rows")
    wbar = E.sum(axis=1) / d
    first = np.cumsum(d) - d
    kk = np.repeat(np.arange(len(d)), d)
    f = (np.arange(kk.size) - first[kk]) / d[kk]
    M = W[kk] - f[:, None] * E[kk]
    xe = (E * xv).sum()
    beta = float(init)
    for _ in range(max_iter):
        r = np.exp(beta * xv - beta * xv.max())
        s0, s1, s2 = M @ r, M @ (xv * r), M @ (xv * xv * r)
        m = s1 / s0
        grad = xe - np.sum(wbar[kk] * m)
        info = np.sum(wbar[kk] * (s2 / s0 - m * m))
        if not info > 0:
            raise InsufficientDataError("the exposure does not vary within the risk sets")
        step = float(np.clip(grad / info, -1.0, 1.0))  # concave: clipped Newton converges
        beta += step
        if abs(step) < tol:
            break
    return beta


@dataclass
class MSMResult:
    """Result of :func:`fit_msm_cox`.

    Attributes
    ----------
    effect : dict
        ``hr, ci_low, ci_high, se_log_hr, p`` per one more unit of the exposure (sandwich SE
        clustered by customer).
    cox : CoxResult
    weights : ndarray
        The weights used (after truncation, if any).
    diagnostics : dict
        Weight summary, effective sample size, truncation bounds.
    """

    effect: dict
    cox: CoxResult = field(repr=False)
    weights: np.ndarray = field(repr=False)
    diagnostics: dict = field(default_factory=dict)


def fit_msm_cox(pm: pd.DataFrame, weights: np.ndarray, *, treatment: str, event: str = "event",
                id_col: str = "customer_id", time: str = "time",
                truncate: tuple[float, float] | None = None, covariates: Sequence[str] = (),
                strata: Sequence[str] = (), alpha: float = 0.05) -> MSMResult:
    """Weighted Cox model of the hazard on the current exposure (rows ``(time, time + 1]``).

    ``covariates`` and ``strata``: baseline terms of the MSM (linear, or with their own
    baseline hazard); they must be the baseline covariates of the weights' numerator (the MSM is then conditional on them, and the hazard
    ratio is the marginal one within their levels). ``truncate`` (percentiles, e.g. ``(1, 99)``) clips the weights first: a sensitivity
    analysis with its own estimand, never the headline.
    """
    w = np.asarray(weights, dtype=float).copy()
    diag = _weight_info(w)
    if truncate is not None:
        lo, hi = np.percentile(w, truncate)
        diag.update(truncate_low=float(lo), truncate_high=float(hi),
                    truncated=int(((w < lo) | (w > hi)).sum()))
        w = np.clip(w, lo, hi)
    d = pd.DataFrame({"_start": pm[time].to_numpy(dtype=float),
                      "_stop": pm[time].to_numpy(dtype=float) + 1.0,
                      "_event": pm[event].to_numpy(dtype=float),
                      treatment: pm[treatment].to_numpy(dtype=float),
                      "_w": w, "_id": pm[id_col].to_numpy()})
    for c in [*covariates, *strata]:
        d[c] = pm[c].to_numpy()
    cox = fit_cox(d, [treatment, *covariates], duration="_stop", event="_event", entry="_start",
                  weights="_w", cluster="_id", strata=list(strata) or None, alpha=alpha)
    diag["ess"] = float(w.sum() ** 2 / (w * w).sum())
    return MSMResult(effect=cox.term(treatment), cox=cox, weights=w, diagnostics=diag)


class MSMBootstrap:
    """Customer-bootstrap refits of the MSM: treatment models, weights and the outcome model.

    The sandwich of :func:`fit_msm_cox` treats the weights as known; with time-varying weights
    that multiply over months it understated the spread of the estimate by about 30% in the
    benchmark (``docs/coverage.md``). Each replicate here refits the treatment models on the
    resampled customers (``steps`` Newton steps from the full fit, as the g-formula's
    bootstrap), rebuilds the weights (and censoring weights) and refits the Cox model with
    :func:`cox_monthly_1d`.

    Parameters are those of :func:`msm_weights`; ``ipcw_group`` as ``group`` of
    :func:`censoring_weights` (None: no censoring weights); ``truncate`` percentiles also refit
    the truncated sensitivity in each replicate.
    """

    def __init__(self, pm: pd.DataFrame, *, treatment: str, previous: str,
                 numerator: Sequence[str], denominator: Sequence[str],
                 entry_numerator: Sequence[str] = (), entry_denominator: Sequence[str] = (),
                 ipcw_group: str | None = None, event: str = "event",
                 id_col: str = "customer_id", time: str = "time", entry_levels: int = 5,
                 truncate: tuple[float, float] | None = None, steps: int = 2):
        self.pm, self.ipcw_group, self.truncate, self.steps = pm, ipcw_group, truncate, steps
        self.event, self.id_col, self.time, self.treatment = event, id_col, time, treatment
        self.wm = _WeightModels(pm, treatment=treatment, previous=previous,
                                numerator=numerator, denominator=denominator,
                                entry_numerator=entry_numerator,
                                entry_denominator=entry_denominator, time=time,
                                entry_levels=entry_levels)
        self.full = self.wm.fit()
        self.ids = pm[id_col].to_numpy()
        self.customers, self.row_customer = np.unique(self.ids, return_inverse=True)

    def weights(self, row_counts: np.ndarray | None = None) -> np.ndarray:
        """The MSM weights of every row, the treatment models refitted with ``row_counts``."""
        models = self.full if row_counts is None else self.wm.fit(
            row_counts, init=self.full, max_iter=self.steps)
        w = _stabilised(self.wm.ratio(models), self.ids)
        if self.ipcw_group is not None:
            w = w * censoring_weights(self.pm, group=self.ipcw_group, event=self.event,
                                      id_col=self.id_col, time=self.time, weights=row_counts)
        return w

    def replicate(self, counts: np.ndarray, init: float = 0.0) -> dict:
        """Log HRs of one resample: ``counts`` per customer, in sorted id order."""
        c = np.asarray(counts, dtype=float)[self.row_customer]
        w = self.weights(c)
        args = (self.pm[self.time].to_numpy(), self.pm[self.treatment].to_numpy(dtype=float),
                self.pm[self.event].to_numpy())
        out = {"log_hr": cox_monthly_1d(*args, w, c, init=init)}
        if self.truncate is not None:
            drawn = c > 0
            lo, hi = np.percentile(np.repeat(w[drawn], c[drawn].astype(int)), self.truncate)
            out["log_hr_truncated"] = cox_monthly_1d(*args, np.clip(w, lo, hi), c, init=init)
        return out


def bootstrap_interval(estimate: float, replicates: Sequence[float], alpha: float = 0.05,
                       log: bool = False) -> dict:
    """Normal interval from the SD over bootstrap replicates, with a t quantile.

    With ``B`` replicates the SD has ``B - 1`` degrees of freedom, so the quantile is Student's
    t with ``B - 1`` df (2.09 instead of 1.96 at 20 replicates): a normal quantile with an SD
    estimated from few replicates covers less than it says. ``log``: ``estimate`` and the
    replicates are log hazard ratios; the result is on the HR scale with ``se`` of the log.

    >>> r = bootstrap_interval(0.0, [-1.0, 1.0, -1.0, 1.0], log=False)
    >>> round(r["se"], 4), round(r["ci_high"], 3)  # SD 1.1547, t(3) quantile 3.182
    (1.1547, 3.675)
    """
    from scipy import stats

    reps = np.asarray(replicates, dtype=float)
    se = float(np.std(reps, ddof=1)) if reps.size > 1 else np.nan
    q = float(stats.t.ppf(1 - alpha / 2, reps.size - 1)) if reps.size > 1 else np.nan
    lo, hi = estimate - q * se, estimate + q * se
    if log:
        return {"hr": float(np.exp(estimate)), "ci_low": float(np.exp(lo)),
                "ci_high": float(np.exp(hi)), "se_log_hr": se, "replicates": int(reps.size)}
    return {"estimate": float(estimate), "ci_low": float(lo), "ci_high": float(hi), "se": se,
            "replicates": int(reps.size)}
