"""The one Efron risk-set engine of the Cox model (delayed entry, strata, case weights).

Everything here works on counting-process rows ``(start, stop]`` (left truncation: a customer who
entered observation at tenure ``start`` is at risk at tenure ``t`` when ``start < t <= stop``, the
convention of R's ``Surv(start, stop, event)`` and of lifelines), with Efron's ties, optional
strata and case weights. :func:`riskset_pieces` gives, per distinct event time, the Efron mean
and variance of the covariates over the risk set (counted by :mod:`analysis.stats.risksets`),
hence the partial log-likelihood, the score and the information (the fit,
:mod:`analysis.stats.cox.fit`), the baseline cumulative hazard, the residuals
(:mod:`analysis.stats.cox.residuals`) and R's ``cox.zph`` test (:mod:`analysis.stats.cox.zph`).

Example
-------
>>> import numpy as np
>>> X = np.array([[0.0], [1.0], [1.0], [0.0]])
>>> pc = riskset_pieces(X, [0.0], stop=[1, 2, 3, 4], event=[1, 1, 0, 1])
>>> pc.time.tolist(), pc.xbar.ravel().round(4).tolist(), round(pc.loglik, 4)
([1.0, 2.0, 4.0], [0.5, 0.6667, 0.0], -2.4849)
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import pandas as pd

from analysis.stats.risksets import at_risk, risk_index


__all__ = [
    "RiskSetPieces",
    "riskset_pieces",
    "baseline_cumhaz",
    "baseline_from",
    "strata_labels",
]


@dataclass
class RiskSetPieces:
    """Per distinct event time (within strata), ordered by stratum then time.

    Attributes
    ----------
    time, stratum : ndarray (K,)
        The event times and their stratum labels.
    deaths, wdeaths : ndarray (K,)
        Number of events at each time, and their summed case weights (equal without weights).
    xbar : ndarray (K, p)
        Efron-averaged risk-set mean of the covariates (mean over the ``d`` Efron steps).
    vsum : ndarray (K, p, p)
        Sum over the Efron steps of the risk-set covariance (the information contribution).
    xdeath : ndarray (K, p)
        Sum of the covariates of the rows that have an event at that time.
    hazard : ndarray (K,)
        Efron increment of the baseline cumulative hazard (``sum_l 1 / S0_l``).
    loglik : float
        Efron partial log-likelihood at ``beta``.
    death_rows : ndarray
        Row indices (into the input) of the events, and ``death_k`` their event-time index.
    hazard_x, tie, tie_x : ndarray
        For residuals (:mod:`analysis.stats.cox.residuals`): per event time the sums over the
        Efron steps ``l`` of ``g_l xbar_l``, ``f_l g_l`` and ``f_l g_l xbar_l``, with ``g_l`` the
        hazard increment of step ``l`` and ``f_l = l / d`` its share of the tied events removed.
    """

    time: np.ndarray
    stratum: np.ndarray
    deaths: np.ndarray
    xbar: np.ndarray
    vsum: np.ndarray
    xdeath: np.ndarray
    hazard: np.ndarray
    loglik: float
    death_rows: np.ndarray
    death_k: np.ndarray
    wdeaths: np.ndarray
    hazard_x: np.ndarray
    tie: np.ndarray
    tie_x: np.ndarray

    @property
    def score(self) -> np.ndarray:
        """Score vector (zero at the maximum partial likelihood)."""
        return (self.xdeath - self.wdeaths[:, None] * self.xbar).sum(axis=0)

    @property
    def information(self) -> np.ndarray:
        """Observed information matrix (inverse of the model-based variance)."""
        return self.vsum.sum(axis=0)


def _as_float(a, name: str) -> np.ndarray:
    out = np.asarray(a, dtype=float)
    if np.isnan(out).any():
        raise ValueError(f"{name} has missing values")
    return out


def _one_stratum(X, eta, start, stop, event, w=None):
    """Efron risk-set sums of one stratum; ``w`` case weights (None: all 1, exactly)."""
    n, p = X.shape
    times = np.unique(stop[event])
    K = times.size
    c = eta.max() if n else 0.0
    r = np.exp(eta - c)
    wr = r if w is None else w * r
    index = risk_index(start, stop, times)

    def over_risk(v):
        return at_risk(start, stop, times, v, index=index)

    S0 = over_risk(wr)
    S1 = np.column_stack([over_risk(wr * X[:, j]) for j in range(p)]) if p else np.zeros((K, 0))
    S2 = np.zeros((K, p, p))
    for j in range(p):
        for m in range(j + 1):
            S2[:, j, m] = S2[:, m, j] = over_risk(wr * X[:, j] * X[:, m])
    rows = np.flatnonzero(event)
    kd = np.searchsorted(times, stop[rows])
    wd = np.ones(rows.size) if w is None else w[rows]
    d = np.bincount(kd, minlength=K).astype(float)
    wdeaths = d if w is None else np.bincount(kd, wd, minlength=K)
    wbar = np.ones(K) if w is None else wdeaths / d
    D0 = np.bincount(kd, wr[rows], minlength=K)
    D1 = np.column_stack([np.bincount(kd, wr[rows] * X[rows, j], minlength=K) for j in range(p)]) \
        if p else np.zeros((K, 0))
    D2 = np.zeros((K, p, p))
    for j in range(p):
        for m in range(j + 1):
            D2[:, j, m] = D2[:, m, j] = np.bincount(kd, wr[rows] * X[rows, j] * X[rows, m],
                                                    minlength=K)
    wx = X[rows] if w is None else wd[:, None] * X[rows]
    XD = np.column_stack([np.bincount(kd, wx[:, j], minlength=K) for j in range(p)]) \
        if p else np.zeros((K, 0))
    eta_d = np.bincount(kd, eta[rows] if w is None else wd * eta[rows], minlength=K)

    # Efron steps of all event times at once: step l = 0..d_k-1 of time k removes l/d_k of
    # the tied events' weight (one row per event, summed back per time with reduceat)
    scale = np.exp(-c)
    if K == 0:
        xbar, vsum = np.zeros((0, p)), np.zeros((0, p, p))
        haz, haz_x, tie, tie_x = np.zeros(0), np.zeros((0, p)), np.zeros(0), np.zeros((0, p))
        loglik = 0.0
    else:
        di = d.astype(np.int64)
        first = np.cumsum(di) - di  # first step of each time (every d_k >= 1)
        kk = np.repeat(np.arange(K), di)
        f = (np.arange(kk.size) - first[kk]) / d[kk]
        s0 = S0[kk] - f * D0[kk]
        s1 = S1[kk] - f[:, None] * D1[kk]
        s2 = S2[kk] - f[:, None, None] * D2[kk]
        mean_l = s1 / s0[:, None]
        xbar = np.add.reduceat(mean_l, first, axis=0) / d[:, None]
        v = np.add.reduceat(s2 / s0[:, None, None] - mean_l[:, :, None] * mean_l[:, None, :],
                            first, axis=0)
        vsum = wbar[:, None, None] * v  # wbar is exactly 1 without weights
        g = wbar[kk] / s0  # hazard increment of each Efron step (scaled by exp(c))
        haz = np.add.reduceat(g, first) * scale
        haz_x = np.add.reduceat(mean_l * g[:, None], first, axis=0) * scale
        tie = np.add.reduceat(f * g, first) * scale
        tie_x = np.add.reduceat(mean_l * (f * g)[:, None], first, axis=0) * scale
        ll = np.add.reduceat(np.log(s0) + c, first)
        loglik = float(np.sum(eta_d - wbar * ll))
    return dict(time=times, deaths=d, wdeaths=wdeaths, xbar=xbar, vsum=vsum, xdeath=XD,
                hazard=haz, hazard_x=haz_x, tie=tie, tie_x=tie_x, loglik=loglik, rows=rows, kd=kd)


def riskset_pieces(
    X,
    beta,
    *,
    stop,
    event,
    start=None,
    strata=None,
    weights=None,
) -> RiskSetPieces:
    """Risk-set sums of a Cox model at coefficients ``beta`` (Efron ties, delayed entry, strata).

    Parameters
    ----------
    X : array (n, p)
        Design matrix (the columns of the fitted model, in the order of ``beta``).
    beta : array (p,)
    stop, event : arrays (n,)
        End of each row's interval and whether it ends with an event.
    start : array (n,), optional
        Start of each row's interval (entry time); at risk when ``start < t <= stop``.
    strata : array (n,), optional
        Stratum labels (separate baseline hazards).
    weights : array (n,), optional
        Case weights (e.g. inverse probability weights), as R's ``coxph(weights=)``: each
        Efron step of a tied event time carries the mean weight of its events.
    """
    X = _as_float(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    n, p = X.shape
    beta = _as_float(beta, "beta").reshape(-1)
    if beta.size != p:
        raise ValueError(f"beta has {beta.size} values for {p} columns of X")
    stop = _as_float(stop, "stop")
    # no delayed entry: at risk from the beginning (also for rows that stop at time 0)
    start = np.full(n, -np.inf) if start is None else _as_float(start, "start")
    event = np.asarray(event).astype(bool)
    w = None if weights is None else _as_float(weights, "weights")
    if w is not None and np.any(w < 0):
        raise ValueError("weights must be non-negative")
    if np.any(start >= stop):
        raise ValueError("every row needs start < stop (entry before the event or censoring time)")
    eta = X @ beta if p else np.zeros(n)
    labels = np.zeros(n, dtype=int) if strata is None else pd.factorize(pd.Series(strata))[0]
    parts = []
    for s in np.unique(labels):
        idx = np.flatnonzero(labels == s)
        part = _one_stratum(X[idx], eta[idx], start[idx], stop[idx], event[idx],
                            None if w is None else w[idx])
        part["stratum"] = s
        part["rows"] = idx[part["rows"]]
        parts.append(part)
    offsets = np.cumsum([0] + [len(pt["time"]) for pt in parts[:-1]])
    strata_values = (np.asarray(pd.Series(strata).factorize()[1]) if strata is not None
                     else np.array([None], dtype=object))

    def cat(key):
        return np.concatenate([pt[key] for pt in parts])

    return RiskSetPieces(
        time=cat("time"),
        stratum=np.concatenate([np.repeat(strata_values[pt["stratum"]], len(pt["time"]))
                                for pt in parts]),
        deaths=cat("deaths"),
        xbar=cat("xbar"),
        vsum=cat("vsum"),
        xdeath=cat("xdeath"),
        hazard=cat("hazard"),
        loglik=float(sum(pt["loglik"] for pt in parts)),
        death_rows=cat("rows"),
        death_k=np.concatenate([pt["kd"] + off for pt, off in zip(parts, offsets)]),
        wdeaths=cat("wdeaths"),
        hazard_x=cat("hazard_x"),
        tie=cat("tie"),
        tie_x=cat("tie_x"),
    )


def strata_labels(data: pd.DataFrame, columns) -> np.ndarray | None:
    """One stratum label per row from the combination of ``columns`` (None without strata)."""
    if not columns:
        return None
    cols = [data[c].astype(str) for c in columns]
    out = cols[0]
    for c in cols[1:]:  # vectorised concatenation (a row-wise join costs seconds on 10^5 rows)
        out = out + "|" + c
    return out.to_numpy()


def baseline_from(pieces: RiskSetPieces) -> pd.Series:
    """Baseline cumulative hazard (cumulated Efron increments) of unstratified risk-set sums."""
    return pd.Series(np.cumsum(pieces.hazard), index=pieces.time, name="baseline_cumhaz")


def baseline_cumhaz(X, beta, *, stop, event, start=None) -> pd.Series:
    """Baseline cumulative hazard (Efron increments, delayed entry) at the distinct event times.

    For predictions at ``x``: ``H(t | x) = H0(t) * exp(x @ beta)``, with ``X`` the design used
    in the fit (no strata).
    """
    return baseline_from(riskset_pieces(X, beta, stop=stop, event=event, start=start))
