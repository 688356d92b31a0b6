"""Weighted logistic and linear regression by Newton's method on arrays, for many quick refits.

The marginal structural model (:mod:`analysis.stats.msm`) and the parametric g-formula
(:mod:`analysis.stats.gformula`) fit pooled models on person-month rows, and the g-formula's
bootstrap refits them dozens of times with resampling weights. statsmodels' formula machinery
costs more than the fit itself there; these fits take design matrices, case weights and a warm
start, and agree with statsmodels' ``GLM(..., family=Binomial(), freq_weights=w)`` and
``WLS`` (tested).
"""

from __future__ import annotations

import numpy as np

from analysis.errors import InsufficientDataError

__all__ = ["weighted_gram", "fit_logit", "logit_covariance", "predict_logit", "fit_linear",
           "full_rank_columns", "cluster_robust_covariance"]


def weighted_gram(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``X' diag(v) X`` (``v >= 0``), as ``Z'Z`` with ``Z = diag(sqrt(v)) X``: numpy hands the
    symmetric product to BLAS's syrk, an order of magnitude faster here on 10^5 rows."""
    Z = X * np.sqrt(v)[:, None]
    return Z.T @ Z


def predict_logit(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``P(y = 1 | X) = 1 / (1 + exp(-X beta))``."""
    eta = np.clip(X @ beta, -35.0, 35.0)
    return 1.0 / (1.0 + np.exp(-eta))


def fit_logit(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *,
              init: np.ndarray | None = None, tol: float = 1e-8, max_iter: int = 50,
              ridge: float = 0.0) -> np.ndarray:
    """Maximum-likelihood logistic regression coefficients (``X`` holds the intercept column).

    Parameters
    ----------
    X : (n, p) array
    y : (n,) array of 0/1
    weights : (n,) array, optional
        Case (frequency) weights, e.g. bootstrap counts.
    init : (p,) array, optional
        Warm start (e.g. the full-data fit when refitting on a bootstrap sample).
    ridge : float
        L2 penalty on the non-intercept coefficients, per unit of total weight
        (``ridge * sum(w) * |beta|^2 / 2``): a tiny one (1e-6) keeps a coefficient of a group in
        which nobody (or everybody) has the outcome finite (its probability then is near 0 or
        1) and barely moves the others.

    Raises
    ------
    InsufficientDataError
        A coefficient runs off to infinity (a covariate separates the outcome) or the
        information matrix is singular.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0, 0, 1, 1, 1, 0]])
    >>> b = fit_logit(X, np.array([0, 1, 1, 1, 0, 0]))
    >>> [round(float(v), 4) for v in b]  # log-odds 1/3 -> 2/3: -log 2 and 2 log 2
    [-0.6931, 1.3863]
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    if init is None:  # start at the overall rate (saves a Newton step or two)
        beta = np.zeros(X.shape[1])
        m = np.clip(np.average(y, weights=w), 1e-6, 1 - 1e-6)
        beta[0] = np.log(m / (1 - m)) if np.allclose(X[:, 0], 1.0) else 0.0
    else:
        beta = np.asarray(init, dtype=float).copy()
    pen = np.full(X.shape[1], ridge * w.sum())
    pen[0] = 0.0
    def loglik(b):
        eta = np.clip(X @ b, -35.0, 35.0)
        return float((w * (y * eta - np.logaddexp(0.0, eta))).sum() - 0.5 * (pen * b * b).sum())

    ll = loglik(beta)
    for _ in range(max_iter):
        p = predict_logit(X, beta)
        grad = X.T @ (w * (y - p)) - pen * beta
        info = weighted_gram(X, w * p * (1 - p)) + np.diag(pen)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            raise InsufficientDataError(
                "a pooled logistic model could not be fitted: its covariates are collinear "
                "among these rows") from None
        for _half in range(30):  # step halving: never lower the likelihood
            new = loglik(beta + step)
            if new >= ll - 1e-10 * abs(ll):
                break
            step = step / 2
        beta, ll = beta + step, new
        if np.max(np.abs(beta)) > 30:
            raise InsufficientDataError(
                "a pooled logistic model could not be fitted: a covariate almost perfectly "
                "predicts the outcome (no overlap)")
        if np.max(np.abs(step)) < tol:
            break
    return beta


def logit_covariance(X: np.ndarray, beta: np.ndarray, weights: np.ndarray | None = None,
                     ridge: float = 0.0) -> np.ndarray:
    """Inverse (penalised) information of :func:`fit_logit` at ``beta``: the model-based
    covariance of the coefficients."""
    X = np.asarray(X, dtype=float)
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=float)
    p = predict_logit(X, beta)
    pen = np.full(X.shape[1], ridge * w.sum())
    pen[0] = 0.0
    return np.linalg.inv(weighted_gram(X, w * p * (1 - p)) + np.diag(pen))


def cluster_robust_covariance(X: np.ndarray, resid: np.ndarray, bread: np.ndarray,
                              cluster: np.ndarray) -> np.ndarray:
    """Sandwich covariance ``B M B`` with the scores summed within clusters (customers).

    ``resid`` is ``y - p`` (logistic) or ``y - X beta`` (least squares), ``bread`` the
    model-based covariance (:func:`logit_covariance`; ``(X'X)^-1`` for least squares) and
    ``cluster`` integer codes ``0..G-1``: ``M = G / (G - 1) * sum_g U_g U_g'`` with ``U_g``
    the summed score ``x (y - p)`` of cluster ``g`` (R's ``sandwich::vcovCL`` with its default
    small-sample factor). Repeated months of one customer are not independent (a customer's
    frailty, misspecified dynamics): the model-based covariance then understates the spread.

    >>> X = np.column_stack([np.ones(4), [0.0, 1, 0, 1]])
    >>> V = cluster_robust_covariance(X, np.array([0.5, -0.5, 0.5, -0.5]), np.eye(2),
    ...                               np.array([0, 0, 1, 1]))
    >>> V.round(3).tolist()  # each cluster's scores sum to (0, -0.5): M = 2 * 2 * 0.25
    [[0.0, 0.0], [0.0, 1.0]]
    """
    X = np.asarray(X, dtype=float)
    U = X * np.asarray(resid, dtype=float)[:, None]
    cluster = np.asarray(cluster)
    G = int(cluster.max()) + 1 if cluster.size else 0
    Ug = np.column_stack([np.bincount(cluster, U[:, j], minlength=G) for j in range(X.shape[1])])
    meat = Ug.T @ Ug * (G / (G - 1) if G > 1 else 1.0)
    return bread @ meat @ bread


def fit_linear(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
               ) -> tuple[np.ndarray, float]:
    """Weighted least squares: coefficients and the residual SD (weighted, df-corrected).

    >>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> b, sd = fit_linear(X, np.array([1.0, 3.0, 5.0, 7.0]))
    >>> [round(float(v), 6) for v in b], round(sd, 6)
    ([1.0, 2.0], 0.0)
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    try:
        beta = np.linalg.solve(weighted_gram(X, w), X.T @ (w * y))
    except np.linalg.LinAlgError:
        raise InsufficientDataError(
            "a linear model could not be fitted: its covariates are collinear") from None
    r = y - X @ beta
    dof = max(w.sum() - X.shape[1], 1.0)
    return beta, float(np.sqrt((w * r * r).sum() / dof))


def full_rank_columns(X: np.ndarray, tol: float = 1e-9) -> list[int]:
    """Indices of a maximal set of linearly independent columns, in column order.

    A column that adds nothing to the span of the columns before it (aliased, e.g. a spline
    basis that sums to the intercept) is left out.

    >>> X = np.column_stack([np.ones(4), [1.0, 2, 3, 4], [2.0, 4, 6, 8], [0.0, 1, 0, 1]])
    >>> full_rank_columns(X)
    [0, 1, 3]
    """
    X = np.asarray(X, dtype=float)
    scale = np.sqrt((X * X).sum(axis=0))
    Z = X / np.where(scale > 0, scale, 1.0)
    keep: list[int] = []
    for j in range(Z.shape[1]):
        if scale[j] == 0:
            continue
        cand = keep + [j]
        if np.linalg.matrix_rank(Z[:, cand], tol=tol * np.sqrt(len(Z))) == len(cand):
            keep.append(j)
    return keep
