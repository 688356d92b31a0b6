"""A fast Cox model fit (Efron ties, delayed entry, strata) for the many fits of one report.

lifelines' ``CoxPHFitter`` with ``entry_col`` evaluates each Newton step with a mask of the risk
set per event time (O(events x rows)); a report fits a dozen models on the same data (linearity
checks, remedies, held-out fit, cause-specific models), so this module maximises the same partial
likelihood with the risk-set sums of :func:`analysis.stats.cox.engine.riskset_pieces` (cumulative sums over
event times, O(rows + event times)). The tests check coefficients, standard errors and
log-likelihood against lifelines (to 1e-6) with and without delayed entry, ties and strata.

The result mimics the fitted lifelines object where this package reads it (``params_``,
``variance_matrix_``, ``standard_errors_``, ``log_likelihood_``, ``summary``, column names and
``strata``), so :func:`analysis.stats.cox.zph.zph_for` takes either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InsufficientDataError
from analysis.stats.cox.engine import riskset_pieces

__all__ = ["CoxFit", "cox_fit"]


@dataclass
class CoxFit:
    """A fitted Cox model (see :func:`cox_fit`)."""

    params_: pd.Series
    variance_matrix_: pd.DataFrame
    log_likelihood_: float
    log_likelihood_null_: float
    duration_col: str
    event_col: str
    entry_col: str | None
    strata: list | None
    n_iter: int
    n_obs: int
    n_events: int
    baseline_cumhaz_: pd.Series | None = None
    notes: list = field(default_factory=list)

    @property
    def standard_errors_(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.variance_matrix_)), index=self.params_.index)

    @property
    def summary(self) -> pd.DataFrame:
        """lifelines-style summary: coef, exp(coef), se(coef), CIs, z, p."""
        z = stats.norm.ppf(0.975)
        b, se = self.params_, self.standard_errors_
        out = pd.DataFrame({
            "coef": b, "exp(coef)": np.exp(b), "se(coef)": se,
            "coef lower 95%": b - z * se, "coef upper 95%": b + z * se,
            "exp(coef) lower 95%": np.exp(b - z * se), "exp(coef) upper 95%": np.exp(b + z * se),
            "z": b / se, "p": 2 * stats.norm.sf(np.abs(b / se)),
        })
        out.index.name = "covariate"
        return out

    @property
    def AIC_partial_(self) -> float:
        return -2 * self.log_likelihood_ + 2 * len(self.params_)


def cox_fit(
    data: pd.DataFrame,
    columns: Sequence[str],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = "entry",
    strata: Sequence[str] | None = None,
    init: Sequence[float] | None = None,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> CoxFit:
    """Maximum partial likelihood (Efron ties) by Newton-Raphson with step halving.

    Parameters
    ----------
    data : DataFrame
        One row per customer, or counting-process rows ``(entry, duration]``.
    columns : sequence of str
        Covariates (numeric).
    entry : str or None
        Entry (start) column: at risk at ``t`` when ``entry < t <= duration``.
    strata : sequence of str, optional
        Columns whose combinations get their own baseline hazard.
    init : sequence of float, optional
        Starting coefficients (default 0).

    Raises
    ------
    InsufficientDataError
        No event, a singular information matrix (a covariate constant among those at risk, or
        collinear covariates), or coefficients running off to infinity (a level in which nobody
        or everybody leaves).
    """
    cols = list(columns)
    X = data[cols].to_numpy(dtype=float)
    stop = data[duration].to_numpy(dtype=float)
    ev = data[event].to_numpy().astype(bool)
    start = data[entry].to_numpy(dtype=float) if entry else None
    st = None
    if strata:
        st = data[list(strata)].astype(str).agg("|".join, axis=1).to_numpy()
    if ev.sum() == 0:
        raise InsufficientDataError("no customer left in these data: no model to fit")
    if np.isnan(X).any():
        raise ValueError("covariates have missing values")
    p = len(cols)
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float).copy()

    def pieces(b):
        return riskset_pieces(X, b, stop=stop, event=ev, start=start, strata=st)

    cur = pieces(beta)
    ll_null = pieces(np.zeros(p)).loglik if init is not None and np.any(beta) else cur.loglik
    ll = cur.loglik
    it = 0
    for it in range(1, max_iter + 1):
        info = cur.information
        try:
            step = np.linalg.solve(info, cur.score)
        except np.linalg.LinAlgError:
            raise InsufficientDataError(
                "the model could not be fitted: a covariate is constant among the customers at "
                "risk, or covariates are collinear"
            ) from None
        k = 0
        while True:
            new_beta = beta + step
            new = pieces(new_beta)
            if np.isfinite(new.loglik) and new.loglik >= ll - 1e-12:
                break
            step = step / 2
            k += 1
            if k > 30:
                break
        delta = new.loglik - ll
        beta, cur, ll = new_beta, new, new.loglik
        if np.max(np.abs(beta)) > 30:
            raise InsufficientDataError(
                "the model could not be fitted: a hazard ratio runs off to infinity (a group in "
                "which nobody, or everybody, leaves)"
            )
        if np.max(np.abs(step)) < 1e-8 or abs(delta) < tol * 1e-3 * max(1.0, abs(ll)):
            break
    try:
        V = np.linalg.inv(cur.information)
    except np.linalg.LinAlgError:
        raise InsufficientDataError("the model could not be fitted: singular information matrix") from None
    notes = [] if it < max_iter else [f"no convergence after {max_iter} iterations"]
    base = None
    if st is None:
        base = pd.Series(np.cumsum(cur.hazard), index=cur.time, name="baseline_cumhaz")
    return CoxFit(
        params_=pd.Series(beta, index=cols, name="coef"),
        variance_matrix_=pd.DataFrame(V, index=cols, columns=cols),
        log_likelihood_=float(ll),
        log_likelihood_null_=float(ll_null),
        duration_col=duration,
        event_col=event,
        entry_col=entry,
        strata=list(strata) if strata else None,
        n_iter=it,
        n_obs=len(data),
        n_events=int(ev.sum()),
        baseline_cumhaz_=base,
        notes=notes,
    )
