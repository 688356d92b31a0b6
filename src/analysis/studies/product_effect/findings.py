"""Key findings of the product-effect report in plain words (in the report's language:
:func:`analysis.i18n.tr`; the English is the message id)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.config import ALPHA, ci_label
from analysis.i18n import language, tr, tr_value
from analysis.stats.cox.result import CoxResult
from analysis.studies.product_effect.terms import PER_PRODUCT
from analysis.studies.product_effect.truth import MSM
from analysis.studies.product_effect.words import cell_words, note_words

if TYPE_CHECKING:
    from analysis.studies.product_effect.estimate import ProductEffect


def _fmt_pct(hr: float) -> str:
    return f"{abs(1 - hr) * 100:.0f}%"


_SHORT = {"tier": "value tier", "tier_entry": "value tier", "loan": "segment",
          "outflow_3m": "recent large outflows", "age10": "age", "entry_years": "tenure at entry",
          "log_aum": "assets", "engagement": "engagement"}


def _join(words: list[str]) -> str:
    """'a, b and c' (Chinese: 'a、b和c')."""
    if language() == "zh":
        return "、".join(words[:-1]) + ("和" if len(words) > 1 else "") + words[-1]
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]


def _adjusted_for(fit: CoxResult | None) -> str:
    """The adjustment set in words (what the model actually used)."""
    words = [_SHORT[c] for c in (fit.covariates if fit else []) if c in _SHORT]
    words = list(dict.fromkeys(words))
    if fit is not None and fit.strata:
        words.append("branch")
    if not words:
        return tr("nothing else")
    return _join([tr(w) for w in words])


def _ci_text(hr, lo, hi) -> str:
    return tr("HR {hr} ({ci} {low}-{high})", hr=f"{hr:.2f}", ci=ci_label(), low=f"{lo:.2f}",
              high=f"{hi:.2f}")


def _point(hr: float) -> str:
    """'point estimate 12% lower' (or higher)."""
    if hr < 1:
        return tr("point estimate {pct} lower", pct=_fmt_pct(hr))
    return tr("point estimate {pct} higher", pct=_fmt_pct(hr))


def _rmst_words(r) -> str:
    """Months gained with 2+ products (RMST difference): a gain or loss only when its CI excludes 0."""
    ci = tr("({ci} {low} to {high}; unadjusted)", ci=ci_label(), low=f"{r['ci_low']:.1f}",
            high=f"{r['ci_high']:.1f}")
    d, tau = r["difference"], f"{r['tau']:g}"
    if r["ci_low"] > 0:
        return tr("Within the first {tau} months of tenure, customers with 2+ products at entry "
                  "stayed {months} months longer on average than those with 1 {ci}.",
                  tau=tau, months=f"{d:.1f}", ci=ci)
    if r["ci_high"] < 0:
        return tr("Within the first {tau} months of tenure, customers with 2+ products at entry "
                  "stayed {months} months less on average than those with 1 {ci}.",
                  tau=tau, months=f"{-d:.1f}", ci=ci)
    return tr("Within the first {tau} months of tenure, customers with 2+ products at entry did "
              "not stay clearly longer or shorter than those with 1: difference {months} months "
              "{ci}.", tau=tau, months=f"{d:.1f}", ci=ci)


_ATTRITION = {"closure": "attrition: closure", "value": "attrition: value"}


def _words(pe: ProductEffect, lr, ev, main_key, shape_info, band_test, ipw_segments):
    """Plain-language findings and conclusion, computed from the estimates.

    The conclusion is the leading sentences (the g-formula's months gained, the recommended
    hazard ratio and its caveats, the naive comparison, the agreement of the methods, a changing
    effect).
    """
    s = pe.summary
    find: list[tuple[str, bool]] = []  # (sentence, part of the conclusion)
    lvl = pe.settings
    scope = (tr("branch {branch}", branch=tr_value(lvl["branch"])) if lvl.get("branch")
             else tr("the whole bank"))
    att = lvl["attrition"]
    find.append((tr("{n} customers of {scope}; {events} left during the observation window "
                    "({attrition}).", n=f"{pe.n:,}", scope=scope, events=f"{pe.events:,}",
                    attrition=tr(_ATTRITION[att]) if att in _ATTRITION
                    else f"attrition: {att}"), False))
    # the report leads with the g-formula's months gained (an effect on a scale a manager can
    # use, with intervals that keep their coverage in the benchmark, docs/coverage.md)
    g = pe.tables.get("gformula")
    if g is not None:
        r = g[(g["section"] == "one_more_product") & g["quantity"].str.startswith("rmst_")
              & g["quantity"].str.endswith("_gain")]
        if len(r):
            r = r.iloc[0]
            tau = r["quantity"].split("_")[1]
            ci = tr("({ci} {low} to {high})", ci=ci_label(), low=f"{r['ci_low']:.2f}",
                    high=f"{r['ci_high']:.2f}")
            if r["ci_low"] > 0:
                txt = tr("One more product than each customer held would keep them {months} "
                         "months longer on average within {tau} months of entry {ci}",
                         months=f"{r['estimate']:.2f}", tau=tau, ci=ci)
            elif r["ci_high"] < 0:
                txt = tr("One more product than each customer held would shorten their stay by "
                         "{months} months on average within {tau} months of entry {ci}",
                         months=f"{-r['estimate']:.2f}", tau=tau, ci=ci)
            else:
                txt = tr("One more product than each customer held would not clearly change "
                         "the months retained within {tau} months of entry: {months} {ci}",
                         tau=tau, months=f"{r['estimate']:.2f}", ci=ci)
            find.append((tr("{sentence} (g-formula; assumes the fitted monthly models of "
                            "products, assets, outflows and leaving are right).", sentence=txt),
                         True))
            find.append((tr("What one more product is worth in money (months and discounted "
                            "profit gained by tier 3+ customers who hold one product): the "
                            "customer-value report, linked at the top."), False))
    rec = s[s["recommended"]]
    main = rec.iloc[0] if len(rec) else None
    naive = s[s["method"].str.startswith("Cox, unadjusted")
              & (s["contrast"] == PER_PRODUCT)].iloc[0]
    is_msm = main is not None and main["method"].startswith("Marginal structural")
    is_gf = main is not None and main["method"].startswith("g-formula")
    if main is not None and np.isfinite(main["hr"]) and (is_msm or is_gf):
        unclear = main["ci_low"] <= 1 <= main["ci_high"]
        ci = _ci_text(main["hr"], main["ci_low"], main["ci_high"])
        pct = _fmt_pct(main["hr"])
        if unclear:
            claim = tr("**Holding one more product from entry is not clearly linked to the "
                       "monthly risk of leaving** ({ci}; {point})", ci=ci,
                       point=_point(main["hr"]))
        elif main["hr"] < 1:
            claim = tr("**Had every customer held one more product from entry, the monthly risk "
                       "of leaving would have been an estimated {pct} lower** ({ci})",
                       pct=pct, ci=ci)
        else:
            claim = tr("**Had every customer held one more product from entry, the monthly risk "
                       "of leaving would have been an estimated {pct} higher** ({ci})",
                       pct=pct, ci=ci)
        if is_gf:
            find.append((tr(
                "{claim}: g-formula, the book re-simulated with every customer holding exactly "
                "1, 2, 3 or 4 products from entry, and the hazard ratio per product read off "
                "the simulated customers. It assumes that the fitted monthly models of products, "
                "assets, outflows and leaving are right and hold everything that drives both "
                "product holding and leaving.", claim=claim), True))
            msm = s[s["method"] == MSM]
            if len(msm) and np.isfinite(msm.iloc[0]["hr"]):
                m = msm.iloc[0]
                find.append((tr(
                    "The marginal structural Cox model estimates the same hazard ratio by "
                    "weighting each customer-month by how unusual its product holding was given "
                    "the customer's history: {ci}. Its interval is less reliable: a few "
                    "customers with very unusual product histories carry large weights, and on "
                    "simulated books such intervals missed the true effect more often than the "
                    "stated 5%.", ci=_ci_text(m["hr"], m["ci_low"], m["ci_high"])), False))
        else:
            find.append((tr(
                "{claim}: marginal structural Cox model, which weights each customer-month by "
                "how unusual its product holding was given the customer's history (assets, "
                "tier, outflows, engagement where measured). It assumes that this history "
                "holds everything that drives both product holding and leaving.", claim=claim),
                True))
            find.append((tr(
                "Its interval is less reliable than the g-formula's: a few customers with very "
                "unusual product histories carry large weights, and on simulated books such "
                "intervals missed the true effect more often than the stated 5%."), True))
    elif main is not None and np.isfinite(main["hr"]):
        unclear = main["ci_low"] <= 1 <= main["ci_high"]
        ci = _ci_text(main["hr"], main["ci_low"], main["ci_high"])
        pct = _fmt_pct(main["hr"])
        if unclear:
            claim = tr("**Each additional product is not clearly linked to the monthly risk of "
                       "leaving** ({ci}; {point})", ci=ci, point=_point(main["hr"]))
        elif main["hr"] < 1:
            claim = tr("**Each additional product is linked to an estimated {pct} lower monthly "
                       "risk of leaving** ({ci})", pct=pct, ci=ci)
        else:
            claim = tr("**Each additional product is linked to an estimated {pct} higher "
                       "monthly risk of leaving** ({ci})", pct=pct, ci=ci)
        if main_key != "time_varying":
            counted = tr(", with products counted at entry")
        elif lvl["lag"] == 1:
            counted = tr(", with products counted as they change (lagged {lag} month)",
                         lag=lvl["lag"])
        else:
            counted = tr(", with products counted as they change (lagged {lag} months)",
                         lag=lvl["lag"])
        find.append((tr("{claim}, after adjusting for {adjusted}{counted}: conditional on "
                        "current holdings and covariates, not the effect of adding a product.",
                        claim=claim, adjusted=_adjusted_for(pe.fits.get(main_key)),
                        counted=counted), True))
        if unclear:
            find.append((tr("The interval includes no effect (HR 1): this data cannot rule out "
                            "that products make no difference."), True))
    else:
        why = pe.notes.get("cox_time_varying")
        find.append((tr("The leading estimate is not available for this data: {why}",
                        why=note_words(why) if why else tr("see the notes.")), True))
    if np.isfinite(naive["hr"]):
        ci = _ci_text(naive["hr"], naive["ci_low"], naive["ci_high"])
        clear = (main is not None and np.isfinite(main["hr"])
                 and naive["ci_high"] < main["hr"])
        if clear and lvl.get("has_engagement"):
            txt = tr("A naive comparison of products at entry gives {ci}: clearly more "
                     "protective than the adjusted estimate, as expected if engaged customers "
                     "both buy more and stay longer (this data measures engagement).", ci=ci)
        elif clear:
            txt = tr("A naive comparison of products at entry gives {ci}: clearly more "
                     "protective than the adjusted estimate.", ci=ci)
        else:
            txt = tr("A naive comparison of products at entry gives {ci}.", ci=ci)
        find.append((txt, True))
    ipw_row = s[s["method"].str.startswith("IPW")].iloc[0]
    if np.isfinite(ipw_row["hr"]):
        find.append((tr(
            "Weighting customers with 2+ products against those with 1 (IPW, {note}) gives "
            "{ci}: a comparison of groups, not a per-product figure.",
            note=cell_words(ipw_row["note"]),
            ci=_ci_text(ipw_row["hr"], ipw_row["ci_low"], ipw_row["ci_high"])), False))
    if pe.tables.get("rmst") is not None:
        r = pe.tables["rmst"]
        r = r[(r["group"] == "2+") & r["difference"].notna()]
        if len(r):
            find.append((_rmst_words(r.iloc[-1]), False))
    if shape_info.get("monotone") is False:
        rising = ", ".join(shape_info["rising_steps"])
        if shape_info["rising_significant"]:
            txt = tr("The effect is **not monotone**: the hazard rises at step(s) {steps} "
                     "(significantly).", steps=rising)
        else:
            txt = tr("The effect is **not monotone**: the hazard rises at step(s) {steps} "
                     "(within the uncertainty).", steps=rising)
        find.append((txt, False))
    elif shape_info.get("monotone"):
        top = pe.tables["shape"]["level"].iloc[-1] if pe.tables.get("shape") is not None else "4+"
        find.append((tr("The hazard falls at every step from 1 to {top} products (point "
                        "estimates).", top=top), False))
    if band_test is not None and band_test["p"] < ALPHA:
        find.append((tr("The effect changes with tenure (test of equal hazard ratios across "
                        "tenure bands: p = {p}); see the band-specific estimates.",
                        p=f"{band_test['p']:.3f}"), True))
    if ev is not None:
        find.append((tr(
            "E-value {evalue} (confidence limit: {evalue_ci}): an unmeasured factor would need "
            "a risk ratio of at least {evalue} with both product holding and attrition, beyond "
            "the measured covariates, to explain the effect away.",
            evalue=f"{ev['evalue']:.2f}", evalue_ci=f"{ev['evalue_ci']:.2f}"), False))
    # agreement between methods (per-product estimates that adjust for confounding)
    per = s[(s["contrast"] == PER_PRODUCT) & s["hr"].notna()
            & ~s["method"].str.startswith("Cox, unadjusted")]
    if main is not None and np.isfinite(main["hr"]) and len(per) > 1:
        outside = per[(per["ci_high"] < main["ci_low"]) | (per["ci_low"] > main["ci_high"])]
        # estimates clearly on the other side of 1 than the recommended point estimate
        lower = main["hr"] >= 1
        opposite = per[per["ci_high"] < 1] if lower else per[per["ci_low"] > 1]
        low, high = f"{per['hr'].min():.2f}", f"{per['hr'].max():.2f}"
        sep = "、" if language() == "zh" else ", "
        if not opposite.empty:
            methods = sep.join(cell_words(m) for m in opposite["method"])
            agree = (tr("The methods disagree on the direction: {methods} show(s) a "
                        "significantly lower risk with more products.", methods=methods)
                     if lower else
                     tr("The methods disagree on the direction: {methods} show(s) a "
                        "significantly higher risk with more products.", methods=methods))
        elif outside.empty:
            agree = tr("The adjusted per-product estimates range from HR {low} to {high}; their "
                       "intervals overlap with the leading one.", low=low, high=high)
        else:
            agree = tr("The adjusted per-product estimates range from HR {low} to {high}, and "
                       "{methods} lie(s) outside the leading interval: the methods disagree on "
                       "the size of the effect.", low=low, high=high,
                       methods=sep.join(cell_words(m) for m in outside["method"]))
        find.append((agree, True))
    conclusion = ("" if language() == "zh" else " ").join(f for f, lead in find if lead)
    return [f for f, _ in find], conclusion
