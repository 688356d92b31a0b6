"""Wording rules of the product-effect report's findings (studies/product_effect/findings.py).

The summary table and the other inputs of the findings are built by hand with known numbers;
each test checks the sentence one rule writes: "lower" vs "higher", the non-committal wording
when the recommended interval includes 1 or a months-gained interval includes 0, which methods
agree, and which sentences make the conclusion. The end-to-end checks on a synthetic book are in
``test_product_effect.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.studies.product_effect.findings import _adjusted_for, _words
from analysis.studies.product_effect.terms import PER_PRODUCT, TWO_PLUS

NAIVE = "Cox, unadjusted (products at entry)"
ENTRY = "Cox, adjusted (products at entry)"
MAIN = "Time-varying Cox, adjusted"
LANDMARK = "Landmark at 12 months"
IPW = "IPW (stabilised, trimmed weights)"
ADJUSTED = "value tier, segment, recent large outflows and branch"


def _summary(main=(0.82, 0.75, 0.90), naive=(0.75, 0.70, 0.81), entry=(0.80, 0.74, 0.87),
             landmark=(0.78, 0.65, 0.93), ipw=(0.75, 0.59, 0.94), recommended=True):
    rows = [(NAIVE, PER_PRODUCT, *naive, False, "naive: confounded by engagement"),
            (NAIVE, "2 products vs 1", 0.7, 0.6, 0.8, False, ""),
            (ENTRY, PER_PRODUCT, *entry, False, "later changes in products ignored"),
            (MAIN, PER_PRODUCT, *main, recommended, "recommended"),
            (MAIN, "2 products vs 1", 0.3, 0.2, 0.4, False, ""),  # not per product: ignored
            (LANDMARK, PER_PRODUCT, *landmark, False, ""),
            (IPW, TWO_PLUS, *ipw, False, "marginal effect, deposit-reliant customers")]
    return pd.DataFrame(rows, columns=["method", "contrast", "hr", "ci_low", "ci_high",
                                       "recommended", "note"])


def _rmst(*rows):
    return pd.DataFrame(rows, columns=["group", "tau", "difference", "ci_low", "ci_high"])


RMST = _rmst(("2+", 12.0, 0.35, -0.01, 0.70), ("2+", 36.0, 2.44, 0.90, 3.97),
             ("3", 36.0, -9.0, -12.0, -6.0))

FIT = SimpleNamespace(covariates=["n_products", "tier", "loan", "outflow_3m"], strata=["branch"])


def _run(*, summary=None, branch=None, lag=1, main_key="time_varying", fit=FIT, notes=None,
         tables=None, ev=None, shape_info=None, band_test=None, has_engagement=False):
    pe = SimpleNamespace(
        summary=_summary() if summary is None else summary,
        settings={"branch": branch, "attrition": "closure", "lag": lag,
                  "has_engagement": has_engagement},
        n=3000, events=690, fits={main_key: fit}, notes=notes or {},
        tables={"rmst": RMST} if tables is None else tables)
    return _words(pe, None, ev, main_key, shape_info or {}, band_test, None)


def _line(find, start):
    found = [f for f in find if f.startswith(start)]
    assert len(found) == 1, f"expected one line starting {start!r}: {find}"
    return found[0]


def _has(find, start):
    return any(f.startswith(start) for f in find)


def test_population_line():
    find, _ = _run()
    assert find[0] == ("3,000 customers of the whole bank; 690 left during the observation window "
                       "(attrition: closure).")
    assert _run(branch="North")[0][0].startswith("3,000 customers of branch North;")


def test_recommended_estimate_lower():
    find, _ = _run()
    assert _line(find, "**Each") == (
        "**Each additional product is linked to an estimated 18% lower monthly risk of leaving** "
        f"(HR 0.82 (95% CI 0.75-0.90)), after adjusting for {ADJUSTED}, with products counted as "
        "they change (lagged 1 month): conditional on current holdings and covariates, not the "
        "effect of adding a product.")
    assert not _has(find, "The interval")


def test_recommended_estimate_higher_lag_and_entry_wording():
    find, _ = _run(summary=_summary(main=(1.25, 1.1, 1.42), landmark=(1.2, 1.05, 1.37),
                                    entry=(1.3, 1.12, 1.5)), lag=2)
    assert _line(find, "**Each").startswith(
        "**Each additional product is linked to an estimated 25% higher monthly risk of "
        "leaving** (HR 1.25 (95% CI 1.10-1.42))")
    assert "(lagged 2 months): conditional on current holdings" in _line(find, "**Each")
    at_entry = _line(_run(main_key="adjusted_linear")[0], "**Each")
    assert at_entry.endswith(f"after adjusting for {ADJUSTED}, with products counted at entry: "
                             "conditional on current holdings and covariates, not the effect of "
                             "adding a product.")


@pytest.mark.parametrize("main", [(0.95, 0.85, 1.06), (1.04, 0.97, 1.11), (0.9, 0.8, 1.0)])
def test_interval_including_1_is_non_committal(main):
    find, conclusion = _run(summary=_summary(main=main))
    line = _line(find, "**Each")
    direction = "lower" if main[0] < 1 else "higher"
    assert line.startswith(
        "**Each additional product is not clearly linked to the monthly risk of leaving** "
        f"(HR {main[0]:.2f} (95% CI {main[1]:.2f}-{main[2]:.2f}); point estimate "
        f"{abs(1 - main[0]):.0%} {direction}), after adjusting for")
    assert "linked to an estimated" not in line
    caveat = _line(find, "The interval")
    assert caveat == ("The interval includes no effect (HR 1): this data cannot rule out that "
                      "products make no difference.")
    assert caveat in conclusion


def test_recommended_estimate_missing():
    find, _ = _run(summary=_summary(recommended=False),
                   notes={"cox_time_varying": "Not estimable: too few departures."})
    assert _line(find, "The leading") == ("The leading estimate is not available for this data: "
                                          "Not estimable: too few departures.")
    nan = _run(summary=_summary(main=(np.nan, np.nan, np.nan)))[0]
    assert _line(nan, "The leading").endswith("not available for this data: see the notes.")
    assert not _has(nan, "**Each") and not _has(nan, "The adjusted per-product")
    # without a recommended estimate the naive one is not compared with it
    assert _line(nan, "A naive") == ("A naive comparison of products at entry gives HR 0.75 (95% "
                                     "CI 0.70-0.81).")


def test_naive_overstates_only_when_below_the_recommended():
    find, _ = _run()
    assert _line(find, "A naive") == (
        "A naive comparison of products at entry gives HR 0.75 (95% CI 0.70-0.81): clearly more "
        "protective than the adjusted estimate.")
    # the engagement explanation only where the data measure engagement
    engaged = _run(has_engagement=True)[0]
    assert _line(engaged, "A naive") == (
        "A naive comparison of products at entry gives HR 0.75 (95% CI 0.70-0.81): clearly more "
        "protective than the adjusted estimate, as expected if engaged customers both buy more "
        "and stay longer (this data measures engagement).")
    # overlapping the recommended point estimate: no claim at all
    close = _run(summary=_summary(naive=(0.78, 0.70, 0.85)), has_engagement=True)[0]
    assert _line(close, "A naive") == ("A naive comparison of products at entry gives HR 0.78 "
                                       "(95% CI 0.70-0.85).")
    above = _run(summary=_summary(naive=(0.9, 0.85, 0.95)))[0]
    assert _line(above, "A naive") == ("A naive comparison of products at entry gives HR 0.90 "
                                       "(95% CI 0.85-0.95).")
    assert not _has(_run(summary=_summary(naive=(np.nan,) * 3))[0], "A naive")


def test_ipw_line():
    find, conclusion = _run()
    line = _line(find, "Weighting")
    assert line == ("Weighting customers with 2+ products against those with 1 (IPW, marginal "
                    "effect, deposit-reliant customers) gives HR 0.75 (95% CI 0.59-0.94): a "
                    "comparison of groups, not a per-product figure.")
    assert line not in conclusion
    assert not _has(_run(summary=_summary(ipw=(np.nan,) * 3))[0], "Weighting")


def test_months_gained_longer_shorter_or_unclear():
    """The last horizon of the 2+ vs 1 RMST difference; a gain or loss only when the CI excludes 0."""
    assert _line(_run()[0], "Within") == (
        "Within the first 36 months of tenure, customers with 2+ products at entry stayed 2.4 "
        "months longer on average than those with 1 (95% CI 0.9 to 4.0; unadjusted).")
    shorter = _rmst(("2+", 24.0, -1.5, -2.6, -0.4))
    assert _line(_run(tables={"rmst": shorter})[0], "Within") == (
        "Within the first 24 months of tenure, customers with 2+ products at entry stayed 1.5 "
        "months less on average than those with 1 (95% CI -2.6 to -0.4; unadjusted).")
    unclear = _rmst(("2+", 12.0, 0.35, -0.01, 0.70), ("2+", 24.0, np.nan, np.nan, np.nan))
    line = _line(_run(tables={"rmst": unclear})[0], "Within")
    assert line == ("Within the first 12 months of tenure, customers with 2+ products at entry "
                    "did not stay clearly longer or shorter than those with 1: difference 0.3 "
                    "months (95% CI -0.0 to 0.7; unadjusted).")
    assert "stayed" not in line
    assert not _has(_run(tables={})[0], "Within")
    only_other_groups = _rmst(("3", 36.0, 2.0, 1.0, 3.0))
    assert not _has(_run(tables={"rmst": only_other_groups})[0], "Within")


def test_shape_wording():
    rising = {"monotone": False, "rising_steps": ["2->3", "3->4+"], "rising_significant": True}
    assert _line(_run(shape_info=rising)[0], "The effect is") == (
        "The effect is **not monotone**: the hazard rises at step(s) 2->3, 3->4+ (significantly).")
    rising["rising_significant"] = False
    assert _line(_run(shape_info=rising)[0], "The effect is").endswith(
        "rises at step(s) 2->3, 3->4+ (within the uncertainty).")
    shape = pd.DataFrame({"level": ["1", "2", "3", "5+"]})
    falls = _run(shape_info={"monotone": True}, tables={"shape": shape})[0]
    assert _line(falls, "The hazard falls") == ("The hazard falls at every step from 1 to 5+ "
                                                "products (point estimates).")
    assert _line(_run(shape_info={"monotone": True}, tables={})[0], "The hazard falls") == (
        "The hazard falls at every step from 1 to 4+ products (point estimates).")
    plain = _run()[0]
    assert not _has(plain, "The effect is") and not _has(plain, "The hazard falls")


def test_band_test_only_when_significant():
    find, conclusion = _run(band_test={"p": 0.012})
    line = _line(find, "The effect changes")
    assert line == ("The effect changes with tenure (test of equal hazard ratios across tenure "
                    "bands: p = 0.012); see the band-specific estimates.")
    assert line in conclusion
    assert not _has(_run(band_test={"p": 0.05})[0], "The effect changes")
    assert not _has(_run(band_test=None)[0], "The effect changes")


def test_evalue_line():
    find, conclusion = _run(ev={"evalue": 1.564, "evalue_ci": 1.371})
    assert _line(find, "E-value") == (
        "E-value 1.56 (confidence limit: 1.37): an unmeasured factor would need a risk ratio of "
        "at least 1.56 with both product holding and attrition, beyond the measured covariates, "
        "to explain the effect away.")
    assert "E-value" not in conclusion
    assert not _has(_run()[0], "E-value")


def test_methods_agree():
    """Adjusted per-product estimates only: the naive, 2+ vs 1 and category rows are left out."""
    assert _line(_run()[0], "The adjusted per-product") == (
        "The adjusted per-product estimates range from HR 0.78 to 0.82; their intervals overlap "
        "with the leading one.")


def test_methods_disagree_on_size():
    find, _ = _run(summary=_summary(landmark=(0.6, 0.5, 0.72)))
    assert _line(find, "The adjusted per-product") == (
        "The adjusted per-product estimates range from HR 0.60 to 0.82, and Landmark at 12 months "
        "lie(s) outside the leading interval: the methods disagree on the size of the effect.")


def test_methods_disagree_on_direction():
    find, _ = _run(summary=_summary(landmark=(1.3, 1.1, 1.5)))
    assert _line(find, "The methods") == ("The methods disagree on the direction: Landmark at 12 "
                                          "months show(s) a significantly higher risk with more "
                                          "products.")
    # a recommended HR above 1: estimates clearly below 1 disagree, those above agree
    harmful = _summary(main=(1.25, 1.1, 1.42), entry=(1.3, 1.12, 1.5), landmark=(1.2, 1.05, 1.37))
    assert _line(_run(summary=harmful)[0], "The adjusted per-product") == (
        "The adjusted per-product estimates range from HR 1.20 to 1.30; their intervals overlap "
        "with the leading one.")
    mixed = _summary(main=(1.25, 1.1, 1.42), entry=(1.3, 1.12, 1.5), landmark=(0.8, 0.7, 0.92))
    assert _line(_run(summary=mixed)[0], "The methods") == (
        "The methods disagree on the direction: Landmark at 12 months show(s) a significantly "
        "lower risk with more products.")


def test_conclusion_is_the_main_sentences_in_order():
    find, conclusion = _run(ev={"evalue": 1.5, "evalue_ci": 1.3})
    expected = [_line(find, "**Each"), _line(find, "A naive"),
                _line(find, "The adjusted per-product")]
    assert conclusion == " ".join(expected)


@pytest.mark.parametrize("covariates, strata, words", [
    (["n_products", "tier", "tier_entry", "age10"], [], "value tier and age"),
    (["n_products", "log_aum"], [], "assets"),
    (["n_products"], ["branch"], "branch"),
    (["n_products"], [], "nothing else"),
])
def test_adjustment_set_in_words(covariates, strata, words):
    assert _adjusted_for(SimpleNamespace(covariates=covariates, strata=strata)) == words
    assert _adjusted_for(None) == "nothing else"


MSM = "Marginal structural Cox (MSM)"


def _with_recommended(s, method, hr):
    """``s`` with a recommended per-product row of ``method`` first (the others not)."""
    s = s.assign(recommended=False)
    row = pd.DataFrame([(method, PER_PRODUCT, *hr, True, "effect of holding one more product")],
                       columns=s.columns)
    return pd.concat([row, s], ignore_index=True)


def _msm_summary(msm=(0.85, 0.78, 0.93)):
    return _with_recommended(_summary(), MSM, msm)


CLAIM = ("**Had every customer held one more product from entry, the monthly risk of leaving "
         "would have been an estimated ")


def _leading_claim(summary):
    """The findings, the conclusion and the leading marginal claim after :data:`CLAIM`, which
    the conclusion repeats."""
    find, conclusion = _run(summary=summary)
    line = _line(find, "**Had")
    assert line.startswith(CLAIM) and line in conclusion
    return find, conclusion, line[len(CLAIM):]


def test_msm_leads_with_the_marginal_claim_and_its_assumption():
    find, _, claim = _leading_claim(_msm_summary())
    assert claim.startswith("15% lower** (HR 0.85 (95% CI 0.78-0.93)): marginal structural Cox "
                            "model,")
    assert claim.endswith("It assumes that this history holds everything that drives both "
                          "product holding and leaving.")
    # the conditional time-varying Cox is not the leading sentence then
    assert not _has(find, "**Each")


def test_msm_interval_including_1_is_non_committal():
    find, _ = _run(summary=_msm_summary(msm=(0.96, 0.88, 1.05)))
    line = _line(find, "**Holding")
    assert line.startswith("**Holding one more product from entry is not clearly linked to the "
                           "monthly risk of leaving** (HR 0.96 (95% CI 0.88-1.05); point "
                           "estimate 4% lower)")
    assert not _has(find, "**Had")


def _gf(estimate, lo, hi):
    return pd.DataFrame([
        dict(intervention="one more product than observed", section="one_more_product", key=None,
             quantity="rmst_36_gain", estimate=estimate, ci_low=lo, ci_high=hi, se=0.1),
        dict(intervention="everyone 1 product", section="static", key="1", quantity="rmst_36",
             estimate=30.0, ci_low=29.0, ci_high=31.0, se=0.5)])


@pytest.mark.parametrize("gain, words", [
    ((0.62, 0.31, 0.95), "One more product than each customer held would keep them 0.62 months "
                         "longer on average within 36 months of entry (95% CI 0.31 to 0.95)"),
    ((-0.4, -0.7, -0.1), "One more product than each customer held would shorten their stay by "
                         "0.40 months on average within 36 months of entry (95% CI -0.70 to "
                         "-0.10)"),
    ((0.1, -0.2, 0.4), "One more product than each customer held would not clearly change the "
                       "months retained within 36 months of entry: 0.10 (95% CI -0.20 to 0.40)"),
])
def test_gformula_months_gained_only_when_the_interval_excludes_0(gain, words):
    find, conclusion = _run(tables={"rmst": RMST, "gformula": _gf(*gain)})
    line = _line(find, "One more product")
    assert line == words + (" (g-formula; assumes the fitted monthly models of products, assets, "
                            "outflows and leaving are right).")
    assert line in conclusion
    assert not _has(_run()[0], "One more product")


def test_the_conclusion_opens_with_months_gained_then_the_msm_and_its_caveat():
    find, conclusion = _run(summary=_msm_summary(),
                            tables={"rmst": RMST, "gformula": _gf(0.62, 0.31, 0.95)})
    months, msm = _line(find, "One more product"), _line(find, "**Had")
    caveat = _line(find, "Its interval is less reliable than the g-formula's")
    assert conclusion.index(months) < conclusion.index(msm) < conclusion.index(caveat)
    assert find.index(months) == 1  # right after the population line
    assert not _has(_run(summary=_msm_summary())[0], "One more product")
    # the caveat belongs to the MSM only
    assert not _has(_run(tables={"rmst": RMST, "gformula": _gf(0.62, 0.31, 0.95)})[0],
                    "Its interval is less reliable")


GF_HR = "g-formula (Cox model on the simulated arms)"


def _gf_hr_summary(gf=(0.83, 0.75, 0.90), msm=(0.73, 0.60, 0.89)):
    """The report's summary when the g-formula gives the recommended HR and the MSM the same
    estimand second."""
    return _with_recommended(_msm_summary(msm), GF_HR, gf)


def test_gformula_hr_leads_and_the_msm_follows_as_a_cross_check():
    find, conclusion, claim = _leading_claim(_gf_hr_summary())
    assert claim.startswith("17% lower** (HR 0.83 (95% CI 0.75-0.90)): g-formula, the book "
                            "re-simulated with every customer holding exactly 1, 2, 3 or 4 "
                            "products from entry")
    msm = _line(find, "The marginal structural Cox model estimates the same hazard ratio")
    assert "HR 0.73 (95% CI 0.60-0.89)" in msm and "Its interval is less reliable" in msm
    assert msm not in conclusion  # the cross-check is a finding, not the conclusion
    assert not _has(find, "Its interval is less reliable than the g-formula's")
    assert not _has(find, "**Each")


@pytest.mark.parametrize("gf, start", [
    ((1.12, 1.03, 1.22), "**Had every customer held one more product from entry, the monthly risk "
                         "of leaving would have been an estimated 12% higher**"),
    ((0.96, 0.88, 1.05), "**Holding one more product from entry is not clearly linked to the "
                         "monthly risk of leaving** (HR 0.96 (95% CI 0.88-1.05); point estimate "
                         "4% lower)"),
])
def test_gformula_hr_says_higher_or_lower_only_when_the_interval_excludes_1(gf, start):
    find, _ = _run(summary=_gf_hr_summary(gf=gf))
    assert _has(find, start)
    assert any("): g-formula, the book re-simulated" in f for f in find)
