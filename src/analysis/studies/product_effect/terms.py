"""Names and readable labels of the product-effect model terms; one term read from a fit."""

from __future__ import annotations

import numpy as np

from analysis.stats.cox.result import CoxResult

__all__ = ["PER_PRODUCT", "TWO_PLUS", "LABELS"]


PER_PRODUCT = "per additional product"


TWO_PLUS = "2+ vs 1"


# Readable names of model terms.
LABELS = {
    "n_products_entry": "products at entry (per product)",
    "n_products": "products held (per product)",
    "products_2": "2 products vs 1",
    "products_3": "3 products vs 1",
    "products_4plus": "4+ products vs 1",
    "tier_entry": "value tier at entry (per star)",
    "tier": "value tier (per star)",
    "loan": "loan-reliant segment",
    "age10": "age at opening (per 10 years)",
    "entry_years": "tenure at entry (per year)",
    "log_aum": "log assets at entry",
    "log_loan": "log loan balance at entry",
    "products_t0_12": "products, tenure 0-12 months",
    "engagement": "engagement (per SD)",
    "outflow_3m": "large outflow in previous 3 months",
    "two_plus": "2+ products vs 1",
}


def _est(fit: CoxResult | None, term: str) -> dict:
    if fit is None or term not in fit.covariates:
        return {"hr": np.nan, "ci_low": np.nan, "ci_high": np.nan, "se_log_hr": np.nan,
                "p": np.nan}
    t = fit.term(term)
    return {k: t[k] for k in ("hr", "ci_low", "ci_high", "se_log_hr", "p")}
