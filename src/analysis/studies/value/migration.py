"""Value-tier migration of the customer-value report (the paper's "potential high-value
customers"): monthly moves between tiers and to departure, and who climbs to tier 4+ in a year.

Thin wrappers over :mod:`analysis.stats.migration` for the study's panel and as-of month.
"""

from __future__ import annotations

import pandas as pd

from analysis.errors import Attempt, attempt
from analysis.stats.migration import reach_crosscheck, reach_tier, tier_transitions
from analysis.studies.population import Study

__all__ = ["tier_migration", "transition_table"]


def _migration(study: Study, within: int) -> dict:
    p = study.portfolio
    as_of = pd.Timestamp(study.as_of or p.window_end)
    panel = p.panel[pd.to_datetime(p.panel["month"]) <= as_of]
    cols = [c for c in ("customer_id", "month", "tier", "n_products", "closed") if c in panel]
    panel = panel[cols]
    check = reach_crosscheck(panel, as_of=as_of, from_tiers=(2, 3), target=4, within=within)
    return {"transitions": tier_transitions(panel, as_of=as_of, months=12),
            "reach": reach_tier(panel, as_of=as_of, from_tiers=(2, 3), target=4, within=within),
            "direct": float(check["share_reached"].iloc[0]),
            "markov": float(check["share_reached"].iloc[1]),
            "landmark": f"{as_of - pd.DateOffset(months=within):%Y-%m-%d}"}


def tier_migration(study: Study, within: int = 12) -> Attempt:
    """Transitions, the cohort reaching tier 4+ and the Markov cross-check (an Attempt)."""
    if not study.has_panel:
        return Attempt(note="Not estimable: tier migration needs monthly histories; this "
                       "dataset has one row per customer")
    if "tier" not in study.portfolio.panel:
        return Attempt(note="Not estimable: the data have no value tier")
    return attempt(_migration, study, within)


def transition_table(transitions: pd.DataFrame) -> pd.DataFrame:
    """Monthly transition rates as a from-tier x to-state table (shares), departures last."""
    m = transitions.pivot(index="from_tier", columns="to_state", values="rate")
    order = sorted(c for c in m.columns if c != "departed") + ["departed"]
    m = m[order].reset_index()
    m["from_tier"] = m["from_tier"].astype(int)
    return m
