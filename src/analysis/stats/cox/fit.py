"""Fitting the Cox model: ONE maximiser of the Efron partial likelihood for every report.

Static models take one row per customer with ``entry`` (tenure when first observed),
``duration`` and ``event``; time-varying models take counting-process intervals
``(start, stop]`` (see :func:`analysis.frames.counting_process`). In both a row is at risk at
tenure ``t`` when ``entry < t <= duration``, R's ``Surv(start, stop, event)`` convention; ties
(monthly data has many) by Efron's method, optional strata and case weights, robust (Lin-Wei
sandwich) variance clustered by customer. Newton-Raphson with step halving on the risk-set sums
of :func:`analysis.stats.cox.engine.riskset_pieces` (O(rows + event times) per step), so a
report can afford the dozen fits it needs.

The tests check coefficients, standard errors and the log-likelihood against lifelines'
``CoxPHFitter``/``CoxTimeVaryingFitter`` and statsmodels' ``PHReg`` (to 1e-6), with delayed
entry, ties, strata and weights, and the robust variance against lifelines without truncation.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ConvergenceWarning, InsufficientDataError
from analysis.stats.cox.engine import baseline_from, riskset_pieces, strata_labels
from analysis.stats.cox.residuals import robust_variance
from analysis.stats.cox.result import CoxResult

__all__ = ["fit_cox", "fit_cox_time_varying", "check_cox_data"]


def check_cox_data(data: pd.DataFrame, cols: Sequence[str], event: str,
                   covariates: Sequence[str]) -> None:
    """Refuse, in words a report reader understands, what no Cox model can estimate.

    Raises
    ------
    InsufficientDataError
        No rows, no events, a covariate with one value, or a 0/1 covariate with no events on
        one side (its hazard ratio would be 0 or infinite).
    ValueError
        Missing columns or non-numeric / missing covariate values (a programming error).
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a DataFrame, got {type(data).__name__}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; available: {list(data.columns)}")
    if not covariates:
        raise ValueError("at least one covariate is needed")
    if len(data) == 0:
        raise InsufficientDataError("there are no customers in this data (0 rows)")
    ev = data[event].to_numpy(dtype=float)
    if ev.sum() == 0:
        raise InsufficientDataError(
            "no customer left (no events), so no hazard ratio can be estimated")
    for c in covariates:
        x = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"covariate {c!r} has missing or non-numeric values")
        if np.ptp(x) == 0:
            raise InsufficientDataError(
                f"{c!r} takes a single value ({x[0]:g}) in this data, so its effect cannot be "
                "estimated"
            )
        if set(np.unique(x)) <= {0.0, 1.0}:
            on = x == 1
            if ev[on].sum() == 0:
                raise InsufficientDataError(
                    f"no customer with {c!r} left (no events), so its hazard ratio is not "
                    "estimable (it would be 0)"
                )
            if ev[~on].sum() == 0:
                raise InsufficientDataError(
                    f"every departure has {c!r}; its hazard ratio is not estimable (infinite)"
                )


def _newton(pieces, p: int, init, tol: float, max_iter: int):
    """Maximise the partial likelihood from ``init``; return (beta, pieces at beta, ll0, it)."""
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float).copy()
    cur = pieces(beta)
    ll_null = pieces(np.zeros(p)).loglik if init is not None and np.any(beta) else cur.loglik
    ll = cur.loglik
    it = 0
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(cur.information, cur.score)
        except np.linalg.LinAlgError:
            raise InsufficientDataError(
                "the model could not be fitted: a covariate is constant among the customers at "
                "risk, or covariates are collinear"
            ) from None
        k = 0
        while True:  # step halving: never accept a step that lowers the likelihood
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
        # Newton converges quadratically: stop on a negligible step (the likelihood is flat
        # near the optimum, so a tiny change in it alone would stop too early)
        if np.max(np.abs(step)) < tol or (abs(delta) < 1e-15 * max(1.0, abs(ll)) and k > 30):
            break
    return beta, cur, ll_null, it


def fit_cox(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = "entry",
    strata: Sequence[str] | str | None = None,
    weights: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    id_col: str | None = None,
    alpha: float = 0.05,
    init: Sequence[float] | None = None,
    tol: float = 1e-10,
    max_iter: int = 50,
) -> CoxResult:
    """Cox model with delayed entry (left truncation), Efron ties, strata and case weights.

    Parameters
    ----------
    data : DataFrame
        One row per customer, or counting-process rows with ``entry`` the interval start.
    covariates : list of str
        Numeric columns (build dummies beforehand).
    entry : str or None
        Column of the tenure at which each row enters the risk set; None for no truncation.
    strata : str or list of str, optional
        Columns whose combinations get their own baseline hazard (e.g. the branch).
    weights : str, optional
        Case weights (e.g. inverse probability weights); use ``robust=True`` with them.
    robust : bool
        Lin-Wei sandwich variance over the left-truncated risk sets (per row, or per
        ``cluster``).
    cluster : str, optional
        Column whose rows belong together in the sandwich (implies ``robust``).
    id_col : str, optional
        Customer id column: ``n`` counts its distinct values (counting-process rows).
    alpha : float
        The intervals of the result's :attr:`~CoxResult.summary` have ``1 - alpha`` coverage.
    init : sequence of float, optional
        Starting coefficients (default 0).

    Returns
    -------
    CoxResult

    Raises
    ------
    InsufficientDataError
        No event, a covariate that is constant (or, if 0/1, has no events on one side), a
        singular information matrix (collinear covariates) or coefficients running off to
        infinity.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"duration": [1, 2, 3, 4, 5, 6], "event": [1, 1, 0, 1, 1, 0],
    ...                   "x": [1, 0, 1, 1, 0, 0]})
    >>> fit = fit_cox(d, ["x"], entry=None)
    >>> round(fit.term("x")["hr"], 4)  # lifelines' CoxPHFitter: 2.924333
    2.9243
    """
    covariates = list(covariates)
    strata_l = [strata] if isinstance(strata, str) else (list(strata) if strata else None)
    cols = [duration, event] + ([entry] if entry else []) + covariates + (strata_l or [])
    cols += [c for c in (weights, cluster, id_col) if c]
    check_cox_data(data, cols, event, covariates)
    df = data[list(dict.fromkeys(cols))]
    X = df[covariates].to_numpy(dtype=float)
    stop = df[duration].to_numpy(dtype=float)
    ev = df[event].to_numpy().astype(bool)
    start = df[entry].to_numpy(dtype=float) if entry else None
    w = df[weights].to_numpy(dtype=float) if weights else None
    st = strata_labels(df, strata_l)
    if start is not None and np.any(start >= stop):
        raise ValueError(f"{int((start >= stop).sum())} rows have {entry!r} >= {duration!r}")

    def pieces(b):
        return riskset_pieces(X, b, stop=stop, event=ev, start=start, strata=st, weights=w)

    beta, cur, ll_null, it = _newton(pieces, len(covariates), init, tol, max_iter)
    try:
        naive = np.linalg.inv(cur.information)
    except np.linalg.LinAlgError:
        raise InsufficientDataError(
            "the model could not be fitted: singular information matrix") from None
    notes = []
    if it >= max_iter:
        notes.append(f"no convergence after {max_iter} iterations")
        warnings.warn(f"Cox fit on {covariates}: {notes[-1]}", ConvergenceWarning, stacklevel=2)
    robust = bool(robust or cluster)
    var = naive
    if robust:
        var = robust_variance(X, beta, naive, stop=stop, event=ev, start=start, strata=st,
                              weights=w, cluster=None if cluster is None else df[cluster].to_numpy())
    who = cluster or id_col
    return CoxResult(
        params=pd.Series(beta, index=covariates, name="coef"),
        variance=pd.DataFrame(var, index=covariates, columns=covariates),
        naive_variance=pd.DataFrame(naive, index=covariates, columns=covariates),
        log_likelihood=float(cur.loglik),
        log_likelihood_null=float(ll_null),
        n=int(df[who].nunique()) if who else len(df),
        n_rows=len(df),
        events=int(ev.sum()),
        covariates=covariates,
        strata=strata_l,
        robust=robust,
        alpha=alpha,
        n_iter=it,
        notes=notes,
        baseline_cumhaz=None if st is not None else baseline_from(cur),
        data=df,
        spec=dict(duration=duration, event=event, entry=entry, strata=strata_l,
                  weights=weights, cluster=cluster),
    )


def fit_cox_time_varying(intervals: pd.DataFrame, covariates: Sequence[str], *,
                         id_col: str = "customer_id", start: str = "start", stop: str = "stop",
                         event: str = "event", strata: Sequence[str] | str | None = None,
                         weights: str | None = None, robust: bool = False,
                         alpha: float = 0.05) -> CoxResult:
    """Time-varying Cox model on counting-process intervals: :func:`fit_cox` on ``(start, stop]``.

    Left truncation is built in (a customer's first interval starts at their entry tenure);
    ``robust`` gives the sandwich variance clustered by ``id_col``; ``n`` counts customers.
    """
    return fit_cox(intervals, covariates, duration=stop, event=event, entry=start,
                   strata=strata, weights=weights, cluster=id_col if robust else None,
                   id_col=id_col, alpha=alpha)
