"""Wording rules of the customer-value report: words never say more than the numbers."""

from __future__ import annotations

import numpy as np

from analysis.studies.value.estimate import Assumptions
from analysis.studies.value.findings import (assumption_words, contact_sentence, gain_sentence,
                                             replacement_sentence, risk_sentence, tier_sentence,
                                             waiver_sentence)


def test_a_tier_is_worth_the_most_only_when_its_interval_clears_every_other():
    clear = tier_sentence([1, 2, 5], [300, 800, 9000], [250, 700, 8000], [350, 900, 10000], "w")
    assert "**the most**" in clear and "30 times a tier 1 customer" in clear
    # tier 5's interval reaches below tier 2's upper limit: no ranking word
    overlap = tier_sentence([1, 2, 5], [300, 800, 9000], [250, 700, 850], [350, 900, 20000], "w")
    assert "the most" not in overlap and "too wide to rank" in overlap


def test_a_scenario_gains_only_when_the_profit_interval_excludes_zero():
    gain = gain_sentence("One more product", (2.4, 1.4, 3.4), (1246, 449, 2043), "w")
    assert "**gains** 1,246 yuan" in gain and "2.4 more months" in gain
    loss = gain_sentence("X", (-1.0, -2.0, -0.1), (-300, -500, -100), "w")
    assert "**loses** 300 yuan" in loss
    unclear = gain_sentence("X", (0.4, -1.0, 1.8), (100, -300, 500), "w")
    assert "no clear gain" in unclear and "gains" not in unclear.replace("no clear gain", "")


def test_every_money_figure_carries_its_assumptions():
    a = Assumptions(horizon=36, discount_rate=0.1)
    words = assumption_words(a)
    assert words == "over the next 36 months, discounted at 10% a year"
    text = gain_sentence("X", (1, 0.5, 1.5), (10, 5, 15), words)
    assert words in text and "yuan" in text
    risk = risk_sentence(12.4, 5000, 4000, 6000, 0.5)
    assert "undiscounted" in risk and "12 months" in risk and "yuan" in risk


def test_waiver_gives_the_effect_needed_and_says_the_data_hold_no_waivers():
    text = waiver_sentence(0.72, 0.68, 0.77, 600, [4, 5])
    assert "at least 28%" in text and "no waiver history" in text and "600 yuan" in text
    never = waiver_sentence(float("nan"), None, None, 600, [4, 5])
    assert "does not pay for itself" in never


def test_contact_break_even_and_replacement_arithmetic():
    text = contact_sentence([1, 5], [50 / (1450 - 200), 50 / (150200 - 200)], 0.3, 50, 200)
    assert "4.0% of contacted leavers stay in tier 1" in text and "0.03% in tier 5" in text
    assert "–" in contact_sentence([1], [np.nan], 0.3, 50, 200)
    r = replacement_sentence({"departures": 10.2, "replace_cost": 15300.0, "retain_cost": 3740.0,
                              "acquisition_cost": 1500.0, "cost_per_kept": 366.67})
    assert "10 expected departures" in r and "15,300 yuan" in r and "367 yuan per customer" in r


def test_a_model_predicts_better_only_when_the_brier_difference_excludes_zero():
    from analysis.studies.value.findings import holdout_sentence

    better = holdout_sentence(-0.004, -0.006, -0.002, -0.025, -0.024)
    assert "**better**" in better and "lower by 0.0040" in better and "-2.5%" in better
    worse = holdout_sentence(0.003, 0.001, 0.005, 0.01, 0.02)
    assert "**worse**" in worse and "higher by 0.0030" in worse
    same = holdout_sentence(-0.0008, -0.002, 0.0004, -0.025, -0.024)
    assert "about equally well" in same and "better" not in same and "worse" not in same
