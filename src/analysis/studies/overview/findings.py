"""Key findings of the overview report in plain words."""

from __future__ import annotations

import numpy as np

from analysis.config import ALPHA, MIN_EVENTS, ci_label
from analysis.studies.words import p_text as _p
from analysis.studies.overview.estimate import Overview, hazard_peak

__all__ = [
    "key_findings",
]


#: Level below which a log-rank p counts as evidence of a difference between groups (the
#: significance level of the report's intervals).
_SIGNIFICANT = ALPHA


def key_findings(ov: Overview, min_events: int = MIN_EVENTS) -> str:
    """The report's key findings in plain words (Markdown), computed from the tables.

    With fewer than ``min_events`` departures no group is ranked and no hazard peak is named:
    one line says there are too few departures to compare.
    """
    s = ov.study
    f = s.frame
    lines = []
    events = (int(ov.overall_rate.value["events"].sum()) if ov.overall_rate.ok
              else int(f["event"].sum()) if "event" in f else 0)
    few = events < min_events
    if ov.overall_rate.ok:
        r = ov.overall_rate.value.iloc[0]
        lines.append(
            f"Of **{len(f):,} customers** of {s.scope} {s.period_words}, "
            f"**{int(r['events']):,} left** ({s.attrition_words}): "
            f"**{r['rate_per_100_person_years']:.1f} per 100 customer-years** "
            f"({ci_label()} {r['rate_ci_low']:.1f} to {r['rate_ci_high']:.1f})."
        )
    else:
        lines.append(ov.overall_rate.note)
    if ov.survival_at.ok:
        parts = []
        for _, row in ov.survival_at.value.iterrows():
            if np.isfinite(row["survival"]):
                parts.append(f"{row['survival']:.0%} after {row['time']:.0f} months")
        if parts:
            lines.append("Share of customers still with the bank by tenure: " + ", ".join(parts) + ".")
    if ov.median.ok:
        m = ov.median.value.iloc[0]
        if np.isfinite(m["median"]):
            lines.append(f"Half of customers have left by month **{m['median']:.0f}** of tenure.")
        else:
            lines.append("More than half of customers are still with the bank at the longest tenure observed (median not reached).")
    if few:
        lines.append(f"Too few departures ({events:,}, fewer than {min_events:,}) to compare "
                     "groups or to locate a peak in the risk of leaving.")
    if ov.hazard.ok and not few:
        peak = hazard_peak(ov.hazard.value)
        if np.isfinite(peak):
            lines.append(f"The risk of leaving is highest around **month {peak:.0f}** of tenure (smoothed hazard, first 10 years).")
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
            lines.append(
                f"By {s.groupings[col]}: highest attrition in **{hi[col]}** "
                f"({hi['rate_per_100_person_years']:.1f} per 100 customer-years), lowest in "
                f"**{lo[col]}** ({lo['rate_per_100_person_years']:.1f}) "
                f"(log-rank {_p(lr.value.p)})."
            )
        else:  # no evidence of a difference: the range, not a ranking
            why = (f"no clear difference between the groups (log-rank {_p(lr.value.p)})"
                   if tested else "not tested")
            lines.append(
                f"By {s.groupings[col]}: attrition from {lo['rate_per_100_person_years']:.1f} "
                f"(**{lo[col]}**) to {hi['rate_per_100_person_years']:.1f} per 100 customer-years "
                f"(**{hi[col]}**); {why}."
            )
    if np.isfinite(ov.top20_share):
        lines.append(
            f"The top 20% of customers bring **{ov.top20_share:.0%} of {s.value_words}** "
            f"(the field's rule of thumb says about 80% of profit)."
        )
    lines.append(
        "Differences between groups here are descriptive: they are not adjusted for other "
        "differences between the customers. The product-count and drivers reports adjust."
    )
    return "\n".join(f"- {line}" for line in lines)
