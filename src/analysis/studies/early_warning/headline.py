"""Headline numbers (JSON) of the early-warning report, under ``early_warning``."""

from __future__ import annotations

from analysis.studies.early_warning.backtest import METRICS
from analysis.studies.early_warning.estimate import EarlyWarning, listed_summary

__all__ = ["headline"]


def _listed(ew: EarlyWarning) -> dict:
    if not ew.current.ok:
        return {"note": ew.current.note}
    cur = ew.current.value
    s = listed_summary(ew)
    out = {"customers": int(len(cur)), "aum": float(cur["aum"].sum()),
           "annual_profit": float(cur["annual_profit"].sum()),
           "value_at_risk": float(cur["value_at_risk"].sum())}
    for key, col in (("by_branch", "branch"), ("by_tier", "tier")):
        g = s.groupby(col)[["customers", "value_at_risk"]].sum()
        out[key] = {str(i): {"customers": int(r["customers"]),
                             "value_at_risk": float(r["value_at_risk"])} for i, r in g.iterrows()}
    return out


def headline(ew: EarlyWarning) -> dict:
    """Machine-readable headline numbers (the JSON next to the HTML). No ids."""
    e = ew.economics
    out: dict = {
        "scope": ew.scope, "as_of": None if ew.as_of is None else f"{ew.as_of:%Y-%m-%d}",
        "snapshot": ew.snapshot, "list_size": ew.list_size, "horizon_months": ew.horizon,
        "attrition": ew.study.params.get("attrition"), "scored": ew.scored,
        "listed": _listed(ew),
        # a large book: the model and backtest come from this seeded sample (the list scores all)
        "model_sample": (None if getattr(ew.study, "sample", None) is None
                         else ew.study.sample.to_dict()),
        "economics": {"customer_value": e.customer_value, "contact_cost": e.contact_cost,
                      "offer_cost": e.offer_cost, "success_rate": e.success_rate,
                      "acquisition_cost": e.acquisition_cost},
    }
    if not ew.backtest.ok:
        out["backtest"] = {"note": ew.backtest.note}
        return {"early_warning": out}
    bt = ew.backtest.value
    t = bt.table[bt.table["horizon"] == ew.horizon].set_index("method")
    iv = bt.intervals[(bt.intervals["horizon"] == ew.horizon)
                      & (bt.intervals["metric"] == "value_captured")].set_index("method")
    methods = {}
    for m in bt.methods:
        methods[m] = {k: float(t.loc[m, k]) for k in METRICS}
        methods[m]["value_captured_ci"] = [float(iv.loc[m, "ci_low"]), float(iv.loc[m, "ci_high"])]
    out["backtest"] = {
        "as_of_months": [f"{bt.months[0]:%Y-%m-%d}", f"{bt.months[-1]:%Y-%m-%d}"],
        "model_refits": bt.refits, "methods": methods,
        "best_list_size": bt.best_list_size,
        "oracle": ew.oracle_note or "included",
    }
    return {"early_warning": out}
