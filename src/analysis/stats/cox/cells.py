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

With Breslow's handling of ties the same likelihood is the piecewise-exponential model's with
the band levels profiled out (:func:`fit_piecewise_exponential`): counts per *band* of months
then suffice, several times fewer cells, which is what a large book's report 02 fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats.cox.fit import _newton
from analysis.stats.cox.result import CoxResult

__all__ = ["fit_cox_cells", "fit_piecewise_exponential"]


@dataclass
class _Pieces:
    loglik: float
    score: np.ndarray
    information: np.ndarray


class _Sets:
    """Cells sorted by risk set (``starts``: where each set begins) and the cells with
    departures, so that a Newton step is a few passes over contiguous arrays."""

    def __init__(self, X, W, D, k, K, efron=True):
        self.efron = efron
        if np.all(k[1:] >= k[:-1]):  # already set by set (exposure_cells' order): no copies
            self.X, self.W, self.D, self.k = X, W, D, k
        else:
            order = np.argsort(k, kind="stable")
            self.X, self.W, self.D, self.k = X[order], W[order], D[order], k[order]
        self.K = K
        self.starts = np.searchsorted(self.k, np.arange(K))
        self.ends = np.append(self.starts[1:], len(self.k))
        ev = np.flatnonzero(self.D > 0)
        self.ev, self.kev = ev, self.k[ev]
        self.XD = self.X[ev]
        self.xd = self.D[ev] @ self.XD
        d = np.rint(np.bincount(self.kev, self.D[ev], minlength=K)).astype(np.int64)
        has = d > 0
        self.idx, self.dd = np.flatnonzero(has), d[has]


def _pieces(sets: _Sets, beta) -> _Pieces:
    """Loglik, score and information from cell counts (Efron's ties, or Breslow's when
    ``sets.efron`` is false), for coefficients ``beta``."""
    X, K = sets.X, sets.K
    p = X.shape[1]
    eta = X @ beta
    c = eta.max()
    r = np.exp(eta - c)
    wr = sets.W * r
    wrX = X * wr[:, None]
    S0 = np.add.reduceat(wr, sets.starts)
    S1 = np.add.reduceat(wrX, sets.starts, axis=0)
    S2 = np.empty((K, p, p))
    for g, (a, b) in enumerate(zip(sets.starts, sets.ends)):
        S2[g] = X[a:b].T @ wrX[a:b]
    # the departing cells' share (Efron's correction), over the cells with departures only
    dr = sets.D[sets.ev] * r[sets.ev]
    XD = sets.XD
    D0 = np.bincount(sets.kev, dr, minlength=K)
    D1 = np.column_stack([np.bincount(sets.kev, dr * XD[:, j], minlength=K) for j in range(p)])
    D2 = np.zeros((K, p, p))
    np.add.at(D2, sets.kev, XD[:, :, None] * (dr[:, None] * XD)[:, None, :])
    idx, dd = sets.idx, sets.dd
    first = np.cumsum(dd) - dd
    kk = np.repeat(np.arange(idx.size), dd)
    f = (np.arange(kk.size) - first[kk]) / dd[kk] if sets.efron else np.zeros(kk.size)
    g = idx[kk]
    s0 = S0[g] - f * D0[g]
    s1 = S1[g] - f[:, None] * D1[g]
    mean = s1 / s0[:, None]
    # sum over departures of s2/s0, grouped by set: f enters linearly, so per set it is
    # S2 * sum(1/s0) - D2 * sum(f/s0)
    inv = 1.0 / s0
    a_g = np.bincount(kk, inv, minlength=idx.size)
    b_g = np.bincount(kk, f * inv, minlength=idx.size)
    s2_sum = (np.tensordot(a_g, S2[idx], axes=1) - np.tensordot(b_g, D2[idx], axes=1))
    loglik = float((sets.D[sets.ev] * eta[sets.ev]).sum() - np.sum(np.log(s0) + c))
    score = sets.xd - mean.sum(axis=0)
    info = s2_sum - mean.T @ mean
    return _Pieces(loglik, score, info)


def fit_cox_cells(cells: pd.DataFrame, covariates: Sequence[str], *, time: str = "time",
                  at_risk: str = "at_risk", events: str = "events",
                  strata: Sequence[str] | None = None, alpha: float = 0.05,
                  init: Sequence[float] | None = None, tol: float = 1e-10,
                  max_iter: int = 50, ties: str = "efron") -> CoxResult:
    """Cox model from counts: ``at_risk`` customer-months and ``events`` per cell.

    Parameters
    ----------
    cells : DataFrame
        One row per (``time``, covariate values[, strata]) with the counts; rows of the same
        ``time`` (and stratum) form one risk set. Several rows may share a covariate vector.
    covariates : list of str
        Numeric columns (dummies built beforehand).
    strata : list of str, optional
        Columns whose levels get their own baseline hazard.
    ties : {"efron", "breslow"}
        How departures at the same time share the risk set (Efron: as the row fit does;
        Breslow: the piecewise-exponential model, :func:`fit_piecewise_exponential`).

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
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
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

    sets = _Sets(X, W, D, k, K, efron=ties == "efron")

    def pieces(b):
        return _pieces(sets, b)

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


def fit_piecewise_exponential(cells: pd.DataFrame, covariates: Sequence[str], *,
                              time: str = "stop", at_risk: str = "at_risk",
                              events: str = "events", strata: Sequence[str] | None = None,
                              alpha: float = 0.05) -> CoxResult:
    """Piecewise-exponential (Poisson) model from counts per band of tenure and covariate cell.

    The hazard is constant within each band of ``time`` (and stratum), a free level per band,
    times ``exp(x'beta)``: a Poisson regression of ``events`` with offset ``log(at_risk)`` and
    one intercept per band. Profiling the band levels out leaves exactly Breslow's partial
    likelihood with each band as one risk set, so the fit is :func:`fit_cox_cells` with
    ``ties="breslow"``, and its inverse information is the Poisson model's variance of
    ``beta`` (``tests/test_cox_cells.py`` checks both against statsmodels' GLM). With bands of
    one month on monthly data it is the Cox model with Breslow ties; wider bands
    (:func:`analysis.frames.exposure_cells` ``band_months``) trade the baseline's resolution
    for fewer cells.
    """
    return fit_cox_cells(cells, covariates, time=time, at_risk=at_risk, events=events,
                         strata=strata, alpha=alpha, ties="breslow")
