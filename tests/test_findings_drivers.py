"""Wording rules of the drivers report's key findings (studies/drivers/findings.py).

The tables of a :class:`Drivers` result are built by hand with known numbers; each test checks
the sentence one rule writes: which drivers are the strongest, "higher" vs "lower", when an
effect is called clear (its 95% interval excludes 1) and when the wording stays non-committal.
The end-to-end check on a synthetic book is in ``test_drivers.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.errors import Attempt
from analysis.studies.drivers.estimate import Drivers
from analysis.studies.drivers.findings import key_findings

NOTE = "Not estimable: too few departures"

EFFECTS = pd.DataFrame([
    # term, key, label, hr, ci_low, ci_high, p, chisq
    ("branch", "branch=East", "branch: East vs Central", 2.0, 1.6, 2.5, 1e-9, 50.0),
    ("segment", "segment=loan", "reliance segment: loan vs deposit", 1.8, 1.5, 2.16, 1e-6, 40.0),
    ("engagement", "engagement", "engagement score, per point", 0.7, 0.6, 0.82, 1e-5, 30.0),
    ("age", "age_entry", "age at entry, per 10 years", 1.1, 1.01, 1.2, 0.03, 4.7),
    ("tier_group", "tier_group=Tier 2", "value tier at entry: Tier 2 vs Tier 1", 0.9, 0.7, 1.1,
     0.3, 1.0),
    ("tier_group", "tier_group=Tier 3", "value tier at entry: Tier 3 vs Tier 1", 1.2, 1.01, 1.43,
     0.04, 5.0),
    ("tier_group", "tier_group=Tier 4-5", "value tier at entry: Tier 4-5 vs Tier 1", 1.25, 1.05,
     1.49, 0.01, 6.5),
], columns=["term", "key", "label", "hr", "ci_low", "ci_high", "p", "chisq"])

TERMS = [SimpleNamespace(name="segment", words="reliance segment"),
         SimpleNamespace(name="age", words="age at entry"),
         SimpleNamespace(name="engagement", words="engagement score")]


def _study(has_panel=True):
    return SimpleNamespace(frame=pd.DataFrame({"event": [1] * 250 + [0] * 750}),
                           scope="the whole bank", period_words="observed 2020 to 2023",
                           has_panel=has_panel, attrition_words="account closure")


def _tv(outflow=(3.2, 2.5, 4.1), products=(0.85, 0.8, 0.9)):
    rows = [("outflow_3m", *outflow), ("n_products", *products)]
    return Attempt(SimpleNamespace(effects=pd.DataFrame(
        rows, columns=["key", "hr", "ci_low", "ci_high"])))


def _drivers(**kw) -> Drivers:
    fields = dict(study=_study(), horizons=[12, 24, 36], transform="km",
                  design=Attempt(SimpleNamespace(terms=TERMS)), effects=Attempt(EFFECTS))
    for name in ("linearity", "model", "ph", "remedy", "aft", "held_out", "time_varying",
                 "reasons", "truth_static", "truth_tv"):
        fields[name] = Attempt(note=NOTE)
    fields.update(kw)
    return Drivers(**fields)


def _lines(dr) -> list[str]:
    lines = key_findings(dr).split("\n")
    assert all(line.startswith("- ") for line in lines)
    return [line[2:] for line in lines]


def _line(dr, start: str) -> str:
    found = [line for line in _lines(dr) if line.startswith(start)]
    assert len(found) == 1, f"expected one line starting {start!r}: {_lines(dr)}"
    return found[0]


def _has(dr, start: str) -> bool:
    return any(line.startswith(start) for line in _lines(dr))


def test_design_not_estimable_is_the_only_line():
    assert key_findings(_drivers(design=Attempt(note=NOTE))) == f"- {NOTE}"


def test_first_and_last_lines():
    lines = _lines(_drivers())
    assert lines[0] == ("**1,000 customers** of the whole bank observed 2020 to 2023, **250 left** "
                        "(account closure). The model relates leaving to 3 characteristics at "
                        "entry, each adjusted for the others.")
    assert lines[-1].startswith("Hazard ratios describe association")
    snap = _lines(_drivers(study=_study(has_panel=False)))[0]
    assert snap.startswith("**1,000 customers** of the whole bank, **250 left**")


def test_strongest_drivers_by_chisq_with_higher_and_lower():
    """Top three by chi-square, branch left out, one row per term; "higher" iff HR > 1."""
    assert _line(_drivers(), "Strongest") == (
        "Strongest drivers, holding the others fixed: "
        "reliance segment: loan vs deposit: risk 80% higher (HR 1.80 (95% CI 1.50 to 2.16)); "
        "engagement score, per point: risk 30% lower (HR 0.70 (95% CI 0.60 to 0.82)); "
        "value tier at entry: Tier 4-5 vs Tier 1: risk 25% higher (HR 1.25 (95% CI 1.05 to "
        "1.49)).")


def test_strongest_drivers_only_significant_ones():
    eff = EFFECTS.assign(p=np.where(EFFECTS["key"] == "engagement", 0.2, EFFECTS["p"]))
    line = _line(_drivers(effects=Attempt(eff)), "Strongest")
    assert "engagement" not in line  # p = 0.2 is not a driver, even with a large chi-square
    assert "age at entry, per 10 years: risk 10% higher" in line  # the fourth moves up


def test_no_driver_wording():
    none_sig = EFFECTS.assign(p=0.2)
    assert _line(_drivers(effects=Attempt(none_sig)), "No characteristic") == (
        "No characteristic at entry is clearly related to leaving (all p >= 0.05).")
    only_branch = EFFECTS.assign(p=np.where(EFFECTS["term"] == "branch", 1e-9, 0.2))
    dr = _drivers(effects=Attempt(only_branch))
    assert _line(dr, "No characteristic") == (
        "No characteristic at entry other than the branch is clearly related to leaving (all "
        "other p >= 0.05).")
    assert not _has(dr, "Strongest")


def test_high_value_verdict_follows_the_last_tier_contrast():
    assert _line(_drivers(), "High-value") == (
        "High-value customers (Tier 4-5 vs Tier 1) leave at a clearly different rate after "
        "adjustment: HR 1.25 (95% CI 1.05 to 1.49), p = 0.010.")
    eff = EFFECTS.copy()
    last = eff.index[-1]
    eff.loc[last, ["hr", "ci_low", "ci_high", "p"]] = [1.1, 0.9, 1.34, 0.35]
    assert _line(_drivers(effects=Attempt(eff)), "High-value") == (
        "High-value customers (Tier 4-5 vs Tier 1) do not leave at a clearly different rate "
        "after adjustment: HR 1.10 (95% CI 0.90 to 1.34), p = 0.350.")
    no_tier = EFFECTS[~EFFECTS["term"].eq("tier_group")]
    assert not _has(_drivers(effects=Attempt(no_tier)), "High-value")
    assert _lines(_drivers(effects=Attempt(note=NOTE)))[1] == NOTE


def test_outflow_is_an_early_warning_only_when_its_interval_excludes_1():
    assert _line(_drivers(time_varying=_tv()), "**Early warning:**") == (
        "**Early warning:** a large fund outflow in the last 3 months multiplies the risk of "
        "leaving by **3.2** (95% CI 2.5 to 4.1).")
    unclear = _drivers(time_varying=_tv(outflow=(1.2, 0.9, 1.6)))
    assert not _has(unclear, "**Early warning")
    assert _line(unclear, "A large fund outflow") == (
        "A large fund outflow in the last 3 months is not a clear warning sign: no clear "
        "difference in the risk of leaving (HR 1.20 (95% CI 0.90 to 1.60)).")
    lower = _drivers(time_varying=_tv(outflow=(0.6, 0.5, 0.8)))
    assert _line(lower, "A large fund outflow").endswith(
        "not a clear warning sign: risk 40% lower (HR 0.60 (95% CI 0.50 to 0.80)).")


@pytest.mark.parametrize("products, words", [
    ((0.85, 0.8, 0.9), "risk 15% lower (HR 0.85 (95% CI 0.80 to 0.90))"),
    ((1.3, 1.1, 1.54), "risk 30% higher (HR 1.30 (95% CI 1.10 to 1.54))"),
    ((0.95, 0.85, 1.06), "no clear difference in the risk of leaving (HR 0.95 (95% CI 0.85 to "
                         "1.06))"),
    ((1.0, 0.9, 1.11), "no clear difference in the risk of leaving (HR 1.00 (95% CI 0.90 to "
                       "1.11))"),
])
def test_products_held_wording(products, words):
    assert _line(_drivers(time_varying=_tv(products=products)), "Each product held") == (
        f"Each product held (counted month by month): {words}; adjusted, but not a causal "
        f"estimate.")


def _ph(flagged: dict, global_p=0.42):
    covs = list(flagged)
    tab = pd.DataFrame({"covariate": covs + ["GLOBAL"],
                        "p": [flagged[c][0] for c in covs] + [global_p],
                        "flagged": [flagged[c][1] for c in covs] + [False]},
                       index=covs + ["GLOBAL"])
    return Attempt((tab, None))


def test_proportional_hazards_wording():
    ok = _ph({"age": (0.3, False), "segment": (0.6, False)})
    assert _line(_drivers(ph=ok), "The proportional-hazards") == (
        "The proportional-hazards check finds no covariate whose effect changes with tenure "
        "(global p = 0.420).")
    fails = _ph({"age": (0.0004, True), "segment": (0.6, False)})
    assert _line(_drivers(ph=fails), "The proportional-hazards") == (
        "The proportional-hazards check finds effects that change with tenure: age "
        "(p < 0.001).")
    remedy = SimpleNamespace(strata=["segment"], banded=["age"],
                             ph_after=pd.DataFrame({"covariate": ["age"], "flagged": [False]}))
    line = _line(_drivers(ph=fails, remedy=Attempt(remedy)), "The proportional-hazards")
    assert line.endswith("Remedied step by step (stratified on reliance segment; separate hazard "
                         "ratios by tenure band for age at entry), after which no covariate "
                         "fails.")
    still = SimpleNamespace(strata=[], banded=["age"],
                            ph_after=pd.DataFrame({"covariate": ["age"], "flagged": [True]}))
    line = _line(_drivers(ph=fails, remedy=Attempt(still)), "The proportional-hazards")
    assert line.endswith("(separate hazard ratios by tenure band for age at entry), age still "
                         "fail(s).")


def test_held_out_accuracy_wording():
    acc = SimpleNamespace(
        table=pd.DataFrame({"horizon": [12.0, 24.0], "auc": [0.74, 0.7],
                            "brier": [0.081, 0.12], "brier_null": [0.095, 0.14]}),
        n_test=3000, c_harrell=0.712, c_uno=0.688)
    cal = {12: Attempt(SimpleNamespace(ici=0.01)), 24: Attempt(SimpleNamespace(ici=0.03)),
           36: Attempt(note=NOTE)}
    held = Attempt(SimpleNamespace(accuracy=acc, calibration=cal))
    assert _line(_drivers(held_out=held), "On 3,000") == (
        "On 3,000 customers held out of the fit, the model ranks who leaves first correctly for "
        "71% of comparable pairs (Harrell's C; Uno's 0.69); AUC 0.74 for leaving within 12 "
        "months, Brier score 0.081 vs 0.095 without covariates; predicted and observed risks "
        "differ by 2.0% on average (ICI).")
    no_cal = Attempt(SimpleNamespace(accuracy=acc, calibration={12: Attempt(note=NOTE)}))
    assert _line(_drivers(held_out=no_cal), "On 3,000").endswith("without covariates.")
    assert _line(_drivers(), "Accuracy:") == f"Accuracy: {NOTE}"


def _reasons(cause_rows):
    counts = pd.DataFrame({"reason": ["service", "price", "moved"],
                           "departures": [30, 50, 20]})
    counts["share"] = counts["departures"] / counts["departures"].sum()
    cause_hr = pd.DataFrame(cause_rows,
                            columns=["column", "driver", "cause", "hr", "ci_low", "ci_high"])
    return Attempt(SimpleNamespace(counts=counts, cause_hr=Attempt(cause_hr)))


HIGH_VALUE = [("high_value", "high value (tier 3+)", "price", 1.6, 1.2, 2.1),
              ("high_value", "high value (tier 3+)", "service", 2.0, 0.9, 4.4),
              ("high_value", "high value (tier 3+)", "moved", 1.1, 1.02, 1.2)]


def test_most_frequent_reason_is_the_one_with_most_departures():
    dr = _drivers(reasons=_reasons(HIGH_VALUE))
    assert _line(dr, "Most frequent") == (
        "Most frequent reason for leaving: **price** (50% of 100 departures).")


def test_raises_the_most_only_among_causes_it_clearly_raises():
    """"Raises ... the most": the largest HR among causes whose 95% CI lies above 1."""
    dr = _drivers(reasons=_reasons(HIGH_VALUE))
    # service has the largest HR (2.0) but its interval includes 1: price is named
    assert _line(dr, "High value") == ("High value (tier 3+): raises leaving for **price** the "
                                       "most (cause-specific HR 1.60 (95% CI 1.20 to 2.10)).")
    none = [("outflow_3m", "large outflow", "price", 1.3, 0.95, 1.8),
            ("outflow_3m", "large outflow", "service", 0.7, 0.5, 0.98)]
    line = _line(_drivers(reasons=_reasons(none)), "Large outflow")
    assert line == ("Large outflow: raises leaving for no reason clearly (every cause-specific "
                    "95% CI includes 1 or lies below it).")
    one_cause = _drivers(reasons=_reasons(HIGH_VALUE[:1]))
    assert not _has(one_cause, "High value")


def test_reasons_note_only_with_monthly_histories():
    why = "Not estimable: no departure reasons in this data"
    missing = Attempt(note=why)
    assert _line(_drivers(reasons=missing), why) == why  # the section says why it is missing
    assert why not in key_findings(_drivers(reasons=missing, study=_study(has_panel=False)))


def test_aft_wording():
    aft = SimpleNamespace(best="Weibull",
                          comparison=pd.DataFrame({"delta_aic": [0.0, 12.4, 30.2]}))
    assert _line(_drivers(aft=Attempt(aft)), "Parametric check") == (
        "Parametric check: the Weibull time-to-leaving model fits best by AIC (AIC difference "
        "to the next 12).")
