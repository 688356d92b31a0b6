"""Signals known at each customer-month, and the departure outcome after it.

Every signal at month ``t`` is computed from the customer's rows up to and including ``t`` (lags
of the sorted panel, never leads), so a score at an as-of month cannot see the months after it
(``tests/test_early_warning.py`` truncates the data to check). The outcome columns
(``event_gap``: months from ``t`` to the next departure; ``obs_gap``: months of data after
``t``) look ahead on purpose: they are only read where ``t`` plus the gap is at or before the
as-of month (training) or in the backtest's evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.i18n import format_month, language

__all__ = ["PersonMonths", "person_months", "SIGNALS", "month_text"]

#: Signal column -> plain words (the watchlist's reasons and the report's model table).
SIGNALS: dict[str, str] = {
    "out_1m": "a large outflow this month",
    "out_3m": "large outflows in the last 3 months (count)",
    "share_out_1m": "share of assets moved out this month",
    "share_out_3m": "share of assets moved out over 3 months",
    "aum_trend_6m": "change of log AUM over 6 months",
    "prod_drop_3m": "dropped a product in the last 3 months",
    "tier_down_3m": "fell a value tier in the last 3 months",
    "n_products": "products held",
}


def month_text(ts) -> str:
    """A month as the report's language writes it ("December 2025", "2025年12月")."""
    if pd.isna(ts):
        return "NaT"
    return f"{pd.Timestamp(ts):%B %Y}" if language() == "en" else format_month(ts, language())
_BIG = np.iinfo(np.int32).max // 2


@dataclass
class PersonMonths:
    """The person-month frame of a book and what defines its outcome.

    Attributes
    ----------
    frame : DataFrame
        One row per customer and month on book, sorted by customer and month, with ``m`` (month
        index from the window start), the panel columns, the :data:`SIGNALS`, ``at_risk``
        (counted in this month's list population), ``event`` (a departure in this month),
        ``event_gap`` and ``obs_gap``.
    months : DatetimeIndex
        Calendar month of each index ``m``.
    delay : int
        Months after a departure month before it is confirmed (``k - 1`` for value attrition).
    has_engagement : bool
        Whether an engagement score is available for every customer.
    """

    frame: pd.DataFrame
    months: pd.DatetimeIndex
    delay: int
    has_engagement: bool

    def index_of(self, when) -> int:
        """Month index of a date (its calendar month)."""
        ts = pd.Timestamp(when).to_period("M").to_timestamp()
        hit = np.flatnonzero(self.months == ts)
        if hit.size == 0:
            raise ValueError(f"{ts:%Y-%m} is outside the data ({self.months[0]:%Y-%m} to "
                             f"{self.months[-1]:%Y-%m})")
        return int(hit[0])


def _lag(x: np.ndarray, k: int, same: np.ndarray, fill) -> np.ndarray:
    """``x`` of the same customer ``k`` rows earlier (rows sorted by customer and month)."""
    out = np.full(x.shape, fill, dtype=np.result_type(x.dtype, np.asarray(fill).dtype))
    out[k:] = x[:-k]
    out[~same[k]] = fill
    return out


def _next_within(values: np.ndarray, cid: np.ndarray) -> np.ndarray:
    """For each row, the smallest ``values`` among the LATER rows of the same customer."""
    s = pd.Series(values[::-1]).groupby(cid[::-1], sort=False).cummin().to_numpy()[::-1]
    nxt = np.r_[s[1:], _BIG]
    same_next = np.r_[cid[1:] == cid[:-1], False]
    return np.where(same_next, nxt, _BIG)


def person_months(panel: pd.DataFrame, customers: pd.DataFrame, *, attrition: str = "closure",
                  k: int = 3, high_value_tier: int = 3) -> PersonMonths:
    """Signals and outcomes for every customer-month of a monthly panel (vectorised).

    Parameters
    ----------
    panel, customers : DataFrame
        The portfolio's monthly panel (consecutive months per customer, as the loader checks)
        and customers table.
    attrition : {"closure", "value"}
        Closure; or value attrition: a tier ``high_value_tier``+ customer falling below that
        tier and staying below (or closing) for ``k`` months, confirmed ``k - 1`` months later.
    """
    if attrition not in ("closure", "value"):
        raise ValueError(f"attrition must be 'closure' or 'value', got {attrition!r}")
    p = panel.sort_values(["customer_id", "month"], kind="stable").reset_index(drop=True)
    months = pd.DatetimeIndex(sorted(p["month"].unique()))
    m = np.searchsorted(months.values, p["month"].values).astype(np.int32)
    cid = pd.factorize(p["customer_id"])[0].astype(np.int64)
    same = {j: np.r_[np.zeros(j, bool), cid[j:] == cid[:-j]] for j in range(1, 7)}
    aum = p["aum"].to_numpy(dtype=float)
    out = p["outflow"].to_numpy(dtype=bool).astype(np.int8)
    n = p["n_products"].to_numpy(dtype=float)
    tier = p["tier"].to_numpy(dtype=np.int16)
    closed = p["closed"].to_numpy(dtype=bool)

    f = p[["customer_id", "month", "tenure_months", "aum", "n_products", "tier", "segment",
           "profit"]].copy()
    f["m"] = m
    a1, a2, a3, a6 = (_lag(aum, j, same, np.nan) for j in (1, 2, 3, 6))
    ref3 = np.fmax(np.fmax(a1, a2), a3)
    with np.errstate(invalid="ignore", divide="ignore"):
        f["share_out_1m"] = np.nan_to_num(np.clip(1 - aum / a1, 0, 1), nan=0.0)
        f["share_out_3m"] = np.nan_to_num(np.clip(1 - aum / ref3, 0, 1), nan=0.0)
        trend = np.log1p(aum) - np.log1p(np.where(np.isnan(a6), np.fmax(ref3, a1), a6))
    f["aum_trend_6m"] = np.clip(np.nan_to_num(trend, nan=0.0), -3, 3)
    f["out_1m"] = out
    f["out_lag1"], f["out_lag2"] = _lag(out, 1, same, 0), _lag(out, 2, same, 0)
    f["out_3m"] = out + f["out_lag1"].to_numpy() + f["out_lag2"].to_numpy()
    n_ref = np.fmax(np.fmax(_lag(n, 1, same, np.nan), _lag(n, 2, same, np.nan)),
                    _lag(n, 3, same, np.nan))
    f["prod_drop_3m"] = (n < np.nan_to_num(n_ref, nan=-1)).astype(np.int8)
    t_ref = np.fmax(np.fmax(_lag(tier.astype(float), 1, same, np.nan),
                            _lag(tier.astype(float), 2, same, np.nan)),
                    _lag(tier.astype(float), 3, same, np.nan))
    f["tier_down_3m"] = (tier < np.nan_to_num(t_ref, nan=-1)).astype(np.int8)
    # Tier at the start of the month (last month's), for rules written on "a tier 4-5 customer".
    f["tier_start"] = np.where(same[1], _lag(tier, 1, same, 0), tier).astype(np.int16)

    cust = customers.drop_duplicates("customer_id").set_index("customer_id")
    f["branch"] = p["customer_id"].map(cust["branch"]).astype(str).to_numpy()
    age_open = p["customer_id"].map(cust["age_at_open"]) if "age_at_open" in cust else None
    f["age"] = (age_open.to_numpy(dtype=float) + f["tenure_months"].to_numpy() / 12.0
                if age_open is not None else np.nan)
    has_eng = "engagement" in cust and cust["engagement"].notna().all()
    if has_eng:
        f["engagement"] = p["customer_id"].map(cust["engagement"]).to_numpy(dtype=float)

    if attrition == "closure":
        event, at_risk, delay = closed, ~closed, 0
    else:
        low = (tier < high_value_tier) | closed
        # months in a row, from this one on, below the tier or closed (a run length read on the
        # reversed rows: each month above the tier, and each new customer, starts a new run)
        rl, rc = low[::-1], cid[::-1]
        key = np.cumsum(~rl) + rc * _BIG
        run = pd.Series(rl.astype(np.int32)).groupby(key).cumsum().to_numpy()[::-1]
        close_m = np.minimum(np.where(closed, m, _BIG), _next_within(np.where(closed, m, _BIG), cid))
        was_high = _lag(tier, 1, same, 0) >= high_value_tier
        event = low & was_high & ((run >= k) | (close_m - m < run))
        at_risk = (tier >= high_value_tier) & ~closed
        delay = k - 1
    f["at_risk"] = at_risk
    f["event"] = event
    f["event_gap"] = _next_within(np.where(event, m, _BIG), cid) - m
    last_m = pd.Series(m).groupby(cid).transform("max").to_numpy()
    f["obs_gap"] = last_m - m
    return PersonMonths(frame=f, months=months, delay=delay, has_engagement=bool(has_eng))
