"""Headline numbers (JSON) of the product-effect report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import math

from analysis.errors import is_not_estimable
from analysis.studies.product_effect.terms import PER_PRODUCT, TWO_PLUS, _est
from analysis.studies.product_effect.truth import GFORMULA_HR

if TYPE_CHECKING:
    from analysis.studies.product_effect.estimate import ProductEffect
from analysis.studies.product_effect.frames import (
    CELL_BAND_MONTHS,
    CELL_BINS,
    DUMMIES,
    PRODUCT_LEVELS,
)


def _clean(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _headline(pe: ProductEffect, lr, ev, main_key, ipw_segments) -> dict:
    s = pe.summary
    truth = pe.truth or {}
    hp = truth.get("hr_per_product")  # conditional coefficient (default scenario only)
    ct = truth.get("causal") or {}

    def pick(method, contrast):
        r = s[(s["method"] == method) & (s["contrast"] == contrast)]
        if r.empty:
            return {"hr": None, "ci_low": None, "ci_high": None}
        r = r.iloc[0]
        return {"hr": r["hr"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}

    def with_note(d, key):
        if key in pe.notes and is_not_estimable(pe.notes[key]):
            d["note"] = pe.notes[key]
        return d

    f = pe.fits.get("unadjusted_linear")
    un = _est(f, "n_products_entry")
    unadj = {"hr": un["hr"], "ci_low": un["ci_low"], "ci_high": un["ci_high"],
             "se_log_hr": un["se_log_hr"]}
    cat = {}
    fc = pe.fits.get("unadjusted_categorical")
    for lv in PRODUCT_LEVELS[1:]:
        e = _est(fc, DUMMIES[lv])
        cat[lv] = {"hr": e["hr"], "ci_low": e["ci_low"], "ci_high": e["ci_high"]}
    adj = dict(pick("Cox, adjusted (products at entry)", PER_PRODUCT), contrast=PER_PRODUCT)
    tv = dict(pick("Time-varying Cox, adjusted", PER_PRODUCT), contrast=PER_PRODUCT,
              lag=pe.settings["lag"])
    tv["estimand"] = "conditional on current holdings and covariates"
    if hp:
        tv["truth_conditional"] = hp
    fcells = pe.fits.get("time_varying_cells")
    if fcells is not None:
        # the same model from counts (the large-book engine: piecewise exponential), for
        # comparison with the row fit
        tv["from_counts"] = _clean({**{k: _est(fcells, "n_products")[k]
                                       for k in ("hr", "ci_low", "ci_high")},
                                    "model": "piecewise exponential",
                                    "band_months": CELL_BAND_MONTHS,
                                    "bins": CELL_BINS, "cells": int(len(fcells.data)),
                                    **pe.settings["from_counts"]})
    ipw = dict(pick("IPW (stabilised weights)", TWO_PLUS), contrast=TWO_PLUS,
               population=truth.get("iptw_population") or (
                   "whole book" if sorted(ipw_segments or []) == ["deposit", "loan"]
                   else ", ".join(ipw_segments or [])), weights="untrimmed")
    if truth.get("iptw") is not None:
        ipw["truth"] = truth["iptw"]
    ipw_trim = dict(pick("IPW, trimmed weights (sensitivity)", TWO_PLUS), contrast=TWO_PLUS,
                    trim=pe.settings.get("trim"))
    causal = pe.causal
    msm: dict = {"hr": None, "ci_low": None, "ci_high": None}
    gformula_hr: dict = {"hr": None, "ci_low": None, "ci_high": None}
    gformula: dict = {}
    if causal is not None:
        m = causal["msm"]["hr_per_product"]
        msm = {"hr": m["estimate"], "ci_low": m["ci_low"], "ci_high": m["ci_high"],
               "se_log_hr": m["se"], "contrast": PER_PRODUCT,
               "estimand": causal["details"]["msm"]["estimand"],
               "ci_method": causal["details"]["msm"].get("ci"),
               "n_boot": causal["details"]["msm"].get("n_boot")}
        if ct.get("marginal_hr_per_product") is not None:
            msm["truth"] = ct["marginal_hr_per_product"]
        if "msm_truncated" in causal:
            t = causal["msm_truncated"]["hr_per_product"]
            msm["truncated_sensitivity"] = _clean({"hr": t["estimate"], "ci_low": t["ci_low"],
                                                   "ci_high": t["ci_high"]})
        for sec, block in causal["gformula"].items():
            blocks = block.items() if sec == "static" else [(None, block)]
            out_sec: dict = {}
            for key, leaves in blocks:
                tsec = (ct.get(sec) or {})
                tblock = (tsec.get(key) or {}) if key else tsec
                vals = {q: _clean({**v, **({"truth": tblock[q]} if q in tblock else {})})
                        for q, v in leaves.items()}
                if key:
                    out_sec[key] = vals
                else:
                    out_sec = vals
            gformula[sec] = out_sec
        gformula["settings"] = {k: causal["details"]["gformula"][k]
                                for k in ("n_boot", "mc_size", "seed", "ci", "history_halflife")}
        g = (causal.get("gformula_hr") or {}).get("hr_per_product")
        if g is not None:
            gdet, hdet = causal["details"]["gformula"], causal["details"]["gformula_hr"]
            gformula_hr = {"hr": g["estimate"], "ci_low": g["ci_low"], "ci_high": g["ci_high"],
                           "se_log_hr": g["se"], "contrast": PER_PRODUCT,
                           "estimand": hdet["estimand"], "horizon_months": hdet["horizon_months"],
                           "ci_method": gdet["ci"], "n_boot": gdet["n_boot"]}
            # the summary row holds the truth when it applies (same horizon as the truth's)
            row = s[(s["method"] == GFORMULA_HR) & (s["contrast"] == PER_PRODUCT)]
            if len(row) and math.isfinite(row["truth"].iloc[0]):
                gformula_hr["truth"] = float(row["truth"].iloc[0])
    rmst = {}
    if pe.tables.get("rmst") is not None:
        r = pe.tables["rmst"]
        r = r[r["group"] == "2+"]
        for _, row in r.iterrows():
            rmst[f"{row['tau']:g}"] = _clean({"difference": row["difference"],
                                              "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                                              "contrast": TWO_PLUS})
    out = {
        "n": pe.n,
        "events": pe.events,
        # what the report leads with: the g-formula's "one more product" gains when estimated
        "lead": ("gformula" if (gformula.get("one_more_product") or {}) else
                 "msm" if causal is not None else
                 "cox_time_varying" if main_key == "time_varying" else "cox_adjusted"),
        # the hazard ratio recommended among the per-product hazard ratios
        "recommended": ("gformula_hr" if gformula_hr.get("hr") is not None else
                        "msm" if causal is not None else
                        "cox_time_varying" if main_key == "time_varying" else "cox_adjusted"),
        "gformula_hr": with_note(_clean(gformula_hr), "causal"),
        "msm": with_note(_clean(msm), "causal"),
        "gformula": gformula or with_note({}, "causal"),
        "cox_unadjusted_linear": with_note(_clean(unadj), "cox_unadjusted_linear"),
        "cox_unadjusted_categorical": {k: _clean(v) for k, v in cat.items()},
        "cox_adjusted": with_note(_clean(adj), "cox_adjusted"),
        "cox_time_varying": with_note(_clean(tv), "cox_time_varying"),
        "iptw": with_note(_clean(ipw), "iptw"),
        "iptw_trimmed_sensitivity": _clean(ipw_trim),
        "logrank": ({"chi2": lr.chi2, "df": lr.df, "p": lr.p} if lr is not None
                    else {"chi2": None, "df": None, "p": None,
                          "note": pe.notes.get("logrank", "")}),
        "rmst_difference": rmst,
        "evalue": ({"evalue": ev["evalue"], "evalue_ci": ev["evalue_ci"],
                    "estimate": ev["estimate"], "conversion": ev["conversion"]}
                   if ev is not None else {"evalue": None, "evalue_ci": None}),
    }
    if pe.truth is not None:
        out["truth"] = {"scenario": truth.get("scenario"),
                        "hr_per_product_conditional": hp,
                        "marginal_hr_per_product": ct.get("marginal_hr_per_product"),
                        "iptw_2plus_vs_1_this_population": truth.get("iptw"),
                        "iptw_population": truth.get("iptw_population")}
    ne = {k: v for k, v in pe.notes.items() if is_not_estimable(v)}
    if ne:
        out["not_estimable"] = ne
    return out
