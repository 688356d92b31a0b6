"""The proportional-hazards test of R's ``cox.zph`` (survival >= 3.0): score test per term and global."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence
import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.risksets import at_risk, events_at
from analysis.stats.cox.engine import _as_float, riskset_pieces, strata_labels

__all__ = [
    "TRANSFORMS",
    "ZphResult",
    "cox_zph",
    "zph_for",
]


TRANSFORMS = ("km", "rank", "identity", "log")


def _km_left(start, stop, event, at) -> np.ndarray:
    """Pooled Kaplan-Meier with delayed entry, left-continuous, at the times ``at``."""
    times = np.unique(stop[event])
    n_risk = at_risk(start, stop, times)
    d = events_at(stop, event, times)
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


def zph_for(fit, data: pd.DataFrame | None = None, *, terms=None,
            transform: str = "km") -> ZphResult:
    """:func:`cox_zph` for a :class:`~analysis.stats.cox.result.CoxResult`.

    ``data`` defaults to the frame the model was fitted on; the model-based variance is used
    (as R's ``cox.zph``), whatever the fit's ``robust``.
    """
    if fit.spec.get("weights"):
        raise ValueError("the proportional-hazards test is for unweighted models")
    d = fit.data if data is None else data
    sp = fit.spec
    cols = list(fit.params.index)
    strata = strata_labels(d, sp.get("strata"))
    return cox_zph(
        d[cols],
        fit.params.to_numpy(),
        fit.naive_variance.loc[cols, cols].to_numpy(),
        stop=d[sp["duration"]].to_numpy(),
        event=d[sp["event"]].to_numpy(),
        start=None if sp.get("entry") is None else d[sp["entry"]].to_numpy(),
        strata=strata,
        terms=terms,
        transform=transform,
    )
