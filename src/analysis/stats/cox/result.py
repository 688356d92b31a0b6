"""The one result type of a Cox fit: coefficients, variances and a tidy table with CIs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["CoxResult", "tidy_table"]


def tidy_table(coef: pd.Series, variance, alpha: float = 0.05) -> pd.DataFrame:
    """``term, coef, se, hr, ci_low, ci_high, z, p`` with ``1 - alpha`` Wald intervals.

    Examples
    --------
    >>> t = tidy_table(pd.Series({"x": np.log(2.0)}), [[0.01]], alpha=0.05)
    >>> round(float(t.loc[0, "hr"]), 6), round(float(t.loc[0, "ci_low"]), 4)
    (2.0, 1.644)
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    b = coef.to_numpy(dtype=float)
    se = np.sqrt(np.diag(np.asarray(variance, dtype=float)))
    zz = b / se
    return pd.DataFrame({
        "term": list(coef.index),
        "coef": b,
        "se": se,
        "hr": np.exp(b),
        "ci_low": np.exp(b - z * se),
        "ci_high": np.exp(b + z * se),
        "z": zz,
        "p": 2 * stats.norm.sf(np.abs(zz)),
    })


@dataclass
class CoxResult:
    """A fitted Cox model (see :func:`analysis.stats.cox.fit.fit_cox`).

    Attributes
    ----------
    params : Series
        Coefficients (log hazard ratios) by covariate.
    variance : DataFrame
        Their covariance: the robust (sandwich) one when ``robust``, else model-based.
    naive_variance : DataFrame
        The model-based covariance (inverse information), whatever ``robust``.
    log_likelihood, log_likelihood_null : float
        Efron partial log-likelihood at the estimate and at ``beta = 0``.
    n, n_rows, events : int
        Customers (distinct ``id_col``/``cluster`` values, else rows), rows, events.
    alpha : float
        Level of the intervals of :attr:`summary` (``1 - alpha`` coverage).
    baseline_cumhaz : Series or None
        Breslow-Efron baseline cumulative hazard at the event times (unstratified fits).
    data : DataFrame
        The columns the model was fitted on (for residuals and the PH test).
    spec : dict
        ``duration, event, entry, strata, weights, cluster`` column names.
    """

    params: pd.Series
    variance: pd.DataFrame
    naive_variance: pd.DataFrame
    log_likelihood: float
    log_likelihood_null: float
    n: int
    n_rows: int
    events: int
    covariates: list
    strata: list | None
    robust: bool
    alpha: float = 0.05
    n_iter: int = 0
    notes: list = field(default_factory=list)
    baseline_cumhaz: pd.Series | None = field(default=None, repr=False)
    data: pd.DataFrame | None = field(default=None, repr=False)
    spec: dict = field(default_factory=dict, repr=False)

    @property
    def standard_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.variance)), index=self.params.index)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per term: ``term, coef, se, hr, ci_low, ci_high, z, p`` (level ``alpha``)."""
        return self.table()

    def table(self, alpha: float | None = None) -> pd.DataFrame:
        """:attr:`summary` at another level ``alpha``."""
        return tidy_table(self.params, self.variance, self.alpha if alpha is None else alpha)

    def term(self, name: str) -> dict:
        """``hr, ci_low, ci_high, coef, se_log_hr, p`` of one term."""
        row = self.summary.set_index("term").loc[name]
        return {
            "hr": float(row["hr"]),
            "ci_low": float(row["ci_low"]),
            "ci_high": float(row["ci_high"]),
            "coef": float(row["coef"]),
            "se_log_hr": float(row["se"]),
            "p": float(row["p"]),
        }

    @property
    def aic(self) -> float:
        """Akaike information criterion of the partial likelihood."""
        return -2 * self.log_likelihood + 2 * len(self.params)
