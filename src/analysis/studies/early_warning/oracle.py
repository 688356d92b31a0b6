"""The oracle ranking of the synthetic book: customers ranked by their true risk.

The generator's monthly hazard (:mod:`analysis.data.dynamics`) is known: a baseline over tenure
times the exponential of the true log hazard ratios (products, engagement, age at opening, loan
segment, a large outflow in the previous 3 months, the unmeasured factor, the branch). The
oracle's risk of leaving within ``h`` months of the as-of month ``a`` is
``1 - exp(-sum_{j <= h} hazard(a + j))`` with the state known at ``a``: products as held at ``a``,
and the outflows of months ``a - 2 .. a`` (which raise the hazard of the 3 months after each);
future product changes and outflows are unknown to it as to any model. It is the best ranking a
model of the data could reach, up to those future changes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from analysis.data.dynamics import SyntheticConfig, _monthly_hazard

__all__ = ["oracle_available", "oracle_risk"]


def _config(truth: dict | None) -> SyntheticConfig | None:
    if not truth or truth.get("generator") != "analysis.data.synthetic":
        return None
    known = {f.name for f in dataclasses.fields(SyntheticConfig)}
    cfg = {k: (tuple(v) if isinstance(v, list) else v)
           for k, v in (truth.get("config") or {}).items() if k in known}
    return SyntheticConfig(**cfg)


def oracle_available(truth: dict | None, hidden: pd.DataFrame | None = None) -> str | None:
    """None when the oracle can be computed, else the reason (for the report)."""
    cfg = _config(truth)
    if cfg is None:
        return "these data are not the synthetic book, so no true risk is known"
    if getattr(cfg, "feedback", False):
        return "the synthetic book's feedback scenario has a hazard the oracle does not model"
    if cfg.hr_unmeasured != 1.0 and hidden is None:
        return ("the book has an unmeasured factor whose values were not kept with the data, so "
                "the true risk cannot be recomputed")
    return None


def oracle_risk(rows: pd.DataFrame, customers: pd.DataFrame, truth: dict, *,
                horizons=(3, 6), hidden: pd.DataFrame | None = None) -> pd.DataFrame:
    """True risk of leaving within each horizon for person-month ``rows`` at the as-of month.

    ``rows`` come from :func:`~analysis.studies.early_warning.features.person_months` (they need
    ``out_1m`` and the outflow flags of the 2 months before: ``out_3m`` - ``out_1m`` tells only
    their count, so the flags are read from ``out_lag1`` and ``out_lag2``).
    """
    cfg = _config(truth)
    lh = cfg.log_hr()
    cust = customers.drop_duplicates("customer_id").set_index("customer_id")
    ids = rows["customer_id"]
    eng = ids.map(cust["engagement"]).to_numpy(float) if "engagement" in cust else 0.0
    age_open = ids.map(cust["age_at_open"]).to_numpy(float)
    loan = (rows["segment"].astype(str).to_numpy() == "loan").astype(float)
    branch_hr = dict(zip(cfg.branches, cfg.branch_hr))
    lbr = np.log(rows["branch"].map(branch_hr).to_numpy(float))
    u = 0.0
    if cfg.hr_unmeasured != 1.0:
        u = ids.map(hidden.set_index("customer_id")["unmeasured"]).to_numpy(float)
    static_lp = (lh["engagement"] * eng + lh["age_per_10y"] * (age_open - 45) / 10.0
                 + lh["segment_loan"] * loan + lh["unmeasured"] * u + lbr)
    tenure = rows["tenure_months"].to_numpy(float)
    n = rows["n_products"].to_numpy(float)
    o0 = rows["out_1m"].to_numpy(bool)
    o1 = rows["out_lag1"].to_numpy(bool)
    o2 = rows["out_lag2"].to_numpy(bool)
    # an outflow in month s raises the hazard of months s+1..s+3
    recent = {1: o0 | o1 | o2, 2: o0 | o1, 3: o0}
    hmax = int(max(horizons))
    cum = np.zeros((len(rows), hmax))
    total = np.zeros(len(rows))
    for j in range(1, hmax + 1):
        slp = static_lp
        if cfg.segment_loan_time_interaction:
            slp = slp + cfg.segment_loan_time_interaction * loan * ((tenure + j) / 12.0 - 5.0)
        h = _monthly_hazard(tenure + j, slp, n, recent.get(j, np.zeros(len(rows), bool)),
                            lh, cfg)
        total = total + h
        cum[:, j - 1] = total
    return pd.DataFrame({f"risk_{h}": -np.expm1(-cum[:, int(h) - 1]) for h in horizons},
                        index=rows.index)
