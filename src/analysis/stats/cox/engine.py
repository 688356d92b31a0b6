"""Risk-set sums of a fitted Cox model and the proportional-hazards test of R's ``cox.zph``.

Everything here works on counting-process rows ``(start, stop]`` (left truncation: a customer who
entered observation at tenure ``start`` is at risk at tenure ``t`` when ``start < t <= stop``, the
convention of R's ``Surv(start, stop, event)`` and of lifelines), with Efron's ties and optional
strata. Why not lifelines' ``proportional_hazard_test``: lifelines 0.30 refuses fits with an
``entry_col`` ("Residuals for entries not implemented"), its ``km`` time transform ignores entry
times, and its statistic is the approximation R's ``survival`` used before version 3.0 (the tests
reproduce it exactly from our residuals on data without truncation). :func:`cox_zph` reproduces R's current ``cox.zph``: a score
test, per term and global, of the added covariates ``x * g(t)`` in the model with
``beta(t) = beta + theta * g(t)``, evaluated at ``(beta_hat, 0)`` with the full information
matrix, ``g`` the centred transformed time (``transform="km"``, R's default: ``1 - KM(t-)``
of the pooled data with delayed entry; or ``"rank"``, ``"identity"``, ``"log"``).

:func:`riskset_pieces` is the engine (per distinct event time: Efron mean and variance of the
covariates over the risk set); it also gives the partial log-likelihood, the score and the
information (checks of a fit) and the baseline cumulative hazard with delayed entry.

Example
-------
>>> import numpy as np, pandas as pd
>>> from lifelines import CoxPHFitter
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"x": rng.normal(size=300), "entry": rng.integers(0, 5, 300).astype(float)})
>>> df["stop"] = df["entry"] + rng.integers(1, 20, 300)
>>> df["event"] = (rng.random(300) < 0.5).astype(int)
>>> cph = CoxPHFitter().fit(df, "stop", "event", entry_col="entry")
>>> res = zph_for(cph, df)
>>> list(res.table.index)
['x', 'GLOBAL']
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
]


@dataclass
class RiskSetPieces:
    """Per distinct event time (within strata), ordered by stratum then time.

    Attributes
    ----------
    time, stratum : ndarray (K,)
        The event times and their stratum labels.
    deaths : ndarray (K,)
        Number of events at each time.
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

    @property
    def score(self) -> np.ndarray:
        """Score vector (zero at the maximum partial likelihood)."""
        return (self.xdeath - self.deaths[:, None] * self.xbar).sum(axis=0)

    @property
    def information(self) -> np.ndarray:
        """Observed information matrix (inverse of the model-based variance)."""
        return self.vsum.sum(axis=0)


def _as_float(a, name: str) -> np.ndarray:
    out = np.asarray(a, dtype=float)
    if np.isnan(out).any():
        raise ValueError(f"{name} has missing values")
    return out


def _one_stratum(X, eta, start, stop, event):
    n, p = X.shape
    times = np.unique(stop[event])
    K = times.size
    c = eta.max() if n else 0.0
    r = np.exp(eta - c)
    index = risk_index(start, stop, times)

    def over_risk(w):
        return at_risk(start, stop, times, w, index=index)

    S0 = over_risk(r)
    S1 = np.column_stack([over_risk(r * X[:, j]) for j in range(p)]) if p else np.zeros((K, 0))
    S2 = np.zeros((K, p, p))
    for j in range(p):
        for m in range(j + 1):
            S2[:, j, m] = S2[:, m, j] = over_risk(r * X[:, j] * X[:, m])
    rows = np.flatnonzero(event)
    kd = np.searchsorted(times, stop[rows])
    d = np.bincount(kd, minlength=K).astype(float)
    D0 = np.bincount(kd, r[rows], minlength=K)
    D1 = np.column_stack([np.bincount(kd, r[rows] * X[rows, j], minlength=K) for j in range(p)]) \
        if p else np.zeros((K, 0))
    D2 = np.zeros((K, p, p))
    for j in range(p):
        for m in range(j + 1):
            D2[:, j, m] = D2[:, m, j] = np.bincount(kd, r[rows] * X[rows, j] * X[rows, m], minlength=K)
    XD = np.column_stack([np.bincount(kd, X[rows, j], minlength=K) for j in range(p)]) \
        if p else np.zeros((K, 0))
    eta_d = np.bincount(kd, eta[rows], minlength=K)

    xbar = np.zeros((K, p))
    vsum = np.zeros((K, p, p))
    haz = np.zeros(K)
    loglik = 0.0
    for k in range(K):
        dk = int(d[k])
        f = np.arange(dk) / dk  # Efron: remove l/d of the tied events' weight at step l
        s0 = S0[k] - f * D0[k]
        s1 = S1[k][None, :] - f[:, None] * D1[k][None, :]
        s2 = S2[k][None, :, :] - f[:, None, None] * D2[k][None, :, :]
        mean_l = s1 / s0[:, None]
        xbar[k] = mean_l.mean(axis=0)
        vsum[k] = (s2 / s0[:, None, None] - mean_l[:, :, None] * mean_l[:, None, :]).sum(axis=0)
        haz[k] = np.sum(1.0 / s0) * np.exp(-c)
        loglik += eta_d[k] - np.sum(np.log(s0) + c)
    return times, d, xbar, vsum, XD, haz, loglik, rows, kd


def riskset_pieces(
    X,
    beta,
    *,
    stop,
    event,
    start=None,
    strata=None,
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
    """
    X = _as_float(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    n, p = X.shape
    beta = _as_float(beta, "beta").reshape(-1)
    if beta.size != p:
        raise ValueError(f"beta has {beta.size} values for {p} columns of X")
    stop = _as_float(stop, "stop")
    start = np.zeros(n) if start is None else _as_float(start, "start")
    event = np.asarray(event).astype(bool)
    if np.any(start >= stop):
        raise ValueError("every row needs start < stop (entry before the event or censoring time)")
    eta = X @ beta if p else np.zeros(n)
    labels = np.zeros(n, dtype=int) if strata is None else pd.factorize(pd.Series(strata))[0]
    parts = []
    for s in np.unique(labels):
        idx = np.flatnonzero(labels == s)
        t, d, xbar, vsum, XD, haz, ll, rows, kd = _one_stratum(X[idx], eta[idx], start[idx],
                                                             stop[idx], event[idx])
        parts.append((s, t, d, xbar, vsum, XD, haz, ll, idx[rows], kd))
    offsets = np.cumsum([0] + [len(pt[1]) for pt in parts[:-1]])
    strata_values = (np.asarray(pd.Series(strata).factorize()[1]) if strata is not None
                     else np.array([None], dtype=object))
    return RiskSetPieces(
        time=np.concatenate([pt[1] for pt in parts]),
        stratum=np.concatenate([np.repeat(strata_values[pt[0]], len(pt[1])) for pt in parts]),
        deaths=np.concatenate([pt[2] for pt in parts]),
        xbar=np.concatenate([pt[3] for pt in parts]),
        vsum=np.concatenate([pt[4] for pt in parts]),
        xdeath=np.concatenate([pt[5] for pt in parts]),
        hazard=np.concatenate([pt[6] for pt in parts]),
        loglik=float(sum(pt[7] for pt in parts)),
        death_rows=np.concatenate([pt[8] for pt in parts]),
        death_k=np.concatenate([pt[9] + off for pt, off in zip(parts, offsets)]),
    )


def baseline_cumhaz(X, beta, *, stop, event, start=None) -> pd.Series:
    """Baseline cumulative hazard (Efron increments, delayed entry) at the distinct event times.

    For predictions at ``x``: ``H(t | x) = H0(t) * exp(x @ beta)``, with ``X`` the design used
    in the fit (no strata).
    """
    pieces = riskset_pieces(X, beta, stop=stop, event=event, start=start)
    return pd.Series(np.cumsum(pieces.hazard), index=pieces.time, name="baseline_cumhaz")
