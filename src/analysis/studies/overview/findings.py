"""Key findings of the overview report in plain words."""

from __future__ import annotations

import numpy as np

from analysis.i18n import format_money, tr, tr_value
from analysis.config import ALPHA, MIN_EVENTS, ci_label
from analysis.studies.words import p_text as _p
from analysis.studies.overview.estimate import Overview, hazard_peak
from analysis.studies.overview.versus_bank import versus_bank_words
from analysis.studies.population import counted_numbers
from analysis.studies.drivers.findings import outflow_words

__all__ = [
    "key_findings",
]


#: Level below which a log-rank p counts as evidence of a difference between groups (the
#: significance level of the report's intervals).
_SIGNIFICANT = ALPHA


def departed_value_sentence(events: int, value: float, words: str) -> str:
    """The annual value the departed customers took with them, pointing to report 05.

    >>> departed_value_sentence(1429, 2.5e6, "profit")
    'The 1,429 customers who left brought **2,500,000 yuan** of annual profit while they were customers; what that costs over the coming years, and what keeping them is worth: the customer-value report, linked at the top.'
    """
    return tr("The {events} customers who left brought **{value}** of annual {what} while they "
              "were customers; what that costs over the coming years, and what keeping them is "
              "worth: the customer-value report, linked at the top.", events=f"{events:,}",
              value=format_money(value), what=words)


def key_findings(ov: Overview, min_events: int = MIN_EVENTS) -> str:
    """The report's key findings in plain words (Markdown), computed from the tables.

    With fewer than ``min_events`` departures no group is ranked and no hazard peak is named:
    one line says there are too few departures to compare.
    """
    s = ov.study
    numbers = counted_numbers(s.counted_frame)
    lines = []
    events = (int(ov.overall_rate.value["events"].sum()) if ov.overall_rate.ok
              else numbers["events"])
    few = events < min_events
    if ov.overall_rate.ok:
        r = ov.overall_rate.value.iloc[0]
        lines.append(tr(
            "Of **{n} customers** of {scope} {period}, **{events} left** ({definition}): "
            "**{rate} per 100 customer-years** ({ci} {low} to {high}).",
            n=f"{numbers['customers']:,}", scope=s.scope, period=s.period_words, events=f"{int(r['events']):,}",
            definition=s.attrition_words, rate=f"{r['rate_per_100_person_years']:.1f}",
            ci=ci_label(), low=f"{r['rate_ci_low']:.1f}", high=f"{r['rate_ci_high']:.1f}"))
    else:
        lines.append(ov.overall_rate.note)
    if ov.versus_bank is not None and ov.versus_bank.ok:
        lines.append(versus_bank_words(ov.versus_bank.value))
    if ov.warning is not None and ov.warning.ok and not few:
        lines.append(outflow_words(ov.warning.value) + " " + tr(
            "(Adjusted time-varying model of the drivers report, which quotes the same number.)"))
    if ov.survival_at.ok:
        parts = []
        for _, row in ov.survival_at.value.iterrows():
            if np.isfinite(row["survival"]):
                parts.append(tr("{share} after {months} months", share=f"{row['survival']:.0%}",
                                months=f"{row['time']:.0f}"))
        if parts:
            lines.append(tr("Share of customers still with the bank by tenure: {parts}.",
                            parts=tr(", ").join(parts)))
    if ov.median.ok:
        m = ov.median.value.iloc[0]
        if np.isfinite(m["median"]):
            lines.append(tr("Half of customers have left by month **{month}** of tenure.",
                            month=f"{m['median']:.0f}"))
        else:
            lines.append(tr("More than half of customers are still with the bank at the longest "
                            "tenure observed (median not reached)."))
    if few:
        lines.append(tr("Too few departures ({events}, fewer than {minimum}) to compare groups or "
                        "to locate a peak in the risk of leaving.", events=f"{events:,}",
                        minimum=f"{min_events:,}"))
    if ov.hazard.ok and not few:
        peak = hazard_peak(ov.hazard.value)
        if np.isfinite(peak):
            lines.append(tr("The risk of leaving is highest around **month {month}** of tenure "
                            "(smoothed hazard, first 10 years).", month=f"{peak:.0f}"))
    for col in ([] if few else s.groupings):
        if col == "branch":
            continue
        rates = ov.rates.get(col)
        lr = ov.logrank.get(col)
        if rates is None or not rates.ok:
            continue
        t = rates.value.dropna(subset=["rate_per_100_person_years"])
        t = t[t["events"] > 0] if (t["events"] > 0).sum() >= 2 else t
        if len(t) < 2:
            continue
        hi = t.loc[t["rate_per_100_person_years"].idxmax()]
        lo = t.loc[t["rate_per_100_person_years"].idxmin()]
        tested = lr is not None and lr.ok
        if tested and lr.value.p < _SIGNIFICANT:
            lines.append(tr(
                "By {words}: highest attrition in **{high}** ({high_rate} per 100 "
                "customer-years), lowest in **{low}** ({low_rate}) (log-rank {p}).",
                words=s.groupings[col], high=tr_value(hi[col]),
                high_rate=f"{hi['rate_per_100_person_years']:.1f}", low=tr_value(lo[col]),
                low_rate=f"{lo['rate_per_100_person_years']:.1f}", p=_p(lr.value.p)))
        else:  # no evidence of a difference: the range, not a ranking
            why = (tr("no clear difference between the groups (log-rank {p})", p=_p(lr.value.p))
                   if tested else tr("not tested"))
            lines.append(tr(
                "By {words}: attrition from {low_rate} (**{low}**) to {high_rate} per 100 "
                "customer-years (**{high}**); {why}.", words=s.groupings[col],
                low_rate=f"{lo['rate_per_100_person_years']:.1f}", low=tr_value(lo[col]),
                high_rate=f"{hi['rate_per_100_person_years']:.1f}", high=tr_value(hi[col]),
                why=why))
    if np.isfinite(ov.departed_value) and events > 0:
        lines.append(departed_value_sentence(events, ov.departed_value, s.value_words))
    if np.isfinite(ov.top20_share):
        lines.append(tr(
            "The top 20% of customers bring **{share} of {value}** (the field's rule of thumb "
            "says about 80% of profit).", share=f"{ov.top20_share:.0%}", value=s.value_words))
    lines.append(tr(
        "Differences between groups here are descriptive: they are not adjusted for other "
        "differences between the customers. The product-count and drivers reports adjust."))
    return "\n".join(f"- {line}" for line in lines)
