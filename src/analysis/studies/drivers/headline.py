"""Headline numbers (JSON) of the drivers report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analysis.studies.drivers.design import EVENT

if TYPE_CHECKING:
    from analysis.studies.drivers.estimate import Drivers

__all__ = [
    "headline",
]


def _effect_dict(eff: pd.DataFrame, ratio: str = "hr") -> dict:
    return {r["key"]: {"label": r["label"], ratio: r[ratio], "ci_low": r["ci_low"],
                       "ci_high": r["ci_high"], "p": r["p"],
                       **({"ph_test_p": r["ph_test_p"]} if ratio == "hr" else {})}
            for _, r in eff.iterrows()}


def headline(dr: Drivers) -> dict:
    """Machine-readable headline numbers (the JSON next to the HTML), under ``drivers``."""
    s = dr.study
    f = s.frame
    out: dict = {
        "scope": s.params.get("branch") or "bank",
        "attrition": s.params.get("attrition"),
        "as_of": s.params.get("as_of"),
        "n": int(len(f)),
        "events": int(f[EVENT].sum()),
        "ph_transform": dr.transform,
        # a large book: the models (every number here) come from this seeded sample
        "model_sample": None if s.sample is None else s.sample.to_dict(),
    }
    if dr.design.ok:
        out["model_terms"] = {t.name: t.coding for t in dr.design.value.terms}
    if dr.effects.ok:
        out["covariates"] = _effect_dict(dr.effects.value)
    if dr.ph.ok:
        out["ph_global_p"] = float(dr.ph.value[0].loc["GLOBAL", "p"])
        out["ph_flagged"] = dr.ph.value[0].index[dr.ph.value[0]["flagged"]].tolist()
    if dr.remedy.ok and dr.remedy.value is not None:
        out["ph_remedy"] = dr.remedy.value.actions
    if dr.held_out.ok:
        h = dr.held_out.value
        a = h.accuracy
        out["c_index_harrell"] = a.c_harrell
        out["c_index_uno"] = a.c_uno
        out["horizons_measured"] = a.horizons
        out["auc"] = {f"{r['horizon']:g}": r["auc"] for _, r in a.table.iterrows()}
        out["brier"] = {f"{r['horizon']:g}": r["brier"] for _, r in a.table.iterrows()}
        out["brier_null"] = {f"{r['horizon']:g}": r["brier_null"] for _, r in a.table.iterrows()}
        out["calibration_ici"] = {f"{k:g}": (c.value.ici if c.ok else None)
                                  for k, c in h.calibration.items()}
    if dr.aft.ok:
        a = dr.aft.value
        out["aft"] = {"distribution": a.best, "aic": float(a.comparison["aic"].iloc[0]),
                      "aic_all": dict(zip(a.comparison["distribution"], a.comparison["aic"])),
                      "time_ratios": _effect_dict(a.time_ratios, "tr")}
    if dr.time_varying.ok:
        out["time_varying"] = _effect_dict(dr.time_varying.value.effects)
    if dr.from_counts.ok:  # the same effects from counts (every customer of a large book)
        fc = dr.from_counts.value
        out["time_varying_from_counts"] = {
            **{r["key"]: {"hr": r["hr"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
               for _, r in fc.table.iterrows()},
            "model": "piecewise exponential", "band_months": fc.band_months, "bins": fc.bins,
            "cells": fc.cells, "customers": fc.customers, "whole_book": fc.whole_book}
    if dr.frailty.ok:
        fr = dr.frailty.value
        out["outflow_given_customer"] = {
            "frailty_variance_estimate": fr.theta,
            "frailty_variance_se": fr.theta_se,
            "rows": [{"kind": r["kind"], "frailty_variance": r["variance"], "hr": r["hr"],
                      "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
                     for _, r in fr.table.iterrows()]}
    if dr.reasons.ok:
        r = dr.reasons.value
        out["reasons"] = {row["reason"]: {"departures": int(row["departures"]),
                                          "share": row["share"]}
                          for _, row in r.counts.iterrows()}
        out["cumulative_incidence"] = {
            cause: {f"{t:g}": v for t, v in zip(sub["time"], sub["cif"])}
            for cause, sub in r.cif_at.groupby("cause", sort=False)}
        if r.cause_hr.ok:
            out["cause_specific_hr"] = {
                cause: {row["column"]: {"hr": row["hr"], "ci_low": row["ci_low"],
                                        "ci_high": row["ci_high"], "p": row["p"]}
                        for _, row in sub.iterrows()}
                for cause, sub in r.cause_hr.value.groupby("cause", sort=False)}
    truth = s.portfolio.truth
    if truth and truth.get("generator") == "analysis.data.synthetic":
        t: dict = {}
        for name, att in (("static", dr.truth_static), ("time_varying", dr.truth_tv)):
            if att.ok:
                t[name] = {r["key"]: {"true_hr": r["true_hr"], "comparable": r["comparable"],
                                      "covered": r["covered"]}
                           for _, r in att.value.iterrows()}
        if dr.truth_frailty.ok:
            r = dr.truth_frailty.value.iloc[0]
            t["outflow_given_customer"] = {"frailty_variance": r["variance"], "hr": r["hr"],
                                           "true_hr": r["true_hr"], "covered": r["covered"]}
        t["log_hr"] = truth.get("log_hr")
        if truth.get("reasons"):
            t["reasons_cause_specific_hr"] = truth["reasons"].get("cause_specific_hr")
        t["segment_loan_time_interaction"] = (truth.get("non_proportional") or {}).get(
            "segment_loan_time_interaction", 0.0)
        out["truth"] = t
    return {"drivers": out}
