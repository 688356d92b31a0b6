"""Proportional-hazards checks of the drivers model and their remedies (strata, tenure bands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass
from typing import Sequence
import numpy as np
import pandas as pd
from scipy import stats

from analysis.config import ALPHA
from analysis.i18n import language, tr
from analysis.stats.cox.zph import ZphResult, zph_for
from analysis.studies.drivers.design import DURATION, Design, ENTRY, EVENT, Term
from analysis.stats.cox.episodes import split_intervals
from analysis.stats.cox.fit import fit_cox
from analysis.studies.drivers.model import effects_table

if TYPE_CHECKING:
    from analysis.studies.drivers.estimate import Drivers

__all__ = [
    "ph_check",
    "ph_remedy",
    "schoenfeld_panels",
]


def ph_check(cph, data: pd.DataFrame, terms: Sequence[Term], *, transform: str = "km",
             alpha: float = 0.05) -> tuple[pd.DataFrame, ZphResult]:
    """Scaled Schoenfeld (R ``cox.zph``) test per term and global; ``flagged`` where p is below
    ``alpha`` / number of terms (Bonferroni)."""
    present = [t for t in terms if all(c in cph.params.index for c in t.columns)]
    zph = zph_for(cph, data, terms={t.name: t.columns for t in present}, transform=transform)
    tab = zph.table.copy()
    words = {t.name: t.words for t in present}
    tab.insert(0, "covariate", [words.get(i, tr("all covariates (global test)"))
                                for i in tab.index])
    tab["threshold"] = alpha / max(len(present), 1)
    tab["flagged"] = (tab["p"] < tab["threshold"]) & (tab.index != "GLOBAL")
    return tab, zph


def _bands(event_times: np.ndarray) -> list[float]:
    """Tenure cut points for band-specific effects: event-time tertiles rounded to whole years
    (to 6 months below two years)."""
    qs = np.quantile(event_times, [1 / 3, 2 / 3])
    cuts = []
    for q in qs:
        step = 12.0 if q >= 24 else 6.0
        c = max(step, np.round(q / step) * step)
        if c < event_times.max() and c not in cuts:
            cuts.append(float(c))
    return cuts


def split_at(data: pd.DataFrame, cuts: Sequence[float], *, entry: str = ENTRY,
             duration: str = DURATION, event: str = EVENT) -> pd.DataFrame:
    """Split each row's (entry, duration] at the tenure ``cuts`` (episode splitting,
    :func:`analysis.stats.cox.episodes.split_intervals`); ``band`` numbers the pieces
    0..len(cuts), the event stays on the last piece."""
    return split_intervals(data, cuts, start=entry, stop=duration, event=event, band="band")


@dataclass
class Remedy:
    """What was done about non-proportional hazards and what it changed.

    ``steps``: the terms remedied in order (each the worst failing term of the model refitted
    after the previous remedies) with their test before the remedy; ``ph_after``: the test of
    the final model; ``compare``: effects before and after; ``bands``: tenure-band hazard ratios
    of numeric terms given band-specific effects.
    """

    actions: list
    remedied: list
    strata: list
    banded: list
    cuts: list
    model: object
    data: pd.DataFrame
    columns: list
    steps: pd.DataFrame
    ph_after: pd.DataFrame
    zph_after: ZphResult
    compare: pd.DataFrame
    bands: pd.DataFrame


def _band_label(cuts, b) -> str:
    edges = [0.0, *cuts]
    if b < len(cuts):
        return tr("tenure {start}-{end} months", start=f"{edges[b]:g}", end=f"{cuts[b]:g}")
    return tr("tenure over {start} months", start=f"{edges[b]:g}")


def _refit_remedied(design: Design, remedied: Sequence[str], transform: str, threshold: float):
    terms = {t.name: t for t in design.terms}
    strata = [n for n in remedied if terms[n].kind == "categorical"]
    banded = [n for n in remedied if terms[n].kind != "categorical"]
    data = design.data
    columns = [c for t in design.terms if t.name not in strata for c in t.columns]
    new_terms = [t for t in design.terms if t.name not in strata]
    cuts: list = []
    if banded:
        cuts = _bands(data.loc[data[EVENT] == 1, DURATION].to_numpy())
        if cuts:
            data = split_at(data, cuts)
            for n in banded:
                t = terms[n]
                new_cols = []
                for c in t.columns:
                    for b in range(len(cuts) + 1):
                        name = f"{c}@band{b}"
                        data[name] = data[c] * (data["band"] == b)
                        new_cols.append(name)
                    columns.remove(c)
                columns.extend(new_cols)
                new_terms = [x for x in new_terms if x.name != n] + [
                    Term(name=n, words=t.words, kind="banded", columns=new_cols, unit=t.unit,
                         scale=t.scale)]
        else:
            banded = []
    model = fit_cox(data, columns, strata=[f"{n}__level" for n in strata] or None)
    tab, zph = ph_check(model, data, new_terms, transform=transform)
    tab["threshold"] = threshold
    tab["flagged"] = (tab["p"] < threshold) & (tab.index != "GLOBAL")
    return model, data, columns, new_terms, strata, banded, cuts, tab, zph


def ph_remedy(design: Design, cph, ph: pd.DataFrame, effects: pd.DataFrame, *,
              transform: str = "km") -> Remedy | None:
    """Remedy non-proportional hazards step by step; None when no term fails the test.

    The worst failing term (smallest p below the Bonferroni threshold of the first test) is
    remedied, the model refitted and tested again, until no term fails: a term correlated with a
    non-proportional one can inherit part of its trend and pass once that one is remedied.
    Categorical terms: stratify on the covariate (its own baseline hazard per level; no HR for it
    any more). Numeric terms: a separate HR in each tenure band (cut at event-time tertiles), a
    step-function time interaction.
    """
    threshold = float(ph["threshold"].iloc[0])
    if not ph["flagged"].any():
        return None
    remedied: list = []
    steps = []
    tab = ph
    fitted = None
    words = {t.name: t.words for t in design.terms}
    while True:
        cand = tab[(tab.index != "GLOBAL") & (tab["p"] < threshold)
                   & ~tab.index.isin(remedied)]
        if cand.empty or len(remedied) >= len(design.terms):
            break
        worst = cand.sort_values(["p", "chisq"], ascending=[True, False]).index[0]
        steps.append(dict(step=len(remedied) + 1, covariate=words[worst],
                          chisq=float(cand.loc[worst, "chisq"]), df=int(cand.loc[worst, "df"]),
                          p=float(cand.loc[worst, "p"])))
        remedied.append(worst)
        fitted = _refit_remedied(design, remedied, transform, threshold)
        tab = fitted[7]
    model, data, columns, new_terms, strata, banded, cuts, ph_after, zph_after = fitted
    actions = []
    for n in strata:
        actions.append(tr("stratified on {covariate}: each level gets its own baseline hazard, "
                          "so the model no longer assumes a constant hazard ratio for it (and no "
                          "longer estimates one)", covariate=words[n]))
    for n in banded:
        actions.append(tr("{covariate}: a separate hazard ratio in each tenure band ({bands})",
                          covariate=words[n],
                          bands=(", " if language() == "en" else "、").join(
                              _band_label(cuts, b) for b in range(len(cuts) + 1))))
    after = effects_table(model.params, model.variance,
                          [t for t in new_terms if t.kind != "banded"], ph_after)
    compare = effects[["key", "label", "hr", "ci_low", "ci_high", "ph_test_p"]].merge(
        after[["key", "hr", "ci_low", "ci_high", "ph_test_p"]], on="key", how="left",
        suffixes=("_before", "_after"))
    compare["note"] = ""
    for n in strata:
        compare.loc[effects["term"].to_numpy() == n, "note"] = tr("stratified on (no HR)")
    for n in banded:
        compare.loc[effects["term"].to_numpy() == n, "note"] = tr("tenure-band HRs below")
    band_rows = []
    z = stats.norm.ppf(1 - ALPHA / 2)
    terms = {t.name: t for t in design.terms}
    for n in banded:
        t = terms[n]
        for c in t.columns:
            for b in range(len(cuts) + 1):
                name = f"{c}@band{b}"
                est = float(model.params[name])
                se = float(np.sqrt(model.variance.loc[name, name]))
                band_rows.append(dict(covariate=t.words if len(t.columns) == 1 else c,
                                      band=_band_label(cuts, b), hr=np.exp(est),
                                      ci_low=np.exp(est - z * se), ci_high=np.exp(est + z * se),
                                      p=float(2 * stats.norm.sf(abs(est / se)))))
    return Remedy(actions=actions, remedied=remedied, strata=strata, banded=banded, cuts=cuts,
                  model=model, data=data, columns=columns, steps=pd.DataFrame(steps),
                  ph_after=ph_after, zph_after=zph_after, compare=compare,
                  bands=pd.DataFrame(band_rows))


def schoenfeld_panels(dr: "Drivers", max_panels: int = 10) -> list[tuple[str, str, float]]:
    """Columns to draw scaled Schoenfeld residuals for: (column, title, coefficient).

    Terms that fail the test first, then the terms with the smallest p-values; one panel per
    column (a categorical covariate has one per level), at most ``max_panels``.
    """
    if not dr.ph.ok or not dr.model.ok:
        return []
    tab, zph = dr.ph.value
    tab = tab.drop(index="GLOBAL").sort_values("p")
    effects = dr.effects.value if dr.effects.ok else None
    labels = dict(zip(effects["key"], effects["label"])) if effects is not None else {}
    out = []
    for name in tab.index:
        t = dr.design.value.term(name)
        for c in t.columns[:1]:  # one panel per covariate (a categorical one: its first level)
            title = labels.get(c, tr("{covariate} (linear part)", covariate=t.words)
                               if t.kind == "spline" else t.words)
            title = tr("{title}\nPH test p = {p}", title=title, p=f"{tab.loc[name, 'p']:.3g}")
            out.append((c, title, float(zph.beta[c])))
            if len(out) >= max_panels:
                return out
    return out
