"""The Cox model fitted by statsmodels' ``PHReg`` (an independent implementation, for tests)."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from analysis.stats.cox.fit import check_cox_data
from analysis.stats.cox.result import tidy_table


def fit_phreg(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = "entry",
    strata: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The same Cox model fitted by statsmodels ``PHReg(ties="efron")``, for cross-checks.

    statsmodels puts a row whose entry equals an event time in that time's risk set; entries
    are shifted by ``1e-7`` so that the risk set is ``entry < t <= duration`` as in R. Fitted by
    BFGS from zero, then Newton (independent of our solution). Returns the tidy table, with the
    log partial likelihood in ``.attrs["log_likelihood"]``.
    """
    from statsmodels.duration.hazard_regression import PHReg

    covariates = list(covariates)
    cols = [duration, event] + ([entry] if entry else []) + covariates
    cols += [strata] if strata else []
    check_cox_data(data, cols, event, covariates)
    X = data[covariates].to_numpy(dtype=float)
    ent = data[entry].to_numpy(dtype=float) + 1e-7 if entry else None
    model = PHReg(
        data[duration].to_numpy(dtype=float), X, status=data[event].to_numpy(dtype=float),
        entry=ent, strata=data[strata].to_numpy() if strata else None, ties="efron",
    )
    rough = model.fit(method="bfgs", maxiter=500, disp=0)
    res = model.fit(start_params=rough.params, method="newton", maxiter=100, disp=0)
    out = tidy_table(pd.Series(res.params, index=covariates), res.cov_params(), alpha)
    out.attrs["log_likelihood"] = float(model.loglike(res.params))
    return out
