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

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "RiskSetPieces",
    "riskset_pieces",
    "ZphResult",
    "cox_zph",
    "zph_for",
    "baseline_cumhaz",
    "TRANSFORMS",
]

TRANSFORMS = ("km", "rank", "identity", "log")


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
    first = np.searchsorted(times, start, side="right")  # first event time > start
    last = np.searchsorted(times, stop, side="right") - 1  # last event time <= stop
    ok = first <= last
    f_ok, l_ok = first[ok], last[ok] + 1

    def over_risk(w):
        w = w[ok]
        a = np.bincount(f_ok, w, minlength=K + 1) - np.bincount(l_ok, w, minlength=K + 1)
        return np.cumsum(a)[:K]

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


def _km_left(start, stop, event, at) -> np.ndarray:
    """Pooled Kaplan-Meier with delayed entry, left-continuous, at the times ``at``."""
    times = np.unique(stop[event])
    first = np.searchsorted(times, start, side="right")
    last = np.searchsorted(times, stop, side="right") - 1
    ok = first <= last
    K = times.size
    a = np.bincount(first[ok], minlength=K + 1) - np.bincount(last[ok] + 1, minlength=K + 1)
    n_risk = np.cumsum(a)[:K]
    d = np.bincount(np.searchsorted(times, stop[event]), minlength=K)
    surv = np.cumprod(1.0 - d / n_risk)
    idx = np.searchsorted(times, at, side="left")  # number of event times strictly before `at`
    return np.r_[1.0, surv][idx]


def _transform_times(kind: str, start, stop, event) -> np.ndarray:
    """R's cox.zph time transforms, for every row (then used at the event rows)."""
    if kind == "km":
        return 1.0 - _km_left(start, stop, event, stop)
    if kind == "rank":
        return stats.rankdata(stop)
    if kind == "identity":
        return stop.astype(float)
    if kind == "log":
        return np.log(stop)
    raise ValueError(f"transform must be one of {TRANSFORMS}, got {kind!r}")


@dataclass
class ZphResult:
    """Result of :func:`cox_zph`.

    Attributes
    ----------
    table : DataFrame
        Index: the terms and ``GLOBAL``; columns ``chisq``, ``df``, ``p`` (as R prints it).
    transform : str
        The time transform used.
    residuals : DataFrame
        One row per event: ``row`` (its position in the input), ``time``, ``gtime`` (the
        transformed time, not centred) and the scaled
        Schoenfeld residuals of each column with the coefficient added (R's convention: their
        smooth estimates ``beta_j(t)``).
    beta : Series
        The fitted coefficients.
    terms : dict
        Term -> design columns.
    """

    table: pd.DataFrame
    transform: str
    residuals: pd.DataFrame
    beta: pd.Series
    terms: dict = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return self.table


def cox_zph(
    X: pd.DataFrame,
    beta,
    variance,
    *,
    stop,
    event,
    start=None,
    strata=None,
    terms: Mapping[str, Sequence[str]] | None = None,
    transform: str = "km",
) -> ZphResult:
    """R's ``cox.zph`` (survival >= 3.0) for a fitted Cox model with delayed entry and strata.

    Parameters
    ----------
    X : DataFrame (n, p)
        Design columns of the fitted model, in the order of ``beta``.
    beta : array (p,)
        Fitted coefficients; ``variance`` their (model-based) covariance matrix.
    stop, event, start, strata
        As in :func:`riskset_pieces`.
    terms : mapping, optional
        Term name -> its columns (e.g. the dummies of one categorical covariate), tested jointly
        as R does with ``terms=TRUE``; default one term per column.
    transform : {"km", "rank", "identity", "log"}
        Time transform; ``"km"`` is R's default.

    Returns
    -------
    ZphResult
    """
    cols = list(X.columns)
    p = len(cols)
    terms = {c: [c] for c in cols} if terms is None else {k: list(v) for k, v in terms.items()}
    missing = [c for cs in terms.values() for c in cs if c not in cols]
    if missing:
        raise ValueError(f"terms name columns not in X: {missing}")
    beta = np.asarray(beta, dtype=float).reshape(-1)
    V = np.asarray(variance, dtype=float)
    stop_a = _as_float(stop, "stop")
    start_a = np.zeros(len(stop_a)) if start is None else _as_float(start, "start")
    ev = np.asarray(event).astype(bool)
    if ev.sum() < 2:
        raise ValueError("the proportional-hazards test needs at least 2 events")
    pieces = riskset_pieces(X.to_numpy(dtype=float), beta, stop=stop_a, event=ev, start=start_a,
                            strata=strata)
    ttimes = _transform_times(transform, start_a, stop_a, ev)
    gtime_rows = ttimes - ttimes[ev].mean()
    # g at each event time (all events at one time share it)
    g_k = np.zeros(len(pieces.time))
    g_k[pieces.death_k] = gtime_rows[pieces.death_rows]
    resid_k = pieces.xdeath - pieces.deaths[:, None] * pieces.xbar
    u_g = (g_k[:, None] * resid_k).sum(axis=0)
    I_bb = pieces.vsum.sum(axis=0)
    I_bg = (g_k[:, None, None] * pieces.vsum).sum(axis=0)
    I_gg = ((g_k ** 2)[:, None, None] * pieces.vsum).sum(axis=0)
    imat = np.block([[I_bb, I_bg], [I_bg, I_gg]])
    u = np.r_[np.zeros(p), u_g]
    rows = []
    for name, tcols in terms.items():
        jj = [cols.index(c) for c in tcols]
        kk = list(range(p)) + [p + j for j in jj]
        uk = u[kk]
        chisq = float(uk @ np.linalg.solve(imat[np.ix_(kk, kk)], uk))
        rows.append((name, chisq, len(jj)))
    chisq = float(u @ np.linalg.solve(imat, u))
    rows.append(("GLOBAL", chisq, p))
    table = pd.DataFrame(rows, columns=["term", "chisq", "df"]).set_index("term")
    table["p"] = stats.chi2.sf(table["chisq"], table["df"])
    # scaled Schoenfeld residuals (+ beta, as R's residuals(fit, "scaledsch") and plot.cox.zph)
    schoen = X.to_numpy(dtype=float)[pieces.death_rows] - pieces.xbar[pieces.death_k]
    scaled = schoen @ (V * ev.sum()) + beta
    resid = pd.DataFrame(scaled, columns=cols)
    resid.insert(0, "gtime", ttimes[pieces.death_rows])
    resid.insert(0, "time", stop_a[pieces.death_rows])
    resid.insert(0, "row", pieces.death_rows)
    resid = resid.sort_values("time", kind="stable").reset_index(drop=True)
    return ZphResult(table=table, transform=transform, residuals=resid,
                     beta=pd.Series(beta, index=cols), terms=terms)


def zph_for(cph, data: pd.DataFrame, *, terms=None, transform: str = "km") -> ZphResult:
    """:func:`cox_zph` for a fitted lifelines ``CoxPHFitter`` and the frame it was fitted on."""
    cols = list(cph.params_.index)
    strata = None
    if cph.strata:
        s = cph.strata if isinstance(cph.strata, (list, tuple)) else [cph.strata]
        strata = data[list(s)].astype(str).agg("|".join, axis=1).to_numpy()
    return cox_zph(
        data[cols],
        cph.params_.to_numpy(),
        cph.variance_matrix_.loc[cols, cols].to_numpy(),
        stop=data[cph.duration_col].to_numpy(),
        event=data[cph.event_col].to_numpy(),
        start=None if cph.entry_col is None else data[cph.entry_col].to_numpy(),
        strata=strata,
        terms=terms,
        transform=transform,
    )


def baseline_cumhaz(X, beta, *, stop, event, start=None) -> pd.Series:
    """Baseline cumulative hazard (Efron increments, delayed entry) at the distinct event times.

    For predictions at ``x``: ``H(t | x) = H0(t) * exp(x @ beta)``, with ``X`` the design used
    in the fit (no strata).
    """
    pieces = riskset_pieces(X, beta, stop=stop, event=event, start=start)
    return pd.Series(np.cumsum(pieces.hazard), index=pieces.time, name="baseline_cumhaz")
