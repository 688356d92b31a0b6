"""Truth of the synthetic book for the product-effect estimates, and the estimates side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.product_effect.terms import PER_PRODUCT, TWO_PLUS, _est
from analysis.studies.product_effect.frames import DUMMIES, PRODUCT_LEVELS


def _truth_values(truth: dict | None, settings: dict, ipw_segments: list[str] | None) -> dict:
    """True values the estimates target, where the generator knows them."""
    out = {"hr_per_product": None, "iptw": None, "iptw_note": ""}
    if not truth:
        return out
    if settings["attrition"] != "closure":
        out["iptw_note"] = "the generator's truth is for closure, not value attrition"
        return out
    out["hr_per_product"] = truth.get("hr_per_product")
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
    if segs == ["deposit", "loan"]:
        out["iptw"] = d.get("by_branch", {}).get(branch) if branch else d["hr"]
    elif len(segs) == 1:
        out["iptw"] = (d.get("by_branch_segment", {}).get(f"{branch}|{segs[0]}") if branch
                       else d.get("by_segment", {}).get(segs[0]))
    if out["iptw"] is None:
        out["iptw_note"] = "the IPW truth is not known for this population"
    return out


def _row(method, contrast, est, n, events, truth=None, note="", recommended=False):
    return {"method": method, "contrast": contrast, "hr": est["hr"], "ci_low": est["ci_low"],
            "ci_high": est["ci_high"], "p": est["p"], "n": n, "events": events,
            "truth": np.nan if truth is None else float(truth), "recommended": recommended,
            "note": note}


def _summary(fits, ipw, landmark, truth, ipw_segments, n, events, main_key) -> pd.DataFrame:
    hp = truth["hr_per_product"]
    rows = []
    f = fits.get("unadjusted_linear")
    rows.append(_row("Cox, unadjusted (products at entry)", PER_PRODUCT,
                     _est(f, "n_products_entry"), n, events, hp,
                     "naive: confounded by engagement"))
    fc = fits.get("unadjusted_categorical")
    for lv in PRODUCT_LEVELS[1:]:
        if fc is not None and DUMMIES[lv] in fc.covariates:
            k = {"2": 1, "3": 2}.get(lv)
            rows.append(_row("Cox, unadjusted (products at entry)", f"{lv} vs 1",
                             _est(fc, DUMMIES[lv]), fc.n, fc.events,
                             hp ** k if hp and k else None))
    f = fits.get("adjusted_linear")
    rows.append(_row("Cox, adjusted (products at entry)", PER_PRODUCT,
                     _est(f, "n_products_entry"), n, events, hp,
                     "later changes in products ignored"))
    f = fits.get("time_varying")
    rows.append(_row("Time-varying Cox, adjusted", PER_PRODUCT, _est(f, "n_products"),
                     f.n if f else n, f.events if f else events, hp,
                     "recommended", recommended=main_key == "time_varying"))
    fc = fits.get("time_varying_categorical")
    for lv in PRODUCT_LEVELS[1:]:
        if fc is not None and DUMMIES[lv] in fc.covariates:
            k = {"2": 1, "3": 2}.get(lv)
            rows.append(_row("Time-varying Cox, adjusted", f"{lv} vs 1", _est(fc, DUMMIES[lv]),
                             fc.n, fc.events, hp ** k if hp and k else None))
    if landmark is not None:
        for _, r in landmark.iterrows():
            rows.append(_row(f"Landmark at {r['landmark']:g} months", PER_PRODUCT,
                             {k: r[k] for k in ("hr", "ci_low", "ci_high", "p")},
                             int(r["n"]), int(r["events"]), None, r["note"]))
    pop = "whole book" if sorted(ipw_segments or []) == ["deposit", "loan"] else (
        f"{', '.join(ipw_segments)}-reliant customers" if ipw_segments else "all customers")
    rows.append(_row("IPW (stabilised, trimmed weights)", TWO_PLUS,
                     ipw.effect if ipw is not None else _est(None, ""),
                     ipw.cox.n if ipw is not None else 0,
                     ipw.cox.events if ipw is not None else 0, truth["iptw"],
                     f"marginal effect, {pop}" if pop else ""))
    fu = fits.get("iptw_untrimmed")
    if fu is not None:
        rows.append(_row("IPW (stabilised, untrimmed weights)", TWO_PLUS, _est(fu, "two_plus"),
                         fu.n, fu.events, truth["iptw"], "sensitivity: no trimming"))
    return pd.DataFrame(rows)
