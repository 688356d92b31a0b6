"""Departure reasons: cumulative incidence and cause-specific hazard ratios."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass
from typing import Sequence
import numpy as np
import pandas as pd

from analysis.config import HIGH_AUM_TIER
from analysis.stats import competing
from analysis.errors import Attempt, attempt
from analysis.studies.population import Study
from analysis.errors import InsufficientDataError
from analysis.studies.drivers.design import DURATION, Design, ENTRY, EVENT, Term

if TYPE_CHECKING:
    from analysis.studies.drivers.estimate import TimeVarying

__all__ = [
    "departure_reasons",
]


@dataclass
class Reasons:
    counts: pd.DataFrame
    cif: pd.DataFrame
    cif_at: pd.DataFrame
    cause_hr: Attempt
    drivers: dict
    notes: list


def _driver_columns(study: Study, terms: Sequence[Term], effects: pd.DataFrame | None,
                    data: pd.DataFrame, tv: bool) -> dict:
    """Compact set of main drivers for the cause-specific models: column -> words.

    The value tier as "tier 4-5 at entry" (the watched high-value customers), a recent large
    outflow (with monthly histories), then the strongest other single-column effects of the
    model (by Wald chi-square), up to 6 in all.
    """
    out = {}
    f = study.frame
    if "tier_entry" in f:
        out["high_value"] = "value tier 4-5 at entry"
    if tv and "outflow_3m" in data:
        out["outflow_3m"] = "large outflow in the last 3 months"
    by_name = {t.name: t for t in terms}
    if effects is not None:
        ranked = effects.drop_duplicates("term").sort_values("chisq", ascending=False)
        for _, r in ranked.iterrows():
            t = by_name.get(r["term"])
            if t is None or t.name in ("branch", "entry", "tier_group", "outflow_3m"):
                continue
            if len(out) >= 6:
                break
            if t.kind == "numeric":
                out[t.columns[0]] = f"{t.words}, {t.unit}"
            elif t.kind == "categorical" and len(t.columns) == 1:
                out[t.columns[0]] = f"{t.words}: {t.levels[0]} vs {t.reference}"
    return out


def departure_reasons(study: Study, design: Design, *, effects: pd.DataFrame | None = None,
                      tv: TimeVarying | None = None, horizons: Sequence[float] = (12, 24, 36),
                      min_events: int = 10) -> Reasons:
    """Cumulative incidence by departure reason (Aalen-Johansen) and cause-specific Cox models.

    Raises :class:`InsufficientDataError` when the data record no reasons.
    """
    f = study.frame
    if "reason" not in f or not f["reason"].notna().any():
        raise InsufficientDataError(
            "the data record no departure reasons, so why customers leave cannot be broken down"
        )
    attrition = study.params.get("attrition", "closure")
    cause = competing.event_types(f, attrition=attrition)
    counts = cause.value_counts().rename_axis("reason").reset_index(name="departures")
    counts["share"] = counts["departures"] / counts["departures"].sum()
    causes = counts["reason"].tolist()
    cdf = pd.DataFrame({DURATION: f[DURATION].to_numpy(), "cause": cause.to_numpy(),
                        ENTRY: f[ENTRY].to_numpy() if ENTRY in f else 0.0})
    cif = competing.cumulative_incidence(cdf, causes=causes)
    last = float(f[DURATION].max())
    cif_at = competing.incidence_at(cif, [h for h in horizons if h <= last])
    notes = []
    # cause-specific models
    use_tv = tv is not None
    if use_tv:
        data = tv.data.copy()
        reason_by_id = pd.Series(cause.to_numpy(), index=f["customer_id"].to_numpy())
        data["cause"] = np.where(data[EVENT] == 1, data["customer_id"].map(reason_by_id), None)
    else:
        data = design.data.copy()
        by_id = pd.Series(cause.to_numpy(), index=f.index)
        if "customer_id" in data and "customer_id" in f:
            by_id = pd.Series(cause.to_numpy(), index=f["customer_id"].to_numpy())
            data["cause"] = data["customer_id"].map(by_id)
        else:
            data["cause"] = by_id.reindex(range(len(data))).to_numpy()
    if "tier_entry" in f:
        tier_by_id = pd.Series((f["tier_entry"] >= HIGH_AUM_TIER).astype(float).to_numpy(),
                               index=f["customer_id"].to_numpy())
        data["high_value"] = data["customer_id"].map(tier_by_id)
    terms = tv.terms if use_tv else design.terms
    drivers = _driver_columns(study, terms, tv.effects if use_tv else effects, data, use_tv)
    drivers = {c: w for c, w in drivers.items() if c in data and data[c].nunique() > 1}
    cs = attempt(_cause_table, data, drivers, causes, min_events, notes)
    return Reasons(counts=counts, cif=cif, cif_at=cif_at, cause_hr=cs, drivers=drivers,
                   notes=notes)


def _cause_table(data, drivers, causes, min_events, notes):
    if not drivers:
        raise InsufficientDataError("no covariate to relate to the reasons")
    table, n = competing.cause_specific_cox(data, list(drivers), causes=causes,
                                            min_events=min_events)
    for text in n:
        for col, words in drivers.items():
            text = text.replace(f": {col} left out", f": {words} left out")
        notes.append(text)
    if table.empty:
        raise InsufficientDataError("too few departures per reason for cause-specific models")
    table.insert(2, "driver", table["column"].map(drivers))
    return table
