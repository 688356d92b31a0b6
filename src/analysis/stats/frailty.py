"""Proportional hazards with a gamma frailty: the hazard ratio for a given customer.

Customers differ in ways no covariate records. With a multiplicative frailty ``Z`` (gamma,
mean 1, variance ``theta``) on a customer's hazard, a Cox model across customers estimates the
*population-average* hazard ratio, which is smaller than the ratio for a given customer:
customers still at risk some months after a risk factor switched on are, on average, the less
frail ones (Aalen, Borgan & Gjessing 2008, ch. 6; Hougaard 2000). This module fits the
individual-level model by maximum likelihood, with the frailty integrated out in closed form.

Model, on monthly person-period rows (tenure month ``t``, the interval ``(t, t + 1]``)::

    P(leave in month t | at risk, Z) = 1 - exp(-Z * exp(alpha[band(t)] + x(t)' beta))

a grouped proportional-hazards model (the cloglog discrete-time hazard of
:mod:`analysis.stats.discrete_hazard` when ``theta = 0``) with a piecewise-constant baseline
over tenure bands. With ``H`` a customer's cumulative hazard, the gamma frailty gives
``S(H) = (1 + theta H)^(-1/theta)``; a customer who leaves in their last month contributes
``S(H-) - S(H)``, one still on book ``S(H)``.

**Left truncation.** A customer first seen at tenure ``a > 0`` survived the months before, and
survivors are the less frail: each contribution is divided by ``S(A)``, ``A`` the cumulative
hazard before entry. The covariates before entry are not observed; ``A`` takes those of the
first observed month, with the values given in ``pre_entry`` (e.g. no recent outflow) — an
assumption stated in every report that shows the model. Without the division the frailty of
late entrants would be overstated.

The variance of the estimates is the inverse of the observed information (a numerical
derivative of the analytic score). When the frailty variance is estimated at zero the model is
the grouped Cox model and ``theta`` is reported as 0 with no interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.errors import InsufficientDataError

__all__ = ["FrailtyFit", "fit_gamma_frailty", "tenure_bands", "BAND_EDGES"]

#: Left edges (tenure months) of the baseline bands: monthly in the first year, where the
#: hazard moves fastest, then wider.
BAND_EDGES: tuple[int, ...] = (tuple(range(12)) + tuple(range(12, 48, 3))
                               + tuple(range(48, 96, 6)) + tuple(range(96, 240, 12)) + (240,))
_LOG_THETA_MIN = np.log(1e-8)
_LOG_THETA_MAX = np.log(50.0)


def tenure_bands(tenure: np.ndarray, edges: Sequence[int] = BAND_EDGES) -> np.ndarray:
    """Band index of each tenure month (``edges`` are the bands' left edges, the first 0)."""
    return np.searchsorted(np.asarray(edges), np.asarray(tenure), side="right") - 1


@dataclass
class FrailtyFit:
    """A fitted gamma-frailty model.

    ``params``/``variance`` hold the covariate coefficients (log hazard ratios for a given
    customer); ``baseline`` the log baseline hazard per band; ``theta`` the frailty variance
    (``theta_se`` its standard error, NaN at the boundary).
    """

    params: pd.Series
    variance: pd.DataFrame
    baseline: pd.Series
    theta: float
    theta_se: float
    log_likelihood: float
    n_customers: int
    n_events: int
    converged: bool

    def term(self, name: str, alpha: float = 0.05) -> dict:
        """``hr, ci_low, ci_high, coef, se_log_hr, p`` of one covariate (as the Cox results)."""
        b = float(self.params[name])
        se = float(np.sqrt(self.variance.loc[name, name]))
        z = stats.norm.ppf(1 - alpha / 2)
        return {"hr": float(np.exp(b)), "ci_low": float(np.exp(b - z * se)),
                "ci_high": float(np.exp(b + z * se)), "coef": b, "se_log_hr": se,
                "p": float(2 * stats.norm.sf(abs(b / se))) if se > 0 else float("nan")}


class _Likelihood:
    """Log-likelihood and score of the grouped gamma-frailty model (all arrays prepared once)."""

    def __init__(self, X, band, cust, count, last_event, event, Xpre, pre_counts, n_bands):
        self.X, self.band, self.cust, self.log_count = X, band, cust, np.log(count)
        self.count = count
        self.last_event = last_event  # per row: the customer's event month
        self.event = event  # per customer, 0/1
        self.Xpre, self.pre_counts = Xpre, pre_counts  # (customers, p), (customers, bands)
        self.n_bands, self.p = n_bands, X.shape[1]
        self.n = event.size

    def __call__(self, par: np.ndarray) -> tuple[float, np.ndarray]:
        nb, p = self.n_bands, self.p
        alpha, beta, rho = par[:nb], par[nb:nb + p], par[-1]
        theta = np.exp(rho)
        lam = np.exp(alpha[self.band] + self.X @ beta + self.log_count)
        ea = np.exp(alpha)
        pre_base = self.pre_counts * ea  # (customers, bands)
        A = np.exp(self.Xpre @ beta) * pre_base.sum(axis=1)
        H = A + np.bincount(self.cust, lam, minlength=self.n)
        lam_last = np.bincount(self.cust, lam * self.last_event, minlength=self.n)
        Hm = H - lam_last
        d = self.event

        def log_s(h):
            return -np.log1p(theta * h) / theta

        def dlog_s_dtheta(h):  # d log S / d theta
            return np.log1p(theta * h) / theta ** 2 - h / (theta * (1 + theta * h))

        ls_h, ls_m, ls_a = log_s(H), log_s(Hm), log_s(A)
        # log(S(H-) - S(H)) = log S(H-) + log(1 - exp(log S(H) - log S(H-)))
        diff = ls_h - ls_m
        log_d = ls_m + np.log(-np.expm1(np.minimum(diff, -1e-300)))
        ll = float(np.sum(np.where(d == 1, log_d, ls_h)) - np.sum(ls_a))
        # score with respect to H, H- and A (per customer)
        r = np.exp(diff)  # S(H) / S(H-)
        one_m = -np.expm1(np.minimum(diff, -1e-300))  # 1 - r
        g_h = np.where(d == 1, r / (1 + theta * H) / one_m, -1 / (1 + theta * H))
        g_m = np.where(d == 1, -1 / (1 + theta * Hm) / one_m, 0.0)
        g_a = g_h + g_m + 1 / (1 + theta * A)
        # every row enters H; every row but the event month enters H-
        w = lam * (g_h[self.cust] + g_m[self.cust] * (1 - self.last_event))
        s_beta = self.X.T @ w + self.Xpre.T @ (g_a * A)
        s_alpha = np.bincount(self.band, w, minlength=nb) + (
            (g_a * np.exp(self.Xpre @ beta))[:, None] * pre_base).sum(axis=0)
        q_h, q_m, q_a = dlog_s_dtheta(H), dlog_s_dtheta(Hm), dlog_s_dtheta(A)
        q_d = (q_m - r * q_h) / one_m  # d log(S(H-) - S(H)) / d theta
        s_theta = float(np.sum(np.where(d == 1, q_d, q_h)) - np.sum(q_a)) * theta
        return ll, np.concatenate([s_alpha, s_beta, [s_theta]])


def fit_gamma_frailty(rows: pd.DataFrame, columns: Sequence[str], *,
                      id_col: str = "customer_id", tenure: str = "tenure",
                      event: str = "event", pre_entry: dict | None = None,
                      edges: Sequence[int] = BAND_EDGES, min_band_events: int = 5,
                      theta: float | None = None, init: FrailtyFit | None = None) -> FrailtyFit:
    """Fit the grouped proportional-hazards model with a gamma frailty.

    Parameters
    ----------
    rows : DataFrame
        One row per customer and month at risk, sorted by customer and ``tenure`` (whole months
        since opening), consecutive from each customer's first month at risk; ``event`` is 1 on
        the month a customer leaves (their last row) and 0 elsewhere.
    columns : list of str
        Covariates (numeric; categorical ones as indicator columns).
    pre_entry : dict, optional
        Column -> value assumed for the months before a customer's first observed month (the
        rest are taken from that month): e.g. ``{"outflow_3m": 0}``.
    edges : list of int
        Left edges of the baseline bands; bands with fewer than ``min_band_events`` events are
        merged into the band before (the first band into the next).
    theta : float, optional
        Fix the frailty variance (``0``: no frailty, the grouped Cox model).
    init : FrailtyFit, optional
        Start from this fit (same rows, columns and bands), e.g. for a fixed ``theta`` after
        the fit that estimated it.

    Returns
    -------
    FrailtyFit

    Raises
    ------
    InsufficientDataError
        With no events, or rows that are not one per month.
    """
    columns = list(columns)
    lik, lefts = _build(rows, columns, id_col, tenure, event, pre_entry, edges, min_band_events)
    nb, ev, band = lik.n_bands, lik.last_event, lik.band
    n_cust = lik.n
    # fit on standardised covariates (the optimiser needs a tenth of the steps), then map back:
    # alpha + x'beta = (alpha + m'beta) + ((x - m) / s)'(s * beta)
    m = lik.X.mean(axis=0)
    s = lik.X.std(axis=0)
    s[s == 0] = 1.0
    lik.X = (lik.X - m) / s
    lik.Xpre = (lik.Xpre - m) / s

    # start: the baseline at the crude rate per band, no covariate effect, a small frailty
    expo = np.bincount(band, lik.count, minlength=nb)
    crude = np.log(np.maximum(np.bincount(band, ev, minlength=nb), 0.5) / expo)
    fixed = theta is not None
    rho0 = np.log(max(theta, 1e-8)) if fixed else np.log(0.1)
    x0 = np.concatenate([crude, np.zeros(len(columns)), [rho0]])
    if init is not None and len(init.baseline) == nb:
        b0 = init.params.reindex(columns).fillna(0.0).to_numpy()
        x0[:nb] = init.baseline.to_numpy() + m @ b0
        x0[nb:-1] = b0 * s

    def fun(par):
        ll, g = lik(par)
        if fixed:
            g = g.copy()
            g[-1] = 0.0
        return -ll, -g

    bounds = [(None, None)] * (nb + len(columns)) + (
        [(rho0, rho0)] if fixed else [(_LOG_THETA_MIN, _LOG_THETA_MAX)])
    res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-7, "maxcor": 60})
    par = res.x
    at_boundary = fixed or par[-1] <= _LOG_THETA_MIN + 1.0
    free = np.arange(par.size) if not at_boundary else np.arange(par.size - 1)
    info = _numerical_information(lambda p: lik(p)[1], par, free)
    cov = np.linalg.pinv(info)
    p = len(columns)
    sl = slice(nb, nb + p)
    beta = par[sl] / s
    variance = pd.DataFrame(cov[sl, sl] / np.outer(s, s), index=columns, columns=columns)
    theta_hat = (float(theta) if fixed else 0.0) if at_boundary else float(np.exp(par[-1]))
    theta_se = (float(theta_hat * np.sqrt(cov[-1, -1])) if not at_boundary else float("nan"))
    return FrailtyFit(params=pd.Series(beta, index=columns), variance=variance,
                      baseline=pd.Series(par[:nb] - m @ beta,
                                         index=pd.Index(lefts, name="band_start")),
                      theta=theta_hat, theta_se=theta_se, log_likelihood=-float(res.fun),
                      n_customers=n_cust, n_events=int(ev.sum()), converged=bool(res.success))


def _build(rows, columns, id_col, tenure, event, pre_entry, edges, min_band_events):
    """The likelihood's arrays from person-month rows, and the left edges of the bands used."""
    rows = rows.reset_index(drop=True)
    if not len(rows) or rows[event].sum() == 0:
        raise InsufficientDataError("no departures to fit the frailty model on")
    ids = rows[id_col].to_numpy()
    first = np.r_[True, ids[1:] != ids[:-1]]
    cust = np.cumsum(first) - 1
    ten = rows[tenure].to_numpy(dtype=float)
    step = np.diff(ten)[~first[1:]]
    if step.size and not np.all(step == 1):
        raise InsufficientDataError(
            "the frailty model needs one row per customer and month at risk, in order")
    ev = rows[event].to_numpy(dtype=float)
    n_cust = int(cust[-1]) + 1
    ev_c = np.bincount(cust, ev, minlength=n_cust)
    if np.any(ev_c > 1):
        raise InsufficientDataError("a customer has more than one departure")
    # bands: merge those with too few events so that no baseline runs off to minus infinity
    e = np.asarray(edges, dtype=int)
    counts = np.bincount(tenure_bands(ten[ev == 1], e), minlength=e.size)
    lefts, acc = [int(e[0])], 0
    for i in range(e.size):
        acc += counts[i]
        if acc >= min_band_events and i + 1 < e.size:
            lefts.append(int(e[i + 1]))
            acc = 0
    if acc < min_band_events and len(lefts) > 1:
        lefts.pop()  # the last band is short: merged into the one before
    lefts = np.asarray(lefts)
    band = tenure_bands(ten, lefts)
    nb = lefts.size
    X = rows[columns].to_numpy(dtype=float)
    pre = rows.loc[first, columns].copy()
    for c, v in (pre_entry or {}).items():
        if c in pre:
            pre[c] = v
    Xpre = pre.to_numpy(dtype=float)
    entry = ten[first].astype(int)
    # months before entry per band: band b covers [lefts[b], lefts[b+1])
    right = np.r_[lefts[1:], np.inf]
    pre_counts = np.clip(np.minimum(entry[:, None], right[None, :]) - lefts[None, :], 0, None)
    if np.any((ev == 1) & ~np.r_[first[1:], True]):
        raise InsufficientDataError("a departure is not on the customer's last row")
    # months of one customer in one band with equal covariates enter only through their sum:
    # one row each, with its count of months (the likelihood is unchanged, the work ~6x less)
    key = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    key["cust"], key["band"], key["ev"] = cust, band, ev
    cells = key.groupby(list(key.columns), sort=False).size().reset_index(name="n")
    return _Likelihood(cells[key.columns[:X.shape[1]]].to_numpy(dtype=float),
                       cells["band"].to_numpy(), cells["cust"].to_numpy(),
                       cells["n"].to_numpy(dtype=float), cells["ev"].to_numpy(dtype=float),
                       ev_c, Xpre, pre_counts, nb), lefts


def _numerical_information(score, par: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Minus the derivative of the score (central differences) over the ``free`` parameters."""
    k = free.size
    out = np.empty((k, k))
    for j, i in enumerate(free):
        h = 1e-5 * max(1.0, abs(par[i]))
        up, dn = par.copy(), par.copy()
        up[i] += h
        dn[i] -= h
        out[:, j] = -(score(up)[free] - score(dn)[free]) / (2 * h)
    return (out + out.T) / 2
