"""Cox proportional hazards models on the tenure scale, honouring left truncation.

Static models take one row per customer with ``entry`` (tenure when first observed),
``duration`` and ``event``; time-varying models take counting-process intervals
``(start, stop]`` (see :func:`analysis.frames.counting_process`). In both, a row is at risk at
tenure ``t`` when ``entry < t <= duration`` (``start < t <= stop``), R's ``Surv(start, stop,
event)`` convention. Ties (monthly data has many) are handled by Efron's method everywhere.

Fitting uses lifelines (``CoxPHFitter`` with ``entry_col``, ``CoxTimeVaryingFitter``). Three
things lifelines 0.30.3 does not do correctly under left truncation are done here:

- **robust (sandwich) variance**: lifelines' ``robust=True`` builds score residuals that ignore
  entry times and ties (and ``CoxTimeVaryingFitter`` has none). :func:`score_residuals` gives
  Efron score residuals over the left-truncated risk sets; :func:`robust_variance` the
  Lin-Wei sandwich ``V (sum_c D_c D_c') V`` clustered by customer.
- **Schoenfeld residuals**: lifelines' ignore entry times. :func:`schoenfeld_test` recomputes
  them over the left-truncated risk sets and applies lifelines' approximate Grambsch-Therneau
  test (per covariate, 1 df) with a stated time transform.
- **Newton steps**: with a strong binary covariate (a recent large outflow, HR ~8) lifelines'
  default step (0.95) diverges on this data; fits here start at step 0.5 and retry smaller.

:func:`fit_phreg` fits the same model with statsmodels ``PHReg(ties="efron")`` for
cross-checks. Note: statsmodels counts a row whose entry equals an event time as *at risk* at
that time (``entry <= t``); with whole-month data that changes the estimates. It is given
``entry + 1e-7`` so both libraries use ``entry < t``; they then agree to 1e-6.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InsufficientDataError

__all__ = [
    "CoxFit",
    "fit_cox",
    "fit_cox_time_varying",
    "fit_phreg",
    "score_residuals",
    "schoenfeld_residuals",
    "robust_variance",
    "schoenfeld_test",
    "split_intervals",
    "wald_test",
]

_STEP_SIZES = (0.5, 0.25, 0.1)


@dataclass
class CoxFit:
    """A fitted Cox model in tidy form.

    Attributes
    ----------
    summary : DataFrame
        One row per term: ``term, coef, se, hr, ci_low, ci_high, z, p``.
    variance : DataFrame
        Covariance matrix of the coefficients (robust when ``robust``).
    model : object
        The fitted lifelines model.
    n, n_rows, events : int
        Customers (distinct ids; rows for static models), rows, events.
    robust : bool
        Whether ``se`` is the sandwich (robust) standard error.
    naive_variance : ndarray
        Model-based (inverse information) covariance, whatever ``robust``.
    """

    summary: pd.DataFrame
    variance: pd.DataFrame
    model: object = field(repr=False)
    n: int
    n_rows: int
    events: int
    covariates: list[str]
    strata: list[str] | None
    robust: bool
    log_likelihood: float
    alpha: float = 0.05
    data: pd.DataFrame | None = field(default=None, repr=False)
    spec: dict = field(default_factory=dict, repr=False)
    naive_variance: np.ndarray | None = field(default=None, repr=False)

    def term(self, name: str) -> dict:
        """``hr, ci_low, ci_high, coef, se_log_hr, p`` of one term."""
        row = self.summary.set_index("term").loc[name]
        return {
            "hr": float(row["hr"]),
            "ci_low": float(row["ci_low"]),
            "ci_high": float(row["ci_high"]),
            "coef": float(row["coef"]),
            "se_log_hr": float(row["se"]),
            "p": float(row["p"]),
        }


# ------------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------------


def _check(data: pd.DataFrame, cols: Sequence[str], event: str, covariates: Sequence[str]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a DataFrame, got {type(data).__name__}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; available: {list(data.columns)}")
    if not covariates:
        raise ValueError("at least one covariate is needed")
    if len(data) == 0:
        raise InsufficientDataError("there are no customers in this data (0 rows)")
    ev = data[event].to_numpy(dtype=float)
    if ev.sum() == 0:
        raise InsufficientDataError(
            "no customer left (no events), so no hazard ratio can be estimated")
    for c in covariates:
        x = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"covariate {c!r} has missing or non-numeric values")
        if np.ptp(x) == 0:
            raise InsufficientDataError(
                f"{c!r} takes a single value ({x[0]:g}) in this data, so its effect cannot be "
                "estimated"
            )
        if set(np.unique(x)) <= {0.0, 1.0}:
            on = x == 1
            if ev[on].sum() == 0:
                raise InsufficientDataError(
                    f"no customer with {c!r} left (no events), so its hazard ratio is not "
                    "estimable (it would be 0)"
                )
            if ev[~on].sum() == 0:
                raise InsufficientDataError(
                    f"every departure has {c!r}; its hazard ratio is not estimable (infinite)"
                )


def _tidy(params: pd.Series, var: np.ndarray, alpha: float) -> pd.DataFrame:
    z = float(stats.norm.ppf(1 - alpha / 2))
    se = np.sqrt(np.diag(var))
    coef = params.to_numpy(dtype=float)
    zz = coef / se
    return pd.DataFrame(
        {
            "term": list(params.index),
            "coef": coef,
            "se": se,
            "hr": np.exp(coef),
            "ci_low": np.exp(coef - z * se),
            "ci_high": np.exp(coef + z * se),
            "z": zz,
            "p": 2 * stats.norm.sf(np.abs(zz)),
        }
    )


def _model_variance(model, covariates: list[str]) -> np.ndarray:
    """Model-based covariance ordered as ``covariates`` (lifelines labels it inconsistently)."""
    names = list(model.params_.index)
    idx = [names.index(c) for c in covariates]
    return np.asarray(model.variance_matrix_, dtype=float)[np.ix_(idx, idx)]


def _with_retries(fit_once):
    """Run ``fit_once(step_size)`` with decreasing Newton step sizes until it converges."""
    from lifelines.exceptions import ConvergenceError

    last = None
    for step in _STEP_SIZES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fit_once(step)
            if np.all(np.isfinite(model.params_.to_numpy())):
                return model
        except (ConvergenceError, np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
            last = exc
    raise InsufficientDataError(
        "the Cox model did not converge (too few departures for the number of terms, or a "
        f"term that separates leavers from stayers): {last}"
    )


# ------------------------------------------------------------------------------------------------
# fitting
# ------------------------------------------------------------------------------------------------


def fit_cox(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = "entry",
    strata: Sequence[str] | str | None = None,
    weights: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> CoxFit:
    """Cox model with delayed entry (left truncation) and Efron ties, one row per customer.

    Parameters
    ----------
    data : DataFrame
        One row per customer (or per interval, with ``entry`` the interval start).
    covariates : list of str
        Numeric columns (build dummies beforehand).
    entry : str or None
        Tenure at which each row enters the risk set; None for no truncation.
    strata : str or list of str, optional
        Stratification columns (a baseline hazard per stratum, e.g. per branch).
    weights : str, optional
        Case weights (e.g. inverse probability weights). Use ``robust=True`` with them.
    robust : bool
        Sandwich standard errors (Lin-Wei), computed over the left-truncated risk sets.
    cluster : str, optional
        Column whose rows belong together for the sandwich (e.g. ``customer_id``).

    Returns
    -------
    CoxFit
    """
    from lifelines import CoxPHFitter

    covariates = list(covariates)
    strata_l = [strata] if isinstance(strata, str) else (list(strata) if strata else None)
    cols = [duration, event] + ([entry] if entry else []) + covariates + (strata_l or [])
    cols += [c for c in (weights, cluster) if c]
    _check(data, cols, event, covariates)
    df = data[list(dict.fromkeys(cols))].copy()
    for c in covariates + [duration, event] + ([entry] if entry else []):
        df[c] = df[c].astype(float)
    if weights:
        df[weights] = df[weights].astype(float)
    fit_df = df.drop(columns=[cluster] if cluster and cluster not in covariates else [])

    def once(step):
        return CoxPHFitter(alpha=alpha).fit(
            fit_df, duration, event, entry_col=entry, strata=strata_l, weights_col=weights,
            fit_options=dict(step_size=step, precision=1e-10),
        )

    model = _with_retries(once)
    params = model.params_[covariates]
    var = naive = _model_variance(model, covariates)
    spec = dict(kind="static", duration=duration, event=event, entry=entry, weights=weights,
                strata=strata_l, cluster=cluster)
    if robust or cluster:
        var = robust_variance(df, covariates, params.to_numpy(), var, start=entry, stop=duration,
                              event=event, weights=weights, strata=strata_l, cluster=cluster)
    return CoxFit(
        summary=_tidy(params, var, alpha),
        variance=pd.DataFrame(var, index=covariates, columns=covariates),
        model=model,
        n=int(df[cluster].nunique()) if cluster else len(df),
        n_rows=len(df),
        events=int(df[event].sum()),
        covariates=covariates,
        strata=strata_l,
        robust=bool(robust or cluster),
        log_likelihood=float(model.log_likelihood_),
        alpha=alpha,
        data=df,
        spec=spec,
        naive_variance=naive,
    )


def fit_cox_time_varying(
    intervals: pd.DataFrame,
    covariates: Sequence[str],
    *,
    id_col: str = "customer_id",
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    strata: Sequence[str] | str | None = None,
    weights: str | None = None,
    robust: bool = False,
    alpha: float = 0.05,
) -> CoxFit:
    """Time-varying Cox model on counting-process intervals (lifelines CoxTimeVaryingFitter).

    Left truncation is built in: a customer's first interval starts at their entry tenure.
    ``robust`` gives the sandwich variance clustered by ``id_col``.
    """
    from lifelines import CoxTimeVaryingFitter

    covariates = list(covariates)
    strata_l = [strata] if isinstance(strata, str) else (list(strata) if strata else None)
    cols = [id_col, start, stop, event] + covariates + (strata_l or [])
    cols += [weights] if weights else []
    _check(intervals, cols, event, covariates)
    df = intervals[list(dict.fromkeys(cols))].copy()
    for c in covariates + [start, stop, event] + ([weights] if weights else []):
        df[c] = df[c].astype(float)
    bad = df[stop] <= df[start]
    if bad.any():
        raise ValueError(f"{int(bad.sum())} intervals have {stop!r} <= {start!r}")

    def once(step):
        return CoxTimeVaryingFitter(alpha=alpha).fit(
            df, id_col=id_col, event_col=event, start_col=start, stop_col=stop,
            strata=strata_l, weights_col=weights, fit_options=dict(step_size=step, precision=1e-10),
        )

    model = _with_retries(once)
    params = model.params_[covariates]
    var = naive = _model_variance(model, covariates)
    if robust:
        var = robust_variance(df, covariates, params.to_numpy(), var, start=start, stop=stop,
                              event=event, weights=weights, strata=strata_l, cluster=id_col)
    return CoxFit(
        summary=_tidy(params, var, alpha),
        variance=pd.DataFrame(var, index=covariates, columns=covariates),
        model=model,
        n=int(df[id_col].nunique()),
        n_rows=len(df),
        events=int(df[event].sum()),
        covariates=covariates,
        strata=strata_l,
        robust=bool(robust),
        log_likelihood=float(model.log_likelihood_),
        alpha=alpha,
        data=df,
        spec=dict(kind="time-varying", duration=stop, event=event, entry=start, weights=weights,
                  strata=strata_l, cluster=id_col),
        naive_variance=naive,
    )


def fit_phreg(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = "entry",
    strata: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The same Cox model fitted by statsmodels ``PHReg(ties="efron")``, for cross-checks.

    Coefficients are mapped by name (``term``). statsmodels puts a row whose entry equals an
    event time in that time's risk set; entries are shifted by ``1e-7`` so that the risk set
    is ``entry < t <= duration`` as in lifelines and R. Fitted by BFGS from zero, then Newton
    (independent of lifelines' solution).

    Returns
    -------
    DataFrame
        ``term, coef, se, hr, ci_low, ci_high, z, p`` plus the log partial likelihood in
        ``.attrs["log_likelihood"]``.
    """
    from statsmodels.duration.hazard_regression import PHReg

    covariates = list(covariates)
    cols = [duration, event] + ([entry] if entry else []) + covariates
    cols += [strata] if strata else []
    _check(data, cols, event, covariates)
    X = data[covariates].to_numpy(dtype=float)
    ent = data[entry].to_numpy(dtype=float) + 1e-7 if entry else None
    model = PHReg(
        data[duration].to_numpy(dtype=float), X, status=data[event].to_numpy(dtype=float),
        entry=ent, strata=data[strata].to_numpy() if strata else None, ties="efron",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rough = model.fit(method="bfgs", maxiter=500, disp=0)
        res = model.fit(start_params=rough.params, method="newton", maxiter=100, disp=0)
    out = _tidy(pd.Series(res.params, index=covariates), res.cov_params(), alpha)
    out.attrs["log_likelihood"] = float(model.loglike(res.params))
    return out


# ------------------------------------------------------------------------------------------------
# residuals over left-truncated risk sets (Efron)
# ------------------------------------------------------------------------------------------------


def _efron_stratum(X, s, t, e, w, beta):
    """Efron score residuals (n x p) and per-row Schoenfeld residuals for one stratum.

    Risk set at event time tau: rows with s < tau <= t. Returns (score, schoenfeld, info) where
    ``schoenfeld`` rows are zero for non-events and ``info`` holds event times and risk-set
    counts (for the KM time transform).
    """
    n, p = X.shape
    r = np.exp(X @ beta - (X @ beta).max())  # scale-free: residuals do not depend on it
    wr = w * r
    taus = np.unique(t[e == 1])
    K = taus.size
    if K == 0:
        return np.zeros((n, p)), np.zeros((n, p)), (taus, np.zeros(0), np.zeros(0))
    # risk-set sums: sum over rows with t >= tau minus rows with s >= tau
    order_t = np.argsort(t, kind="stable")
    order_s = np.argsort(s, kind="stable")

    def suffix_at(values, times_sorted, order):
        # sum of values[j] over rows with time_j >= tau, for each tau
        v = values[order]
        csum = np.concatenate([np.cumsum(v[::-1], axis=0)[::-1], np.zeros((1,) + v.shape[1:])])
        pos = np.searchsorted(times_sorted, taus, side="left")
        return csum[pos]

    ts, ss = t[order_t], s[order_s]
    S0 = suffix_at(wr, ts, order_t) - suffix_at(wr, ss, order_s)
    S1 = suffix_at(wr[:, None] * X, ts, order_t) - suffix_at(wr[:, None] * X, ss, order_s)
    n_risk = suffix_at(np.ones(n), ts, order_t) - suffix_at(np.ones(n), ss, order_s)
    # tied-event sums
    ev = np.flatnonzero(e == 1)
    k_of = np.searchsorted(taus, t[ev])
    d = np.bincount(k_of, minlength=K).astype(float)
    S0D = np.bincount(k_of, weights=wr[ev], minlength=K)
    S1D = np.zeros((K, p))
    np.add.at(S1D, k_of, wr[ev][:, None] * X[ev])
    wbar = np.bincount(k_of, weights=w[ev], minlength=K) / d
    # expand to (k, l) pairs, l = 0..d_k-1
    kk = np.repeat(np.arange(K), d.astype(int))
    ll = np.arange(kk.size) - np.repeat(np.cumsum(d) - d, d.astype(int))
    frac = ll / d[kk]
    S0l = S0[kk] - frac * S0D[kk]
    xbar = (S1[kk] - frac[:, None] * S1D[kk]) / S0l[:, None]
    g = wbar[kk] / S0l  # hazard increment of pair (k, l)
    a = np.bincount(kk, weights=g, minlength=K)
    bvec = np.zeros((K, p))
    np.add.at(bvec, kk, xbar * g[:, None])
    a2 = np.bincount(kk, weights=frac * g, minlength=K)
    b2 = np.zeros((K, p))
    np.add.at(b2, kk, xbar * (frac * g)[:, None])
    mean_x = np.zeros((K, p))
    np.add.at(mean_x, kk, xbar)
    mean_x /= d[:, None]
    # cumulative sums over event times for each row's window (s, t]
    A = np.concatenate([[0.0], np.cumsum(a)])
    B = np.vstack([np.zeros((1, p)), np.cumsum(bvec, axis=0)])
    lo = np.searchsorted(taus, s, side="right")
    hi = np.searchsorted(taus, t, side="right")
    comp = r[:, None] * (X * (A[hi] - A[lo])[:, None] - (B[hi] - B[lo]))
    score = -comp
    sch = np.zeros((n, p))
    sch[ev] = X[ev] - mean_x[k_of]
    score[ev] += sch[ev] + r[ev][:, None] * (X[ev] * a2[k_of][:, None] - b2[k_of])
    return score, sch, (taus, d, n_risk)


def _residual_inputs(data, covariates, start, stop, event, weights, strata):
    X = data[list(covariates)].to_numpy(dtype=float)
    t = data[stop].to_numpy(dtype=float)
    s = data[start].to_numpy(dtype=float) if start else np.full(len(data), -np.inf)
    e = data[event].to_numpy(dtype=float).astype(int)
    w = data[weights].to_numpy(dtype=float) if weights else np.ones(len(data))
    if strata:
        keys = data[list(strata)].astype(str).agg("|".join, axis=1).to_numpy()
    else:
        keys = np.zeros(len(data), dtype=int)
    return X, s, t, e, w, keys


def score_residuals(
    data: pd.DataFrame,
    covariates: Sequence[str],
    beta,
    *,
    start: str | None = "entry",
    stop: str = "duration",
    event: str = "event",
    weights: str | None = None,
    strata: Sequence[str] | None = None,
) -> np.ndarray:
    """Efron score residuals (unweighted, n x p) over left-truncated risk sets.

    ``sum_i w_i U_i`` is the score of the weighted Efron partial likelihood, hence 0 at its
    maximum (a check used in the tests). Matches R's ``residuals(coxph, "score")``.
    """
    X, s, t, e, w, keys = _residual_inputs(data, covariates, start, stop, event, weights, strata)
    out = np.zeros_like(X)
    beta = np.asarray(beta, dtype=float)
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        out[rows] = _efron_stratum(X[rows], s[rows], t[rows], e[rows], w[rows], beta)[0]
    return out


def schoenfeld_residuals(
    data: pd.DataFrame,
    covariates: Sequence[str],
    beta,
    *,
    start: str | None = "entry",
    stop: str = "duration",
    event: str = "event",
    strata: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Schoenfeld residuals (Efron) of the event rows over left-truncated risk sets.

    Returns a frame with the event ``time``, the residual of each covariate, and ``km`` (1 minus
    the left-truncated Kaplan-Meier estimate at the event time, pooled over strata).
    """
    X, s, t, e, w, keys = _residual_inputs(data, covariates, start, stop, event, None, strata)
    beta = np.asarray(beta, dtype=float)
    res = np.zeros_like(X)
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        res[rows] = _efron_stratum(X[rows], s[rows], t[rows], e[rows], w[rows], beta)[1]
    # pooled left-truncated KM for the "km" time transform
    _, _, (taus, d, n_risk) = _efron_stratum(np.zeros((len(t), 1)), s, t, e, w, np.zeros(1))
    surv = np.cumprod(1 - d / n_risk)
    ev = np.flatnonzero(e == 1)
    out = pd.DataFrame(res[ev], columns=list(covariates))
    out.insert(0, "time", t[ev])
    out["km"] = 1 - surv[np.searchsorted(taus, t[ev])]
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def robust_variance(
    data: pd.DataFrame,
    covariates: Sequence[str],
    beta,
    naive_variance: np.ndarray,
    *,
    start: str | None,
    stop: str,
    event: str,
    weights: str | None = None,
    strata: Sequence[str] | None = None,
    cluster: str | None = None,
) -> np.ndarray:
    """Lin-Wei sandwich ``V (sum_c D_c D_c') V`` with ``D_i = w_i U_i`` summed within clusters."""
    U = score_residuals(data, covariates, beta, start=start, stop=stop, event=event,
                        weights=weights, strata=strata)
    w = data[weights].to_numpy(dtype=float) if weights else np.ones(len(data))
    D = (U * w[:, None]) @ np.asarray(naive_variance)
    if cluster:
        D = pd.DataFrame(D).groupby(data[cluster].to_numpy()).sum().to_numpy()
    return D.T @ D


def schoenfeld_test(
    fit: CoxFit,
    *,
    transform: str = "km",
    terms: Sequence[str] | None = None,
    return_residuals: bool = False,
):
    """Proportional-hazards test from scaled Schoenfeld residuals (Grambsch-Therneau).

    The approximate per-covariate test of lifelines' ``proportional_hazard_test`` (and R's
    ``cox.zph`` before 2019): ``T = (sum (g - gbar) r*)^2 / (D var(beta) sum (g - gbar)^2)``
    on 1 df, with scaled residuals ``r* = D s V`` and ``g`` the transformed event times. The
    residuals are computed over the left-truncated risk sets (lifelines' ignore entry); with no
    truncation this equals lifelines' test.

    Parameters
    ----------
    transform : {"km", "rank", "identity", "log"}
        Time transform: ``km`` (1 - Kaplan-Meier, R's default), ``rank`` (average ranks of the
        event times), ``identity``, ``log``.

    Returns
    -------
    DataFrame
        ``term, transform, statistic, df, p``. With ``return_residuals``, a tuple
        ``(table, residuals)`` where ``residuals`` holds the scaled residuals plus the
        coefficient (R's convention: estimates of beta(t)), one column per term, with ``time``
        and the transformed time ``g``, for plotting.
    """
    if fit.spec.get("weights"):
        raise ValueError("the Schoenfeld test is for unweighted models")
    sp = fit.spec
    covs = fit.covariates
    beta = fit.summary.set_index("term").loc[covs, "coef"].to_numpy()
    res = schoenfeld_residuals(fit.data, covs, beta, start=sp["entry"], stop=sp["duration"],
                               event=sp["event"], strata=sp["strata"])
    D = len(res)
    V = fit.naive_variance
    scaled = D * res[covs].to_numpy() @ V
    times = res["time"].to_numpy()
    if transform == "km":
        g = res["km"].to_numpy()
    elif transform == "rank":
        g = stats.rankdata(times)
    elif transform == "identity":
        g = times
    elif transform == "log":
        g = np.log(times)
    else:
        raise ValueError(f"transform must be km, rank, identity or log; got {transform!r}")
    gc = g - g.mean()
    T = (gc @ scaled) ** 2 / (D * np.diag(V) * (gc**2).sum())
    out = pd.DataFrame({"term": covs, "transform": transform, "statistic": T, "df": 1,
                        "p": stats.chi2.sf(T, 1)})
    if terms is not None:
        out = out[out["term"].isin(list(terms))].reset_index(drop=True)
    if not return_residuals:
        return out
    sc = pd.DataFrame(scaled + beta, columns=covs)  # R's convention: beta(t) estimates
    sc.insert(0, "time", times)
    sc["g"] = g
    return out, sc


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def split_intervals(
    intervals: pd.DataFrame,
    cuts: Sequence[float],
    *,
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
) -> pd.DataFrame:
    """Split ``(start, stop]`` intervals at tenure cut points (episode splitting).

    The event stays on the last piece; other columns are copied. Estimates of a Cox model do not
    change; covariates that depend on time bands (``x * [t in band]``) become possible.
    """
    cuts = np.unique(np.asarray(cuts, dtype=float))
    s = intervals[start].to_numpy(dtype=float)
    t = intervals[stop].to_numpy(dtype=float)
    inside = (cuts[None, :] > s[:, None]) & (cuts[None, :] < t[:, None])
    n_pieces = 1 + inside.sum(axis=1)
    rep = np.repeat(np.arange(len(intervals)), n_pieces)
    out = intervals.iloc[rep].reset_index(drop=True)
    bounds = []
    for i in np.flatnonzero(n_pieces > 1):
        bounds.append((i, cuts[inside[i]]))
    new_s = s[rep].copy()
    new_t = t[rep].copy()
    first = np.concatenate([[0], np.cumsum(n_pieces)[:-1]])
    for i, cs in bounds:
        pos = first[i]
        edges = np.concatenate([[s[i]], cs, [t[i]]])
        new_s[pos:pos + len(cs) + 1] = edges[:-1]
        new_t[pos:pos + len(cs) + 1] = edges[1:]
    last = np.zeros(len(out), dtype=bool)
    last[np.cumsum(n_pieces) - 1] = True
    out[start] = new_s
    out[stop] = new_t
    out[event] = np.where(last, out[event].to_numpy(), 0)
    return out


def wald_test(fit: CoxFit, contrasts: np.ndarray | Sequence[Sequence[float]]) -> dict:
    """Wald test of ``C beta = 0`` (rows of ``C`` over ``fit.covariates``): chi2, df, p."""
    C = np.atleast_2d(np.asarray(contrasts, dtype=float))
    beta = fit.summary.set_index("term").loc[fit.covariates, "coef"].to_numpy()
    V = fit.variance.loc[fit.covariates, fit.covariates].to_numpy()
    cb = C @ beta
    chi2 = float(cb @ np.linalg.solve(C @ V @ C.T, cb))
    df = int(C.shape[0])
    return {"chi2": chi2, "df": df, "p": float(stats.chi2.sf(chi2, df))}
