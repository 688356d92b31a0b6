"""Parametric g-formula for survival under interventions on a monthly exposure count.

Robins (1986); Hernan & Robins, *Causal Inference: What If*, ch. 13 and 21 (the "g-formula
with time-varying covariates"); R's ``gfoRmula`` does the same with other defaults. On
person-month rows since study entry (``time = 0, 1, ...``) it fits models of one month given
the past, then simulates every customer's history month by month under each intervention and
averages the survival curves:

- the **exposure** ``a`` (count, e.g. products): monthly change down/same/up
  (:class:`analysis.stats.msm.ChangeModel`, the denominator model of the MSM);
- a **large outflow** that month (logistic), when the data has outflows;
- the **balance** ``log_aum``: its monthly change (linear in the change of products and of their
  history, an outflow, the baseline covariates and time; normal errors with their own SD in
  outflow months: a random walk with a drift of its own for each customer) and
  the **tier** read off the balance at the thresholds seen in the data, when the data has them;
- the **hazard** of leaving that month (pooled logistic) given the exposure this month, its
  **history** (an exponentially weighted average of the counts held so far, half-life
  ``history_halflife`` months, started at the count at entry), last month's balance and tier,
  an outflow in the previous three months, the baseline covariates, tenure (linear spline) and
  time since entry.

Why the history: products can act with a delay (through the balances and relationship they
build over months). A hazard model on the current count alone then credits the count with the
effect of the history it is correlated with, and an intervention that changes the count at
entry is credited at once with what only builds up over months (in the synthetic feedback
scenario: months gained overstated by about a quarter). The balance model takes the change of
the history, so balances built by products follow the intervention too.

Each simulated month takes last month's state: ``a`` changes (then the intervention sets it),
then the outflow, the hazard and the new balance. Survival is accumulated as the product of
``1 - hazard`` along each simulated path (no event draws: less Monte Carlo noise). The
interventions share their random numbers (common random numbers), so contrasts are precise.
RMST at ``tau`` is ``sum_{t < tau} S(t)`` with ``S(0) = 1`` (events at the end of a month);
retention at ``tau`` is ``S(tau)``. Confidence intervals: ``n_boot`` replicates of a customer
bootstrap (customers resampled with replacement, every model refitted by a few Newton steps from
the full fit, ``mc_size`` baselines drawn from the resample); intervals are the estimate plus or
minus the SD over replicates times Student's t quantile with ``n_boot - 1`` df
(:func:`analysis.stats.msm.bootstrap_interval`). The replicates' resamples are returned, so the
MSM is bootstrapped on the same customers. The cheaper parametric bootstrap (coefficients drawn from their cluster-robust
normal distribution) is an option; it was 20% too narrow in the feedback benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats.logit import (cluster_robust_covariance, fit_linear, fit_logit,
                                  logit_covariance, predict_logit)
from analysis.stats.msm import RIDGE, ChangeModel, bootstrap_interval
from analysis.stats.pooled_cox import pooled_cox_log_hr

__all__ = ["TENURE_KNOTS", "HISTORY_HALFLIFE", "tenure_basis", "history_speed",
           "exposure_history", "prepare_models", "GFormulaResult", "gformula", "static", "shift"]

#: Newton steps of a bootstrap refit from the full-data fit (a "k-step" bootstrap: the
#: estimates are within O(n^-1) of the fully iterated ones after two steps, at a fraction of
#: the cost).
BOOT_STEPS = 2

#: Half-life (months) of the exponentially weighted product history in the hazard model.
HISTORY_HALFLIFE = 12.0

#: Intervention label of the pooled-arms hazard ratio row (``pooled_hr``).
POOLED = "pooled"

#: Knots (months of tenure) of the linear spline of the baseline hazard.
TENURE_KNOTS = (6, 12, 24, 36, 60, 120)


def tenure_basis(tenure, knots: Sequence[float] = TENURE_KNOTS) -> dict[str, np.ndarray]:
    """Linear spline of tenure (months): ``log1p(tenure)`` and hinges ``max(0, tenure - k)``."""
    t = np.asarray(tenure, dtype=float)
    out = {"ten_log": np.log1p(t)}
    for k in knots:
        out[f"ten_{k:g}"] = np.maximum(t - k, 0.0) / 12.0
    return out


def history_speed(halflife: float) -> float:
    """Share of the gap closed each month by an exponential average of half-life ``halflife``.

    >>> round(history_speed(12.0), 6)
    0.056126
    """
    return float(1.0 - 0.5 ** (1.0 / float(halflife)))


def exposure_history(a, time, speed: float) -> np.ndarray:
    """Exponentially weighted average of the exposure held so far, per customer.

    Rows sorted by customer and ``time`` (``0, 1, ...`` consecutive per customer):
    ``h(0) = a(0)``, ``h(t) = h(t-1) + speed * (a(t) - h(t-1))``: the history before the
    first row is taken to be the count of the first row (unknown under left truncation).

    >>> exposure_history(np.array([1.0, 3.0, 3.0, 2.0]), np.array([0, 1, 2, 0]), 0.5).tolist()
    [1.0, 2.0, 2.5, 2.0]
    """
    a = np.asarray(a, dtype=float)
    time = np.asarray(time)
    h = a.copy()
    for t in range(1, int(time.max()) + 1 if len(time) else 0):
        rows = np.flatnonzero(time == t)
        h[rows] = h[rows - 1] + speed * (a[rows] - h[rows - 1])
    return h


def static(k: float) -> Callable:
    """Intervention "everyone holds exactly ``k``" from entry."""
    return lambda natural, t: np.full_like(natural, float(k))


def shift(by: float = 1.0, cap: float | None = None) -> Callable:
    """Intervention "``by`` more than the natural course each month", at most ``cap``."""
    return lambda natural, t: (natural + by if cap is None else np.minimum(natural + by, cap))


@dataclass
class GFormulaResult:
    """Result of :func:`gformula`.

    Attributes
    ----------
    table : DataFrame
        ``intervention, quantity, estimate, se, ci_low, ci_high`` (quantities ``rmst_<tau>``,
        ``retention_<tau>`` and, per contrast, ``<quantity>_gain``).
    curves : DataFrame
        ``intervention, time, survival`` (point estimate).
    settings : dict
        ``n_boot, mc_size, seed, horizons, models`` (covariates of each model).
    resamples : list of ndarray
        Per bootstrap replicate, how often each customer was drawn (customers in sorted id
        order), so that other estimators can be bootstrapped on the same resamples.
    """

    table: pd.DataFrame
    curves: pd.DataFrame = field(repr=False)
    settings: dict = field(default_factory=dict)
    resamples: list = field(default_factory=list, repr=False)

    def value(self, intervention: str, quantity: str) -> dict:
        """``estimate, se, ci_low, ci_high`` of one row."""
        r = self.table[(self.table["intervention"] == intervention)
                       & (self.table["quantity"] == quantity)]
        if r.empty:
            raise KeyError(f"{intervention}/{quantity}")
        return {k: float(r.iloc[0][k]) for k in ("estimate", "se", "ci_low", "ci_high")}


def _X(src, names: Sequence[str], n: int) -> np.ndarray:
    return np.column_stack([np.ones(n)] + [np.asarray(src[c], dtype=float) for c in names])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35.0, 35.0)))


@dataclass
class _Models:
    """Coefficients of the monthly models (intercept first, then ``_Fitter.names[model]``)."""

    beta: dict  # model -> coefficients ("up", "down", "hazard", "outflow", "aum")
    cov: dict  # model -> covariance of the coefficients
    no_up: np.ndarray
    no_down: np.ndarray
    aum_sd: tuple = (0.0, 0.0)  # residual SD without / with an outflow that month

    def draw(self, rng: np.random.Generator) -> "_Models":
        """Coefficients drawn from their large-sample normal distribution (one replicate)."""
        beta = {k: (None if b is None else rng.multivariate_normal(b, self.cov[k]))
                for k, b in self.beta.items()}
        return _Models(beta, self.cov, self.no_up, self.no_down, self.aum_sd)


class _Fitter:
    """Fits the monthly models on the person-month rows."""

    def __init__(self, pm: pd.DataFrame, baseline: Sequence[str], has_outflow: bool,
                 has_aum: bool, has_tier: bool, time: str, speed: float, id_col: str):
        self.pm = pm
        self.speed = speed
        self.cluster = pd.factorize(pm[id_col])[0]
        self.later = (pm[time] > 0).to_numpy()
        self.baseline = list(baseline)
        state = ["log_aum_prev"] * has_aum + ["tier_prev"] * has_tier
        recent = ["recent"] * has_outflow
        basis = list(tenure_basis([0.0]))
        change = ["a_prev", "a_prev_sq", *baseline, *state, *recent, "t12"]
        self.names = {
            "up": change, "down": change,
            "outflow": ["a", *baseline, *state, "t12"],
            # the balance as a random walk whose drift depends on the customer, an outflow and
            # the change of products and of their history: no term in the level of products
            # or of the balance, so a projection beyond the data cannot compound a drift the
            # observed months fitted to a product-driven lift that levels off (docs/
            # customer_value.md)
            "aum": ["a_gain", "a_hist_gain", "out", *baseline, "t12"],
            "hazard": ["a", "a_hist", *baseline, *state, *recent, *basis, "t12"],
        }
        self.has_outflow, self.has_aum = has_outflow, has_aum

    def fit(self) -> _Models:
        pm, lt = self.pm, self.later
        n = len(pm)
        X = {k: _X(pm, v, n) for k, v in self.names.items()}
        a_prev, a = pm["a_prev"].to_numpy(dtype=float), pm["a"].to_numpy(dtype=float)
        ch = ChangeModel().fit(X["up"][lt], a_prev[lt], a[lt])
        self.X, self.change = X, ch
        beta, cov = {}, {}
        d = np.sign(a - a_prev)
        rows = {"up": lt & ~np.isin(a_prev, ch.no_up),
                "down": lt & ~np.isin(a_prev, ch.no_down) & (d <= 0)}
        cl = self.cluster

        def robust(Xm, y, b, rows=slice(None)):
            # customers' months are correlated: cluster-robust covariance for the draws
            Xr = Xm[rows]
            bread = logit_covariance(Xr, b, ridge=RIDGE)
            return cluster_robust_covariance(Xr, y - predict_logit(Xr, b), bread, cl[rows])

        ys = {"up": (d > 0).astype(float), "down": (d < 0).astype(float)}
        for key, b in (("up", ch.beta_up), ("down", ch.beta_down)):
            beta[key] = b
            cov[key] = None if b is None else robust(X[key], ys[key][rows[key]], b, rows[key])
        ev = pm["event"].to_numpy(dtype=float)
        beta["hazard"] = fit_logit(X["hazard"], ev, ridge=RIDGE)
        cov["hazard"] = robust(X["hazard"], ev, beta["hazard"])
        beta["outflow"] = beta["aum"] = None
        if self.has_outflow:
            y = pm["out"].to_numpy(dtype=float)
            beta["outflow"] = fit_logit(X["outflow"], y, ridge=RIDGE)
            cov["outflow"] = robust(X["outflow"], y, beta["outflow"])
        sds = (0.0, 0.0)
        if self.has_aum:
            # month 0's balance is the entry value (before any intervention): not modelled
            y = self._aum_change()[lt]
            Xa = X["aum"][lt]
            b, sd = fit_linear(Xa, y)
            r = y - Xa @ b
            o = (pm["out"].to_numpy() > 0)[lt] if "out" in pm else np.zeros(len(y), bool)
            sds = tuple(float(np.sqrt(np.mean(r[m] ** 2))) if m.any() else 0.0 for m in (~o, o))
            beta["aum"] = b
            cov["aum"] = cluster_robust_covariance(Xa, r, np.linalg.inv(Xa.T @ Xa), cl[lt])
        return _Models(beta, cov, ch.no_up, ch.no_down, sds)


    def _aum_change(self) -> np.ndarray:
        """The month's change of log balance (the balance model's response)."""
        return (self.pm["log_aum"] - self.pm["log_aum_prev"]).to_numpy(dtype=float)

    def refit(self, full: _Models, w: np.ndarray) -> _Models:
        """The models refitted with case weights ``w`` (a bootstrap sample of customers):
        :data:`BOOT_STEPS` Newton steps from the full-data fit (after :meth:`fit`)."""
        pm, lt, X = self.pm, self.later, self.X
        a_prev, a = pm["a_prev"].to_numpy(dtype=float), pm["a"].to_numpy(dtype=float)
        ch = ChangeModel().fit(X["up"][lt], a_prev[lt], a[lt], weights=w[lt], init=self.change,
                               max_iter=BOOT_STEPS)
        beta = dict(full.beta)
        beta["up"], beta["down"] = ch.beta_up, ch.beta_down
        ev = pm["event"].to_numpy(dtype=float)
        beta["hazard"] = fit_logit(X["hazard"], ev, w, init=full.beta["hazard"], ridge=RIDGE,
                                   max_iter=BOOT_STEPS)
        if full.beta.get("outflow") is not None:
            beta["outflow"] = fit_logit(X["outflow"], pm["out"].to_numpy(dtype=float), w,
                                        init=full.beta["outflow"], ridge=RIDGE,
                                        max_iter=BOOT_STEPS)
        if full.beta.get("aum") is not None:
            beta["aum"], _ = fit_linear(X["aum"][lt], self._aum_change()[lt], w[lt])
        return _Models(beta, full.cov, full.no_up, full.no_down, full.aum_sd)


def _tier(aum: np.ndarray, thresholds: np.ndarray, lowest: float) -> np.ndarray:
    return lowest + np.searchsorted(thresholds, aum, side="right")


def _linear_parts(models: _Models, fitter: _Fitter, base: dict) -> dict:
    """Model -> (baseline part of the linear predictor, [(state name, coefficient)]).

    The baseline part is computed once per simulation; each month adds the terms of the state
    that changes.
    """
    n = len(base["a0"])
    fixed = set(fitter.baseline)
    lin = {}
    for key, names in fitter.names.items():
        b = models.beta[key]
        if b is None:
            continue
        part = np.full(n, b[0])
        dyn = []
        for name, coef in zip(names, b[1:]):
            if name in fixed:
                part = part + coef * base[name]
            else:
                dyn.append((name, coef))
        lin[key] = (part, dyn)
    return lin


def _paths(models: _Models, fitter: _Fitter, base: dict, rule: Callable, months: int,
           draws: tuple, tiers: tuple | None, lin: dict, start: dict | None = None,
           hazard: Callable | None = None, basis: list | None = None):
    """Simulate one path per customer of ``base`` under ``rule``; yield every month's state.

    Yields ``(t, st, h)``: the month index, the state dict (``a`` the count held, ``log_aum_prev``
    last month's balance, ...) and the hazard of leaving that month. ``draws`` are the uniforms
    of the product change and the outflow and the normal draws of the balance, each
    ``(months, n)``, shared by the interventions (common random numbers).

    ``start`` (a projection from a customer's last observed month, not from study entry) holds
    ``a_hist`` (the product history then), ``out_hist`` (``(3, n)``: outflows in the last three
    months, oldest first), ``log_aum``, ``tier`` (balance and tier then) and ``t12`` (time
    since entry, held fixed: the conditions of the last month carry forward); products and
    balances then change from the first simulated month on. ``hazard(h, st, lp)`` may change
    the hazard (a scenario acting on the risk of leaving rather than on the products).
    ``basis`` (the tenure basis of every month, :func:`tenure_basis`) saves recomputing it.
    """
    u_change, u_out, z_aum = draws
    n = len(base["a0"])

    def lp(key, st):
        part, dyn = lin[key]
        out = part.copy()
        for name, coef in dyn:
            out += coef * st[name]
        return out

    speed = fitter.speed
    ten0 = base["tenure0"]
    no_up, no_down = models.no_up, models.no_down
    nat = base["a0"].astype(float)
    a_prev = None if start is None else nat
    first = 1 if start is None else 0  # at entry the observed count and balance stand
    # the history before entry: the natural count at entry (not intervened on)
    hist_a = nat.copy() if start is None else np.asarray(start["a_hist"], dtype=float).copy()
    if start is None:
        st = {"log_aum_prev": base.get("log_aum0"), "tier_prev": base.get("tier0")}
        hist = np.zeros((3, n))
    else:
        st = {"log_aum_prev": start.get("log_aum"), "tier_prev": start.get("tier")}
        hist = np.asarray(start["out_hist"], dtype=float).copy()
    for t in range(months):
        st["t12"] = t / 12.0 if start is None else start["t12"]
        st.update(tenure_basis(ten0 + t) if basis is None else basis[t])
        # an outflow in the previous three months (t-3..t-1), as the models were fitted: the
        # product change of this month reads it too
        st["recent"] = hist.max(axis=0)
        if t >= first:
            st["a_prev"], st["a_prev_sq"] = nat, nat * nat
            up = np.where(np.isin(nat, no_up), 0.0,
                          _sigmoid(lp("up", st)) if "up" in lin else 0.0)
            down = np.where(np.isin(nat, no_down), 0.0,
                            _sigmoid(lp("down", st)) if "down" in lin else 0.0) * (1 - up)
            nat = nat + (u_change[t] < up) - (u_change[t] > 1 - down)
        a = rule(nat, t)
        st["a"] = a
        st["a_gain"] = 0.0 if a_prev is None else a - a_prev
        new_hist = hist_a + speed * (a - hist_a)
        st["a_hist_gain"] = 0.0 if t < first else new_hist - hist_a
        st["a_hist"] = hist_a = new_hist
        st["out"] = ((u_out[t] < _sigmoid(lp("outflow", st))).astype(float)
                     if "outflow" in lin else np.zeros(n))
        h = _sigmoid(lp("hazard", st))
        if hazard is not None:
            h = hazard(h, st, lambda: lp("hazard", st))
        st["log_aum"] = st["log_aum_prev"]  # this month's balance (at entry: the observed)
        if "aum" in lin and t >= first:
            sd0, sd1 = models.aum_sd
            st["log_aum"] = (st["log_aum_prev"] + lp("aum", st)
                             + np.where(st["out"] > 0, sd1, sd0) * z_aum[t])
        yield t, st, h
        if "aum" in lin and t >= first:
            st["log_aum_prev"] = st["log_aum"]
            if tiers is not None:
                st["tier_prev"] = _tier(np.expm1(st["log_aum_prev"]), *tiers)
        hist = np.vstack([hist[1:], st["out"][None, :]])
        a_prev = a


def _draws(rng: np.random.Generator, months: int, n: int) -> tuple:
    """Uniforms of the product change and the outflow, normals of the balance: ``(months, n)``."""
    return rng.random((months, n)), rng.random((months, n)), rng.standard_normal((months, n))


def _stacked(items: list, n: int):
    """One rule (or hazard change) for ``len(items)`` interventions stacked in blocks of ``n``
    customers: each block gets its own (None: unchanged)."""
    if all(f is None for f in items):
        return None
    blocks = [slice(k * n, (k + 1) * n) for k in range(len(items))]

    def rule(x, t):
        return np.concatenate([x[b] if f is None else f(x[b], t) for f, b in zip(items, blocks)])

    def hazard(h, st, lp):
        full = {}
        out = []
        for f, b in zip(items, blocks):
            if f is None:
                out.append(h[b])
                continue
            view = {k: (v[b] if isinstance(v, np.ndarray) and v.shape[-1:] == h.shape else v)
                    for k, v in st.items()}
            if "lp" not in full:
                full["lp"] = lp()
            out.append(f(h[b], view, lambda b=b: full["lp"][b]))
        return np.concatenate(out)

    return rule, hazard


def _simulate(models: _Models, fitter: _Fitter, base: dict, interventions: dict, months: int,
              rng: np.random.Generator, tiers: tuple | None) -> dict[str, np.ndarray]:
    """Survival curves ``S(0..months)`` averaged over the simulated customers, per intervention.

    Survival is the product of ``1 - hazard`` along each path (no event draws). The
    interventions are simulated together, stacked in blocks of customers (one pass over the
    months: the per-month overhead is paid once), on the same random numbers.
    """
    n = len(base["a0"])
    k = len(interventions)
    draws = tuple(np.tile(d, (1, k)) for d in _draws(rng, months, n))
    big = {key: np.tile(v, k) for key, v in base.items()}
    lin = _linear_parts(models, fitter, big)
    rule, _ = _stacked(list(interventions.values()), n)
    surv = np.ones((k, months + 1))
    s = np.ones(n * k)
    for t, _, h in _paths(models, fitter, big, rule, months, draws, tiers, lin):
        s = s * (1 - h)
        surv[:, t + 1] = s.reshape(k, n).mean(axis=1)
    return dict(zip(interventions, surv))


def _quantities(curves: dict, horizons: Sequence[int], contrasts: dict,
                pooled_hr: dict | None = None) -> dict:
    q = {}
    if pooled_hr:  # the Cox log HR on the pooled arms (the MSM's estimand, from the curves)
        q[(POOLED, "log_hr")] = pooled_cox_log_hr(curves, pooled_hr, max(horizons))
    for label, s in curves.items():
        for tau in horizons:
            q[(label, f"rmst_{tau}")] = float(s[:tau].sum())
            q[(label, f"retention_{tau}")] = float(s[tau])
    for label, ref in contrasts.items():
        for tau in horizons:
            for kind in ("rmst", "retention"):
                q[(label, f"{kind}_{tau}_gain")] = q[(label, f"{kind}_{tau}")] - q[(ref, f"{kind}_{tau}")]
    return q


def prepare_models(pm: pd.DataFrame, baseline: Sequence[str], *,
                   tier_thresholds: tuple[np.ndarray, float] | None = None,
                   history_halflife: float = HISTORY_HALFLIFE, time: str = "time",
                   id_col: str = "customer_id") -> tuple[pd.DataFrame, "_Fitter", tuple | None]:
    """The model columns of the person-month rows, the (unfitted) monthly models, the tiers.

    Shared by :func:`gformula` and the projection of :mod:`analysis.stats.projection`.
    Returns ``(pm, fitter, tiers)``: ``pm`` with ``a_hist`` (the product history),
    ``a_gain``, ``t12`` and the tenure basis added, ``tiers`` the thresholds when the tier is
    simulated (else None).
    """
    has_out = "out" in pm and "recent" in pm
    has_aum = "log_aum" in pm and "log_aum_prev" in pm
    has_tier = has_aum and "tier_prev" in pm and tier_thresholds is not None
    speed = history_speed(history_halflife)
    pm = pm.assign(a_prev=pm["a_prev"].fillna(pm["a"]))
    hist = exposure_history(pm["a"].to_numpy(dtype=float), pm[time].to_numpy(), speed)
    hist_prev = np.r_[np.nan, hist[:-1]]
    pm = pm.assign(a_prev_sq=pm["a_prev"] ** 2, t12=pm[time] / 12.0,
                   a_gain=pm["a"] - pm["a_prev"], a_hist=hist,
                   a_hist_gain=np.where(pm[time].to_numpy() > 0, hist - hist_prev, 0.0),
                   **tenure_basis(pm["tenure"].to_numpy()))
    fitter = _Fitter(pm, baseline, has_out, has_aum, has_tier, time, speed, id_col)
    return pm, fitter, (tier_thresholds if has_tier else None)


def gformula(pm: pd.DataFrame, interventions: dict[str, Callable], *, baseline: Sequence[str],
             horizons: Sequence[int] = (12, 24, 36), contrasts: dict[str, str] | None = None,
             n_boot: int = 20, mc_size: int = 4000, seed: int = 1, alpha: float = 0.05,
             id_col: str = "customer_id", time: str = "time",
             tier_thresholds: tuple[np.ndarray, float] | None = None,
             history_halflife: float = HISTORY_HALFLIFE,
             bootstrap: str = "customers",
             pooled_hr: dict[str, float] | None = None) -> GFormulaResult:
    """Parametric g-formula: survival, RMST and retention under each intervention, bootstrap CIs.

    Parameters
    ----------
    pm : DataFrame
        Person-month rows sorted by customer and ``time`` with ``event``, the exposure ``a``
        (and ``a_prev``, last month's), ``tenure`` at the row, the ``baseline`` columns, and
        optionally ``out`` (0/1 large outflow this month), ``recent`` (an outflow in the
        previous three months), ``log_aum`` / ``log_aum_prev`` and ``tier_prev``.
    interventions : dict
        Label -> rule ``(natural_count, time) -> count`` (see :func:`static`, :func:`shift`);
        the label ``"natural_course"`` with rule ``lambda a, t: a`` is the natural course.
    baseline : list of str
        Customer-level covariates of every model.
    horizons : list of int
        Months since entry at which RMST and retention are reported (at most the longest
        follow-up in the data).
    contrasts : dict, optional
        Label -> reference label: adds ``*_gain`` rows (difference against the reference).
    n_boot, mc_size, seed :
        Bootstrap replicates, simulated customers per replicate, random seed.
    tier_thresholds : (thresholds, lowest tier), optional
        Balance thresholds of tiers ``lowest + 1, ...`` (needs ``tier_prev``): the simulated
        tier is read off the simulated balance.
    history_halflife : float
        Half-life in months of the exposure history term of the hazard model
        (:func:`exposure_history`).
    bootstrap : {"customers", "parametric"}
        ``"customers"`` (default): each replicate resamples customers with replacement, refits
        every model (:data:`BOOT_STEPS` Newton steps from the full fit) and simulates from the
        resampled baselines. ``"parametric"``: coefficients drawn from their cluster-robust
        normal distribution, no refits (faster; too narrow when a frailty no covariate carries
        makes customers differ, see ``docs/causal_truth.md``).
    pooled_hr : dict, optional
        Intervention label -> exposure value (e.g. ``{"static_1": 1, ..., "static_4": 4}``):
        adds the row ``intervention = "pooled", quantity = "log_hr"``, the log hazard ratio per
        unit of exposure of a Cox model on those arms pooled, from their curves
        (:func:`analysis.stats.pooled_cox.pooled_cox_log_hr`), censored at the longest horizon.

    Returns
    -------
    GFormulaResult
    """
    contrasts = dict(contrasts or {})
    horizons = [int(h) for h in horizons]
    months = max(horizons)
    if pm[time].max() + 1 < months:
        raise InsufficientDataError(
            f"follow-up reaches {int(pm[time].max()) + 1} months since entry, fewer than the "
            f"{months} the g-formula is asked for")
    pm, fitter, tiers = prepare_models(pm, baseline, tier_thresholds=tier_thresholds,
                                       history_halflife=history_halflife, time=time,
                                       id_col=id_col)
    has_aum, has_tier = fitter.has_aum, tiers is not None
    entry = pm[pm[time] == 0]
    ids = pm[id_col].to_numpy()
    cust = np.unique(ids)
    # entry row of each customer, in the order of ``cust``
    epos = pd.Series(np.arange(len(entry)), index=entry[id_col].to_numpy()).reindex(cust)
    if epos.isna().any():
        raise ValueError("every customer needs a row at time 0 (study entry)")
    epos = epos.to_numpy().astype(int)
    base_all = {"a0": entry["a"].to_numpy(dtype=float),
                "tenure0": entry["tenure"].to_numpy(dtype=float)}
    for c in baseline:
        base_all[c] = entry[c].to_numpy(dtype=float)
    if has_aum:
        base_all["log_aum0"] = entry["log_aum_prev"].to_numpy(dtype=float)
    if has_tier:
        base_all["tier0"] = entry["tier_prev"].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)

    def one(models, sim_rng, p=None):
        pick = sim_rng.choice(len(cust), size=mc_size, p=p)
        base = {k: v[epos[pick]] for k, v in base_all.items()}
        return _simulate(models, fitter, base, interventions, months, sim_rng, tiers)

    full = fitter.fit()
    curves = one(full, rng)
    point = _quantities(curves, horizons, contrasts, pooled_hr)
    if bootstrap not in ("customers", "parametric"):
        raise ValueError(f"bootstrap must be 'customers' or 'parametric', got {bootstrap!r}")
    reps, resamples = [], []
    for _ in range(int(n_boot)):
        if bootstrap == "customers":  # resample customers, refit every model, simulate
            counts = rng.multinomial(len(cust), np.full(len(cust), 1.0 / len(cust)))
            resamples.append(counts)
            models = fitter.refit(full, counts[fitter.cluster].astype(float))
            reps.append(_quantities(one(models, rng, counts / counts.sum()), horizons,
                                    contrasts, pooled_hr))
        else:
            reps.append(_quantities(one(full.draw(rng), rng), horizons, contrasts, pooled_hr))
    rows = []
    for (label, qty), est in point.items():
        ci = bootstrap_interval(est, [r[(label, qty)] for r in reps], alpha)
        rows.append({"intervention": label, "quantity": qty, "estimate": est, "se": ci["se"],
                     "ci_low": ci["ci_low"], "ci_high": ci["ci_high"]})
    curves_point = pd.concat([pd.DataFrame({"intervention": k, "time": np.arange(months + 1),
                                            "survival": v}) for k, v in curves.items()],
                             ignore_index=True)
    return GFormulaResult(
        table=pd.DataFrame(rows), curves=curves_point, resamples=resamples,
        settings={"n_boot": int(n_boot), "mc_size": int(mc_size), "bootstrap": bootstrap,
                  "history_halflife": float(history_halflife),
                  "seed": seed, "horizons": horizons, "models": fitter.names,
                  "ci": ("SD over replicates x t quantile (customers resampled, every model "
                         "refitted)" if bootstrap == "customers" else
                         "SD over replicates x t quantile (coefficients drawn from their "
                         "large-sample distribution with a cluster-robust covariance by "
                         "customer, customers resampled)")})
