"""Wording rules of the overview report's key findings (studies/overview/findings.py).

Each test builds the tables of an :class:`Overview` by hand, with known numbers, and checks
the sentence each rule writes: which group is called highest and lowest, when a ranking is
made at all (only when the log-rank test finds a difference), and the lines that depend on
whether a number could be estimated.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.errors import Attempt
from analysis.studies.overview.estimate import Overview
from analysis.studies.overview.findings import key_findings

NOTE = "Not estimable: no customer left"


def _study(groupings=None):
    frame = pd.DataFrame({"customer_id": range(1234)})
    return SimpleNamespace(
        frame=frame, counted_frame=frame, scope="the whole bank",
        period_words="observed Jan 2020 to Dec 2023", attrition_words="account closure",
        groupings={"tier": "value tier"} if groupings is None else groupings,
        value_words="the value")


def _rates(col="tier", levels=("A", "B", "C"), rates=(3.0, 5.5, 9.0), events=(10, 20, 30)):
    return Attempt(pd.DataFrame({col: list(levels), "events": list(events),
                                 "rate_per_100_person_years": list(rates)}))


def _logrank(p):
    return Attempt(SimpleNamespace(p=p))


def _overview(**kw):
    base = dict(
        study=_study(), horizons=[12, 24], summary=pd.DataFrame(),
        overall_rate=Attempt(pd.DataFrame({"events": [321], "rate_per_100_person_years": [6.54],
                                           "rate_ci_low": [5.86], "rate_ci_high": [7.3]})),
        rates={"tier": _rates()}, logrank={"tier": _logrank(0.0004)},
        survival_at=Attempt(note=NOTE), median=Attempt(note=NOTE), hazard=Attempt(note=NOTE),
    )
    base.update(kw)
    return Overview(**base)


def _lines(ov) -> list[str]:
    text = key_findings(ov)
    lines = text.split("\n")
    assert all(line.startswith("- ") for line in lines)
    return [line[2:] for line in lines]


def _line(ov, start: str) -> str:
    found = [line for line in _lines(ov) if line.startswith(start)]
    assert len(found) == 1, f"expected one line starting {start!r}: {_lines(ov)}"
    return found[0]


def test_overall_rate_line_and_its_note():
    ov = _overview()
    assert _lines(ov)[0] == (
        "Of **1,234 customers** of the whole bank observed Jan 2020 to Dec 2023, **321 left** "
        "(account closure): **6.5 per 100 customer-years** (95% CI 5.9 to 7.3).")
    assert _lines(_overview(overall_rate=Attempt(note=NOTE)))[0] == NOTE


def test_group_ranking_names_the_highest_and_lowest_rate():
    """Highest attrition is the group with the largest rate, lowest the smallest."""
    line = _line(_overview(), "By value tier")
    assert line == ("By value tier: highest attrition in **C** (9.0 per 100 customer-years), lowest in "
                    "**A** (3.0) (log-rank p < 0.001).")
    # the same groups in another row order and another ranking
    ov = _overview(rates={"tier": _rates(levels=("A", "B", "C"), rates=(7.0, 2.5, 4.0))},
                   logrank={"tier": _logrank(0.012)})
    assert _line(ov, "By value tier") == (
        "By value tier: highest attrition in **A** (7.0 per 100 customer-years), lowest in **B** "
        "(2.5) (log-rank p = 0.012).")


def test_no_ranking_without_evidence_of_a_difference():
    """log-rank p >= 0.05: the range of rates in words, neither 'highest' nor 'lowest'."""
    ov = _overview(logrank={"tier": _logrank(0.41)})
    line = _line(ov, "By value tier")
    assert line == ("By value tier: attrition from 3.0 (**A**) to 9.0 per 100 customer-years (**C**); "
                    "no clear difference between the groups (log-rank p = 0.410).")
    assert "highest" not in line and "lowest" not in line
    edge = _line(_overview(logrank={"tier": _logrank(0.05)}), "By value tier")
    assert "highest" not in edge and "p = 0.050" in edge
    untested = _line(_overview(logrank={}), "By value tier")
    assert untested.endswith("(**C**); not tested.") and "highest" not in untested
    failed = _line(_overview(logrank={"tier": Attempt(note=NOTE)}), "By value tier")
    assert failed.endswith("not tested.")


def test_groups_without_departures_are_left_out_of_the_ranking():
    # two groups with departures: the one with none (rate 0) is not "lowest"
    ov = _overview(rates={"tier": _rates(rates=(0.0, 5.5, 9.0), events=(0, 20, 30))})
    assert "lowest in **B** (5.5)" in _line(ov, "By value tier")
    # only one group with departures: all groups stay, so the empty one is lowest
    ov = _overview(rates={"tier": _rates(rates=(0.0, 0.0, 9.0), events=(0, 0, 30))})
    line = _line(ov, "By value tier")
    assert "highest attrition in **C**" in line and "lowest in **A** (0.0)" in line


def test_no_group_line_for_branch_single_groups_or_missing_rates():
    study = _study({"tier": "value tier", "branch": "branch", "segment": "segment"})
    ov = _overview(study=study,
                   rates={"tier": _rates(), "branch": _rates("branch"),
                          "segment": _rates("segment", levels=("x",), rates=(4.0,), events=(5,))},
                   logrank={"tier": _logrank(0.0004), "branch": _logrank(0.0001)})
    by = [line for line in _lines(ov) if line.startswith("By ")]
    assert by == [_line(ov, "By value tier")]  # branch skipped, one-level segment skipped
    ov = _overview(rates={"tier": Attempt(note=NOTE)})
    assert not [line for line in _lines(ov) if line.startswith("By ")]
    nan_rates = _rates(rates=(np.nan, 5.0, np.nan))
    assert not [line for line in _lines(_overview(rates={"tier": nan_rates}))
                if line.startswith("By ")]


def test_survival_median_and_hazard_peak_lines():
    surv = Attempt(pd.DataFrame({"time": [12, 24, 36], "survival": [0.912, 0.8, np.nan]}))
    hazard = Attempt(pd.DataFrame({"time": [1, 14, 60, 130],
                                   "hazard_smooth": [0.01, 0.03, 0.02, 0.09]}))
    ov = _overview(survival_at=surv, median=Attempt(pd.DataFrame({"median": [47.4]})),
                   hazard=hazard, top20_share=0.634)
    assert _line(ov, "Share") == ("Share of customers still with the bank by tenure: 91% after "
                                  "12 months, 80% after 24 months.")
    assert _line(ov, "Half") == "Half of customers have left by month **47** of tenure."
    # the peak is searched in the first 10 years: month 14, not month 130
    assert _line(ov, "The risk") == ("The risk of leaving is highest around **month 14** of "
                                     "tenure (smoothed hazard, first 10 years).")
    assert _line(ov, "The top 20%") == ("The top 20% of customers bring **63% of the value** (the "
                                        "field's rule of thumb says about 80% of profit).")
    assert _lines(ov)[-1].startswith("Differences between groups here are descriptive")


def test_median_not_reached_and_missing_numbers_write_nothing_false():
    ov = _overview(median=Attempt(pd.DataFrame({"median": [np.inf]})),
                   survival_at=Attempt(pd.DataFrame({"time": [12], "survival": [np.nan]})),
                   hazard=Attempt(pd.DataFrame({"time": [130], "hazard_smooth": [0.05]})))
    assert _line(ov, "More than half") == (
        "More than half of customers are still with the bank at the longest tenure observed "
        "(median not reached).")
    text = key_findings(ov)
    assert "Share of customers" not in text  # no finite survival
    assert "highest around" not in text  # no hazard in the first 10 years
    assert "top 20%" not in text  # share not estimated (NaN)


@pytest.mark.parametrize("p, words", [(0.0004, "p < 0.001"), (0.001, "p = 0.001"),
                                      (0.0312, "p = 0.031")])
def test_p_value_wording(p, words):
    assert f"(log-rank {words})." in _line(_overview(logrank={"tier": _logrank(p)}), "By ")


def _rate(events):
    return Attempt(pd.DataFrame({"events": [events], "rate_per_100_person_years": [0.0],
                                 "rate_ci_low": [0.0], "rate_ci_high": [0.4]}))


@pytest.mark.parametrize("events", [0, 9])
def test_too_few_departures_rank_no_group_and_name_no_peak(events):
    """Degenerate data: no 'highest attrition in 1 (0.0), lowest in 1 (0.0)', no 'month 1' peak."""
    hazard = Attempt(pd.DataFrame({"time": [1, 14], "hazard_smooth": [0.0, 0.0]}))
    ov = _overview(overall_rate=_rate(events), hazard=hazard,
                   rates={"tier": _rates(rates=(0.0, 0.0, 0.0), events=(0, 0, 0))})
    text = key_findings(ov)
    assert "highest" not in text and "lowest" not in text and "By value tier" not in text
    assert _line(ov, "Too few") == (f"Too few departures ({events}, fewer than 10) to compare "
                                    "groups or to locate a peak in the risk of leaving.")
    # the threshold is a parameter: with min_events lowered the ranking comes back
    assert "By value tier" in key_findings(_overview(overall_rate=_rate(events)), min_events=0)


def test_enough_departures_write_no_warning():
    assert "Too few" not in key_findings(_overview(overall_rate=_rate(10)))


def test_a_book_without_departures_says_so_end_to_end():
    """A real (generated) book with every closure removed: the findings and the top note."""
    from analysis.data import generate_portfolio
    from analysis.studies.overview.estimate import attrition_overview
    from analysis.studies.population import events_note, prepare_study

    p = generate_portfolio(300, months=6, seed=11)
    p.panel["closed"] = False
    study = prepare_study(portfolio=p)
    assert int(study.frame["event"].sum()) == 0
    text = key_findings(attrition_overview(study))
    assert "highest" not in text and "lowest" not in text and "month 1" not in text
    assert "Too few departures (0, fewer than 10)" in text
    assert events_note(study).startswith(f"No departure among {len(study.frame):,} customers")


def test_scope_keeps_the_branch_name_as_written():
    from analysis.data import generate_portfolio
    from analysis.studies.overview.estimate import portfolio_summary
    from analysis.studies.population import prepare_study

    study = prepare_study(portfolio=generate_portfolio(300, seed=3), branch="North")
    table = portfolio_summary(study)
    scope = table.loc[table.iloc[:, 0] == "Scope"].iloc[0, 1]
    assert scope == "Branch North"  # not "Branch north" (str.capitalize lowers the rest)
