"""Key findings of the drivers report in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.config import ALPHA, ci_label
from analysis.studies.words import p_text as _p
from analysis.studies.drivers.design import EVENT

if TYPE_CHECKING:
    from analysis.studies.drivers.estimate import Drivers

__all__ = [
    "key_findings",
]


def _ci(r, col="hr") -> str:
    return f"{r[col]:.2f} ({ci_label()} {r['ci_low']:.2f} to {r['ci_high']:.2f})"


def _change(hr: float) -> str:
    if hr >= 1:
        return f"{hr - 1:.0%} higher"
    return f"{1 - hr:.0%} lower"


def _effect(r) -> str:
    """"risk X% higher/lower (HR ...)", or "no clear difference" when the CI includes 1."""
    if r["ci_low"] <= 1 <= r["ci_high"]:
        return f"no clear difference in the risk of leaving (HR {_ci(r)})"
    return f"risk {_change(r['hr'])} (HR {_ci(r)})"


def key_findings(dr: Drivers) -> str:
    """The report's key findings in plain words (Markdown), computed from the tables."""
    s = dr.study
    f = s.frame
    lines = []
    if not dr.design.ok:
        return f"- {dr.design.note}"
    period = f" {s.period_words}" if s.has_panel else ""
    lines.append(
        f"**{len(f):,} customers** of {s.scope}{period}, **{int(f[EVENT].sum()):,} left** "
        f"({s.attrition_words}). The model relates leaving to "
        f"{len(dr.design.value.terms)} characteristics at entry, each adjusted for the others."
    )
    if dr.effects.ok:
        eff = dr.effects.value
        sig = eff[eff["p"] < ALPHA].copy()
        sig["strength"] = np.abs(np.log(sig["hr"]))
        top = sig[~sig["term"].isin(["branch"])].sort_values("chisq", ascending=False)
        top = top.drop_duplicates("term").head(3)
        if len(top):
            parts = [f"{r['label']}: risk {_change(r['hr'])} (HR {_ci(r)})"
                     for _, r in top.iterrows()]
            lines.append("Strongest drivers, holding the others fixed: " + "; ".join(parts) + ".")
        elif len(sig):  # only branch differences are significant
            lines.append("No characteristic at entry other than the branch is clearly related to "
                         f"leaving (all other p >= {ALPHA:g}).")
        else:
            lines.append(f"No characteristic at entry is clearly related to leaving (all p >= {ALPHA:g}).")
        hv = eff[eff["key"].str.startswith("tier_group=")]
        if len(hv):
            r = hv.iloc[-1]
            verdict = ("leave at a clearly different rate" if r["p"] < ALPHA else
                       "do not leave at a clearly different rate")
            lines.append(
                f"High-value customers ({r['label'].split(': ')[1]}) {verdict} after adjustment: "
                f"HR {_ci(r)}, {_p(r['p'])}."
            )
    else:
        lines.append(dr.effects.note)
    if dr.time_varying.ok:
        tv = dr.time_varying.value.effects
        out = tv[tv["key"] == "outflow_3m"]
        if len(out):
            r = out.iloc[0]
            if r["ci_low"] > 1:
                lines.append(
                    f"**Early warning:** a large fund outflow in the last 3 months multiplies the "
                    f"risk of leaving by **{r['hr']:.1f}** ({ci_label()} {r['ci_low']:.1f} to "
                    f"{r['ci_high']:.1f})."
                )
            else:  # the interval reaches 1 or lies below it: not a warning sign
                lines.append(f"A large fund outflow in the last 3 months is not a clear warning "
                             f"sign: {_effect(r)}.")
        prod = tv[tv["key"] == "n_products"]
        if len(prod):
            r = prod.iloc[0]
            lines.append(f"Each product held (counted month by month): {_effect(r)}; adjusted, "
                         f"but not a causal estimate.")
    if dr.ph.ok:
        tab = dr.ph.value[0]
        fl = tab[tab["flagged"]]
        if len(fl):
            what = ", ".join(f"{r['covariate']} ({_p(r['p'])})" for _, r in fl.iterrows())
            line = (f"The proportional-hazards check finds effects that change with tenure: {what}.")
            if dr.remedy.ok and dr.remedy.value is not None:
                rem = dr.remedy.value
                words = {t.name: t.words for t in dr.design.value.terms}
                done = []
                if rem.strata:
                    done.append("stratified on " + ", ".join(words[n] for n in rem.strata))
                if rem.banded:
                    done.append("separate hazard ratios by tenure band for "
                                + ", ".join(words[n] for n in rem.banded))
                still = rem.ph_after[rem.ph_after["flagged"]]
                after = ("after which no covariate fails" if still.empty else
                         f"{', '.join(still['covariate'])} still fail(s)")
                line += f" Remedied step by step ({'; '.join(done)}), {after}."
            lines.append(line)
        else:
            lines.append("The proportional-hazards check finds no covariate whose effect changes "
                         f"with tenure (global {_p(tab.loc['GLOBAL', 'p'])}).")
    if dr.held_out.ok:
        a = dr.held_out.value.accuracy
        t = a.table
        first = t.iloc[0]
        ici = [c.value.ici for c in dr.held_out.value.calibration.values() if c.ok]
        cal = (f"; predicted and observed risks differ by {np.mean(ici):.1%} on average (ICI)"
               if ici else "")
        lines.append(
            f"On {a.n_test:,} customers held out of the fit, the model ranks who leaves first "
            f"correctly for {a.c_harrell:.0%} of comparable pairs (Harrell's C; Uno's "
            f"{a.c_uno:.2f}); AUC {first['auc']:.2f} for leaving within {first['horizon']:g} "
            f"months, Brier score {first['brier']:.3f} vs {first['brier_null']:.3f} without "
            f"covariates{cal}."
        )
    else:
        lines.append(f"Accuracy: {dr.held_out.note}")
    if dr.reasons.ok:
        r = dr.reasons.value
        top = r.counts.loc[r.counts["departures"].idxmax()]
        lines.append(f"Most frequent reason for leaving: **{top['reason']}** "
                     f"({top['share']:.0%} of {int(r.counts['departures'].sum()):,} departures).")
        if r.cause_hr.ok:
            t = r.cause_hr.value
            for col in ("high_value", "outflow_3m"):
                sub = t[t["column"] == col]
                if len(sub) < 2:
                    continue
                raised = sub[sub["ci_low"] > 1]  # causes this driver clearly raises
                if len(raised):
                    hi = raised.loc[raised["hr"].idxmax()]
                    lines.append(
                        f"{hi['driver'].capitalize()}: raises leaving for **{hi['cause']}** the "
                        f"most (cause-specific HR {_ci(hi)})."
                    )
                else:
                    lines.append(
                        f"{sub['driver'].iloc[0].capitalize()}: raises leaving for no reason "
                        f"clearly (every cause-specific {ci_label()} includes 1 or lies below it)."
                    )
    elif s.has_panel:
        lines.append(dr.reasons.note)
    if dr.aft.ok:
        a = dr.aft.value
        lines.append(f"Parametric check: the {a.best} time-to-leaving model fits best by AIC "
                     f"(AIC difference to the next {a.comparison['delta_aic'].iloc[1]:.0f}).")
    lines.append("Hazard ratios describe association, adjusted for the other covariates; they are "
                 "not the effect of changing a characteristic.")
    return "\n".join(f"- {line}" for line in lines)
