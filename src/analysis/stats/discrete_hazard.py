"""Discrete-time hazard models: a binary GLM on person-period rows (pooled logistic or cloglog).

A discrete-time hazard model gives the probability ``p`` that a subject at risk at the start of
a period leaves during it, from covariates known at the start. With the complementary log-log
link, ``p = 1 - exp(-exp(eta))`` is exactly a grouped proportional-hazards model (a continuous
Cox-type hazard observed in whole months); with the logit link it is the pooled logistic
regression of D'Agostino et al. (1990). The probability of leaving within ``h`` periods is
``1 - prod_j (1 - p_j)`` (:func:`cumulative_risk`).

The fit is Fisher scoring (IRLS) with an optional ridge penalty on every column but the first
(the intercept), so that rare dummy levels cannot diverge; with ``ridge=0`` the estimates are
the maximum-likelihood ones (checked against statsmodels' GLM in ``tests/test_early_warning_stats.py``).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np

try:  # scikit-learn's dependency; BLAS threads that spin on a busy machine slow X'WX tenfold
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

from analysis.errors import ConvergenceWarning, InsufficientDataError
from analysis.stats.logit import weighted_gram

__all__ = ["DiscreteHazardFit", "fit_discrete_hazard", "cumulative_risk", "LINKS"]

LINKS = ("cloglog", "logit")
_ETA_MAX = 3.0  # cloglog: p = 1 - exp(-e^3) ~ 1; keeps the weights finite


def _inverse(eta: np.ndarray, link: str) -> tuple[np.ndarray, np.ndarray]:
    """Probability and its derivative d p / d eta."""
    if link == "logit":
        p = 1.0 / (1.0 + np.exp(-eta))
        return p, p * (1.0 - p)
    e = np.exp(np.minimum(eta, _ETA_MAX))
    p = -np.expm1(-e)
    return p, e * np.exp(-e)


@dataclass
class DiscreteHazardFit:
    """A fitted discrete-time hazard model.

    Attributes
    ----------
    coef : ndarray
        Coefficients, one per column of the design (the first is the intercept).
    cov : ndarray
        Their covariance (inverse penalised Fisher information).
    link : str
        ``"cloglog"`` or ``"logit"``.
    loglik : float
        Log-likelihood at the estimate (without the penalty).
    n_iter : int
        Scoring iterations used.
    converged : bool
        Whether the relative change of the penalised deviance fell below ``tol``.
    """

    coef: np.ndarray
    cov: np.ndarray
    link: str
    loglik: float
    n_iter: int
    converged: bool

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probability of the event in the period for each row of ``X``."""
        return _inverse(np.asarray(X, dtype=float) @ self.coef, self.link)[0]


def _loglik(y, p, w) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(np.sum(w * (y * np.log(p) + (1 - y) * np.log1p(-p))))


def fit_discrete_hazard(X, y, *, link: str = "cloglog", weights=None, ridge: float = 0.0,
                        init=None, max_iter: int = 50, tol: float = 1e-9) -> DiscreteHazardFit:
    """Fit a discrete-time hazard model by Fisher scoring.

    Parameters
    ----------
    X : array (n, p)
        Design matrix, one row per subject and period at risk; column 0 is the intercept.
    y : array (n,)
        1 where the subject left in that period, else 0.
    link : {"cloglog", "logit"}
        Complementary log-log (grouped proportional hazards) or logit (pooled logistic).
    weights : array (n,), optional
        Case weights (e.g. identical rows collapsed).
    ridge : float
        L2 penalty ``ridge * sum(beta[1:]**2) / 2`` added to minus the log-likelihood.
    init : array (p,), optional
        Starting values (a warm start from a previous fit).

    Returns
    -------
    DiscreteHazardFit

    Examples
    --------
    >>> X = np.column_stack([np.ones(8), [0, 0, 0, 0, 1, 1, 1, 1]])
    >>> y = np.array([0, 0, 0, 1, 0, 1, 1, 0])
    >>> fit = fit_discrete_hazard(X, y, link="logit")
    >>> np.round(fit.predict(X[[0, 4]]), 4).tolist()  # the observed shares 1/4 and 2/4
    [0.25, 0.5]
    """
    if link not in LINKS:
        raise ValueError(f"link must be one of {LINKS}, got {link!r}")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"X must be (n, p) with n = len(y) = {y.size}; got {X.shape}")
    w = np.ones(y.size) if weights is None else np.asarray(weights, dtype=float)
    events = float(np.sum(w * y))
    if events == 0 or events == float(np.sum(w)):
        raise InsufficientDataError(
            "every period ended the same way (no departure, or only departures), so the risk "
            "of leaving cannot be modelled")
    p_cols = X.shape[1]
    pen = np.full(p_cols, float(ridge))
    pen[0] = 0.0
    if init is not None:
        beta = np.asarray(init, dtype=float).copy()
    else:
        beta = np.zeros(p_cols)
        rate = events / float(np.sum(w))
        beta[0] = np.log(-np.log1p(-rate)) if link == "cloglog" else np.log(rate / (1 - rate))
    with (threadpool_limits(1, user_api="blas") if threadpool_limits else contextlib.nullcontext()):
        return _scoring(X, y, w, beta, pen, link, max_iter, tol)


def _scoring(X, y, w, beta, pen, link, max_iter, tol) -> DiscreteHazardFit:
    """Fisher scoring with step halving from ``beta``."""
    p, dp = _inverse(X @ beta, link)
    dev = -2 * _loglik(y, p, w) + float(np.sum(pen * beta * beta))
    converged = False
    for it in range(1, max_iter + 1):
        var = np.clip(p * (1 - p), 1e-12, None)
        score = X.T @ (w * dp * (y - p) / var) - pen * beta
        info = weighted_gram(X, w * dp * dp / var) + np.diag(pen)
        step = np.linalg.solve(info, score)
        # Step halving keeps the penalised likelihood from falling (cloglog is not canonical).
        for _ in range(30):
            cand = beta + step
            pc, dpc = _inverse(X @ cand, link)
            dev_c = -2 * _loglik(y, pc, w) + float(np.sum(pen * cand * cand))
            if dev_c <= dev + 1e-9 * abs(dev):
                break
            step /= 2
        beta, p, dp = cand, pc, dpc
        change, dev = abs(dev - dev_c), dev_c
        if change <= tol * (abs(dev) + 1.0):
            converged = True
            break
    var = np.clip(p * (1 - p), 1e-12, None)
    info = weighted_gram(X, w * dp * dp / var) + np.diag(pen)
    if not converged:
        warnings.warn(f"discrete-time hazard fit did not converge in {max_iter} iterations",
                      ConvergenceWarning, stacklevel=3)
    return DiscreteHazardFit(coef=beta, cov=np.linalg.inv(info), link=link,
                             loglik=_loglik(y, p, w), n_iter=it, converged=converged)


def cumulative_risk(period_probs) -> np.ndarray:
    """Probability of the event within the periods: ``1 - prod_j (1 - p_j)`` along axis 1.

    >>> cumulative_risk([[0.1, 0.1], [0.5, 0.0]]).round(3).tolist()
    [0.19, 0.5]
    """
    p = np.asarray(period_probs, dtype=float)
    return -np.expm1(np.sum(np.log1p(-np.clip(p, 0.0, 1.0 - 1e-15)), axis=1))
