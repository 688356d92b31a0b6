"""Accelerated failure time (AFT) models: Weibull, log-normal and log-logistic, compared by AIC.

Each model is ``log T = x'beta + sigma W`` with ``W`` standard minimum extreme value (Weibull),
standard normal (log-normal) or standard logistic (log-logistic), fitted here by maximum
likelihood: right censoring by ``event`` and delayed entry (left truncation: a row with
``entry > 0`` has its likelihood conditioned on surviving to ``entry``; ``entry = 0`` adds
nothing). The log-likelihood is that of ``T`` (densities in time, not log time), as lifelines
reports it, so that AIC is comparable with lifelines' ``WeibullAFTFitter``,
``LogNormalAFTFitter`` and ``LogLogisticAFTFitter``, whose numbers the tests reproduce.
Coefficients act on log time: ``exp(coef)`` is a *time ratio*, above 1 the time to leaving is
stretched (customers stay longer), below 1 it is shortened.

The fit is Newton's method on ``(beta, log sigma)`` with the analytic gradient and Hessian of the
log-likelihood (vectorised; one ``X' diag(w) X`` per step), standard errors from the inverse
observed information. Lifelines' parameters are reported alongside: the location ``lambda_`` /
``mu_`` / ``alpha_`` is ``x'beta``; the shape is ``rho_ = beta_ = -log sigma`` (Weibull,
log-logistic) or ``sigma_ = log sigma`` (log-normal).

Problems of a fit (no convergence, a Hessian that is not invertible, negative variances) are kept
as a note of that distribution in the comparison table instead of being printed or hidden; a fit
that fails is a row with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.errors import InsufficientDataError

__all__ = ["AFT_MODELS", "AFTFit", "AFTModel", "fit_aft"]

#: Distribution -> (the equivalent lifelines fitter, its parameter that carries the covariates:
#: log-time location).
AFT_MODELS = {"Weibull": ("WeibullAFTFitter", "lambda_"),
              "log-normal": ("LogNormalAFTFitter", "mu_"),
              "log-logistic": ("LogLogisticAFTFitter", "alpha_")}

#: Distribution -> (lifelines' shape parameter, its sign times log sigma).
_SHAPE = {"Weibull": ("rho_", -1.0), "log-normal": ("sigma_", 1.0),
          "log-logistic": ("beta_", -1.0)}

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)
_MAX_STEPS = 100
_TOL = 1e-10  # Newton decrement (about twice the log-likelihood still to gain) to stop at
_DIVERGED = 1e3  # standard error per SD of a covariate that marks an estimate running off
_SINGULAR = 1e-11  # eigenvalue / largest eigenvalue of the scaled Hessian counted as zero


# Each error distribution W: log f(z) (pdf=True) or log S(z) (pdf=False) with its first and
# second derivatives in z, element-wise.

def _extreme_value(z: np.ndarray, pdf: bool):
    ez = np.exp(z)
    if pdf:
        return z - ez, 1.0 - ez, -ez
    return -ez, -ez, -ez


def _normal(z: np.ndarray, pdf: bool):
    if pdf:
        return -0.5 * z * z - _LOG_SQRT_2PI, -z, -np.ones_like(z)
    v = special.log_ndtr(-z)  # accurate far in the tail, where 1 - Phi(z) underflows
    mills = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - v)  # hazard of W
    return v, -mills, -mills * (mills - z)


def _logistic(z: np.ndarray, pdf: bool):
    p, q = special.expit(z), special.expit(-z)  # q, not 1 - p: keeps p q accurate in the tails
    if pdf:
        return z - 2.0 * np.logaddexp(0.0, z), q - p, -2.0 * p * q
    return -np.logaddexp(0.0, z), -p, -p * q


_ERRORS: dict[str, Callable] = {"Weibull": _extreme_value, "log-normal": _normal,
                                "log-logistic": _logistic}


@dataclass
class AFTModel:
    """One fitted AFT model, with lifelines' attribute names and parameter layout.

    Attributes
    ----------
    distribution : str
        Key of :data:`AFT_MODELS`.
    params_ : Series
        Indexed by ``(param, covariate)``: the location parameter (``lambda_``, ``mu_`` or
        ``alpha_``) for each covariate and ``Intercept``, then the shape (``rho_``, ``sigma_``
        or ``beta_``) ``Intercept``, as lifelines.
    variance_matrix_ : DataFrame
        Inverse observed information of ``params_`` (pseudo-inverse when singular).
    standard_errors_ : Series
        Square roots of its diagonal.
    log_likelihood_ : float
        Maximised log-likelihood (of the durations, with truncation and censoring).
    AIC_ : float
        ``-2 log_likelihood_ + 2 len(params_)``.
    sigma : float
        Scale of the error on log time (``1 / rho``, ``sigma``, ``1 / beta`` in lifelines).
    iterations : int
        Newton steps taken.
    converged : bool
        Whether the Newton decrement fell below the tolerance.
    """

    distribution: str
    params_: pd.Series
    variance_matrix_: pd.DataFrame = field(repr=False)
    standard_errors_: pd.Series = field(repr=False)
    log_likelihood_: float
    AIC_: float
    sigma: float
    iterations: int
    converged: bool


@dataclass
class AFTFit:
    """Result of :func:`fit_aft`.

    Attributes
    ----------
    comparison : DataFrame
        One row per distribution, best (lowest AIC) first: ``distribution, log_likelihood,
        parameters, aic, note, delta_aic``. ``note`` is ``""`` for a clean fit, what was wrong
        with the fit, or ``"not fitted: ..."`` (AIC NaN, listed last).
    best : str
        The distribution with the lowest AIC.
    params : Series
        Coefficients of the covariates on log time in the best model (intercept left out;
        covariates in sorted order, as lifelines).
    variance : DataFrame
        Their variance matrix.
    summary : DataFrame
        Tidy table of the best model: ``term, coef, se, time_ratio, ci_low, ci_high, p``
        (``1 - alpha`` Wald intervals of the time ratio).
    model : AFTModel
        The fitted model of the best distribution.
    """

    comparison: pd.DataFrame
    best: str
    params: pd.Series
    variance: pd.DataFrame
    summary: pd.DataFrame
    model: AFTModel = field(repr=False)


@dataclass
class _Data:
    """Design (columns scaled to unit SD, intercept last) and outcome arrays of one fit.

    Rows are ordered events without entry time, events with one, censored with one, censored
    without: the events and the truncated rows are then slices, which spares a gather and a
    scatter of every per-row array at every step (the likelihood is a sum: order is free).
    """

    X: np.ndarray
    scale: np.ndarray  # X = raw design / scale
    y: np.ndarray  # log duration
    n_event: int  # rows [0, n_event) are events
    trunc: slice  # rows with entry > 0
    y0: np.ndarray  # log entry of those rows
    sum_y_event: float


def _prepare(df: pd.DataFrame, cols: list[str], duration: str, event: str,
             entry: str | None) -> _Data:
    """Check the data as lifelines does (ValueError) and build the arrays of the likelihood."""
    try:
        raw = df[cols].to_numpy(dtype=float)
        t = df[duration].to_numpy(dtype=float)
        e = df[event].to_numpy(dtype=float)
        s = df[entry].to_numpy(dtype=float) if entry is not None else np.zeros(len(df))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"non-numeric data: {exc}") from None
    if not all(np.isfinite(a).all() for a in (raw, t, e, s)):
        raise ValueError("NaNs or infinite values in the data")
    if (t <= 0).any():
        raise ValueError("This model does not allow for non-positive durations.")
    if (s >= t).any():
        raise ValueError(f"There exist {int((s >= t).sum())} row(s) where entry >= duration.")
    if (s < 0).any():
        raise ValueError("negative entry times")
    ev, tr = e != 0, s > 0
    if not ev.any():
        raise ValueError("no events")
    block = np.where(ev, np.where(tr, 1, 0), np.where(tr, 2, 3))
    order = np.argsort(block, kind="stable")
    n_ev, n_first = int(ev.sum()), int((ev & ~tr).sum())
    X = np.empty((len(t), len(cols) + 1))
    X[:, :-1] = raw[order]
    X[:, -1] = 1.0
    # Unit-SD columns (not centred, as lifelines) only condition the Hessian; Newton is
    # invariant to the scaling.
    scale = X.std(axis=0)
    scale[scale < 1e-8] = 1.0
    X /= scale
    y = np.log(t[order])
    trunc = slice(n_first, n_first + int(tr.sum()))
    return _Data(X=X, scale=scale, y=y, n_event=n_ev, trunc=trunc,
                 y0=np.log(s[order][trunc]), sum_y_event=float(y[:n_ev].sum()))


def _objective(err: Callable, theta: np.ndarray, d: _Data, derivatives: bool = True):
    """Negative log-likelihood at ``theta = (beta, log sigma)``, with gradient and Hessian.

    A row contributes ``log f_W(z) - log sigma - log t`` (event) or ``log S_W(z)``
    (censored), ``z = (log t - x'beta) / sigma``, minus ``log S_W(z0)`` at its entry. For a term
    ``L(z)``: dL/dbeta = -L' x / sigma, dL/dlog sigma = -L' z, and the second derivatives are
    ``L'' x x' / sigma^2``, ``(L'' z + L') x / sigma``, ``L'' z^2 + L' z``.
    """
    beta, g = theta[:-1], theta[-1]
    sigma = np.exp(g)
    X, ne, tr = d.X, d.n_event, d.trunc
    eta = X @ beta
    z = (d.y - eta) / sigma
    z0 = (d.y0 - eta[tr]) / sigma
    val, d1, d2 = (np.empty_like(z) for _ in range(3))
    val[:ne], d1[:ne], d2[:ne] = err(z[:ne], True)
    val[ne:], d1[ne:], d2[ne:] = err(z[ne:], False)
    v0, a0, b0 = err(z0, False)
    ll = val.sum() - ne * g - d.sum_y_event - v0.sum()
    if not derivatives:
        return -ll
    hbg = d2 * z + d1  # per row: d2L / (dbeta dlog sigma) * sigma / x
    hb0 = b0 * z0 + a0
    gz_sum = (d1 * z).sum() - (a0 * z0).sum()
    hgg_sum = (hbg * z).sum() - (hb0 * z0).sum()
    # the truncation term -log S_W(z0) of each row with an entry time
    d1[tr] -= a0
    d2[tr] -= b0
    hbg[tr] -= hb0
    grad = np.empty(theta.size)
    grad[:-1] = -(X.T @ d1) / sigma
    grad[-1] = -gz_sum - ne
    H = np.empty((theta.size, theta.size))
    H[:-1, :-1] = _weighted_gram(X, d2) / sigma ** 2
    H[:-1, -1] = H[-1, :-1] = (X.T @ hbg) / sigma
    H[-1, -1] = hgg_sum
    return -ll, -grad, -H


def _weighted_gram(X: np.ndarray, w: np.ndarray, rows: int = 8192) -> np.ndarray:
    """``X' diag(w) X`` by blocks of rows: the weighted copy of a block stays in cache (about a
    third faster than one n-by-p temporary on a million rows)."""
    out = np.zeros((X.shape[1], X.shape[1]))
    for i in range(0, X.shape[0], rows):
        block = X[i:i + rows]
        out += block.T @ (block * w[i:i + rows, None])
    return out


def _finite(*arrays) -> bool:
    return all(np.isfinite(a).all() for a in arrays)


def _eig_scaled(H: np.ndarray):
    """Eigen-decomposition of the Hessian scaled to unit diagonal (scale, values, vectors)."""
    dg = np.sqrt(np.abs(np.diag(H)))
    dg[~(dg > 0)] = 1.0
    lam, Q = np.linalg.eigh(H / np.outer(dg, dg))
    return dg, lam, Q


def _newton_step(g: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Newton direction, made a descent direction where the Hessian is not positive definite.

    Eigenvalues are replaced by their absolute values (a negative curvature still points
    downhill) and (near-)zero ones are dropped, a pseudo-inverse step: with collinear columns
    the likelihood is flat along the null space and the step stays off it.
    """
    dg, lam, Q = _eig_scaled(H)
    a = np.abs(lam)
    inv = np.where(a > _SINGULAR * a.max(), 1.0 / np.where(a > 0, a, 1.0), 0.0)
    return -(Q @ (inv * (Q.T @ (g / dg)))) / dg


def _maximise(err: Callable, theta: np.ndarray, d: _Data):
    """Damped Newton from ``theta``: (theta, -loglik, Hessian of -loglik, steps, converged)."""
    f, g, H = _objective(err, theta, d)
    if not _finite(f, g, H):
        raise ValueError("the likelihood is not finite at the starting values")
    for it in range(1, _MAX_STEPS + 1):
        step = _newton_step(g, H)
        dec = float(-g @ step)
        # Full step first. Near the optimum the decrease is below the rounding of a sum over
        # many rows, so there a full step is judged by the Newton decrement instead.
        f2, g2, H2 = _objective(err, theta + step, d)
        t = 1.0
        ok = _finite(f2, g2, H2) and (f2 <= f - 1e-4 * dec or (
            dec < 1e-3 and -g2 @ _newton_step(g2, H2) < dec))
        while not ok and t > 1e-10:  # backtrack (Armijo) on the value alone
            t *= 0.5
            f2 = _objective(err, theta + t * step, d, derivatives=False)
            ok = bool(np.isfinite(f2) and f2 <= f - 1e-4 * t * dec)
            if ok:
                f2, g2, H2 = _objective(err, theta + t * step, d)
                ok = _finite(f2, g2, H2)
        if not ok:
            # no progress possible: converged if only rounding is left (loglik within 1e-6)
            return theta, f, H, it, bool(dec < 1e-6)
        theta, f, g, H = theta + t * step, f2, g2, H2
        if dec < _TOL and t == 1.0:  # the step just taken was the quadratic-rate last one
            return theta, f, H, it, True
    return theta, f, H, _MAX_STEPS, False


def _variance(H: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Inverse of the observed information, pseudo-inverse when singular, with notes."""
    notes = []
    dg, lam, Q = _eig_scaled(H)
    a = np.abs(lam)
    if a.min() <= _SINGULAR * a.max():
        notes.append("The Hessian was not invertible.")
        inv = np.where(a > _SINGULAR * a.max(), 1.0 / np.where(a > 0, lam, 1.0), 0.0)
    else:
        inv = 1.0 / lam
    V = (Q * inv) @ Q.T / np.outer(dg, dg)
    if (np.diag(V) < 0).any():
        notes.append("The diagonal of the variance matrix has negative values.")
    return V, notes


def _start(name: str, d: _Data, weibull: np.ndarray | None) -> np.ndarray:
    """Starting values: the exponential MLE, or the Weibull fit moved to the same median and
    log-time SD (the Weibull error has SD pi / sqrt 6, the logistic pi / sqrt 3)."""
    theta = np.zeros(d.X.shape[1] + 1)
    if weibull is None:
        # exponential with delayed entry: rate = events / time at risk
        exposure = np.exp(d.y).sum() - np.exp(d.y0).sum()
        theta[-2] = np.log(exposure / d.n_event)  # intercept column has scale 1
        return theta
    theta[:] = weibull
    sigma = np.exp(weibull[-1])
    theta[-2] += sigma * np.log(np.log(2.0))  # median of W: log log 2 (extreme value), 0
    sd = sigma * np.pi / np.sqrt(6.0)
    theta[-1] = np.log(sd if name == "log-normal" else sd * np.sqrt(3.0) / np.pi)
    return theta


def _fit_one(name: str, d: _Data, cols: list[str], weibull: np.ndarray | None):
    """Fit one distribution: (AFTModel, note, theta on the scaled design)."""
    with np.errstate(all="ignore"):  # overflow in a rejected trial step is expected
        theta, f, H, steps, converged = _maximise(_ERRORS[name], _start(name, d, weibull), d)
        V, notes = _variance(H)
    if not converged:
        notes.insert(0, f"Did not converge in {steps} Newton steps.")
    with np.errstate(invalid="ignore"):
        # SE per SD of the covariate: about 1 / sqrt(events) normally; above _DIVERGED the
        # likelihood still rises as the estimate runs off (e.g. a group without events)
        runaway = [c for c, v in zip(cols + ["Intercept"], np.diag(V)[:-1]) if v > _DIVERGED ** 2]
    if runaway:
        notes.append(f"No finite estimate for {', '.join(runaway)}.")
    loc = AFT_MODELS[name][1]
    shape, sign = _SHAPE[name]
    # back to the unscaled design, and log sigma to lifelines' shape parameter
    unscale = np.append(1.0 / d.scale, sign)
    est = theta * unscale
    V = V * np.outer(unscale, unscale)
    index = pd.MultiIndex.from_tuples([(loc, c) for c in cols] + [(loc, "Intercept"),
                                                                  (shape, "Intercept")],
                                      names=["param", "covariate"])
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(V))
    ll = -float(f)
    model = AFTModel(distribution=name, params_=pd.Series(est, index=index),
                     variance_matrix_=pd.DataFrame(V, index=index, columns=index),
                     standard_errors_=pd.Series(se, index=index, name="se"),
                     log_likelihood_=ll, AIC_=-2 * ll + 2 * est.size,
                     sigma=float(np.exp(theta[-1])), iterations=steps, converged=converged)
    return model, "; ".join(notes), theta


def fit_aft(
    data: pd.DataFrame,
    columns: Sequence[str],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    alpha: float = 0.05,
) -> AFTFit:
    """Weibull, log-normal and log-logistic AFT models of the same covariates, by AIC.

    Parameters
    ----------
    data : DataFrame
        One row per customer (or counting-process row) with the design columns.
    columns : sequence of str
        Numeric design columns (dummies built beforehand); an intercept is added.
    duration, event, entry : str
        Column names; ``entry`` (left truncation) is optional.
    alpha : float
        1 - confidence level of the time-ratio intervals in ``summary``.

    Returns
    -------
    AFTFit

    Raises
    ------
    InsufficientDataError
        When no distribution could be fitted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, 2000).astype(float)
    >>> t = rng.weibull(1.5, 2000) * 10 * np.exp(0.5 * x)  # time ratio exp(0.5) = 1.65
    >>> df = pd.DataFrame({"x": x, "duration": np.minimum(t, 15), "event": (t < 15) * 1})
    >>> fit = fit_aft(df, ["x"])
    >>> fit.best, round(float(fit.summary.loc[0, "time_ratio"]), 2)
    ('Weibull', 1.6)
    """
    cols = sorted(set(columns))  # lifelines' order of the covariates
    fits, rows = {}, []
    try:
        d, bad_data = _prepare(data, cols, duration, event, entry), ""
    except ValueError as exc:  # no distribution can be fitted: each row says why
        d, bad_data = None, str(exc)
    weibull = None
    for name in AFT_MODELS:
        try:
            if d is None:
                raise ValueError(bad_data)
            m, note, theta = _fit_one(name, d, cols, weibull)
        except (np.linalg.LinAlgError, ValueError) as exc:
            rows.append(dict(distribution=name, log_likelihood=np.nan, parameters=np.nan,
                             aic=np.nan, note=f"not fitted: {str(exc)[:120]}"))
            continue
        if name == "Weibull" and m.converged:
            weibull = theta
        fits[name] = m
        rows.append(dict(distribution=name, log_likelihood=m.log_likelihood_,
                         parameters=len(m.params_), aic=m.AIC_, note=note))
    comp = pd.DataFrame(rows)
    if not fits:
        raise InsufficientDataError("no parametric model could be fitted to these data")
    comp["delta_aic"] = comp["aic"] - comp["aic"].min()
    comp = comp.sort_values("aic", na_position="last").reset_index(drop=True)
    best = comp["distribution"].iloc[0]
    m = fits[best]
    loc = AFT_MODELS[best][1]
    params = m.params_.loc[loc].drop("Intercept")
    cov = m.variance_matrix_.loc[loc, loc].drop(index="Intercept", columns="Intercept")
    z = stats.norm.ppf(1 - alpha / 2)
    b = params.to_numpy()
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # inf / NaN are the answer
        se = np.sqrt(np.diag(cov.to_numpy()))
        summary = pd.DataFrame({"term": params.index.to_list(), "coef": b, "se": se,
                                "time_ratio": np.exp(b), "ci_low": np.exp(b - z * se),
                                "ci_high": np.exp(b + z * se),
                                "p": 2 * stats.norm.sf(np.abs(b) / se)})
    return AFTFit(comparison=comp, best=best, params=params, variance=cov, summary=summary,
                  model=m)
