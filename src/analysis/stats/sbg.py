"""The shifted-beta-geometric (sBG) retention model of Fader and Hardie (2007).

Fader, P. S. and Hardie, B. G. S. (2007), "How to project customer retention", *Journal of
Interactive Marketing* 21(1), 76-90. Each customer has a fixed per-period churn probability
``theta``; across customers ``theta ~ Beta(alpha, beta)``. A customer is on book in periods
``1 .. T`` and leaves at the end of period ``T``, so::

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),   t = 1, 2, ...
    S(t)     = P(T > t) = B(alpha, beta + t) / B(alpha, beta)

Periods here are months of tenure. Heterogeneity makes the aggregate retention rate
``S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)`` rise with tenure (the customers
prone to leave go first), which a constant-churn (geometric) model cannot show.

:func:`fit_sbg` fits ``alpha, beta`` by maximum likelihood with left truncation (a customer seen
from tenure ``entry`` is known to have survived ``entry`` periods, so their likelihood is
conditional on ``T > entry``; ignoring this biases the fit towards the loyal customers who
survived to be seen) and right censoring. :class:`SBGFit` projects survival, retention and
expected months on book.

From the monthly panel (``tenure_months`` is 0 in the opening month, so a row of tenure ``k``
is period ``k + 1``): ``entry`` is the tenure of a customer's first row, ``exit`` the tenure
of their last row plus 1, ``event`` their ``closed`` flag there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, digamma, polygamma

from analysis.errors import ConvergenceWarning, InsufficientDataError
from analysis.stats._validate import _z

__all__ = ["SBGFit", "fit_sbg", "survivor_rows"]

# A log-parameter above this means alpha, beta -> infinity with a fixed ratio: the data show no
# heterogeneity and the sBG has degenerated into a geometric model.
_LOG_PARAM_MAX = np.log(1e5)


def _as_array(x, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _bad(mask: np.ndarray, limit: int = 10) -> str:
    pos = np.flatnonzero(mask)
    more = f", ... ({len(pos)} in all)" if len(pos) > limit else ""
    return f"{pos[:limit].tolist()}{more}"


def _loglik_parts(a: float, b: float, entry, exit_, event, w):
    """Log-likelihood, gradient and Hessian in (alpha, beta) of grouped data.

    Each row contributes ``log B(a + d, b + x - d) - log B(a, b + e)``: for an event (d = 1)
    that is ``log P(T = x) - log S(e)``, for a censored row (d = 0) ``log S(x) - log S(e)``.
    """
    d, x, e = event, exit_, entry
    ll = np.sum(w * (betaln(a + d, b + x - d) - betaln(a, b + e)))
    psi, psi1 = digamma, (lambda v: polygamma(1, v))
    ga = psi(a + d) - psi(a + b + x) - psi(a) + psi(a + b + e)
    gb = psi(b + x - d) - psi(a + b + x) - psi(b + e) + psi(a + b + e)
    haa = psi1(a + d) - psi1(a + b + x) - psi1(a) + psi1(a + b + e)
    hab = -psi1(a + b + x) + psi1(a + b + e)
    hbb = psi1(b + x - d) - psi1(a + b + x) - psi1(b + e) + psi1(a + b + e)
    grad = np.array([np.sum(w * ga), np.sum(w * gb)])
    hess = np.array([[np.sum(w * haa), np.sum(w * hab)], [np.sum(w * hab), np.sum(w * hbb)]])
    return ll, grad, hess


def _log_scale(a: float, b: float, grad: np.ndarray, hess: np.ndarray):
    """Gradient and Hessian with respect to (log alpha, log beta) by the chain rule."""
    ab = np.array([a, b])
    g = ab * grad
    h = np.outer(ab, ab) * hess + np.diag(g)
    return g, h


@dataclass
class SBGFit:
    """A fitted sBG model; periods are months of tenure.

    Attributes
    ----------
    alpha, beta : float
        Parameters of the Beta distribution of the per-period churn probability.
    cov : ndarray, shape (2, 2)
        Covariance of ``(log alpha, log beta)`` from the observed information.
    loglik : float
        Maximised log-likelihood (conditional on ``T > entry``).
    n : float
        Customers (sum of the weights).
    events : float
        Departures (sum of the weights of the events).
    """

    alpha: float
    beta: float
    cov: np.ndarray = field(repr=False)
    loglik: float
    n: float
    events: float

    @property
    def se_log_alpha(self) -> float:
        return float(np.sqrt(self.cov[0, 0]))

    @property
    def se_log_beta(self) -> float:
        return float(np.sqrt(self.cov[1, 1]))

    @property
    def se_alpha(self) -> float:
        """Delta-method standard error of ``alpha`` (``alpha * se(log alpha)``)."""
        return self.alpha * self.se_log_alpha

    @property
    def se_beta(self) -> float:
        return self.beta * self.se_log_beta

    def _logS(self, t) -> np.ndarray:
        return betaln(self.alpha, self.beta + t) - betaln(self.alpha, self.beta)

    def survival(self, t):
        """``S(t) = P(T > t)``: the share of a new cohort still on book after ``t`` periods.

        Examples
        --------
        >>> fit = SBGFit(1.0, 1.0, np.eye(2), 0.0, 1, 1)
        >>> fit.survival([0, 1, 3]).tolist()  # alpha = beta = 1: S(t) = 1 / (t + 1)
        [1.0, 0.5, 0.25]
        """
        t = _times(t, "t")
        return _shape_like(np.exp(self._logS(t)), t)

    def pmf(self, t):
        """``P(T = t)``: the share of a new cohort leaving at the end of period ``t >= 1``."""
        t = _times(t, "t", low=1)
        out = np.exp(betaln(self.alpha + 1, self.beta + t - 1) - betaln(self.alpha, self.beta))
        return _shape_like(out, t)

    def conditional_survival(self, t0, t1):
        """``S(t1) / S(t0)``: the chance that a customer on book after ``t0`` periods is still
        there after ``t1``; broadcast over arrays of ``t0`` and ``t1`` (``t1 >= t0``).

        Examples
        --------
        >>> fit = SBGFit(1.0, 1.0, np.eye(2), 0.0, 1, 1)
        >>> fit.conditional_survival([0, 3], [12, 15]).round(4).tolist()  # (t0 + 1) / (t1 + 1)
        [0.0769, 0.25]
        """
        t0, t1 = np.broadcast_arrays(_times(t0, "t0"), _times(t1, "t1"))
        if np.any(t1 < t0):
            raise ValueError(f"t1 must be >= t0; offending positions {_bad(t1 < t0)}")
        out = np.exp(betaln(self.alpha, self.beta + t1) - betaln(self.alpha, self.beta + t0))
        return _shape_like(out, t0)

    def retention_rate(self, t):
        """``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)`` for ``t >= 1``:
        the share of those on book in period ``t`` who stay for period ``t + 1``. It rises
        with ``t`` (the sBG's signature).

        Examples
        --------
        >>> SBGFit(1.0, 3.0, np.eye(2), 0.0, 1, 1).retention_rate([1, 2, 3]).tolist()
        [0.75, 0.8, 0.8333333333333334]
        """
        t = _times(t, "t", low=1)
        return _shape_like((self.beta + t - 1) / (self.alpha + self.beta + t - 1), t)

    def expected_months(self, t0, horizon: int, discount=None):
        """Expected months on book over the next ``horizon`` periods for a customer on book
        after ``t0`` periods: ``sum_{m=1..horizon} discount[m-1] * S(t0 + m - 1) / S(t0)``.

        Term ``m`` is the chance of being on book in period ``t0 + m`` (the first term is 1:
        a customer who has survived ``t0`` periods is there in the next one).

        Parameters
        ----------
        t0 : float or array-like
            Current tenure (periods survived); vectorised.
        horizon : int
            Periods ahead (>= 1).
        discount : array-like of length ``horizon``, optional
            Factor of each term, e.g. ``1 / (1 + d) ** np.arange(horizon)`` for a value paid at
            the start of each month. Without it every month counts 1.

        Examples
        --------
        >>> fit = SBGFit(1.0, 1.0, np.eye(2), 0.0, 1, 1)
        >>> round(float(fit.expected_months(0, 3)), 6)  # 1 + 1/2 + 1/3
        1.833333
        """
        t0 = _times(t0, "t0")
        if int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a whole number >= 1, got {horizon!r}")
        horizon = int(horizon)
        if discount is None:
            disc = np.ones(horizon)
        else:
            disc = np.asarray(discount, dtype=float).ravel()
            if disc.shape != (horizon,) or not np.all(np.isfinite(disc)):
                raise ValueError(f"discount must be {horizon} finite factors, got shape "
                                 f"{np.shape(discount)}")
        m = np.arange(horizon)
        flat = t0.ravel()
        terms = np.exp(betaln(self.alpha, self.beta + flat[:, None] + m[None, :])
                       - betaln(self.alpha, self.beta + flat[:, None]))
        return _shape_like((terms @ disc).reshape(t0.shape), t0)

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Estimates with standard errors and ``1 - alpha`` intervals.

        Rows ``alpha``, ``beta`` (interval from the log scale, so it stays positive) and
        ``mean_churn = alpha / (alpha + beta)``, the mean churn probability of a new customer
        (delta method on the logit scale). Columns ``parameter, estimate, se, ci_low, ci_high,
        loglik, n, events``.
        """
        z = _z(alpha)
        a, b = self.alpha, self.beta
        # logit(mean_churn) = log a - log b, so its variance is c' cov c with c = (1, -1).
        c = np.array([1.0, -1.0])
        se_logit = float(np.sqrt(c @ self.cov @ c))
        mean = a / (a + b)
        logit = np.log(a / b)
        rows = [
            ("alpha", a, self.se_alpha, a * np.exp(-z * self.se_log_alpha),
             a * np.exp(z * self.se_log_alpha)),
            ("beta", b, self.se_beta, b * np.exp(-z * self.se_log_beta),
             b * np.exp(z * self.se_log_beta)),
            ("mean_churn", mean, mean * (1 - mean) * se_logit,
             1 / (1 + np.exp(-(logit - z * se_logit))), 1 / (1 + np.exp(-(logit + z * se_logit)))),
        ]
        out = pd.DataFrame(rows, columns=["parameter", "estimate", "se", "ci_low", "ci_high"])
        return out.assign(loglik=self.loglik, n=self.n, events=self.events)


def _times(t, name: str, low: float = 0) -> np.ndarray:
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < low):
        raise ValueError(f"{name} must be finite and >= {low:g}")
    return arr


def _shape_like(out: np.ndarray, like: np.ndarray):
    return float(out) if np.ndim(like) == 0 else out


def fit_sbg(entry, exit, event, weights=None) -> SBGFit:  # noqa: A002 (shadows the builtin)
    """Fit the sBG model by maximum likelihood, with left truncation and right censoring.

    Parameters
    ----------
    entry : array-like
        Periods each customer is known to have survived when first seen (0 for customers
        seen from opening). The likelihood is conditional on ``T > entry``.
    exit : array-like
        Last period observed: the period at the end of which the customer left (``event=1``;
        ``exit >= 1`` and ``exit > entry``), or the periods survived when observation ended
        (``event=0``: ``T > exit``, ``exit >= entry``).
    event : array-like of 0/1 (or bool)
        1 if the customer left at the end of period ``exit``.
    weights : array-like, optional
        Frequency weights (e.g. counts of identical customers); finite and >= 0.

    Returns
    -------
    SBGFit
        ``alpha, beta``, the covariance of ``(log alpha, log beta)`` (inverse observed
        information), the log-likelihood, ``n`` and ``events``.

    Raises
    ------
    ValueError
        Missing, negative or fractional periods; ``exit < entry``; an event with ``exit <=
        entry`` or ``exit < 1``; bad weights or lengths.
    InsufficientDataError
        No departure (nothing to estimate churn from), or the information matrix is singular.

    Notes
    -----
    The parameters are optimised on the log scale (Newton trust region with the analytic
    gradient and Hessian of ``betaln``); identical rows are pooled first, so a book of a
    million customers costs as much as its distinct ``(entry, exit, event)`` triples. When the
    data show no heterogeneity, ``alpha`` and ``beta`` run off to infinity (the geometric limit):
    the fit then warns with :class:`~analysis.errors.ConvergenceWarning`.

    Examples
    --------
    Fader and Hardie's "regular" cohort, from the customers alive at the start of each year:

    >>> rows = survivor_rows([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> fit = fit_sbg(rows["entry"], rows["exit"], rows["event"], rows["weight"])
    >>> round(fit.alpha, 3), round(fit.beta, 3), round(fit.loglik, 1)
    (0.704, 1.182, -1680.3)
    """
    e = _as_array(entry, "entry")
    x = _as_array(exit, "exit")
    d = _as_array(event, "event")
    w = np.ones(len(e)) if weights is None else _as_array(weights, "weights")
    if not len(e) == len(x) == len(d) == len(w):
        raise ValueError(f"entry, exit, event and weights must have the same length, got "
                         f"{len(e)}, {len(x)}, {len(d)}, {len(w)}")
    if len(e) == 0:
        raise InsufficientDataError("there are no customers to fit the retention model to")
    for name, v in (("entry", e), ("exit", x)):
        bad = ~np.isfinite(v) | (v < 0) | (v != np.round(v))
        if bad.any():
            raise ValueError(f"{name} must be whole numbers of periods >= 0; offending "
                             f"positions {_bad(bad)}")
    bad = ~np.isin(d, (0, 1))
    if bad.any():
        raise ValueError(f"event must be 0 or 1; offending positions {_bad(bad)}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(f"weights must be finite and >= 0; offending positions {_bad(bad)}")
    bad = x < e
    if bad.any():
        raise ValueError(f"exit must be >= entry; offending positions {_bad(bad)}")
    bad = (d == 1) & (x <= e)
    if bad.any():
        raise ValueError("a departure must come after entry (exit > entry, so exit >= 1); "
                         f"offending positions {_bad(bad)}")

    # Pool identical rows: the likelihood only depends on the distinct triples.
    keys, inverse = np.unique(np.column_stack([e, x, d]), axis=0, return_inverse=True)
    wk = np.bincount(inverse.ravel(), weights=w, minlength=len(keys))
    keep = wk > 0
    keys, wk = keys[keep], wk[keep]
    ek, xk, dk = keys[:, 0], keys[:, 1], keys[:, 2]
    n, events = float(wk.sum()), float(wk[dk == 1].sum())
    if not events > 0:
        raise InsufficientDataError("no customer left in this data, so the churn "
                                    "probabilities of the retention model cannot be estimated")

    def fun(p):
        a, b = np.exp(p)
        ll, g, h = _loglik_parts(a, b, ek, xk, dk, wk)
        g, h = _log_scale(a, b, g, h)
        return -ll / n, -g / n, -h / n  # scaled per customer so tolerances mean the same

    cache = {}

    def parts(p):
        k = tuple(p)
        if k not in cache:
            cache.clear()
            cache[k] = fun(p)
        return cache[k]

    res = optimize.minimize(lambda p: parts(p)[0], np.zeros(2), jac=lambda p: parts(p)[1],
                            hess=lambda p: parts(p)[2], method="trust-exact",
                            options={"gtol": 1e-9, "maxiter": 500})
    a, b = np.exp(res.x)
    ll, g, h = _loglik_parts(a, b, ek, xk, dk, wk)
    _, h_log = _log_scale(a, b, g, h)
    if np.max(res.x) > _LOG_PARAM_MAX:
        warnings.warn("the retention model found no spread in churn probabilities between "
                      "customers (alpha and beta ran off to infinity); it has become a "
                      "constant-churn model and its standard errors are not meaningful",
                      ConvergenceWarning, stacklevel=2)
    elif not (res.success or np.max(np.abs(parts(res.x)[1])) < 1e-6):
        # trust-exact may stop on round-off near the optimum: accept a vanishing gradient
        warnings.warn(f"the retention model did not converge ({res.message})",
                      ConvergenceWarning, stacklevel=2)
    info = -h_log
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise InsufficientDataError("the data cannot pin down the spread of churn "
                                    "probabilities (singular information matrix)") from exc
    return SBGFit(alpha=float(a), beta=float(b), cov=cov, loglik=float(ll), n=n,
                  events=events)


def survivor_rows(alive) -> pd.DataFrame:
    """Customer rows (pooled, with weights) from the counts on book at the start of each period.

    ``alive[k]`` customers of one cohort are on book at the start of period ``k + 1`` (so
    ``alive[0]`` is the cohort size). The ``alive[k - 1] - alive[k]`` who go leave at the end
    of period ``k``; the last ``alive[-1]`` are censored after ``len(alive) - 1`` periods.

    Returns
    -------
    DataFrame
        Columns ``entry`` (0), ``exit``, ``event``, ``weight``; rows with weight 0 dropped.

    Examples
    --------
    >>> survivor_rows([10, 7, 5])
       entry  exit  event  weight
    0      0     1      1       3
    1      0     2      1       2
    2      0     2      0       5
    """
    alive = np.asarray(alive)
    if alive.ndim != 1 or len(alive) < 2:
        raise ValueError("alive must list the customers on book at the start of at least "
                         "two periods")
    if np.any(alive < 0) or np.any(np.diff(alive) > 0):
        raise ValueError("alive must be non-negative and non-increasing")
    k = len(alive) - 1
    out = pd.DataFrame({
        "entry": 0,
        "exit": np.concatenate([np.arange(1, k + 1), [k]]),
        "event": np.concatenate([np.ones(k, dtype=int), [0]]),
        "weight": np.concatenate([-np.diff(alive), alive[-1:]]),
    })
    return out[out["weight"] > 0].reset_index(drop=True)
