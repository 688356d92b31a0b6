"""Key findings of the product-effect report in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.config import ALPHA, ci_label
from analysis.stats.cox.result import CoxResult
from analysis.studies.product_effect.terms import PER_PRODUCT

if TYPE_CHECKING:
    from analysis.studies.product_effect.estimate import ProductEffect


def _fmt_pct(hr: float) -> str:
    return f"{abs(1 - hr) * 100:.0f}%"


_SHORT = {"tier": "value tier", "tier_entry": "value tier", "loan": "segment",
          "outflow_3m": "recent large outflows", "age10": "age", "entry_years": "tenure at entry",
          "log_aum": "assets", "engagement": "engagement"}


def _adjusted_for(fit: CoxResult | None) -> str:
    """The adjustment set in words (what the model actually used)."""
    words = [_SHORT[c] for c in (fit.covariates if fit else []) if c in _SHORT]
    words = list(dict.fromkeys(words))
    if fit is not None and fit.strata:
        words.append("branch")
    if not words:
        return "nothing else"
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]


def _ci_text(hr, lo, hi) -> str:
    return f"HR {hr:.2f} ({ci_label()} {lo:.2f}-{hi:.2f})"


def _rmst_words(r) -> str:
    """Months gained with 2+ products (RMST difference): a gain or loss only when its CI excludes 0."""
    head = f"Within the first {r['tau']:g} months of tenure, customers with 2+ products at entry"
    ci = f"({ci_label()} {r['ci_low']:.1f} to {r['ci_high']:.1f}; unadjusted)"
    d = r["difference"]
    if r["ci_low"] > 0:
        return f"{head} stayed {d:.1f} months longer on average than those with 1 {ci}."
    if r["ci_high"] < 0:
        return f"{head} stayed {-d:.1f} months less on average than those with 1 {ci}."
    return (f"{head} did not stay clearly longer or shorter than those with 1: difference "
            f"{d:.1f} months {ci}.")


def _words(pe: ProductEffect, lr, ev, main_key, shape_info, band_test, ipw_segments):
    """Plain-language findings and conclusion, computed from the estimates."""
    s = pe.summary
    find = []
    lvl = pe.settings
    scope = f"branch {lvl['branch']}" if lvl.get("branch") else "the whole bank"
    find.append(
        f"{pe.n:,} customers of {scope}; {pe.events:,} left during the observation window "
        f"(attrition: {lvl['attrition']}).")
    rec = s[s["recommended"]]
    main = rec.iloc[0] if len(rec) else None
    naive = s[s["method"].str.startswith("Cox, unadjusted")
              & (s["contrast"] == PER_PRODUCT)].iloc[0]
    is_msm = main is not None and main["method"].startswith("Marginal structural")
    if main is not None and np.isfinite(main["hr"]) and is_msm:
        direction = "lower" if main["hr"] < 1 else "higher"
        unclear = main["ci_low"] <= 1 <= main["ci_high"]
        ci = _ci_text(main["hr"], main["ci_low"], main["ci_high"])
        claim = (f"**Holding one more product from entry is not clearly linked to the monthly "
                 f"risk of leaving** ({ci}; point estimate {_fmt_pct(main['hr'])} {direction})"
                 if unclear else
                 f"**Had every customer held one more product from entry, the monthly risk of "
                 f"leaving would have been an estimated {_fmt_pct(main['hr'])} {direction}** "
                 f"({ci})")
        find.append(
            f"{claim}: marginal structural Cox model, which weights each customer-month by how "
            "unusual its product holding was given the customer's history (assets, tier, "
            "outflows, engagement where measured). It assumes that this history holds "
            "everything that drives both product holding and leaving.")
    elif main is not None and np.isfinite(main["hr"]):
        direction = "lower" if main["hr"] < 1 else "higher"
        unclear = main["ci_low"] <= 1 <= main["ci_high"]
        ci = _ci_text(main["hr"], main["ci_low"], main["ci_high"])
        claim = (f"**Each additional product is not clearly linked to the monthly risk of "
                 f"leaving** ({ci}; point estimate {_fmt_pct(main['hr'])} {direction})"
                 if unclear else
                 f"**Each additional product is linked to an estimated {_fmt_pct(main['hr'])} "
                 f"{direction} monthly risk of leaving** ({ci})")
        find.append(
            f"{claim}, after adjusting for {_adjusted_for(pe.fits.get(main_key))}"
            + (f", with products counted as they change (lagged {lvl['lag']} "
               f"month{'s' if lvl['lag'] != 1 else ''})" if main_key == "time_varying" else
               ", with products counted at entry")
            + ": conditional on current holdings and covariates, not the effect of adding a "
            "product.")
        if unclear:
            find.append("The interval includes no effect (HR 1): this data cannot rule out that "
                        "products make no difference.")
    else:
        find.append("The leading estimate is not available for this data: "
                    + pe.notes.get("cox_time_varying", "see the notes."))
    if np.isfinite(naive["hr"]):
        txt = (f"A naive comparison of products at entry gives "
               f"{_ci_text(naive['hr'], naive['ci_low'], naive['ci_high'])}")
        clear = (main is not None and np.isfinite(main["hr"])
                 and naive["ci_high"] < main["hr"])
        if clear and lvl.get("has_engagement"):
            txt += (": clearly more protective than the adjusted estimate, as expected if "
                    "engaged customers both buy more and stay longer (this data measures "
                    "engagement).")
        elif clear:
            txt += ": clearly more protective than the adjusted estimate."
        else:
            txt += "."
        find.append(txt)
    ipw_row = s[s["method"].str.startswith("IPW")].iloc[0]
    if np.isfinite(ipw_row["hr"]):
        find.append(
            f"Weighting customers with 2+ products against those with 1 (IPW, {ipw_row['note']}) "
            f"gives {_ci_text(ipw_row['hr'], ipw_row['ci_low'], ipw_row['ci_high'])}: a "
            "comparison of groups, not a per-product figure.")
    g = pe.tables.get("gformula")
    if g is not None:
        r = g[(g["section"] == "one_more_product") & g["quantity"].str.startswith("rmst_")
              & g["quantity"].str.endswith("_gain")]
        if len(r):
            r = r.iloc[0]
            tau = r["quantity"].split("_")[1]
            ci = f"({ci_label()} {r['ci_low']:.2f} to {r['ci_high']:.2f})"
            if r["ci_low"] > 0:
                txt = (f"One more product than each customer held would keep them "
                       f"{r['estimate']:.2f} months longer on average within {tau} months of "
                       f"entry {ci}")
            elif r["ci_high"] < 0:
                txt = (f"One more product than each customer held would shorten their stay by "
                       f"{-r['estimate']:.2f} months on average within {tau} months of entry {ci}")
            else:
                txt = (f"One more product than each customer held would not clearly change "
                       f"the months retained within {tau} months of entry: "
                       f"{r['estimate']:.2f} {ci}")
            find.append(txt + " (g-formula; assumes the fitted monthly models of products, "
                        "assets, outflows and leaving are right).")
    if pe.tables.get("rmst") is not None:
        r = pe.tables["rmst"]
        r = r[(r["group"] == "2+") & r["difference"].notna()]
        if len(r):
            find.append(_rmst_words(r.iloc[-1]))
    if shape_info.get("monotone") is False:
        rising = ", ".join(shape_info["rising_steps"])
        sig = shape_info["rising_significant"]
        find.append(f"The effect is **not monotone**: the hazard rises at step(s) {rising}"
                    + (" (significantly)." if sig else " (within the uncertainty)."))
    elif shape_info.get("monotone"):
        top = pe.tables["shape"]["level"].iloc[-1] if pe.tables.get("shape") is not None else "4+"
        find.append(f"The hazard falls at every step from 1 to {top} products (point estimates).")
    if band_test is not None and band_test["p"] < ALPHA:
        find.append(f"The effect changes with tenure (test of equal hazard ratios across tenure "
                    f"bands: p = {band_test['p']:.3f}); see the band-specific estimates.")
    if ev is not None:
        find.append(
            f"E-value {ev['evalue']:.2f} (confidence limit: {ev['evalue_ci']:.2f}): an unmeasured "
            f"factor would need a risk ratio of at least {ev['evalue']:.2f} with both product "
            "holding and attrition, beyond the measured covariates, to explain the effect away.")
    # agreement between methods (per-product estimates that adjust for confounding)
    per = s[(s["contrast"] == PER_PRODUCT) & s["hr"].notna()
            & ~s["method"].str.startswith("Cox, unadjusted")]
    if main is not None and np.isfinite(main["hr"]) and len(per) > 1:
        outside = per[(per["ci_high"] < main["ci_low"]) | (per["ci_low"] > main["ci_high"])]
        # estimates clearly on the other side of 1 than the recommended point estimate
        lower = main["hr"] >= 1
        opposite = per[per["ci_high"] < 1] if lower else per[per["ci_low"] > 1]
        span = (f"The adjusted per-product estimates range from HR {per['hr'].min():.2f} to "
                f"{per['hr'].max():.2f}")
        if not opposite.empty:
            agree = ("The methods disagree on the direction: " + ", ".join(opposite["method"])
                     + f" show(s) a significantly {'lower' if lower else 'higher'} risk with "
                     "more products.")
        elif outside.empty:
            agree = span + "; their intervals overlap with the leading one."
        else:
            agree = (span + ", and " + ", ".join(outside["method"]) + " lie(s) outside the "
                     "leading interval: the methods disagree on the size of the effect.")
        find.append(agree)
    keep = ("**Each", "**Had", "**Holding", "The interval", "The leading", "A naive",
            "One more product", "The adjusted per-product", "The methods", "The effect changes")
    conclusion = " ".join(f for f in find[1:] if f.startswith(keep))
    return find, conclusion
