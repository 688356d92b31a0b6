"""Wording rules of report 04's key findings (studies/early_warning/findings.py): "beats" only
when the interval of the difference excludes zero, the oracle gap, the list size that pays,
the recommendation, and the lines for a snapshot without a backtest."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from analysis.errors import Attempt
from analysis.studies.early_warning.findings import (compare_sentence, key_findings,
                                                     list_sentence, list_size_sentence,
                                                     oracle_sentence, recommendation)


def test_beats_only_when_the_interval_excludes_zero():
    assert compare_sentence("X", 0.10, 0.01, 0.2).startswith("The risk model **beats** X: its list held 10 points more")
    s = compare_sentence("X", 0.10, -0.01, 0.2)
    assert "beats" not in s and s.endswith("(difference 10 points, 95% CI -1 to 20): no clear winner.")
    assert compare_sentence("X", -0.10, -0.2, -0.02) == (
        "The risk model did **worse** than X: its list held 10 points less of the departing "
        "profit (95% CI -20 to -2).")


def test_oracle_gap_wording_at_the_tolerance():
    assert oracle_sentence(2.7, 3.0).endswith("the model is within 10% of the best possible.")
    assert oracle_sentence(2.6, 3.0).endswith("the model falls 13% short of the best possible.")
    assert oracle_sentence(3.2, 3.0).endswith("within 10% of the best possible.")


def test_list_size_that_pays():
    assert list_size_sentence(0, 20).startswith("At these costs and success rate no list pays")
    assert list_size_sentence(7, 20) == ("Expected profit is highest with **7 customers per "
                                         "branch a month** (the list now holds 20).")


def test_recommendation_names_the_winner_only_when_clear():
    clear = {"a": (0.2, 0.1, 0.3), "b": (0.1, 0.02, 0.2)}
    assert recommendation({"model": 0.5, "a": 0.3, "b": 0.4}, clear).startswith("Use the risk model")
    unclear = {"a": (0.2, 0.1, 0.3), "b": (0.05, -0.02, 0.1)}
    assert recommendation({"model": 0.5, "a": 0.3, "b": 0.45}, unclear).endswith(
        "but not clearly more than every rule.")
    worse = {"a": (-0.1, -0.2, 0.05)}
    assert recommendation({"model": 0.3, "a": 0.4}, worse) == (
        "The list \u201ca\u201d captured the most departing profit; the risk model does not "
        "clearly beat it.")


def test_list_sentence_numbers():
    s = list_sentence(pd.Timestamp("2025-06-01"), 3, 20, 1234.4, 50.0, 2.6, 6)
    assert s == ("For June 2025 the list holds **3 customers** (up to 20 per branch) with AUM "
                 "1,234 yuan and annual profit 50 yuan; the profit expected to leave with them "
                 "within 6 months is 3 yuan.")


def test_snapshot_findings_say_what_a_panel_would_add():
    cur = pd.DataFrame({"aum": [1.0, 2.0], "annual_profit": [10.0, 20.0],
                        "value_at_risk": [1.0, 1.0]})
    ew = SimpleNamespace(current=Attempt(cur), as_of=pd.Timestamp("2024-01-01"), list_size=20,
                         horizon=3, study=SimpleNamespace(as_of=None),
                         backtest=Attempt(note="A monthly panel would add the signals."))
    text = key_findings(ew)
    assert text.splitlines() == [
        "- For January 2024 the list holds **2 customers** (up to 20 per branch) with AUM 3 yuan "
        "and annual profit 30 yuan; the profit expected to leave with them within 3 months is "
        "2 yuan.",
        "- A monthly panel would add the signals."]


def test_no_list_says_why():
    ew = SimpleNamespace(current=Attempt(note="Not estimable: too few departures"), as_of=None,
                         list_size=20, horizon=3, study=SimpleNamespace(as_of=None),
                         backtest=Attempt(note="Not estimable: too short"))
    assert key_findings(ew) == "- Not estimable: too few departures\n- Not estimable: too short"
