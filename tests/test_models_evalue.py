"""E-values (VanderWeele & Ding 2017), checked against the formulas and R's EValue conventions."""

import math

import pytest

from analysis.stats.evalue import evalue_hr, evalue_rr, hr_to_rr


def test_evalue_of_a_risk_ratio():
    # VanderWeele & Ding's worked example: RR 3.9 -> E-value 7.26
    assert evalue_rr(3.9) == pytest.approx(3.9 + math.sqrt(3.9 * 2.9))
    assert evalue_rr(3.9) == pytest.approx(7.26, abs=0.005)
    assert evalue_rr(1 / 3.9) == pytest.approx(evalue_rr(3.9))
    assert evalue_rr(1.0) == 1.0
    with pytest.raises(ValueError):
        evalue_rr(0.0)


def test_common_outcome_conversion_of_a_hazard_ratio():
    hr = 0.56
    expected = (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    assert hr_to_rr(hr, rare=False) == pytest.approx(expected)
    assert hr_to_rr(hr, rare=False, method="sqrt") == pytest.approx(math.sqrt(hr))
    assert hr_to_rr(hr, rare=True) == hr
    # the conversion is symmetric: RR(1/HR) = 1/RR(HR)
    assert hr_to_rr(1 / hr, rare=False) == pytest.approx(1 / hr_to_rr(hr, rare=False))


def test_evalue_hr_point_and_confidence_limit():
    # EValue::evalues.HR(0.56, 0.46, 0.69, rare = FALSE): the limit closest to 1 is the upper one
    out = evalue_hr(0.56, 0.46, 0.69, rare=False)
    rr = hr_to_rr(0.56, rare=False)
    assert out["rr"] == pytest.approx(rr)
    assert out["evalue"] == pytest.approx(1 / rr + math.sqrt(1 / rr * (1 / rr - 1)))
    assert out["evalue"] == pytest.approx(2.35, abs=0.005)
    assert out["evalue_ci"] == pytest.approx(evalue_rr(hr_to_rr(0.69, rare=False)))
    assert out["limit"] == "upper"
    # a harmful effect uses the lower limit; an interval through 1 gives 1
    assert evalue_hr(1.8, 1.2, 2.7, rare=True)["evalue_ci"] == pytest.approx(evalue_rr(1.2))
    assert evalue_hr(0.9, 0.7, 1.1, rare=True)["evalue_ci"] == 1.0


def test_rare_is_decided_from_the_outcome_share():
    assert evalue_hr(0.8, 0.7, 0.9, outcome_share=0.05)["rare"] is True
    common = evalue_hr(0.8, 0.7, 0.9, outcome_share=0.24)
    assert common["rare"] is False and "VanderWeele" in common["conversion"]
    with pytest.raises(ValueError, match="rare"):
        evalue_hr(0.8, 0.7, 0.9)
