"""Departure reasons: cumulative incidence and cause-specific hazard ratios."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass
from typing import Sequence
import numpy as np
import pandas as pd

from analysis.config import HIGH_AUM_TIER
from analysis.stats import competing
import re

from analysis.errors import Attempt, attempt
from analysis.i18n import tr, tr_value
from analysis.studies.population import Study
from analysis.errors import InsufficientDataError
from analysis.studies.drivers.design import DURATION, Design, ENTRY, EVENT, Term, level_words

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
        out["high_value"] = tr("value tier 4-5 at entry")
    if tv and "outflow_3m" in data:
        out["outflow_3m"] = tr("large outflow in the last 3 months")
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
                out[t.columns[0]] = tr("{covariate}, {unit}", covariate=t.words, unit=t.unit)
            elif t.kind == "categorical" and len(t.columns) == 1:
                out[t.columns[0]] = tr("{covariate}: {level} vs {reference}", covariate=t.words,
                                       level=level_words(t.levels[0]),
                                       reference=level_words(t.reference))
    return out


def departure_reasons(study: Study, design: Design, *, effects: pd.DataFrame | None = None,
                      tv: TimeVarying | None = None, horizons: Sequence[float] = (12, 24, 36),
                      min_events: int = 10) -> Reasons:
    """Cumulative incidence by departure reason (Aalen-Johansen) and cause-specific Cox models.

    Raises :class:`InsufficientDataError` when the data record no reasons.
    """
    f = study.frame
    if "reason" not in f or not f["reason"].notna().any():
        raise InsufficientDataError(tr(
            "the data record no departure reasons, so why customers leave cannot be broken down"))
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


#: Notes of :func:`analysis.stats.competing.cause_specific_cox` (English, made in the stats
#: layer) as report messages: pattern -> message.
_COMPETING_NOTES = (
    (r"'(?P<cause>.*)': only (?P<n>\d+) departures, too few for a cause-specific model "
     r"\(at least (?P<m>\d+) needed\)",
     "'{cause}': only {n} departures, too few for a cause-specific model (at least {m} needed)"),
    (r"'(?P<cause>.*)': (?P<driver>.*) left out \(all departures for this reason share one "
     r"value of it\)",
     "'{cause}': {driver} left out (all departures for this reason share one value of it)"),
)


def _competing_note(text: str, drivers: dict) -> str:
    """A note of the cause-specific models in the report's language, the drivers in words."""
    for pattern, msgid in _COMPETING_NOTES:
        m = re.fullmatch(pattern, text)
        if m:
            values = m.groupdict()
            values["cause"] = tr_value(values["cause"])
            if "driver" in values:
                values["driver"] = drivers.get(values["driver"], values["driver"])
            return tr(msgid, **values)
    for col, words in drivers.items():
        text = text.replace(f": {col} left out", f": {words} left out")
    return text


def _cause_table(data, drivers, causes, min_events, notes):
    if not drivers:
        raise InsufficientDataError(tr("no covariate to relate to the reasons"))
    table, n = competing.cause_specific_cox(data, list(drivers), causes=causes,
                                            min_events=min_events)
    for text in n:
        notes.append(_competing_note(text, drivers))
    if table.empty:
        raise InsufficientDataError(tr("too few departures per reason for cause-specific models"))
    table.insert(2, "driver", table["column"].map(drivers))
    return table
