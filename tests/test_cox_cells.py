"""The Cox model on counts per month and covariate cell (stats.cox.cells, frames.exposure_cells).

Reference: the package's Efron engine on the person-month rows (itself checked against
lifelines and statsmodels in tests/test_cox.py): with discrete covariates the two are the same
likelihood, so they must agree to rounding; with binned continuous covariates the report's
time-varying model is reproduced within a stated tolerance.
"""

import numpy as np
import pandas as pd
import pytest

from analysis.data import generate_portfolio
from analysis.errors import InsufficientDataError
from analysis.frames import counting_process, exposure_cells
from analysis.stats.cox.cells import fit_cox_cells
from analysis.stats.cox.fit import fit_cox


@pytest.fixture(scope="module")
def book():
    return generate_portfolio(2500, months=24, seed=11)


def test_cells_equal_the_efron_fit_on_person_months_with_strata(book):
    iv = counting_process(book.panel, book.customers, lag=1, collapse=False)
    iv["loan"] = (iv["segment"] == "loan").astype(float)
    covs = ["n_products", "tier", "loan", "outflow_3m"]
    for c in covs:
        iv[c] = iv[c].astype(float)
    ref = fit_cox(iv, covs, duration="stop", entry="start", strata=["branch"])
    cells = (iv.groupby(["stop", "branch", *covs])["event"]
             .agg(at_risk="size", events="sum").reset_index())
    assert len(cells) < len(iv) / 2  # the point: far fewer cells than customer-months
    got = fit_cox_cells(cells, covs, time="stop", strata=["branch"])
    np.testing.assert_allclose(got.params, ref.params, atol=1e-9)
    np.testing.assert_allclose(got.variance, ref.naive_variance, rtol=1e-8)
    assert got.log_likelihood == pytest.approx(ref.log_likelihood, abs=1e-6)
    assert got.events == ref.events and got.n == len(iv)


def test_exposure_cells_count_every_customer_month_and_departure(book):
    iv = counting_process(book.panel, book.customers, lag=1, collapse=False)
    cells = exposure_cells(book.panel, book.customers, lag=1, bins=4)
    assert cells["at_risk"].sum() == len(iv)
    assert cells["events"].sum() == iv["event"].sum()
    # per month of tenure too (the risk sets)
    a = cells.groupby("stop")["at_risk"].sum()
    b = iv.groupby("stop").size()
    pd.testing.assert_series_equal(a, b.astype(a.dtype), check_names=False)
    # 4 quantile bins of engagement, each carried as its customers' mean
    assert cells["engagement"].nunique() == 4
    with pytest.raises(ValueError, match="bins"):
        exposure_cells(book.panel, book.customers, bins=0)


def test_cells_reproduce_the_time_varying_product_hr_with_binned_covariates(book):
    from analysis.studies.product_effect.estimate import estimate_product_effect

    pe = estimate_product_effect(book, n_boot=2, mc_size=200, horizons=(12,))
    tv = pe.fits["time_varying"]
    cells = exposure_cells(book.panel, book.customers, lag=1, bins=10)
    f = fit_cox_cells(cells, tv.covariates, time="stop", strata=["branch"])
    hr, ref = f.term("n_products"), tv.term("n_products")
    # the only difference is the binning of age, tenure, assets and engagement (10 bins)
    assert hr["hr"] == pytest.approx(ref["hr"], rel=0.01)
    assert hr["se_log_hr"] == pytest.approx(ref["se_log_hr"], rel=0.05)
    # the report's engine: piecewise exponential on 6-month bands, what report 02 shows
    pe_fit = pe.fits["time_varying_cells"].term("n_products")
    assert pe_fit["hr"] == pytest.approx(ref["hr"], rel=0.01)
    assert pe_fit["se_log_hr"] == pytest.approx(ref["se_log_hr"], rel=0.05)


def test_cells_refuse_what_cannot_be_estimated():
    cells = pd.DataFrame({"time": [1, 1, 2], "x": [0.0, 1.0, 1.0], "at_risk": [5, 5, 4],
                          "events": [0, 0, 0]})
    with pytest.raises(InsufficientDataError, match="no events"):
        fit_cox_cells(cells, ["x"])
    cells["events"] = [1, 0, 0]
    cells["x"] = 1.0
    with pytest.raises(InsufficientDataError, match="single value"):
        fit_cox_cells(cells, ["x"])
    cells["x"] = [0.0, 1.0, 1.0]
    cells.loc[0, "events"] = 9
    with pytest.raises(ValueError, match="between 0"):
        fit_cox_cells(cells, ["x"])


def test_piecewise_exponential_equals_a_poisson_glm_with_band_intercepts(book):
    import statsmodels.api as sm

    from analysis.stats.cox.cells import fit_piecewise_exponential

    cells = exposure_cells(book.panel, book.customers, lag=1, bins=3, band_months=6, strata=())
    monthly = exposure_cells(book.panel, book.customers, lag=1, bins=3, strata=())
    # bands of 6 months: the same customer-months and departures, fewer cells
    assert cells["at_risk"].sum() == monthly["at_risk"].sum()
    assert cells["events"].sum() == monthly["events"].sum()
    assert set(cells["stop"]) <= set(range(6, 400, 6)) and len(cells) < len(monthly)
    covs = ["n_products", "tier", "loan", "outflow_3m", "engagement"]
    got = fit_piecewise_exponential(cells, covs)
    # independent implementation: Poisson GLM, one intercept per band, log exposure offset
    bands = pd.get_dummies(cells["stop"], prefix="band", dtype=float)
    glm = sm.GLM(cells["events"], pd.concat([bands, cells[covs]], axis=1),
                 family=sm.families.Poisson(), exposure=cells["at_risk"]).fit(tol=1e-12)
    np.testing.assert_allclose(got.params[covs], glm.params[covs], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(got.variance)), glm.bse[covs], rtol=1e-5)
    with pytest.raises(ValueError, match="band_months"):
        exposure_cells(book.panel, book.customers, band_months=0)
    with pytest.raises(ValueError, match="ties"):
        fit_cox_cells(cells, covs, time="stop", ties="exact")
