"""Residuals of a Cox model and the robust (sandwich) variance, on the one Efron engine.

Built on :func:`analysis.stats.cox.engine.riskset_pieces`, so they honour delayed entry (a row
is at risk at ``t`` when ``start < t <= stop``), strata, case weights and Efron's ties exactly
as the fit does. lifelines 0.30 cannot do this: its ``robust=True`` builds score residuals that
ignore entry times and ties, and ``CoxTimeVaryingFitter`` has no robust variance at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.cox.engine import _as_float, riskset_pieces

__all__ = ["score_residuals", "robust_variance"]


def _stratum_rows(strata, n: int) -> list[np.ndarray]:
    if strata is None:
        return [np.arange(n)]
    labels = pd.factorize(pd.Series(strata))[0]
    return [np.flatnonzero(labels == s) for s in np.unique(labels)]


def score_residuals(X, beta, *, stop, event, start=None, strata=None, weights=None) -> np.ndarray:
    """Efron score residuals ``U_i`` (n x p, unweighted per row) over left-truncated risk sets.

    ``sum_i w_i U_i`` is the score of the (weighted) partial likelihood, zero at its maximum;
    matches R's ``residuals(coxph, "score")``. For row ``i`` with interval ``(s_i, t_i]``:
    ``U_i = d_i (x_i - xbar(t_i)) - exp(eta_i) sum_{s_i < t_k <= t_i} (x_i - xbar_k) dH_k``
    with Efron's per-step corrections at the row's own (tied) event time.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [1.0], [0.0]])
    >>> U = score_residuals(X, [0.0], stop=[1, 2, 3, 4], event=[1, 1, 0, 1])
    >>> round(float(U.sum()), 12)  # the score at 0: (0 - 2/4) + (1 - 2/3) at times 1 and 2
    -0.166666666667
    """
    X = _as_float(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    n, p = X.shape
    beta = _as_float(beta, "beta").reshape(-1)
    stop = _as_float(stop, "stop")
    start = np.full(n, -np.inf) if start is None else _as_float(start, "start")
    event = np.asarray(event).astype(bool)
    w = None if weights is None else _as_float(weights, "weights")
    out = np.zeros((n, p))
    for rows in _stratum_rows(strata, n):
        Xs, s, t, e = X[rows], start[rows], stop[rows], event[rows]
        pc = riskset_pieces(Xs, beta, stop=t, event=e, start=s,
                            weights=None if w is None else w[rows])
        if pc.time.size == 0:
            continue
        risk = np.exp(Xs @ beta)
        A = np.concatenate([[0.0], np.cumsum(pc.hazard)])
        B = np.vstack([np.zeros((1, p)), np.cumsum(pc.hazard_x, axis=0)])
        lo = np.searchsorted(pc.time, s, side="right")
        hi = np.searchsorted(pc.time, t, side="right")
        U = -risk[:, None] * (Xs * (A[hi] - A[lo])[:, None] - (B[hi] - B[lo]))
        dr, k = pc.death_rows, pc.death_k
        # an event row: its Schoenfeld residual, and back the share of its own tied time that
        # Efron removes from it (it is only partly at risk after the first tied departure)
        U[dr] += (Xs[dr] - pc.xbar[k]) + risk[dr][:, None] * (Xs[dr] * pc.tie[k][:, None]
                                                             - pc.tie_x[k])
        out[rows] = U
    return out


def robust_variance(X, beta, naive_variance, *, stop, event, start=None, strata=None,
                    weights=None, cluster=None) -> np.ndarray:
    """Lin-Wei sandwich ``V (sum_c D_c D_c') V``, ``D_i = w_i U_i``, summed within ``cluster``.

    Parameters
    ----------
    naive_variance : array (p, p)
        The model-based variance (inverse information) at ``beta``.
    cluster : array (n,), optional
        Rows with the same label belong together (e.g. a customer's intervals).
    """
    U = score_residuals(X, beta, stop=stop, event=event, start=start, strata=strata,
                        weights=weights)
    if weights is not None:
        U = U * _as_float(weights, "weights")[:, None]
    D = U @ np.asarray(naive_variance, dtype=float)
    if cluster is not None:
        D = pd.DataFrame(D).groupby(np.asarray(cluster)).sum().to_numpy()
    return D.T @ D
