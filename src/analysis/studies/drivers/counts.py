"""Report 03's time-varying effects from counts: the large-book engine.

The time-varying Cox model of report 03 (:func:`~analysis.studies.drivers.estimate.time_varying_model`:
products held now, a large outflow in the last 3 months) needs every customer-month as a row, so
on a large book it is fitted on the model sample. The same two effects are estimated here from
counts of customer-months at risk and departures per 6-month band of tenure, branch and covariate
cell (:func:`analysis.frames.exposure_cells`, products and outflows of the month itself, as the
Cox model) with the piecewise-exponential model of report 02
(:func:`~analysis.stats.cox.cells.fit_piecewise_exponential`): on every customer of a large book
(:func:`~analysis.studies.whole_book.book_cells`, built once per render), on the same customers
otherwise. Its other covariates are those of report 02's model: tier and loan segment of the
month, and age, tenure at entry, assets at entry and engagement each cut into 10 quantile bins;
the Cox model's are the tier and segment at entry, branch and the continuous covariates as they
are. The two therefore agree closely but not exactly (``tests/test_drivers_counts.py`` states
the tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.config import HIGH_VALUE_TIER
from analysis.frames import CELL_COVARIATES, exposure_cells
from analysis.stats.cox.cells import fit_piecewise_exponential
from analysis.studies.population import Study
from analysis.studies.whole_book import book_cells

__all__ = ["BAND_MONTHS", "BINS", "FromCounts", "effects_from_counts"]

#: Months of tenure per band and quantile bins of the continuous covariates (report 02's).
BAND_MONTHS, BINS = 6, 10
#: The effects compared with the Cox model.
TERMS = ("n_products", "outflow_3m")


@dataclass
class FromCounts:
    """The time-varying effects from counts next to the Cox model's.

    Attributes
    ----------
    table : DataFrame
        One row per effect (``key``: ``n_products``, ``outflow_3m``; ``label`` as the Cox
        table): ``hr, ci_low, ci_high`` from counts and ``hr_rows, ci_low_rows, ci_high_rows``
        of the Cox model on customer-month rows.
    fit : CoxResult
        The piecewise-exponential fit.
    cells, customers : int
        Cells fitted and the customers they count.
    whole_book : bool
        True on a large book (every customer; the Cox model is the model sample's).
    """

    table: pd.DataFrame
    fit: object
    cells: int
    customers: int
    whole_book: bool
    band_months: int = BAND_MONTHS
    bins: int = BINS


def effects_from_counts(study: Study, tv, *, alpha: float = 0.05) -> FromCounts:
    """Fit the time-varying effects from counts and set them beside ``tv``'s (the Cox model of
    :func:`~analysis.studies.drivers.estimate.time_varying_model` on the same study)."""
    p = study.params
    sample = study.sample
    whole = sample is not None and study.book is not None
    kw = dict(attrition=p["attrition"], k=p["k"], as_of=study.as_of, lag=0, bins=BINS,
              band_months=BAND_MONTHS)
    if whole:
        cells = book_cells(study.book, branch=p.get("branch"), **kw)
        customers = int(sample.of)
    else:
        cells = exposure_cells(study.portfolio.panel, study.portfolio.customers,
                               high_value_tier=p.get("high_value_tier") or HIGH_VALUE_TIER, **kw)
        customers = int(study.frame["customer_id"].nunique())
    # report 02's adjustment set; products and outflow of the month itself (lag 0)
    covariates = [c for c in CELL_COVARIATES if c in cells.columns and cells[c].nunique() > 1]
    strata = (["branch"] if "branch" in cells.columns and cells["branch"].nunique() > 1
              else None)
    fit = fit_piecewise_exponential(cells, covariates, strata=strata, alpha=alpha)
    rows = tv.effects.set_index("key")
    out = []
    for key in TERMS:
        if key not in rows.index or key not in fit.params.index:
            continue
        r, c = rows.loc[key], fit.term(key)
        out.append({"key": key, "label": r["label"], "hr": c["hr"], "ci_low": c["ci_low"],
                    "ci_high": c["ci_high"], "hr_rows": float(r["hr"]),
                    "ci_low_rows": float(r["ci_low"]), "ci_high_rows": float(r["ci_high"])})
    return FromCounts(table=pd.DataFrame(out), fit=fit, cells=len(cells), customers=customers,
                      whole_book=whole)
