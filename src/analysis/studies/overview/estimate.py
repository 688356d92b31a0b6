"""The attrition overview report: who leaves and when (report 01).

:func:`attrition_overview` computes every table of the report from a :class:`~analysis.studies.population.Study`;
:func:`key_findings` turns them into plain sentences and :func:`headline` into the JSON numbers.
Each section that the data cannot support carries a note instead of a table.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
import numpy as np
import pandas as pd

from analysis.i18n import format_month, language, tr, tr_value
from analysis.config import HIGH_VALUE_TIER
from analysis.errors import Attempt, attempt
from analysis.studies.population import Study, counted_numbers
from analysis.studies.overview.versus_bank import versus_bank
from analysis.studies.drivers.estimate import outflow_warning
from analysis.stats.concentration import gini, lorenz_curve, top_share
from analysis.stats.rates import attrition_rates, hazard_by_tenure
from analysis.stats.km import km_table, median_survival, survival_at
from analysis.stats.hypothesis import logrank
from analysis.stats.rmst import rmst

__all__ = [
    "Overview",
    "portfolio_summary",
    "attrition_overview",
]


# every customer: one row each, or a large book's counts (``customers`` per row)
SURV = dict(duration="duration", event="event", entry="entry", counts="customers")


@dataclass
class Overview:
    """All tables of the overview report (each an :class:`~analysis.errors.Attempt`)."""

    study: Study
    horizons: list[int]
    summary: pd.DataFrame
    overall_rate: Attempt
    rates: dict[str, Attempt] = field(default_factory=dict)
    km: dict[str, Attempt] = field(default_factory=dict)
    logrank: dict[str, Attempt] = field(default_factory=dict)
    survival_at: Attempt | None = None
    survival_at_products: Attempt | None = None
    rmst: Attempt | None = None
    median: Attempt | None = None
    median_by: dict[str, Attempt] = field(default_factory=dict)
    hazard: Attempt | None = None
    lorenz: Attempt | None = None
    versus_bank: Attempt | None = None  # a branch's report: the branch against the bank
    warning: Attempt | None = None  # the outflow warning effect (the drivers report's model)
    km_all: Attempt | None = None  # all customers' curve: the yardstick of the small multiples
    top20_share: float = float("nan")
    departed_value: float = float("nan")  # annual value of the customers who left
    gini: float = float("nan")


def portfolio_summary(study: Study) -> pd.DataFrame:
    """A two-column table (item, value) describing the population studied."""
    f = study.counted_frame
    numbers = counted_numbers(f)
    p = study.portfolio
    zh = language() == "zh"

    def month(ts):
        return format_month(ts, "zh") if zh else f"{ts:%b %Y}"

    if study.has_panel:
        window = tr("{start} to {end}", start=month(p.window_start), end=month(study.as_of))
    elif study.as_of is not None:
        day = f"{study.as_of:%Y-%m-%d}" if zh else f"{study.as_of:%d %b %Y}"
        window = tr("one-row-per-customer snapshot as of {day}", day=day)
    else:
        window = tr("one-row-per-customer snapshot")
    rows = [
        (tr("Scope"), study.scope[:1].upper() + study.scope[1:]),
        (tr("Data source"), tr("synthetic portfolio (known truth)") if p.truth is not None
         else p.source.split("/")[-1]),
        (tr("Attrition definition"), study.attrition_words),
        (tr("Observation"), window),
        (tr("Customers studied"), f"{numbers['customers']:,}"),
        (tr("Already on book when observation started"),
         tr("{n} (left truncation, handled)", n=f"{numbers['left_truncated']:,}")),
        (tr("Customers who left"), f"{numbers['events']:,}"),
        (tr("Customer-years observed"), f"{numbers['customer_months'] / 12:,.0f}"),
    ]
    n = f["customers"].to_numpy()
    if "n_products_entry" in f:
        median = pd.Series(np.repeat(f["n_products_entry"].to_numpy(), n)).median()  # NaN: skip
        rows.append((tr("Median products held at entry"), f"{median:.0f}"))
    if "tier_entry" in f:
        high_value = (f["tier_entry"] >= HIGH_VALUE_TIER).fillna(False).to_numpy(dtype=bool)
        high = n[high_value].sum() / n.sum()
        rows.append((tr("High-value (tier {tier}+) at entry", tier=HIGH_VALUE_TIER),
                     f"{high:.0%}"))
    rows.append((tr("Excluded customers"), f"{len(study.counted_exclusions):,}"))
    if study.sample is not None:
        rows.append((tr("Models fitted on"),
                     tr("a seeded random sample of {n} customers (seed {seed})",
                        n=f"{study.sample.customers:,}", seed=study.sample.seed)))
    for i, text in enumerate(p.notes, 1):
        rows.append((tr("Data note {i}", i=i), text))
    return pd.DataFrame(rows, columns=["item", "value"])


def _exclusion_table(study: Study) -> pd.DataFrame:
    exclusions = study.counted_exclusions
    if exclusions.empty:
        return pd.DataFrame(columns=["reason", "customers"])
    table = exclusions["reason"].value_counts().rename_axis("reason").reset_index(name="customers")
    table["reason"] = table["reason"].map(_reason_words)
    return table


_BELOW_TIER_RE = re.compile(r"below tier (\d+) when first observed: not in the high-value book")


def _reason_words(reason: str) -> str:
    """An exclusion reason of the data layer in the report's language."""
    m = _BELOW_TIER_RE.fullmatch(str(reason))
    if m:
        return tr("below tier {tier} when first observed: not in the high-value book",
                  tier=m.group(1))
    return tr_value(reason)


def attrition_overview(study: Study, horizons=(12, 24, 36)) -> Overview:
    """Compute every table of the overview report.

    Parameters
    ----------
    study : Study
        From :func:`analysis.studies.population.prepare_study`.
    horizons : sequence of int
        Tenure horizons (months) for survival and restricted mean survival time.
    """
    f = study.counted_frame  # a large book: counts of every customer (models use the sample)
    horizons = [int(h) for h in horizons]
    f = f.assign(all="all")
    ov = Overview(
        study=study,
        horizons=horizons,
        summary=portfolio_summary(study),
        overall_rate=attempt(attrition_rates, f, by="all", **SURV),
    )
    for col in study.groupings:
        ov.rates[col] = attempt(attrition_rates, f, by=col, **SURV)
        ov.km[col] = attempt(km_table, f, group=col, **SURV)
        ov.logrank[col] = attempt(logrank, f, group=col, **SURV)
        ov.median_by[col] = attempt(median_survival, f, group=col, **SURV)
    ov.km_all = attempt(km_table, f, **SURV)
    ov.survival_at = attempt(survival_at, f, horizons, **SURV)
    ov.survival_at_products = attempt(survival_at, f, horizons, group="product_group", **SURV)
    ov.rmst = attempt(rmst, f, horizons, **SURV)
    ov.median = attempt(median_survival, f, **SURV)
    ov.hazard = attempt(hazard_by_tenure, f, bandwidth=6, **SURV)
    annual_profit = study.counted_values  # every customer's: concentration needs each one
    if annual_profit is None:
        ov.lorenz = Attempt(note="Not estimable: the data have no value (profit or balance) column.")
    elif len(annual_profit) >= 5:
        ov.lorenz = Attempt(value=lorenz_curve(annual_profit))
        ov.top20_share = top_share(annual_profit, 0.2)
        ov.gini = gini(annual_profit)
        # the counts' value column is the sum over the row's customers
        ov.departed_value = float(f[study.value_column][f["event"].to_numpy(dtype=bool)].sum())
    else:
        ov.lorenz = Attempt(note="Not estimable: fewer than 5 customers.")
    ov.exclusions = _exclusion_table(study)
    if study.params.get("branch") is not None:
        ov.versus_bank = attempt(versus_bank, study)
    if study.has_panel:
        ov.warning = attempt(outflow_warning, study)
    return ov


def hazard_peak(haz: pd.DataFrame, max_tenure: float = 120) -> float:
    """Tenure month where the smoothed hazard is highest (within the first ``max_tenure`` months)."""
    h = haz[(haz["time"] <= max_tenure) & haz["hazard_smooth"].notna()]
    if h.empty:
        return float("nan")
    return float(h.loc[h["hazard_smooth"].idxmax(), "time"])
