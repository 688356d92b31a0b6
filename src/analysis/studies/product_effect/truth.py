"""Truth of the synthetic book for the product-effect estimates, and the estimates side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.product_effect.terms import PER_PRODUCT, TWO_PLUS, _est
from analysis.studies.product_effect.frames import DUMMIES, PRODUCT_LEVELS


def _truth_values(truth: dict | None, settings: dict, ipw_segments: list[str] | None) -> dict:
    """True values the estimates target, where the generator knows them."""
    out = {"hr_per_product": None, "scenario": None, "causal": None, "iptw": None,
           "iptw_population": None, "iptw_note": ""}
    if not truth:
        return out
    out["scenario"] = truth.get("scenario", "default")
    if settings["attrition"] != "closure":
        out["iptw_note"] = "the generator's truth is for closure, not value attrition"
        return out
    # the generator's conditional coefficient: the time-varying Cox's target only where its
    # model is the generator's (default scenario)
    if out["scenario"] == "default":
        out["hr_per_product"] = truth.get("hr_per_product")
    if settings.get("full_window", True) and not settings.get("branch"):
        out["causal"] = truth.get("causal")  # whole book, full follow-up only
    if not settings.get("full_window", True):
        out["iptw_note"] = "the IPW truth is for the full window (as_of shortens follow-up)"
        return out
    from analysis.data.synthetic import intervention_truth

    cfg = truth.get("config")
    hit = intervention_truth(cfg) if cfg else None
    if hit is None:
        out["iptw_note"] = "the IPW truth is not cached for this generator configuration"
        return out
    d = hit["details"]["twoplus_vs_one"]
    branch = settings.get("branch")
    segs = sorted(ipw_segments or [])
    out["iptw_population"] = ("whole book" if segs == ["deposit", "loan"]
                              else ", ".join(segs) + "-reliant customers") + (
        f", branch {branch}" if branch else "")
    if segs == ["deposit", "loan"]:
        out["iptw"] = d.get("by_branch", {}).get(branch) if branch else d["hr"]
    elif len(segs) == 1:
        out["iptw"] = (d.get("by_branch_segment", {}).get(f"{branch}|{segs[0]}") if branch
                       else d.get("by_segment", {}).get(segs[0]))
    if out["iptw"] is None:
        out["iptw_note"] = "the IPW truth is not known for this population"
    return out


def _row(method, contrast, est, n, events, truth=None, note="", recommended=False,
         estimand="association (no interventional truth)"):
    return {"method": method, "contrast": contrast, "hr": est["hr"], "ci_low": est["ci_low"],
            "ci_high": est["ci_high"], "p": est.get("p", np.nan), "n": n, "events": events,
            "truth": np.nan if truth is None else float(truth), "recommended": recommended,
            "estimand": estimand, "note": note}


MSM = "Marginal structural Cox (MSM)"
#: The same marginal HR from the g-formula's simulated "always k products" arms.
GFORMULA_HR = "g-formula (Cox model on the simulated arms)"
#: The time-varying model fitted from counts (:func:`analysis.stats.cox.cells.fit_cox_cells`).
CELLS = "Time-varying, piecewise exponential from counts (large-book engine)"
CONDITIONAL = "conditional on current holdings and covariates"


def _causal_truth(table: pd.DataFrame, causal_truth: dict | None) -> pd.DataFrame:
    """Add the interventional truth of each g-formula row (NaN when unknown)."""
    t = table.copy()

    def look(r):
        if not causal_truth:
            return np.nan
        sec = causal_truth.get(r["section"]) or {}
        block = sec.get(r["key"], {}) if r["section"] == "static" else sec
        v = block.get(r["quantity"]) if isinstance(block, dict) else None
        return np.nan if v is None else float(v)
    t["truth"] = [look(r) for _, r in t.iterrows()]
    return t


def _summary(fits, ipw, landmark, truth, ipw_segments, n, events, main_key,
             causal=None, cells_scope=None) -> pd.DataFrame:
    hp = truth["hr_per_product"]
    ct = truth.get("causal") or {}
    rows = []
    if causal is not None:
        g = (causal.get("gformula_hr") or {}).get("hr_per_product")
        if g is not None:
            # the truth is defined on 36 months of follow-up from entry
            same = (causal["details"]["gformula_hr"]["horizon_months"]
                    == ct.get("horizon_months", 36))
            rows.append(_row(GFORMULA_HR, PER_PRODUCT,
                             {"hr": g["estimate"], "ci_low": g["ci_low"],
                              "ci_high": g["ci_high"]}, n, events,
                             ct.get("marginal_hr_per_product") if same else None,
                             "effect of holding one more product from entry", recommended=True,
                             estimand="marginal HR, everyone k+1 vs k products"))
        m = causal["msm"]["hr_per_product"]
        est = {"hr": m["estimate"], "ci_low": m["ci_low"], "ci_high": m["ci_high"]}
        rows.append(_row(MSM, PER_PRODUCT, est, n, events, ct.get("marginal_hr_per_product"),
                         "effect of holding one more product from entry", recommended=g is None,
                         estimand="marginal HR, everyone k+1 vs k products"))
        mt = causal.get("msm_truncated")
        if mt is not None:
            e = mt["hr_per_product"]
            rows.append(_row(MSM + ", truncated weights", PER_PRODUCT,
                             {"hr": e["estimate"], "ci_low": e["ci_low"],
                              "ci_high": e["ci_high"]}, n, events, None,
                             "sensitivity: truncation changes the estimand",
                             estimand="truncated-weight pseudo-population (no truth)"))
    f = fits.get("unadjusted_linear")
    rows.append(_row("Cox, unadjusted (products at entry)", PER_PRODUCT,
                     _est(f, "n_products_entry"), n, events, None,
                     "naive comparison"))
    fc = fits.get("unadjusted_categorical")
    for lv in PRODUCT_LEVELS[1:]:
        if fc is not None and DUMMIES[lv] in fc.covariates:
            k = {"2": 1, "3": 2}.get(lv)
            rows.append(_row("Cox, unadjusted (products at entry)", f"{lv} vs 1",
                             _est(fc, DUMMIES[lv]), fc.n, fc.events))
    f = fits.get("adjusted_linear")
    rows.append(_row("Cox, adjusted (products at entry)", PER_PRODUCT,
                     _est(f, "n_products_entry"), n, events, None,
                     "later changes in products ignored", estimand="conditional on covariates "
                     "at entry"))
    f = fits.get("time_varying")
    rows.append(_row("Time-varying Cox, adjusted", PER_PRODUCT, _est(f, "n_products"),
                     f.n if f else n, f.events if f else events, hp, CONDITIONAL,
                     recommended=causal is None and main_key == "time_varying",
                     estimand=CONDITIONAL))
    f = fits.get("time_varying_cells")
    if f is not None:
        whole = (cells_scope or {}).get("whole_book")
        rows.append(_row(CELLS, PER_PRODUCT, _est(f, "n_products"),
                         (cells_scope or {}).get("customers", n), f.events, hp,
                         "the row above from counts per band of tenure and covariate cell"
                         + (", on every customer of the book" if whole else ""),
                         estimand=CONDITIONAL))
    fc = fits.get("time_varying_categorical")
    for lv in PRODUCT_LEVELS[1:]:
        if fc is not None and DUMMIES[lv] in fc.covariates:
            k = {"2": 1, "3": 2}.get(lv)
            rows.append(_row("Time-varying Cox, adjusted", f"{lv} vs 1", _est(fc, DUMMIES[lv]),
                             fc.n, fc.events, hp ** k if hp and k else None,
                             estimand=CONDITIONAL))
    if landmark is not None:
        for _, r in landmark.iterrows():
            rows.append(_row(f"Landmark at {r['landmark']:g} months", PER_PRODUCT,
                             {k: r[k] for k in ("hr", "ci_low", "ci_high", "p")},
                             int(r["n"]), int(r["events"]), None, r["note"]))
    pop = "whole book" if sorted(ipw_segments or []) == ["deposit", "loan"] else (
        f"{', '.join(ipw_segments)}-reliant customers" if ipw_segments else "all customers")
    rows.append(_row("IPW (stabilised weights)", TWO_PLUS,
                     ipw.effect if ipw is not None else _est(None, ""),
                     ipw.cox.n if ipw is not None else 0,
                     ipw.cox.events if ipw is not None else 0, truth["iptw"],
                     f"marginal effect at entry, {pop}" if pop else "",
                     estimand=f"marginal HR, 2+ vs 1 product in the entry month ({pop})"))
    ft = fits.get("iptw_trimmed")
    if ft is not None:
        rows.append(_row("IPW, trimmed weights (sensitivity)", TWO_PLUS, _est(ft, "two_plus"),
                         ft.n, ft.events, None, "sensitivity: trimming changes the estimand",
                         estimand="trimmed-weight pseudo-population (no truth)"))
    return pd.DataFrame(rows)
