"""Headline numbers (JSON) of the overview report."""

from __future__ import annotations

from analysis.errors import Attempt
from analysis.studies.overview.estimate import Overview, hazard_peak
from analysis.studies.population import counted_numbers

__all__ = [
    "headline",
]


def _records(att: Attempt, cols: list[str]) -> list[dict] | None:
    if att is None or not att.ok:
        return None
    return att.value[cols].to_dict(orient="records")


def headline(ov: Overview) -> dict:
    """Machine-readable headline numbers of the overview (the JSON next to the HTML)."""
    s = ov.study
    numbers = counted_numbers(s.counted_frame)
    out: dict = {
        "scope": s.params.get("branch") or "bank",
        "attrition": s.params["attrition"],
        "as_of": s.params.get("as_of"),
        "data_kind": "panel" if s.has_panel else "snapshot",
        "n": numbers["customers"],
        "events": numbers["events"],
        "left_truncated": numbers["left_truncated"],
        "excluded": int(len(s.counted_exclusions)),
        "person_years": numbers["customer_months"] / 12,
        # a large book: models (the outflow warning) were fitted on this seeded sample
        "model_sample": None if s.sample is None else s.sample.to_dict(),
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
    out["departed_annual_value"] = ov.departed_value
    return {"overview": out}
