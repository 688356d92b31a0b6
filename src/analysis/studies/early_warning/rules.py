"""The rules branches use today, written as configurable rules (a name -> rule registry).

A rule looks at this month's signals and returns, for each customer, whether it flags them and
a score that orders the flagged (higher first). A branch calls its flagged customers, at most as
many as its list holds; a rule never fills a short list with customers it did not flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from analysis.config import WATCH_OUTFLOW_AMOUNT, WATCH_OUTFLOW_SHARE, WATCH_RULE_TIERS
from analysis.i18n import tr

__all__ = ["Rule", "RuleSettings", "RULES", "apply_rules", "moved_out"]


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds of the rules (defaults from :mod:`analysis.config`)."""

    tiers: tuple[int, ...] = WATCH_RULE_TIERS
    outflow_share: float = WATCH_OUTFLOW_SHARE
    outflow_amount: float = WATCH_OUTFLOW_AMOUNT
    seed: int = 0


@dataclass(frozen=True)
class Rule:
    """A named rule: plain words and the function ``(rows, settings, month) -> (flag, score)``."""

    name: str
    words: Callable[[RuleSettings], str]
    apply: Callable[[pd.DataFrame, RuleSettings, int], tuple[np.ndarray, np.ndarray]]


def moved_out(rows: pd.DataFrame) -> np.ndarray:
    """Money moved out this month: last month's AUM times the share moved out."""
    share = rows["share_out_1m"].to_numpy(float)
    return rows["aum"].to_numpy(float) * share / np.maximum(1 - share, 1e-9)


def _tier_outflow(rows, s: RuleSettings, month: int):
    share = rows["share_out_1m"].to_numpy(float)
    flag = (np.isin(rows["tier_start"].to_numpy(), s.tiers)
            & ((share >= s.outflow_share) | (moved_out(rows) >= s.outflow_amount)))
    return flag, share


def _largest_aum(rows, s: RuleSettings, month: int):
    return np.ones(len(rows), bool), rows["aum"].to_numpy(float)


def _last_outflow(rows, s: RuleSettings, month: int):
    amount = moved_out(rows)
    flag = rows["share_out_1m"].to_numpy(float) >= s.outflow_share
    return flag, amount


def _random(rows, s: RuleSettings, month: int):
    # seeded by the month, so the same month always gets the same order
    return np.ones(len(rows), bool), np.random.default_rng([s.seed, month]).random(len(rows))


def _tiers_words(s: RuleSettings) -> str:
    t = sorted(s.tiers)
    tiers = (f"{t[0]}-{t[-1]}" if len(t) > 1 and t == list(range(t[0], t[-1] + 1))
             else "/".join(map(str, t)))
    return tr("tier {tiers}", tiers=tiers)


#: The rule baselines, in the report's order.
RULES: dict[str, Rule] = {
    "rule_tier_outflow": Rule(
        "rule_tier_outflow",
        lambda s: tr("{tiers} customers who moved out more than {share} of their assets (or "
                     "more than {amount}) this month", tiers=_tiers_words(s),
                     share=f"{s.outflow_share:.0%}", amount=f"{s.outflow_amount:,.0f}"),
        _tier_outflow),
    "rule_largest_aum": Rule("rule_largest_aum", lambda s: tr("largest AUM first"), _largest_aum),
    "rule_last_outflow": Rule(
        "rule_last_outflow",
        lambda s: tr("largest outflows last month first (customers who moved out more than "
                     "{share} of their assets)", share=f"{s.outflow_share:.0%}"),
        _last_outflow),
    "random": Rule("random", lambda s: tr("customers picked at random"), _random),
}


def apply_rules(rows: pd.DataFrame, month: int, settings: RuleSettings = RuleSettings(),
                names=tuple(RULES)) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``name -> (flag, score)`` for every rule in ``names``."""
    return {n: RULES[n].apply(rows, settings, month) for n in names}
