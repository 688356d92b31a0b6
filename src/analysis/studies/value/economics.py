"""Retention economics: what a kept customer is worth and what keeping one may cost.

Pure arithmetic on the lifetime values of :mod:`.estimate`; every cost is a parameter.

- A contact costs ``contact_cost``; a contacted would-be leaver accepts the offer (and stays)
  with chance ``success_rate`` and is then paid ``offer_cost``.
- The expected gain of contacting a would-be leaver is ``s * (clv - offer) - contact``: the
  **break-even success rate** is ``contact / (clv - offer)`` (none when ``clv <= offer``).
- The **most a branch can spend** to keep a customer who would otherwise certainly leave is the
  customer's lifetime value (spending more loses money even when the action always works).
- The **cost of keeping one customer** by contacts is ``contact / s + offer``; replacing a
  departed customer by acquisition costs ``acquisition_cost`` (by default 6 x the cost of a
  retention contact and offer, the field's rule of thumb, ``config.ACQUISITION_TO_RETENTION_COST``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["break_even_success_rate", "cost_per_kept", "economics_table", "replacement"]


def break_even_success_rate(clv, contact_cost: float, offer_cost: float):
    """Lowest success rate at which a retention contact pays for itself (NaN: never).

    >>> round(float(break_even_success_rate(1050.0, 50.0, 50.0)), 3)
    0.05
    >>> bool(np.isnan(break_even_success_rate(40.0, 50.0, 50.0)))
    True
    """
    clv = np.asarray(clv, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = float(contact_cost) / (clv - float(offer_cost))
    return np.where((clv > offer_cost) & (s <= 1.0), s, np.nan)


def cost_per_kept(contact_cost: float, offer_cost: float, success_rate: float) -> float:
    """Cost of keeping one would-be leaver by contacts: ``contact / s + offer``.

    >>> cost_per_kept(50.0, 200.0, 0.25)
    400.0
    """
    if not 0 < success_rate <= 1:
        raise ValueError(f"success_rate must be in (0, 1], got {success_rate}")
    return float(contact_cost) / float(success_rate) + float(offer_cost)


def economics_table(clv: pd.DataFrame, *, contact_cost: float, offer_cost: float,
                    success_rate: float) -> pd.DataFrame:
    """Per group: value of a kept customer, the most to spend, break-even success rate.

    Parameters
    ----------
    clv : DataFrame
        One row per group with ``estimate, ci_low, ci_high`` (mean lifetime value) and
        ``departs12`` (expected departures in the next 12 months).

    Returns
    -------
    DataFrame
        The group columns, ``value_kept`` (= ``max_spend``, the mean lifetime value) with its
        interval, ``break_even_success`` (and its range over the value's interval),
        ``pays_at_assumed`` (the assumed success rate is above the break-even rate across the
        whole interval).
    """
    out = clv.drop(columns=[c for c in ("estimate", "ci_low", "ci_high") if c in clv]).copy()
    out["value_kept"] = clv["estimate"].to_numpy(float)
    out["value_ci_low"] = clv["ci_low"].to_numpy(float)
    out["value_ci_high"] = clv["ci_high"].to_numpy(float)
    out["max_spend"] = out["value_kept"]
    out["break_even_success"] = break_even_success_rate(out["value_kept"], contact_cost,
                                                        offer_cost)
    # a lower value needs a higher success rate: the interval's low end gives the high rate
    out["break_even_high"] = break_even_success_rate(out["value_ci_low"], contact_cost,
                                                     offer_cost)
    out["break_even_low"] = break_even_success_rate(out["value_ci_high"], contact_cost,
                                                    offer_cost)
    be_high = out["break_even_high"].to_numpy(float)
    out["pays_at_assumed"] = np.isfinite(be_high) & (success_rate > be_high)
    return out


def replacement(departures: float, *, acquisition_cost: float, contact_cost: float,
                offer_cost: float, success_rate: float) -> dict:
    """Cost of replacing the expected departures by acquisition versus keeping them by contacts.

    >>> r = replacement(10, acquisition_cost=1500.0, contact_cost=50.0, offer_cost=200.0,
    ...                 success_rate=0.25)
    >>> r["replace_cost"], r["retain_cost"]
    (15000.0, 4000.0)
    """
    per_kept = cost_per_kept(contact_cost, offer_cost, success_rate)
    return {"departures": float(departures), "acquisition_cost": float(acquisition_cost),
            "cost_per_kept": per_kept, "replace_cost": float(departures) * acquisition_cost,
            "retain_cost": float(departures) * per_kept}
