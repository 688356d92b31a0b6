"""The KPI strip at the top of every report."""

import re
from pathlib import Path

import pytest

from analysis.report.html import find_active_content
from analysis.report.kpi import kpi_html, kpi_items, kpi_strip

OVERVIEW = {"n": 6000, "events": 1429,
            "rate_per_100_person_years": {"estimate": 11.43, "ci_low": 10.84, "ci_high": 12.04},
            "survival_at": {"12": {"survival": 0.828, "ci_low": 0.812, "ci_high": 0.843}}}


def test_overview_strip_shows_numbers_with_their_intervals():
    items = kpi_items("overview", OVERVIEW)
    assert [i["value"] for i in items] == ["6,000", "1,429", "11.4", "82.8%"]
    assert items[2]["ci"] == "95% CI 10.8–12.0" and items[3]["ci"] == "95% CI 81.2%–84.3%"
    assert items[0]["ci"] == ""  # counts have no interval


def test_product_strip_leads_with_months_gained_and_missing_is_a_dash():
    gain = {"estimate": 1.011, "ci_low": 0.41, "ci_high": 1.61}
    head = {"n": 10, "events": 3, "lead": "gformula", "recommended": "msm",
            "msm": {"hr": 0.732, "ci_low": 0.628, "ci_high": 0.854},
            "gformula": {"one_more_product": {"rmst_36_gain": gain}}}
    items = kpi_items("product_effect", head)
    assert items[2]["value"] == "1.01" and items[2]["ci"] == "95% CI 0.41–1.61"
    assert items[3]["value"] == "0.73" and items[3]["ci"] == "95% CI 0.63–0.85"
    head["gformula"] = {}
    items = kpi_items("product_effect", head)
    assert items[2]["value"] == "–" and items[2]["ci"] == ""  # no g-formula: no guess


def test_strip_is_escaped_and_inert():
    page = kpi_html([{"label": "<script>alert(1)</script>", "value": "<b>1</b>", "ci": ""}])
    assert "<script>" not in page and "&lt;b&gt;1&lt;/b&gt;" in page
    assert find_active_content(page, require_csp=False) == []
    with pytest.raises(ValueError, match="unknown report kind"):
        kpi_items("nope", {})


@pytest.mark.parametrize("path", sorted(
    (Path(__file__).resolve().parents[1] / "notebooks").glob("0*.py")), ids=lambda p: p.stem)
def test_every_report_opens_with_its_strip(path):
    source = path.read_text(encoding="utf-8")
    assert re.search(r"display\(kpi_strip\(", source)
    assert source.index("kpi_strip(") < source.index("## Key findings")
    assert kpi_strip("overview", OVERVIEW).data.count('class="kpi"') == 4


def test_value_strip_states_the_lifetime_values_assumptions():
    from analysis.report.kpi import kpi_items

    head = {"scope": "bank", "customers": 4571,
            "assumptions": {"horizon": 60, "discount_rate": 0.08},
            "clv_mean": {"estimate": 8118.0, "ci_low": 7639.0, "ci_high": 8597.0},
            "value_at_risk_12m": {"bank": {"estimate": 391115.0, "ci_low": 341366.0,
                                           "ci_high": 440865.0}},
            "departures_12m": {"estimate": 450.2, "ci_low": 398.0, "ci_high": 501.0}}
    items = kpi_items("value", head)
    assert items[1]["label"] == "Mean lifetime value (yuan, next 60 months, discounted at 8% a year)"
    assert items[1]["value"] == "8,118" and items[1]["ci"] == "95% CI 7,639–8,597"
    assert items[2]["value"] == "391,115" and items[3]["value"] == "450"
    branch = kpi_items("value", {**head, "scope": "East", "value_at_risk_12m": {
        "branch": head["value_at_risk_12m"]["bank"]}})
    assert branch[2]["value"] == "391,115"
