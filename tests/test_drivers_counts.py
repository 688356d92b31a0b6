"""Report 03's time-varying effects from counts (the large-book engine) against the row-by-row
Cox model, the generator's truth and an independent fit, and on every customer of a large book.

Tolerance: the two models adjust for the same kinds of covariates but not identically (tier and
loan segment of the month against those at entry; continuous covariates in 10 quantile bins
against as they are; 6-month bands against the exact baseline). On the default book the HR per
product agrees within 2% and the outflow HR within 10% (relative), with the intervals
overlapping for most of their width; both cover the generator's truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.data.large_book import MODEL_SAMPLE_ENV
from analysis.studies.drivers.counts import effects_from_counts
from analysis.studies.drivers.design import build_design
from analysis.studies.drivers.estimate import time_varying_model
from analysis.studies.drivers.findings import counts_note
from analysis.studies.population import prepare_study
from analysis.studies.whole_book import book_cells


@pytest.fixture(scope="module")
def default():
    study = prepare_study("synthetic")
    tv = time_varying_model(study, build_design(study))
    return study, tv, effects_from_counts(study, tv)


def _overlap(a: pd.Series, lo: str, hi: str, lo2: str, hi2: str) -> float:
    """Share of the first interval (log scale) that the second covers."""
    inter = np.log(np.minimum(a[hi], a[hi2]) / np.maximum(a[lo], a[lo2]))
    return float(max(inter, 0) / np.log(a[hi] / a[lo]))


def test_effects_from_counts_agree_with_the_row_fit_and_cover_the_truth(default):
    study, tv, fc = default
    t = fc.table.set_index("key")
    assert list(t.index) == ["n_products", "outflow_3m"] and not fc.whole_book
    rel = (t["hr"] / t["hr_rows"] - 1).abs()
    assert rel["n_products"] < 0.02 and rel["outflow_3m"] < 0.10
    for key in t.index:
        assert _overlap(t.loc[key], "ci_low_rows", "ci_high_rows", "ci_low", "ci_high") > 0.6
    truth = study.portfolio.truth
    assert t.loc["n_products", "ci_low"] < truth["hr_per_product"] < t.loc["n_products", "ci_high"]
    assert t.loc["outflow_3m", "ci_low"] < 8.0 < t.loc["outflow_3m", "ci_high"]
    assert fc.customers == len(study.frame) and fc.cells > 1000


def test_the_fit_from_counts_is_statsmodels_poisson_glm(default):
    """An independent fit: the Poisson GLM with band x branch intercepts and the exposure."""
    study, _, fc = default
    from analysis.frames import exposure_cells

    p = study.portfolio
    cells = exposure_cells(p.panel, p.customers, lag=0, bins=fc.bins, band_months=fc.band_months)
    covs = list(fc.fit.params.index)
    group = cells["stop"].astype(str) + "|" + cells["branch"].astype(str)
    # a band x branch without departures adds nothing to either likelihood (its intercept would
    # run to minus infinity in the GLM)
    cells = cells[cells.groupby(group)["events"].transform("sum") > 0]
    strata = pd.get_dummies(group[cells.index], dtype=float)
    X = pd.concat([cells[covs].astype(float), strata], axis=1)
    glm = sm.GLM(cells["events"], X, family=sm.families.Poisson(),
                 exposure=cells["at_risk"]).fit()
    np.testing.assert_allclose(fc.fit.params[covs], glm.params[covs], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fc.fit.standard_errors[covs], glm.bse[covs], rtol=1e-4)


def test_on_a_large_book_the_counts_cover_every_customer(default, monkeypatch):
    monkeypatch.setenv(MODEL_SAMPLE_ENV, "1500")
    study = prepare_study("synthetic", sample=1500)
    assert study.sample is not None and len(study.frame) == 1500
    tv = time_varying_model(study, build_design(study))
    fc = effects_from_counts(study, tv)
    assert fc.whole_book and fc.customers == 6000
    whole, _, every = default
    # the fit from counts is the whole book's, whatever the sample
    pd.testing.assert_frame_equal(fc.table[["key", "hr", "ci_low", "ci_high"]],
                                  every.table[["key", "hr", "ci_low", "ci_high"]], rtol=1e-9)
    # ...and narrower than the sample's row fit
    t = fc.table.set_index("key")
    assert (np.log(t["ci_high"] / t["ci_low"]) < np.log(t["ci_high_rows"] / t["ci_low_rows"])).all()
    assert "all 6,000 customers" in counts_note(fc) and "model sample" in counts_note(fc)
    # a branch: the bank's cells of that branch
    branch = sorted(whole.frame["branch"].unique())[0]
    cells = book_cells(study.book, branch=branch, lag=0, band_months=fc.band_months)
    assert set(cells["branch"]) == {branch}
