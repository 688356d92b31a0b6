"""Which model predicts retention and value better, on months it did not see.

The data are cut ``months`` before the as-of month. On the history up to the cut, two models
predict every customer on book at the cut over the following ``months`` months:

- the **projection** of this report (the g-formula's monthly models, each customer's own
  state, the margin moving with balances and products; :mod:`analysis.stats.projection`);
- the **shifted-beta-geometric** model (Fader & Hardie 2007; :mod:`analysis.stats.sbg`), the
  contractual-setting baseline: a Beta mix of constant monthly churn chances, fitted per value
  tier on tenure with delayed entry, the margin held at the cut month's profit.

Then the held-out months tell what happened: who stayed, and the profit they brought.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats.projection import NATURAL
from analysis.stats.sbg import fit_sbg
from analysis.studies.population import Study

__all__ = ["holdout_comparison", "MIN_SBG_EVENTS"]

#: Customer resamples of the paired bootstrap of the Brier-score difference (percentile CI).
BRIER_BOOT = 400
#: A tier with fewer departures before the cut uses the sBG fitted on all customers.
MIN_SBG_EVENTS = 10


def _sbg_by_tier(pm: pd.DataFrame, tier_at_cut: pd.Series) -> dict:
    """sBG fits per tier (tier at the customer's last month before the cut) and pooled."""
    g = pm.groupby("customer_id", sort=True)
    first, last = g["tenure"].first(), g["tenure"].last()
    event = g["event"].max()
    # periods survived when first seen (delayed entry); the last month on book counts as one
    d = pd.DataFrame({"entry": first, "exit": last + 1, "event": event})
    d["tier"] = tier_at_cut.reindex(d.index)
    pooled = fit_sbg(d["entry"].to_numpy(), d["exit"].to_numpy(), d["event"].to_numpy())
    fits = {}
    for t, sub in d.groupby("tier"):
        if sub["event"].sum() >= MIN_SBG_EVENTS:
            fits[t] = fit_sbg(sub["entry"].to_numpy(), sub["exit"].to_numpy(),
                              sub["event"].to_numpy())
    return {"pooled": pooled, "by_tier": fits}


def holdout_comparison(study: Study, assumptions, *, months: int = 12) -> dict:
    """Predicted against observed retention and profit over the last ``months`` months.

    Returns
    -------
    dict
        ``table``: ``model, tier, customers, predicted_retention, observed_retention,
        predicted_profit, observed_profit`` (tier "all" included); ``summary``: per model the
        Brier score of staying ``months`` months, the retention error (points) and the profit
        error (share of the observed), and ``brier_difference`` (projection minus sBG, with a
        95% percentile interval from a paired customer bootstrap); ``cut`` (the last month
        used for fitting).
    """
    from analysis.studies.value.estimate import Projector

    if months != 12:  # the projection reports departures and profit over 12 months
        raise ValueError(f"the held-out comparison uses 12 months, got {months}")
    p = study.portfolio
    as_of = pd.Timestamp(study.as_of or p.window_end)
    cut = as_of - pd.DateOffset(months=months)
    panel_months = pd.to_datetime(p.panel["month"])
    if cut < panel_months.min() + pd.DateOffset(months=months):
        raise InsufficientDataError(
            "the data hold too few months to fit the models and keep the last 12 months aside")
    a = replace(assumptions, horizon=months, discount_rate=0.0)
    proj = Projector(p.panel, p.customers, cut, a, attrition=study.params["attrition"],
                      k=study.params["k"])
    res = proj.run(proj.models, {"n": NATURAL}, seed=a.seed)["n"]
    ids = proj.ids
    # what happened after the cut
    later = p.panel[(panel_months > cut) & (panel_months <= as_of)]
    later = later[later["customer_id"].isin(ids)]
    closed = later.groupby("customer_id")["closed"].any().reindex(ids, fill_value=False)
    profit = later.groupby("customer_id")["profit"].sum().reindex(ids, fill_value=0.0)
    at_cut = p.panel[panel_months == cut].set_index("customer_id").reindex(ids)
    tier = at_cut["tier"].to_numpy()
    stayed = ~closed.to_numpy(dtype=bool)
    # the sBG baseline
    fits = _sbg_by_tier(proj.pm, p.panel[panel_months <= cut].groupby("customer_id")["tier"].last())
    t0 = at_cut["tenure_months"].to_numpy(dtype=float) + 1.0
    p_stay = np.empty(len(ids))
    exp_months = np.empty(len(ids))
    for t in np.unique(tier):
        rows = tier == t
        f = fits["by_tier"].get(t, fits["pooled"])
        p_stay[rows] = f.conditional_survival(t0[rows], t0[rows] + months)
        exp_months[rows] = f.expected_months(t0[rows], months)
    sbg_profit = proj.money["profit0"] * exp_months
    preds = {"projection": (1.0 - res["departs12"], res["profit12"]),
             "sBG": (p_stay, sbg_profit)}
    rows, summary = [], {}
    for model, (ps, pp) in preds.items():
        for t in [*np.unique(tier), "all"]:
            sel = np.ones(len(ids), bool) if t == "all" else tier == t
            rows.append({"model": model, "tier": t, "customers": int(sel.sum()),
                         "predicted_retention": float(ps[sel].mean()),
                         "observed_retention": float(stayed[sel].mean()),
                         "predicted_profit": float(pp[sel].sum()),
                         "observed_profit": float(profit.to_numpy()[sel].sum())})
        obs_profit = float(profit.sum())
        summary[model] = {
            "brier": float(np.mean((ps - stayed) ** 2)),
            "retention_error_points": float(100 * (ps.mean() - stayed.mean())),
            "profit_error_share": float(pp.sum() / obs_profit - 1.0) if obs_profit else None}
    # the Brier difference (projection - sBG) with a paired customer bootstrap
    d = (preds["projection"][0] - stayed) ** 2 - (preds["sBG"][0] - stayed) ** 2
    rng = np.random.default_rng(assumptions.seed)
    boot = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(BRIER_BOOT)])
    lo, hi = np.quantile(boot, [0.025, 0.975])
    summary["brier_difference"] = {"estimate": float(d.mean()), "ci_low": float(lo),
                                   "ci_high": float(hi)}
    return {"table": pd.DataFrame(rows), "summary": summary, "cut": f"{cut:%Y-%m-%d}",
            "months": months, "customers": int(len(ids))}
