"""The Cox model fitted on counts per month and covariate cell: the large-book engine.

On monthly data a customer-month is at risk only at the end of its own month, so the Efron
partial likelihood of the person-month rows depends on the data only through, per month (and
stratum) and distinct covariate vector, the number of customer-months at risk and the number of
departures. Those counts come out of one SQL ``GROUP BY`` (:func:`analysis.frames.exposure_cells`)
whatever the size of the book, and a fit costs O(cells + events) per Newton step instead of
O(person-months).

The fit is **exact**, not an approximation: equal to :func:`analysis.stats.cox.fit.fit_cox` on
the person-month rows (``tests/test_cox_cells.py`` to 1e-9) when every covariate is discrete.
A continuous covariate must be binned first (the approximation, if any, is the binning).
Variance: model-based (inverse information); a cluster-robust variance needs each customer's
rows and is not available from counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats.cox.fit import _newton
from analysis.stats.cox.result import CoxResult

__all__ = ["fit_cox_cells"]


@dataclass
class _Pieces:
    loglik: float
    score: np.ndarray
    information: np.ndarray


def _pieces(X, W, D, k, K, beta) -> _Pieces:
    """Efron loglik, score and information from cell counts (``k``: risk-set index per cell)."""
    p = X.shape[1]
    eta = X @ beta
    c = eta.max()
    r = np.exp(eta - c)
    wr, dr = W * r, D * r

    def per_set(v):
        return np.bincount(k, v, minlength=K)

    S0, D0 = per_set(wr), per_set(dr)
    S1 = np.column_stack([per_set(wr * X[:, j]) for j in range(p)])
    D1 = np.column_stack([per_set(dr * X[:, j]) for j in range(p)])
    S2 = np.empty((K, p, p))
    D2 = np.empty((K, p, p))
    for j in range(p):
        for m in range(j + 1):
            S2[:, j, m] = S2[:, m, j] = per_set(wr * X[:, j] * X[:, m])
            D2[:, j, m] = D2[:, m, j] = per_set(dr * X[:, j] * X[:, m])
    d = np.rint(per_set(D)).astype(np.int64)
    has = d > 0
    idx = np.flatnonzero(has)
    dd = d[has]
    first = np.cumsum(dd) - dd
    kk = np.repeat(np.arange(idx.size), dd)
    f = (np.arange(kk.size) - first[kk]) / dd[kk]
    g = idx[kk]
    s0 = S0[g] - f * D0[g]
    s1 = S1[g] - f[:, None] * D1[g]
    s2 = S2[g] - f[:, None, None] * D2[g]
    mean = s1 / s0[:, None]
    xd = (D[:, None] * X).sum(axis=0)
    loglik = float((D * eta).sum() - np.sum(np.log(s0) + c))
    score = xd - mean.sum(axis=0)
    info = (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return _Pieces(loglik, score, info)


def fit_cox_cells(cells: pd.DataFrame, covariates: Sequence[str], *, time: str = "time",
                  at_risk: str = "at_risk", events: str = "events",
                  strata: Sequence[str] | None = None, alpha: float = 0.05,
                  init: Sequence[float] | None = None, tol: float = 1e-10,
                  max_iter: int = 50) -> CoxResult:
    """Efron Cox model from counts: ``at_risk`` customer-months and ``events`` per cell.

    Parameters
    ----------
    cells : DataFrame
        One row per (``time``, covariate values[, strata]) with the counts; rows of the same
        ``time`` (and stratum) form one risk set. Several rows may share a covariate vector.
    covariates : list of str
        Numeric columns (dummies built beforehand).
    strata : list of str, optional
        Columns whose levels get their own baseline hazard.

    Returns
    -------
    CoxResult
        ``n`` and ``n_rows`` are the customer-months at risk, ``data`` the cells, no baseline
        hazard; ``robust`` is False (model-based variance).

    Raises
    ------
    InsufficientDataError
        No departure, a covariate with one value, or a singular information matrix.
    """
    covariates = list(covariates)
    if not covariates:
        raise ValueError("at least one covariate is needed")
    missing = [c for c in [time, at_risk, events, *covariates, *(strata or [])]
               if c not in cells.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; available: {list(cells.columns)}")
    cells = cells[cells[at_risk] > 0]
    D = cells[events].to_numpy(dtype=float)
    W = cells[at_risk].to_numpy(dtype=float)
    if D.sum() == 0:
        raise InsufficientDataError(
            "no customer left (no events), so no hazard ratio can be estimated")
    if np.any(D > W) or np.any(D < 0):
        raise ValueError(f"{events!r} must lie between 0 and {at_risk!r} in every cell")
    X = cells[covariates].to_numpy(dtype=float)
    for j, cname in enumerate(covariates):
        if np.ptp(X[:, j]) == 0:
            raise InsufficientDataError(
                f"{cname!r} takes a single value ({X[0, j]:g}) in this data, so its effect "
                "cannot be estimated")
    keys = [time, *(strata or [])]
    k, uniques = pd.MultiIndex.from_frame(cells[keys]).factorize()
    K = len(uniques)

    def pieces(b):
        return _pieces(X, W, D, k, K, b)

    beta, cur, ll_null, it = _newton(pieces, len(covariates), init, tol, max_iter)
    try:
        var = np.linalg.inv(cur.information)
    except np.linalg.LinAlgError:
        raise InsufficientDataError(
            "the model could not be fitted: singular information matrix") from None
    v = pd.DataFrame(var, index=covariates, columns=covariates)
    return CoxResult(
        params=pd.Series(beta, index=covariates, name="coef"), variance=v, naive_variance=v,
        log_likelihood=float(cur.loglik), log_likelihood_null=float(ll_null),
        n=int(W.sum()), n_rows=int(W.sum()), events=int(D.sum()), covariates=covariates,
        strata=list(strata) if strata else None, robust=False, alpha=alpha, n_iter=it,
        data=cells, spec=dict(duration=time, event=events, entry=None,
                              strata=list(strata) if strata else None, weights=at_risk,
                              cluster=None))
