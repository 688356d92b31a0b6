"""Accelerated failure time (AFT) models: Weibull, log-normal and log-logistic, compared by AIC.

The fits are lifelines' ``WeibullAFTFitter``, ``LogNormalAFTFitter`` and
``LogLogisticAFTFitter`` with delayed entry (``entry_col``: lifelines conditions each customer's
likelihood on surviving to the entry time, the left-truncated likelihood). Their coefficients
act on log time: ``exp(coef)`` is a *time ratio*, above 1 the time to leaving is stretched
(customers stay longer), below 1 it is shortened.

Warnings that lifelines raises about a fit (convergence, a Hessian that had to be
pseudo-inverted, negative variances) are kept as a note of that distribution in the comparison
table instead of being printed or hidden; a fit that fails is a row with the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InsufficientDataError

__all__ = ["AFT_MODELS", "AFTFit", "fit_aft"]

#: Distribution -> (lifelines fitter, its parameter that carries the covariates: log-time
#: location).
AFT_MODELS = {"Weibull": ("WeibullAFTFitter", "lambda_"),
              "log-normal": ("LogNormalAFTFitter", "mu_"),
              "log-logistic": ("LogLogisticAFTFitter", "alpha_")}


@dataclass
class AFTFit:
    """Result of :func:`fit_aft`.

    Attributes
    ----------
    comparison : DataFrame
        One row per distribution, best (lowest AIC) first: ``distribution, log_likelihood,
        parameters, aic, note, delta_aic``. ``note`` is ``""`` for a clean fit, lifelines'
        warnings about the fit, or ``"not fitted: ..."`` (AIC NaN, listed last).
    best : str
        The distribution with the lowest AIC.
    params : Series
        Coefficients of the covariates on log time in the best model (intercept left out).
    variance : DataFrame
        Their variance matrix.
    summary : DataFrame
        Tidy table of the best model: ``term, coef, se, time_ratio, ci_low, ci_high, p``
        (``1 - alpha`` Wald intervals of the time ratio).
    model : object
        The fitted lifelines model of the best distribution.
    """

    comparison: pd.DataFrame
    best: str
    params: pd.Series
    variance: pd.DataFrame
    summary: pd.DataFrame
    model: object = field(repr=False)


def _fit_one(cls, df: pd.DataFrame, duration: str, event: str, entry: str | None):
    """Fit one lifelines AFT model; lifelines' own warnings about the fit come back as text."""
    from lifelines.exceptions import ApproximationWarning, ConvergenceWarning, StatisticalWarning

    about_fit = (ConvergenceWarning, ApproximationWarning, StatisticalWarning)
    with warnings.catch_warnings(record=True) as caught:
        for category in about_fit:
            warnings.simplefilter("always", category)
        model = cls().fit(df, duration, event, entry_col=entry)
    notes = []
    for w in caught:
        if issubclass(w.category, about_fit):
            text = " ".join(str(w.message).split()).split(". ")[0].rstrip(".") + "."
            if text not in notes:
                notes.append(text)
        else:  # not about the fit: let it through as if nothing had caught it
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return model, "; ".join(notes)


def fit_aft(
    data: pd.DataFrame,
    columns: Sequence[str],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    alpha: float = 0.05,
) -> AFTFit:
    """Weibull, log-normal and log-logistic AFT models of the same covariates, by AIC.

    Parameters
    ----------
    data : DataFrame
        One row per customer (or counting-process row) with the design columns.
    columns : sequence of str
        Numeric design columns (dummies built beforehand); an intercept is added by lifelines.
    duration, event, entry : str
        Column names; ``entry`` (left truncation) is optional.
    alpha : float
        1 - confidence level of the time-ratio intervals in ``summary``.

    Returns
    -------
    AFTFit

    Raises
    ------
    InsufficientDataError
        When no distribution could be fitted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, 2000).astype(float)
    >>> t = rng.weibull(1.5, 2000) * 10 * np.exp(0.5 * x)  # time ratio exp(0.5) = 1.65
    >>> df = pd.DataFrame({"x": x, "duration": np.minimum(t, 15), "event": (t < 15) * 1})
    >>> fit = fit_aft(df, ["x"])
    >>> fit.best, round(float(fit.summary.loc[0, "time_ratio"]), 2)
    ('Weibull', 1.6)
    """
    import lifelines
    from lifelines.exceptions import ConvergenceError

    cols = list(columns)
    keep = cols + ([entry] if entry is not None else []) + [duration, event]
    df = data[keep]
    fits, rows = {}, []
    for name, (cls, _) in AFT_MODELS.items():
        try:
            m, note = _fit_one(getattr(lifelines, cls), df, duration, event, entry)
        except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
            rows.append(dict(distribution=name, log_likelihood=np.nan, parameters=np.nan,
                             aic=np.nan, note=f"not fitted: {str(exc)[:120]}"))
            continue
        fits[name] = m
        rows.append(dict(distribution=name, log_likelihood=m.log_likelihood_,
                         parameters=len(m.params_), aic=m.AIC_, note=note))
    comp = pd.DataFrame(rows)
    if not fits:
        raise InsufficientDataError("no parametric model could be fitted to these data")
    comp["delta_aic"] = comp["aic"] - comp["aic"].min()
    comp = comp.sort_values("aic", na_position="last").reset_index(drop=True)
    best = comp["distribution"].iloc[0]
    m = fits[best]
    loc = AFT_MODELS[best][1]
    params = m.params_.loc[loc].drop("Intercept")
    cov = m.variance_matrix_.loc[loc, loc].drop(index="Intercept", columns="Intercept")
    se = np.sqrt(np.diag(cov.to_numpy()))
    z = stats.norm.ppf(1 - alpha / 2)
    b = params.to_numpy()
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # inf / NaN are the answer
        summary = pd.DataFrame({"term": params.index.to_list(), "coef": b, "se": se,
                                "time_ratio": np.exp(b), "ci_low": np.exp(b - z * se),
                                "ci_high": np.exp(b + z * se),
                                "p": 2 * stats.norm.sf(np.abs(b) / se)})
    return AFTFit(comparison=comp, best=best, params=params, variance=cov, summary=summary,
                  model=m)
