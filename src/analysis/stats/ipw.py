"""Inverse probability of treatment weighting (IPTW) for a binary exposure at entry.

The exposure here is holding 2+ products (vs 1) when the customer is first observed. Steps:

1. **Propensity** ``P(A = 1 | X)`` from baseline covariates by logistic regression (statsmodels
   ``Logit``).
2. **Stabilised weights** ``P(A = a) / P(A = a | X)`` for a customer with exposure ``a``
   (mean about 1; the weighted sample is the whole book with the exposure made independent of
   ``X``), **trimmed** at the 1st and 99th percentiles (Cole & Hernan 2008): weights below the
   1st percentile are raised to it, weights above the 99th lowered to it.
3. **Balance**: standardised mean differences (SMD) of each covariate before and after
   weighting. SMD = (mean_1 - mean_0) / sqrt((var_1 + var_0) / 2) with the *unweighted*
   variances in the denominator both times, so that before and after are on the same scale;
   |SMD| < 0.1 is the usual threshold for balance.
4. **Weighted Cox** with only the exposure, delayed entry (left truncation) and Efron ties; the
   standard error is the robust (sandwich) one computed over the left-truncated risk sets
   (:func:`analysis.stats.cox.residuals.robust_variance`; lifelines' ``robust=True`` ignores entry
   times). It estimates a *marginal* hazard ratio: 2+ vs 1 for the whole book, not for a
   customer with given characteristics. The sandwich treats the weights as known; ignoring that
   they were estimated makes it conservative (slightly too wide), the usual convention.
5. **Weighted Kaplan-Meier** curves of both groups (left-truncated risk sets).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.stats.cox.fit import fit_cox
from analysis.stats.cox.result import CoxResult
from analysis.errors import InsufficientDataError
from analysis.stats.km import km_table

__all__ = [
    "IPWResult",
    "propensity_scores",
    "stabilised_weights",
    "balance_table",
    "weighted_km",
    "iptw_cox",
]


@dataclass
class IPWResult:
    """Result of :func:`iptw_cox`.

    Attributes
    ----------
    effect : dict
        ``hr, ci_low, ci_high, se_log_hr, p`` of the exposure (robust SE).
    cox : CoxResult
        The weighted Cox model.
    balance : DataFrame
        See :func:`balance_table`.
    weights : Series
        Stabilised, trimmed weights (index of the input frame).
    propensity : Series
        Estimated ``P(A = 1 | X)``.
    propensity_model : DataFrame
        Logit coefficients (``term, coef, se, p``).
    km : DataFrame
        Weighted Kaplan-Meier curves (see :func:`weighted_km`).
    diagnostics : dict
        Weight summary (min, max, mean before trimming, trimming bounds), effective sample
        sizes per group, propensity range per group, customers and events per group.
    """

    effect: dict
    cox: CoxResult = field(repr=False)
    balance: pd.DataFrame = field(repr=False)
    weights: pd.Series = field(repr=False)
    propensity: pd.Series = field(repr=False)
    propensity_model: pd.DataFrame = field(repr=False)
    km: pd.DataFrame = field(repr=False)
    diagnostics: dict = field(default_factory=dict)


def propensity_scores(
    data: pd.DataFrame, treatment: str, covariates: Sequence[str]
) -> tuple[pd.Series, pd.DataFrame]:
    """Propensity ``P(treatment = 1 | covariates)`` by logistic regression (with intercept).

    Returns the scores (index of ``data``) and the coefficient table. Raises
    :class:`InsufficientDataError` when one exposure group is empty or the model does not
    converge (e.g. a covariate that perfectly predicts the exposure).
    """
    # the two pieces used, not statsmodels.api (which imports all of statsmodels: 0.6 s more)
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.tools import add_constant
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError

    a = data[treatment].astype(float).to_numpy()
    n1 = int(a.sum())
    if n1 == 0 or n1 == len(a):
        raise InsufficientDataError(
            f"every customer is in the same exposure group ({treatment!r} = {int(a[0])}); "
            "weighting needs customers in both groups"
        )
    covs = [c for c in covariates if np.ptp(data[c].to_numpy(dtype=float)) > 0]
    X = add_constant(data[covs].astype(float), has_constant="add")
    try:
        with warnings.catch_warnings():
            # Both are answered just below: a fit that did not converge is reported as not
            # estimable (``mle_retvals``), and exp overflowing to inf gives the right limit
            # (probability 0 or 1) on the way there. Other warnings (Hessian, separation) show.
            warnings.filterwarnings("ignore", message="Maximum Likelihood optimization failed",
                                    category=ConvergenceWarning)
            warnings.filterwarnings("ignore", message="overflow encountered in exp",
                                    category=RuntimeWarning)
            res = Logit(a, X).fit(disp=0, maxiter=200)
    except (PerfectSeparationError, np.linalg.LinAlgError) as exc:
        raise InsufficientDataError(f"the propensity model could not be fitted: {exc}") from exc
    if not res.mle_retvals.get("converged", True):
        raise InsufficientDataError(
            "the propensity model did not converge (a covariate almost perfectly predicts the "
            "exposure: the groups do not overlap)"
        )
    ps = pd.Series(np.asarray(res.predict(X)), index=data.index, name="propensity")
    table = pd.DataFrame({"term": res.params.index, "coef": res.params.to_numpy(),
                          "se": res.bse.to_numpy(), "p": res.pvalues.to_numpy()})
    return ps, table


def stabilised_weights(
    treated, propensity, *, trim: tuple[float, float] | None = (1, 99)
) -> tuple[np.ndarray, dict]:
    """Stabilised weights ``P(A=a) / P(A=a | X)``, trimmed at percentiles ``trim``.

    Returns the weights and a summary (``min``, ``max``, ``mean`` before trimming, the
    trimming bounds and the number of weights changed).

    Examples
    --------
    >>> w, info = stabilised_weights([1, 1, 0, 0], [0.5, 0.8, 0.5, 0.2], trim=None)
    >>> [round(float(x), 3) for x in w]
    [1.0, 0.625, 1.0, 0.625]
    """
    a = np.asarray(treated, dtype=float)
    ps = np.clip(np.asarray(propensity, dtype=float), 1e-12, 1 - 1e-12)
    p1 = a.mean()
    w = np.where(a == 1, p1 / ps, (1 - p1) / (1 - ps))
    info = {"min": float(w.min()), "max": float(w.max()), "mean": float(w.mean())}
    if trim is not None:
        lo, hi = np.percentile(w, trim)
        info.update(trim_low=float(lo), trim_high=float(hi),
                    trimmed=int(((w < lo) | (w > hi)).sum()))
        w = np.clip(w, lo, hi)
    return w, info


def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    m = float(np.average(x, weights=w))
    return m, float(np.average((x - m) ** 2, weights=w))


def balance_table(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    weights=None,
) -> pd.DataFrame:
    """Standardised mean differences before and (with ``weights``) after weighting.

    Returns
    -------
    DataFrame
        ``covariate, mean_treated, mean_control, smd_before``, and with weights
        ``mean_treated_weighted, mean_control_weighted, smd_after``.
    """
    a = data[treatment].astype(float).to_numpy() == 1
    w = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=float)
    rows = []
    for c in covariates:
        x = data[c].astype(float).to_numpy()
        m1, v1 = x[a].mean(), x[a].var()
        m0, v0 = x[~a].mean(), x[~a].var()
        sd = np.sqrt((v1 + v0) / 2)
        row = {"covariate": c, "mean_treated": m1, "mean_control": m0,
               "smd_before": (m1 - m0) / sd if sd > 0 else np.nan}
        if weights is not None:
            wm1, _ = _wmean_var(x[a], w[a])
            wm0, _ = _wmean_var(x[~a], w[~a])
            row.update(mean_treated_weighted=wm1, mean_control_weighted=wm0,
                       smd_after=(wm1 - wm0) / sd if sd > 0 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def weighted_km(
    data: pd.DataFrame,
    *,
    group: str,
    weights: str,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = "entry",
) -> pd.DataFrame:
    """Weighted Kaplan-Meier curves per group, risk sets ``entry < t <= duration``.

    :func:`analysis.stats.km.km_table` with case weights: ``at_risk``, ``events``,
    ``censored`` and ``entered`` are weighted sums; ``se``, ``ci_low`` and ``ci_high`` are NaN
    (no simple variance for weighted curves; draw with ``ci=False``). The first row of each
    group is the origin with survival 1.
    """
    return km_table(data, duration=duration, event=event, entry=entry, group=group,
                    weights=weights)


def iptw_cox(
    data: pd.DataFrame,
    *,
    treatment: str,
    covariates: Sequence[str],
    balance_covariates: Sequence[str] | None = None,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = "entry",
    trim: tuple[float, float] | None = (1, 99),
    alpha: float = 0.05,
    labels: tuple[str, str] = ("1 product", "2+ products"),
) -> IPWResult:
    """IPTW marginal hazard ratio of ``treatment`` (1 vs 0), with balance and weighted curves.

    Parameters
    ----------
    data : DataFrame
        One row per customer with the exposure (0/1), outcome and covariates.
    covariates : list of str
        Propensity-model terms (numeric, dummies built beforehand).
    balance_covariates : list of str, optional
        Covariates to show in the balance table (default: ``covariates``).
    trim : (low, high) percentiles or None
        Weight trimming.
    labels : (str, str)
        Names of the control and exposed groups in the weighted curves.
    """
    df = data.copy()
    a = df[treatment].astype(float)
    for level, name in ((1, "exposed"), (0, "comparison")):
        sub = df[a == level]
        if len(sub) == 0:
            raise InsufficientDataError(
                f"no customer in the {name} group ({labels[level]}), so the groups cannot be "
                "compared"
            )
        if sub[event].sum() == 0:
            raise InsufficientDataError(
                f"no customer left in the {name} group ({labels[level]}); its hazard ratio is "
                "not estimable"
            )
    ps, ps_table = propensity_scores(df, treatment, covariates)
    w, info = stabilised_weights(a.to_numpy(), ps.to_numpy(), trim=trim)
    df["_w"] = w
    cox = fit_cox(df, [treatment], duration=duration, event=event, entry=entry, weights="_w",
                  robust=True, alpha=alpha)
    effect = cox.term(treatment)
    bal = balance_table(df, treatment, list(balance_covariates or covariates), weights=w)
    df["_group"] = np.where(a == 1, labels[1], labels[0])
    df["_group"] = pd.Categorical(df["_group"], categories=[labels[0], labels[1]], ordered=True)
    km = weighted_km(df, group="_group", weights="_w", duration=duration, event=event, entry=entry)

    def ess(x):
        return float(x.sum() ** 2 / (x**2).sum())

    diag = dict(info)
    exposed = (a == 1).to_numpy()
    diag.update(
        ess_exposed=ess(w[exposed]), ess_comparison=ess(w[~exposed]),
        n_exposed=int(exposed.sum()), n_comparison=int((~exposed).sum()),
        events_exposed=int(df.loc[exposed, event].sum()),
        events_comparison=int(df.loc[~exposed, event].sum()),
        ps_range_exposed=(float(ps[exposed].min()), float(ps[exposed].max())),
        ps_range_comparison=(float(ps[~exposed].min()), float(ps[~exposed].max())),
        max_abs_smd_before=float(bal["smd_before"].abs().max()),
        max_abs_smd_after=float(bal["smd_after"].abs().max()),
    )
    return IPWResult(
        effect=effect,
        cox=cox,
        balance=bal,
        weights=pd.Series(w, index=data.index, name="weight"),
        propensity=ps,
        propensity_model=ps_table,
        km=km,
        diagnostics=diag,
    )
