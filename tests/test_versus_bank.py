"""A branch against the bank (report 01 on a branch): exact rate ratio, table, wording rules."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats import rates as sm_rates

from analysis.i18n import set_language
from analysis.stats.rates import rate_ratio
from analysis.studies.overview.versus_bank import VersusBank, versus_bank, versus_bank_words
from analysis.studies.population import prepare_study


@pytest.mark.parametrize("k1,e1,k0,e0", [(30, 100.0, 60, 400.0), (256, 2146.0, 1173, 10366.0),
                                         (3, 50.0, 0, 80.0), (0, 40.0, 7, 90.0)])
def test_rate_ratio_matches_statsmodels_exact_conditional(k1, e1, k0, e0):
    r = rate_ratio(k1, e1, k0, e0)
    lo, hi = proportion_confint(k1, k1 + k0, alpha=0.05, method="beta")
    odds = lambda p: np.inf if p >= 1 else p / (1 - p) * e0 / e1  # noqa: E731
    assert r["ci_low"] == pytest.approx(odds(lo), rel=1e-9)
    assert r["ci_high"] == pytest.approx(odds(hi), rel=1e-9)
    with np.errstate(divide="ignore"):  # statsmodels divides by the zero count on its way
        p = sm_rates.test_poisson_2indep(k1, e1, k0, e0, method="exact-cond").pvalue
    assert r["p"] == pytest.approx(p, rel=1e-9)
    if k0:
        assert r["ratio"] == pytest.approx((k1 / e1) / (k0 / e0))


def test_rate_ratio_is_undefined_without_exposure_or_events():
    assert np.isnan(rate_ratio(0, 10.0, 0, 10.0)["ratio"])
    assert np.isnan(rate_ratio(3, 0.0, 2, 10.0)["ci_low"])


@pytest.fixture(scope="module")
def north():
    return versus_bank(prepare_study("synthetic", branch="North"))


def test_the_branch_and_the_rest_make_up_the_bank(north):
    t = north.table.set_index("scope")
    assert list(t.index) == ["Branch North", "Rest of the bank", "Whole bank"]
    assert t["n"].iloc[0] + t["n"].iloc[1] == t["n"].iloc[2] == 6000
    assert t["events"].iloc[0] + t["events"].iloc[1] == t["events"].iloc[2]
    ratio = t["rate_per_100_person_years"].iloc[0] / t["rate_per_100_person_years"].iloc[1]
    assert north.ratio["ratio"] == pytest.approx(ratio)
    assert north.bank_rate == pytest.approx(t["rate_per_100_person_years"].iloc[2])
    assert north.ratio["ci_low"] < north.ratio["ratio"] < north.ratio["ci_high"]
    assert set(north.km["group"].astype(str)) == {"Branch North", "Rest of the bank"}
    # the synthetic branches differ little: the default book's North is no clear outlier
    assert "no clear difference from the rest of the bank" in versus_bank_words(north)


def _vb(low, high, ratio=1.3):
    table = pd.DataFrame({"scope": ["Branch X", "Rest of the bank", "Whole bank"],
                          "rate_per_100_person_years": [13.0, 10.0, 10.5]})
    return VersusBank(table=table, ratio={"ratio": ratio, "ci_low": low, "ci_high": high, "p": 0.01},
                      km=pd.DataFrame(), logrank=None, bank_rate=10.5, branch="Branch X")


@pytest.mark.parametrize("low,high,words", [
    (1.05, 1.6, "higher than the rest of the bank"),
    (0.5, 0.9, "lower than the rest of the bank"),
    (0.95, 1.6, "no clear difference from the rest of the bank"),
])
def test_higher_or_lower_only_when_the_interval_excludes_one(low, high, words):
    text = versus_bank_words(_vb(low, high))
    assert words in text and "13.0 per 100 customer-years" in text and "10.5" in text
    for other in ("higher than", "lower than", "no clear difference"):
        if other not in words:
            assert other not in text


def test_the_comparison_in_chinese():
    try:
        set_language("zh")
        assert "高于行内其他网点" in versus_bank_words(_vb(1.05, 1.6))
        assert "与行内其他网点无明显差异" in versus_bank_words(_vb(0.9, 1.6))
    finally:
        set_language("en")


def test_the_bank_report_has_no_comparison():
    from analysis.studies.overview.estimate import attrition_overview

    assert attrition_overview(prepare_study("synthetic")).versus_bank is None


def test_the_overview_quotes_the_drivers_reports_outflow_effect():
    """One number for the early-warning effect: the overview's finding is the drivers report's."""
    from analysis.studies.drivers.estimate import attrition_drivers
    from analysis.studies.drivers.findings import outflow_words
    from analysis.studies.overview.estimate import attrition_overview
    from analysis.studies.overview.findings import key_findings

    study = prepare_study("synthetic", branch="North")
    ov = attrition_overview(study)
    tv = attrition_drivers(study).time_varying.value.effects.set_index("key").loc["outflow_3m"]
    assert ov.warning.value["hr"] == pytest.approx(tv["hr"], rel=1e-10)
    assert ov.warning.value["ci_low"] == pytest.approx(tv["ci_low"], rel=1e-10)
    assert outflow_words(ov.warning.value) in key_findings(ov)
    # the wording rule: "multiplies" only when the interval lies above 1
    weak = pd.Series({"hr": 1.4, "ci_low": 0.8, "ci_high": 2.3, "p": 0.2, "label": "x"})
    assert "not a clear warning sign" in outflow_words(weak) and "multiplies" not in outflow_words(weak)
