"""The attrition overview report: who leaves and when (report 01).

:func:`attrition_overview` computes every table of the report from a :class:`~analysis.study.Study`;
:func:`key_findings` turns them into plain sentences and :func:`headline` into the JSON numbers.
Each section that the data cannot support carries a note instead of a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import survival as sv
from analysis.study import Attempt, Study, attempt
from analysis.value import gini, lorenz_curve, top_share

__all__ = ["Overview", "attrition_overview", "key_findings", "headline", "portfolio_summary"]

SURV = dict(duration="duration", event="event", entry="entry")


@dataclass
class Overview:
    """All tables of the overview report (each an :class:`~analysis.study.Attempt`)."""

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
    top20_share: float = float("nan")
    gini: float = float("nan")


def portfolio_summary(study: Study) -> pd.DataFrame:
    """A two-column table (item, value) describing the population studied."""
    f = study.frame
    p = study.portfolio
    window = (
        f"{p.window_start:%b %Y} to {study.as_of:%b %Y}"
        if study.has_panel
        else "one-row-per-customer snapshot" + (f" as of {study.as_of:%d %b %Y}" if study.as_of is not None else "")
    )
    rows = [
        ("Scope", study.scope.capitalize()),
        ("Data source", "synthetic portfolio (known truth)" if p.truth is not None else p.source.split("/")[-1]),
        ("Attrition definition", study.attrition_words),
        ("Observation", window),
        ("Customers studied", f"{len(f):,}"),
        ("Already on book when observation started", f"{int((f['entry'] > 0).sum()):,} (left truncation, handled)"),
        ("Customers who left", f"{int(f['event'].sum()):,}"),
        ("Customer-years observed", f"{(f['duration'] - f['entry']).sum() / 12:,.0f}"),
    ]
    if "n_products_entry" in f:
        rows.append(("Median products held at entry", f"{f['n_products_entry'].median():.0f}"))
    if "tier_entry" in f:
        rows.append(("High-value (tier 3+) at entry", f"{(f['tier_entry'] >= 3).mean():.0%}"))
    rows.append(("Excluded customers", f"{len(study.exclusions):,}"))
    for i, text in enumerate(p.notes, 1):
        rows.append((f"Data note {i}", text))
    return pd.DataFrame(rows, columns=["item", "value"])


def _exclusion_table(study: Study) -> pd.DataFrame:
    if study.exclusions.empty:
        return pd.DataFrame(columns=["reason", "customers"])
    return study.exclusions["reason"].value_counts().rename_axis("reason").reset_index(name="customers")


def attrition_overview(study: Study, horizons=(12, 24, 36)) -> Overview:
    """Compute every table of the overview report.

    Parameters
    ----------
    study : Study
        From :func:`analysis.study.prepare_study`.
    horizons : sequence of int
        Tenure horizons (months) for survival and restricted mean survival time.
    """
    f = study.frame
    horizons = [int(h) for h in horizons]
    f = f.assign(all="all")
    ov = Overview(
        study=study,
        horizons=horizons,
        summary=portfolio_summary(study),
        overall_rate=attempt(sv.attrition_rates, f, by="all", **SURV),
    )
    for col in study.groupings:
        ov.rates[col] = attempt(sv.attrition_rates, f, by=col, **SURV)
        ov.km[col] = attempt(sv.km_table, f, group=col, **SURV)
        ov.logrank[col] = attempt(sv.logrank, f, group=col, **SURV)
        ov.median_by[col] = attempt(sv.median_survival, f, group=col, **SURV)
    ov.survival_at = attempt(sv.survival_at, f, horizons, **SURV)
    ov.survival_at_products = attempt(sv.survival_at, f, horizons, group="product_group", **SURV)
    ov.rmst = attempt(sv.rmst, f, horizons, **SURV)
    ov.median = attempt(sv.median_survival, f, **SURV)
    ov.hazard = attempt(sv.hazard_by_tenure, f, bandwidth=6, **SURV)
    annual_profit = f[study.value_column] if study.value_column else None
    if annual_profit is None:
        ov.lorenz = Attempt(note="Not estimable: the data have no value (profit or balance) column.")
    elif len(f) >= 5:
        ov.lorenz = Attempt(value=lorenz_curve(annual_profit))
        ov.top20_share = top_share(annual_profit, 0.2)
        ov.gini = gini(annual_profit)
    else:
        ov.lorenz = Attempt(note="Not estimable: fewer than 5 customers.")
    ov.exclusions = _exclusion_table(study)
    return ov


def _fmt_ci(est, lo, hi, pct=False, digits=1) -> str:
    if est is None or not np.isfinite(est):
        return "not estimable"
    if pct:
        return f"{est:.{digits}%} (95% CI {lo:.{digits}%} to {hi:.{digits}%})"
    return f"{est:.{digits}f} (95% CI {lo:.{digits}f} to {hi:.{digits}f})"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def hazard_peak(haz: pd.DataFrame, max_tenure: float = 120) -> float:
    """Tenure month where the smoothed hazard is highest (within the first ``max_tenure`` months)."""
    h = haz[(haz["time"] <= max_tenure) & haz["hazard_smooth"].notna()]
    if h.empty:
        return float("nan")
    return float(h.loc[h["hazard_smooth"].idxmax(), "time"])


def key_findings(ov: Overview) -> str:
    """The report's key findings in plain words (Markdown), computed from the tables."""
    s = ov.study
    f = s.frame
    lines = []
    if ov.overall_rate.ok:
        r = ov.overall_rate.value.iloc[0]
        lines.append(
            f"Of **{len(f):,} customers** of {s.scope} {s.period_words}, "
            f"**{int(r['events']):,} left** ({s.attrition_words}): "
            f"**{r['rate_per_100_person_years']:.1f} per 100 customers per year** "
            f"(95% CI {r['rate_ci_low']:.1f} to {r['rate_ci_high']:.1f})."
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
    if ov.hazard.ok:
        peak = hazard_peak(ov.hazard.value)
        if np.isfinite(peak):
            lines.append(f"The risk of leaving is highest around **month {peak:.0f}** of tenure (smoothed hazard, first 10 years).")
    for col in s.groupings:
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
        test = f" (log-rank {_p(lr.value.p)})" if lr is not None and lr.ok else ""
        lines.append(
            f"By {s.groupings[col]}: highest attrition in **{hi[col]}** "
            f"({hi['rate_per_100_person_years']:.1f} per 100 per year), lowest in **{lo[col]}** "
            f"({lo['rate_per_100_person_years']:.1f}){test}."
        )
    if np.isfinite(ov.top20_share):
        lines.append(
            f"The top 20% of customers bring **{ov.top20_share:.0%} of {s.value_words}** "
            f"(the field's rule of thumb says about 80% of profit)."
        )
    lines.append(
        "Differences between groups here are descriptive: engaged customers both hold more "
        "products and stay longer. The product-count report estimates the effect with adjustment."
    )
    return "\n".join(f"- {line}" for line in lines)


def _records(att: Attempt, cols: list[str]) -> list[dict] | None:
    if att is None or not att.ok:
        return None
    return att.value[cols].to_dict(orient="records")


def headline(ov: Overview) -> dict:
    """Machine-readable headline numbers of the overview (the JSON next to the HTML)."""
    s = ov.study
    f = s.frame
    out: dict = {
        "scope": s.params.get("branch") or "bank",
        "attrition": s.params["attrition"],
        "as_of": s.params.get("as_of"),
        "data_kind": "panel" if s.has_panel else "snapshot",
        "n": int(len(f)),
        "events": int(f["event"].sum()),
        "left_truncated": int((f["entry"] > 0).sum()),
        "excluded": int(len(s.exclusions)),
        "person_years": float((f["duration"] - f["entry"]).sum() / 12),
    }
    if ov.overall_rate.ok:
        r = ov.overall_rate.value.iloc[0]
        out["rate_per_100_person_years"] = {
            "estimate": r["rate_per_100_person_years"],
            "ci_low": r["rate_ci_low"],
            "ci_high": r["rate_ci_high"],
        }
    if ov.survival_at.ok:
        out["survival_at"] = {
            str(int(r["time"])): {"survival": r["survival"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
            for _, r in ov.survival_at.value.iterrows()
        }
    if ov.rmst.ok:
        out["rmst"] = {
            str(int(r["tau"])): {"rmst": r["rmst"], "se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
            for _, r in ov.rmst.value.iterrows()
        }
    if ov.median.ok:
        m = ov.median.value.iloc[0]
        out["median_months"] = {"estimate": m["median"], "ci_low": m["ci_low"], "ci_high": m["ci_high"]}
    out["logrank"] = {
        col: ({"chi2": a.value.chi2, "df": a.value.df, "p": a.value.p} if a.ok else {"note": a.note})
        for col, a in ov.logrank.items()
    }
    out["rates"] = {
        col: _records(a, [col, "n", "events", "rate_per_100_person_years", "rate_ci_low", "rate_ci_high"])
        for col, a in ov.rates.items()
    }
    if ov.hazard.ok:
        out["hazard_peak_month"] = hazard_peak(ov.hazard.value)
    out["top20_profit_share"] = ov.top20_share
    out["profit_gini"] = ov.gini
    return {"overview": out}
