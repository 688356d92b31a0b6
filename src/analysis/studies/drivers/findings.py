"""Key findings of the drivers report in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.config import ALPHA, ci_label
from analysis.i18n import language, tr, tr_value
from analysis.studies.words import p_text as _p
from analysis.studies.drivers.design import EVENT

if TYPE_CHECKING:
    from analysis.studies.drivers.estimate import Drivers

__all__ = [
    "counts_note",
    "key_findings",
    "outflow_words",
]


def _ci(r, col="hr") -> str:
    return tr("{est} ({ci} {low} to {high})", est=f"{r[col]:.2f}", ci=ci_label(),
              low=f"{r['ci_low']:.2f}", high=f"{r['ci_high']:.2f}")


def _change(hr: float) -> str:
    if hr >= 1:
        return tr("{pct} higher", pct=f"{hr - 1:.0%}")
    return tr("{pct} lower", pct=f"{1 - hr:.0%}")


def _effect(r) -> str:
    """"risk X% higher/lower (HR ...)", or "no clear difference" when the CI includes 1."""
    if r["ci_low"] <= 1 <= r["ci_high"]:
        return tr("no clear difference in the risk of leaving (HR {ci})", ci=_ci(r))
    return tr("risk {change} (HR {ci})", change=_change(r["hr"]), ci=_ci(r))


def _en() -> bool:
    return language() == "en"


def _join(items, sep: str = "; ") -> str:
    """Items joined as the report's language writes a list ("; " or ", " in English)."""
    if _en():
        return sep.join(items)
    return ("；" if sep == "; " else "、").join(items)


def _cap(text: str) -> str:
    return text.capitalize() if _en() else text


def _note(text: str) -> str:
    """A step's note ("Not estimable: why") in the report's language."""
    prefix = "Not estimable: "
    if text.startswith(prefix):
        return tr("Not estimable: {why}", why=tr(text[len(prefix):]))
    return tr(text)


def _contrast(label: str) -> str:
    """The "level vs reference" part of an effect's label ("covariate: level vs reference")."""
    return label.split(": ", 1)[1] if ": " in label else label.split("：", 1)[-1]


def key_findings(dr: Drivers) -> str:
    """The report's key findings in plain words (Markdown), computed from the tables."""
    s = dr.study
    f = s.frame
    lines = []
    if not dr.design.ok:
        return f"- {_note(dr.design.note)}"
    period = (f" {s.period_words}" if _en() else s.period_words) if s.has_panel else ""
    lines.append(tr(
        "**{n} customers** of {scope}{period}, **{left} left** ({attrition}). The model relates "
        "leaving to {k} characteristics at entry, each adjusted for the others.",
        n=f"{len(f):,}", scope=s.scope, period=period, left=f"{int(f[EVENT].sum()):,}",
        attrition=s.attrition_words, k=len(dr.design.value.terms)))
    if dr.effects.ok:
        eff = dr.effects.value
        sig = eff[eff["p"] < ALPHA].copy()
        sig["strength"] = np.abs(np.log(sig["hr"]))
        top = sig[~sig["term"].isin(["branch"])].sort_values("chisq", ascending=False)
        top = top.drop_duplicates("term").head(3)
        if len(top):
            parts = [tr("{label}: risk {change} (HR {ci})", label=r["label"],
                        change=_change(r["hr"]), ci=_ci(r)) for _, r in top.iterrows()]
            lines.append(tr("Strongest drivers, holding the others fixed: {drivers}.",
                            drivers=_join(parts)))
        elif len(sig):  # only branch differences are significant
            lines.append(tr("No characteristic at entry other than the branch is clearly related "
                            "to leaving (all other p >= {alpha}).", alpha=f"{ALPHA:g}"))
        else:
            lines.append(tr("No characteristic at entry is clearly related to leaving (all p >= "
                            "{alpha}).", alpha=f"{ALPHA:g}"))
        hv = eff[eff["key"].str.startswith("tier_group=")]
        if len(hv):
            r = hv.iloc[-1]
            msg = ("High-value customers ({level}) leave at a clearly different rate after "
                   "adjustment: HR {ci}, {p}." if r["p"] < ALPHA else
                   "High-value customers ({level}) do not leave at a clearly different rate after "
                   "adjustment: HR {ci}, {p}.")
            lines.append(tr(msg, level=_contrast(r["label"]), ci=_ci(r), p=_p(r["p"])))
    else:
        lines.append(_note(dr.effects.note))
    if dr.time_varying.ok:
        tv = dr.time_varying.value.effects
        out = tv[tv["key"] == "outflow_3m"]
        if len(out):
            lines.append(outflow_words(out.iloc[0]))
        prod = tv[tv["key"] == "n_products"]
        if len(prod):
            r = prod.iloc[0]
            lines.append(tr("Each product held (counted month by month): {effect}; adjusted, but "
                            "not a causal estimate.", effect=_effect(r)))
    if dr.ph.ok:
        tab = dr.ph.value[0]
        fl = tab[tab["flagged"]]
        if len(fl):
            what = _join([tr("{covariate} ({p})", covariate=r["covariate"], p=_p(r["p"]))
                          for _, r in fl.iterrows()], ", ")
            line = tr("The proportional-hazards check finds effects that change with tenure: "
                      "{covariates}.", covariates=what)
            if dr.remedy.ok and dr.remedy.value is not None:
                rem = dr.remedy.value
                words = {t.name: t.words for t in dr.design.value.terms}
                done = []
                if rem.strata:
                    done.append(tr("stratified on {covariates}",
                                   covariates=_join([words[n] for n in rem.strata], ", ")))
                if rem.banded:
                    done.append(tr("separate hazard ratios by tenure band for {covariates}",
                                   covariates=_join([words[n] for n in rem.banded], ", ")))
                still = rem.ph_after[rem.ph_after["flagged"]]
                after = (tr("after which no covariate fails") if still.empty else
                         tr("{covariates} still fail(s)",
                            covariates=_join(list(still["covariate"]), ", ")))
                line += (" " if _en() else "") + tr("Remedied step by step ({steps}), {after}.",
                                                    steps=_join(done), after=after)
            lines.append(line)
        else:
            lines.append(tr("The proportional-hazards check finds no covariate whose effect "
                            "changes with tenure (global {p}).", p=_p(tab.loc["GLOBAL", "p"])))
    if dr.held_out.ok:
        a = dr.held_out.value.accuracy
        t = a.table
        first = t.iloc[0]
        ici = [c.value.ici for c in dr.held_out.value.calibration.values() if c.ok]
        cal = (tr("; predicted and observed risks differ by {ici} on average (ICI)",
                  ici=f"{np.mean(ici):.1%}") if ici else "")
        lines.append(tr(
            "On {n} customers held out of the fit, the model ranks who leaves first correctly "
            "for {c} of comparable pairs (Harrell's C; Uno's {uno}); AUC {auc} for leaving within "
            "{h} months, Brier score {brier} vs {null} without covariates{cal}.",
            n=f"{a.n_test:,}", c=f"{a.c_harrell:.0%}", uno=f"{a.c_uno:.2f}",
            auc=f"{first['auc']:.2f}", h=f"{first['horizon']:g}", brier=f"{first['brier']:.3f}",
            null=f"{first['brier_null']:.3f}", cal=cal))
    else:
        lines.append(tr("Accuracy: {note}", note=_note(dr.held_out.note)))
    if dr.reasons.ok:
        r = dr.reasons.value
        top = r.counts.loc[r.counts["departures"].idxmax()]
        lines.append(tr("Most frequent reason for leaving: **{reason}** ({share} of {n} "
                        "departures).", reason=tr_value(top["reason"]),
                        share=f"{top['share']:.0%}", n=f"{int(r.counts['departures'].sum()):,}"))
        if r.cause_hr.ok:
            t = r.cause_hr.value
            for col in ("high_value", "outflow_3m"):
                sub = t[t["column"] == col]
                if len(sub) < 2:
                    continue
                raised = sub[sub["ci_low"] > 1]  # causes this driver clearly raises
                if len(raised):
                    hi = raised.loc[raised["hr"].idxmax()]
                    lines.append(tr("{driver}: raises leaving for **{cause}** the most "
                                    "(cause-specific HR {ci}).", driver=_cap(hi["driver"]),
                                    cause=tr_value(hi["cause"]), ci=_ci(hi)))
                else:
                    lines.append(tr("{driver}: raises leaving for no reason clearly (every "
                                    "cause-specific {ci} includes 1 or lies below it).",
                                    driver=_cap(sub["driver"].iloc[0]), ci=ci_label()))
    elif s.has_panel:
        lines.append(_note(dr.reasons.note))
    if dr.aft.ok:
        a = dr.aft.value
        lines.append(tr("Parametric check: the {model} time-to-leaving model fits best by AIC "
                        "(AIC difference to the next {delta}).", model=tr_value(a.best),
                        delta=f"{a.comparison['delta_aic'].iloc[1]:.0f}"))
    lines.append(tr("Hazard ratios describe association, adjusted for the other covariates; they "
                    "are not the effect of changing a characteristic."))
    return "\n".join(f"- {line}" for line in lines)


def outflow_words(r) -> str:
    """The early-warning finding from the time-varying model's ``outflow_3m`` row (``hr``,
    ``ci_low``, ``ci_high``, ``p``): the one wording of this number in every report.

    "multiplies" only when the interval lies above 1; otherwise "not a clear warning sign".
    """
    if r["ci_low"] > 1:
        return tr("**Early warning:** a large fund outflow in the last 3 months multiplies the "
                  "risk of leaving by **{hr}** ({ci} {low} to {high}).", hr=f"{r['hr']:.1f}",
                  ci=ci_label(), low=f"{r['ci_low']:.1f}", high=f"{r['ci_high']:.1f}")
    # the interval reaches 1 or lies below it: not a warning sign
    return tr("A large fund outflow in the last 3 months is not a clear warning sign: "
              "{effect}.", effect=_effect(r))


def counts_note(fc) -> str:
    """The sentence above the table of the time-varying effects from counts
    (:func:`~analysis.studies.drivers.counts.effects_from_counts`)."""
    words = dict(band=fc.band_months, bins=fc.bins, cells=f"{fc.cells:,}",
                 customers=f"{fc.customers:,}")
    if fc.whole_book:
        return tr("The same two effects from counts on all {customers} customers of the book: a "
                  "piecewise-exponential model of customer-months and departures per {band}-month "
                  "band of tenure, branch and covariate cell ({cells} cells; tier and loan "
                  "segment of the month, age, tenure at entry, assets and engagement cut into "
                  "{bins} quantile bins). The time-varying model above is the row-by-row fit on "
                  "the model sample.", **words)
    return tr("The same two effects from counts of customer-months and departures per "
              "{band}-month band of tenure, branch and covariate cell (the engine for books too "
              "large for the row-by-row fit; {cells} cells; tier and loan segment of the month, "
              "age, tenure at entry, assets and engagement cut into {bins} quantile bins).",
              **words)
