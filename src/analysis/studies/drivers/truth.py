"""Comparison of the drivers model with the synthetic truth."""

from __future__ import annotations

from typing import Sequence
import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.i18n import tr
from analysis.studies.drivers.design import Term

__all__ = [
    "truth_comparison",
    "frailty_truth",
]


def _frailty_variance(truth: dict) -> float:
    """The generator's frailty variance (0 outside the feedback scenario)."""
    if truth.get("scenario") != "feedback":
        return 0.0
    return float((truth.get("feedback") or {}).get("frailty_variance", 0.0))


def _truth_map(truth: dict, design_terms: Sequence[Term], model: str) -> dict:
    """key -> (true HR, comparable words) for the effects the generator defines."""
    lh = truth.get("log_hr", {})
    out = {}
    names = {t.name: t for t in design_terms}
    np_on = bool(truth.get("non_proportional", {}).get("segment_loan_time_interaction"))
    feedback = truth.get("scenario") == "feedback"
    frail = _frailty_variance(truth) > 0
    if "engagement" in names and names["engagement"].kind == "numeric":
        out["engagement"] = (np.exp(lh["engagement"]),
                             tr("no: in this scenario the effect of engagement is not a "
                                "straight line") if feedback else
                             tr("yes") if model == "time-varying" else
                             tr("no: at entry it also carries engagement's effect through "
                                "products adopted and outflows after entry"))
    if "age_entry" in names and names["age_entry"].kind == "numeric":
        out["age_entry"] = (np.exp(lh["age_per_10y"]), tr("yes"))
        if "entry" in names and names["entry"].kind == "numeric":
            # age at entry = age at opening + tenure/12: the generator's age effect implies
            # -log_hr(age per 10y)/10 per year of tenure at entry
            out["tenure_entry"] = (np.exp(-lh["age_per_10y"] / 10.0),
                            tr("yes (implied by the age effect: age at entry = age at opening "
                               "+ tenure)"))
    if "segment" in names:
        out["segment=loan"] = (np.exp(lh["segment_loan"]),
                               tr("no: made non-proportional by the generator") if np_on
                               else tr("yes"))
    if "n_products_entry" in names:
        out["n_products_entry"] = (np.exp(lh["n_products"]),
                                   tr("no: products change after entry (count at entry only)"))
    if model == "time-varying":
        if feedback:
            out["n_products"] = (np.exp(lh["n_products"]),
                                 tr("no: in this scenario products also act through the "
                                    "balances they build, which the model does not hold "
                                    "fixed"))
        else:
            out["n_products"] = (np.exp(lh["n_products"]), tr("yes"))
        out["outflow_3m"] = (np.exp(lh["outflow_3m"]),
                             tr("no: the generator's ratio is for a given customer, and "
                                "customers differ in ways the data do not record (see the "
                                "outflow warning for a given customer)") if frail else
                             tr("yes (outflows before the window are not seen: slight "
                                "attenuation)"))
    bhr = truth.get("branch_hr") or {}
    if "branch" in names and bhr:
        ref = names["branch"].reference
        for lv in names["branch"].levels:
            if lv in bhr and ref in bhr:
                out[f"branch={lv}"] = (bhr[lv] / bhr[ref], tr("yes"))
    if "tier_group" in names:
        for lv in names["tier_group"].levels:
            out[f"tier_group={lv}"] = (1.0, tr("no: no direct effect in the generator, but the "
                                               "tier at entry also reflects outflows just "
                                               "before"))
    return out


def truth_comparison(effects: pd.DataFrame, truth: dict | None, terms: Sequence[Term],
                     model: str = "static") -> pd.DataFrame:
    """Estimates next to the generator's true hazard ratios (synthetic data only).

    ``comparable`` says whether the estimate targets the true value in this model; ``covered``
    whether the 95% CI contains it.
    """
    if not truth or truth.get("generator") != "analysis.data.synthetic":
        raise InsufficientDataError(tr("these data have no known truth (not synthetic)"))
    tm = _truth_map(truth, terms, model)
    rows = []
    for _, r in effects.iterrows():
        if r["key"] not in tm:
            continue
        true, comp = tm[r["key"]]
        rows.append(dict(key=r["key"], label=r["label"], hr=r["hr"], ci_low=r["ci_low"],
                         ci_high=r["ci_high"], true_hr=true,
                         covered=bool(r["ci_low"] <= true <= r["ci_high"]), comparable=comp))
    return pd.DataFrame(rows)


def frailty_truth(ofr, truth: dict | None) -> pd.DataFrame:
    """The outflow ratio for a given customer at the generator's frailty variance, against the
    generator's ratio (synthetic books with a frailty only)."""
    if not truth or truth.get("generator") != "analysis.data.synthetic":
        raise InsufficientDataError(tr("these data have no known truth (not synthetic)"))
    v = _frailty_variance(truth)
    t = ofr.table
    row = (t[(t["kind"] == "assumed") & np.isclose(t["variance"], v)] if v > 0
           else t[t["kind"] == "none"])
    if row.empty:
        raise InsufficientDataError(tr("the generator's frailty variance ({v}) is not among "
                                       "the assumed ones", v=f"{v:g}"))
    r = row.iloc[0]
    true = float(np.exp(truth["log_hr"]["outflow_3m"]))
    return pd.DataFrame([dict(variance=v, hr=r["hr"], ci_low=r["ci_low"],
                              ci_high=r["ci_high"], true_hr=true,
                              covered=bool(r["ci_low"] <= true <= r["ci_high"]))])
