"""The shipped mapping files on the public datasets in ../shared/data (skipped when absent).

Numbers quoted from each dataset's SOURCE.md; statistics checked against statsmodels.
"""

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from analysis.config import MAPPINGS_DIR, SHARED_DATA_DIR
from analysis.studies.population import prepare_study
from analysis.stats.rates import attrition_rates
from analysis.stats.hypothesis import logrank
from analysis.stats.km import survival_at

pytestmark = pytest.mark.skipif(
    not SHARED_DATA_DIR.is_dir(),
    reason=f"public datasets not found at {SHARED_DATA_DIR} (set ANALYSIS_SHARED_DATA to check on real data)",
)

BANK = MAPPINGS_DIR / "bank_churn.yml"
TELCO = MAPPINGS_DIR / "telco_churn.yml"
SAAS = MAPPINGS_DIR / "saas_churn.yml"


def _churn_by_count(frame):
    g = frame.groupby("n_products_entry")["event"]
    return g.mean().round(3).to_dict(), g.size().to_dict()


@pytest.fixture(scope="module")
def bank():
    return prepare_study(BANK)


def test_bank_churn_facts(bank):
    f = bank.frame
    assert len(f) == 10_000 and f["event"].sum() == 2037
    assert "Surname" not in f.columns
    rate, n = _churn_by_count(f)
    assert n == {1: 5084, 2: 4590, 3: 266, 4: 60}
    assert rate == {1: 0.277, 2: 0.076, 3: 0.827, 4: 1.0}
    assert (f["duration"] == 6).sum() == 413  # Tenure 0 years -> half a year, documented


def test_bank_churn_km_matches_statsmodels(bank):
    f = bank.frame
    ours = survival_at(f, [12, 24, 36, 60])
    sf = SurvfuncRight(f["duration"].to_numpy(), f["event"].to_numpy())
    # Step function value at t: last estimate at or before t.
    idx = np.searchsorted(sf.surv_times, [12, 24, 36, 60], side="right") - 1
    np.testing.assert_allclose(ours["survival"].to_numpy(), sf.surv_prob[idx], atol=1e-6)


def test_bank_churn_logrank_matches_statsmodels(bank):
    f = bank.frame
    ours = logrank(f, group="product_group")
    chi2, p = survdiff(f["duration"].to_numpy(), f["event"].to_numpy(), f["product_group"].astype(str).to_numpy())
    assert ours.chi2 == pytest.approx(chi2, abs=1e-6)
    assert ours.df == 3


def test_bank_churn_pattern_is_not_monotone(bank):
    rates = attrition_rates(bank.frame, by="product_group").set_index("product_group")
    r = rates["rate_per_100_person_years"]
    assert r["2"] < r["1"] < r["3"] < r["4+"]


def test_telco_product_count_derivation():
    f = prepare_study(TELCO).frame
    rate, n = _churn_by_count(f)
    expected = [0.109, 0.310, 0.449, 0.365, 0.313, 0.256, 0.225, 0.124, 0.053]
    assert [rate[k] for k in range(1, 10)] == pytest.approx(expected, abs=0.0006)
    assert len(f) == 7043 and f["event"].sum() == 1869


def test_saas_product_count_derivation():
    f = prepare_study(SAAS).frame
    rate, n = _churn_by_count(f)
    assert n == {0: 419, 1: 924, 2: 577, 3: 80}
    assert [rate[k] for k in range(4)] == pytest.approx([0.702, 0.498, 0.284, 0.175], abs=0.0006)
    assert f["customer_id"].is_unique


def test_bank_churn_product_cox_matches_statsmodels():
    """The product report's unadjusted linear Cox (Efron) equals statsmodels PHReg to 1e-6."""
    from statsmodels.duration.hazard_regression import PHReg

    from analysis.data import load_source
    from analysis.studies.product_effect.estimate import estimate_product_effect

    pe = estimate_product_effect(load_source(BANK))
    h = pe.headline["cox_unadjusted_linear"]
    f = prepare_study(BANK).frame
    res = PHReg(f["duration"].to_numpy(), f[["n_products_entry"]].to_numpy(float),
                status=f["event"].to_numpy(), ties="efron").fit()
    assert np.log(h["hr"]) == pytest.approx(res.params[0], abs=1e-6)
    assert h["se_log_hr"] == pytest.approx(res.bse[0], abs=1e-6)
    lr = pe.headline["logrank"]
    chi2, _ = survdiff(f["duration"].to_numpy(), f["event"].to_numpy(), f["product_group"].astype(str).to_numpy())
    assert lr["chi2"] == pytest.approx(chi2, abs=1e-6)
    # The non-monotone pattern is reported as it is.
    assert "not monotone" in pe.findings_markdown()


def test_reports_render_on_every_public_dataset(tmp_path):
    """Overview and product reports on the three mapped datasets; drivers on the bank data."""
    import json

    import yaml

    from analysis.report.runner import render

    reports = ["01_attrition_overview", "02_product_retention_effect"]
    for mapping in (BANK, TELCO, SAAS):
        sched = tmp_path / f"{mapping.stem}.yml"  # the drivers report too on the bank data
        sched.write_text(yaml.safe_dump({"reports": [
            {"notebook": nb} for nb in reports + ["03_attrition_drivers"] * (mapping == BANK)]}))
        out = tmp_path / mapping.stem
        result = render(sched, data=str(mapping), out_dir=out, jobs=2, progress=False, as_of="2026-01-01")
        assert result.ok, [(r.name, r.error) for r in result.failed]
        assert len(result.reports) == 2 + (mapping == BANK)
        head = json.loads((out / "2026-01-01" / "02_product_retention_effect__bank.json").read_text())
        pe = head["product_effect"]
        assert pe["cox_unadjusted_linear"]["hr"] > 0 and pe["logrank"]["chi2"] > 0
        assert pe["cox_time_varying"]["hr"] is None and "no monthly history" in pe["cox_time_varying"]["note"]
