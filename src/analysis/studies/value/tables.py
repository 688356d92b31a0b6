"""Display tables of the customer-value report (no ids; money columns named for ``show``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.i18n import tr, tr_value
from analysis.studies.value.estimate import CustomerValue
from analysis.studies.value.headline import _with_truth, truth_by

__all__ = ["clv_table", "risk_table", "economics_display", "scenario_table", "holdout_summary",
           "MONEY", "RENAME"]

#: Money columns of the tables below (for ``show(..., money=MONEY)``).
MONEY = ("lifetime_value", "ci_low", "ci_high", "true_value", "value_at_risk", "value_kept",
         "max_spend", "profit_gained", "profit_ci_low", "profit_ci_high")
#: Column labels of the tables below.
RENAME = {"lifetime_value": "lifetime value", "ci_low": "95% CI low", "ci_high": "95% CI high",
          "true_value": "true value", "value_at_risk": "value at risk (12 months)",
          "departures": "expected departures (12 months)", "value_kept": "value of a kept customer",
          "max_spend": "most to spend to keep one",
          "break_even_success": "break-even success rate",
          "months_gained": "months gained", "months_ci_low": "months 95% CI low",
          "months_ci_high": "months 95% CI high", "profit_gained": "profit gained",
          "profit_ci_low": "profit 95% CI low", "profit_ci_high": "profit 95% CI high",
          "true_months": "true months gained", "true_profit": "true profit gained",
          "product_group": "products held", "tier": "value tier", "segment": "segment",
          "branch": "branch", "scenario": "scenario", "affected": "customers affected"}


def _labels(df: pd.DataFrame, keys: list) -> pd.DataFrame:
    for k in keys:
        if k in ("segment", "branch"):
            df[k] = [tr_value(str(v)) for v in df[k]]
    return df


def clv_table(cv: CustomerValue, key: str) -> pd.DataFrame:
    """Mean lifetime value per group (``key``: a grouping of ``cv.groups``, e.g. ``tier`` or
    ``tier_segment``), with the generator's truth on synthetic data."""
    keys = [] if key == "all" else key.split("_") if key == "tier_segment" else [key]
    t = cv.groups[key]
    truth = truth_by(cv, tuple(keys)) if key != "product_group" else None
    t = _with_truth(t, truth, keys)
    out = t[keys + ["customers"]].copy()
    out["lifetime_value"] = t["estimate"].to_numpy()
    out["ci_low"], out["ci_high"] = t["ci_low"].to_numpy(), t["ci_high"].to_numpy()
    if t["truth"].notna().any():
        out["true_value"] = t["truth"].to_numpy()
    return _labels(out, keys)


def risk_table(cv: CustomerValue, key: str) -> pd.DataFrame:
    """Profit at risk over the next 12 months per ``key`` (``branch`` or ``tier``)."""
    t = cv.groups[f"var_{key}"]
    out = t[[key, "customers"]].copy()
    out["value_at_risk"] = t["estimate"].to_numpy()
    out["ci_low"], out["ci_high"] = t["ci_low"].to_numpy(), t["ci_high"].to_numpy()
    dep = (cv.customers.value.groupby(key, observed=True)["departs12"].sum())
    out["departures"] = dep.reindex(t[key].to_numpy()).to_numpy()
    return _labels(out, [key])


def economics_display(cv: CustomerValue) -> pd.DataFrame:
    """Per tier: value of a kept customer, the most to spend, the break-even success rate."""
    e = cv.economics.value["by_tier"]
    return e[["tier", "customers", "value_kept", "max_spend", "break_even_success"]].copy()


def scenario_table(cv: CustomerValue) -> pd.DataFrame:
    """The scenarios' months gained and profit gained (totals over the customers affected),
    with the truth of "one more product" on synthetic data."""
    sc = cv.scenarios.value
    rows = []
    one = sc.get("one_more_product", {})
    if "months_gained" in one:
        m, p = one["months_gained"], one["profit_gained"]
        rows.append({"scenario": tr("one more product for tier 3+ customers holding one "
                                    "(per customer)"), "affected": one["targets"],
                     "months_gained": m["estimate"], "months_ci_low": m["ci_low"],
                     "months_ci_high": m["ci_high"], "profit_gained": p["estimate"],
                     "profit_ci_low": p["ci_low"], "profit_ci_high": p["ci_high"],
                     "true_months": m.get("truth"), "true_profit": p.get("truth")})
    oc = sc.get("outflow_cut")
    if oc:
        m, p = oc["months_gained"], oc["profit_gained_total"]
        rows.append({"scenario": tr("outflow-driven attrition cut by {cut} (all customers, "
                                    "total)", cut=f"{oc['cut']:.0%}"),
                     "affected": len(cv.customers.value),
                     "months_gained": m["estimate"], "months_ci_low": m["ci_low"],
                     "months_ci_high": m["ci_high"], "profit_gained": p["estimate"],
                     "profit_ci_low": p["ci_low"], "profit_ci_high": p["ci_high"]})
    out = pd.DataFrame(rows)
    for c in ("true_months", "true_profit"):
        if c in out and out[c].isna().all():
            out = out.drop(columns=c)
    return out.replace({None: np.nan})


def holdout_summary(cv: CustomerValue) -> pd.DataFrame:
    """Per model: Brier score, retention error (points) and profit error (share of observed)."""
    s = cv.holdout.value["summary"]
    return pd.DataFrame([{"model": m, "Brier score": v["brier"],
                          "retention error (points)": v["retention_error_points"],
                          "profit error": v["profit_error_share"]} for m, v in s.items()
                         if m != "brier_difference"])
