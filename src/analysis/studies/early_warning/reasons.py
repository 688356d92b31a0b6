"""Why a customer is on the list, in plain words, and what to do, in the paper's terms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.i18n import tr

__all__ = ["reasons", "actions", "ACTIONS", "MIN_PUSH"]

#: Suggested action by reliance segment (the paper: deposit-reliant customers are served by
#: wealth managers, loan-reliant ones by account managers).
ACTIONS: dict[str, str] = {
    "deposit": "wealth-management review and product offer by the wealth manager (理财经理)",
    "loan": "loan review by the account manager (客户经理)",
}
#: A signal is named as a reason when it raises next month's log-hazard by at least this much.
MIN_PUSH = 0.1


def _pct(x: pd.Series) -> pd.Series:
    return (100 * x).round().astype(int).astype(str) + "%"


def _fill(text: str, **columns: pd.Series) -> pd.Series:
    """``text`` (a message in the report's language) filled row by row from ``columns``."""
    frame = pd.DataFrame(columns)
    return pd.Series([text.format(**r) for r in frame.to_dict("records")], index=frame.index,
                     dtype=object)


def reasons(rows: pd.DataFrame, contrib: pd.DataFrame, top: int = 2) -> pd.Series:
    """The ``top`` signals that raise each customer's risk most, in words, joined by "; ".

    ``contrib`` comes from :func:`analysis.studies.early_warning.model.contributions`. Without
    a signal above :data:`MIN_PUSH`, the reason is the customer's profile.

    >>> rows = pd.DataFrame({"share_out_1m": [0.45, 0.0], "share_out_3m": [0.45, 0.0],
    ...     "out_3m": [1, 0], "aum_trend_6m": [-0.6, 0.0], "n_products": [2, 1],
    ...     "tenure_months": [40, 5]})
    >>> c = pd.DataFrame({"out_1m": [1.0, 0], "share_out_1m": [0.2, 0], "out_3m": [0.3, 0],
    ...     "share_out_3m": [0.0, 0], "aum_trend_6m": [0.05, 0], "prod_drop_3m": [0, 0],
    ...     "tier_down_3m": [0, 0]})
    >>> reasons(rows, c).tolist()
    ['moved 45% of assets out last month; moved 45% of assets out over the last 3 months', 'profile: 1 product(s), 5 months on book']
    """
    words = {
        "outflow_1m": _fill(tr("moved {share} of assets out last month"),
                            share=_pct(rows["share_out_1m"])),
        "outflow_3m": _fill(tr("moved {share} of assets out over the last 3 months"),
                            share=_pct(rows["share_out_3m"])),
        "aum_trend_6m": _fill(tr("assets down {share} over 6 months"), share=_pct(
            1 - np.exp(rows["aum_trend_6m"].clip(upper=0)))),
        "prod_drop_3m": pd.Series(tr("dropped a product in the last 3 months"), index=rows.index),
        "tier_down_3m": pd.Series(tr("fell a value tier in the last 3 months"), index=rows.index),
    }
    push = pd.DataFrame({
        "outflow_1m": contrib["out_1m"] + contrib["share_out_1m"],
        "outflow_3m": contrib["out_3m"] + contrib["share_out_3m"],
        "aum_trend_6m": contrib["aum_trend_6m"], "prod_drop_3m": contrib["prod_drop_3m"],
        "tier_down_3m": contrib["tier_down_3m"]}, index=rows.index)
    text = np.column_stack([words[c].to_numpy(dtype=object) for c in push.columns])
    vals = push.to_numpy(float)
    order = np.argsort(-vals, axis=1, kind="stable")[:, :top]
    picked = np.take_along_axis(text, order, axis=1)
    strong = np.take_along_axis(vals, order, axis=1) >= MIN_PUSH
    parts = pd.DataFrame(np.where(strong, picked, ""), index=rows.index)
    joined = parts.iloc[:, 0]
    sep = tr("; ")
    for j in range(1, parts.shape[1]):
        nxt = parts.iloc[:, j]
        joined = joined.where(nxt == "", joined + sep + nxt).str.lstrip(sep)
    profile = _fill(tr("profile: {n} product(s), {months} months on book"),
                    n=rows["n_products"].astype(int), months=rows["tenure_months"].astype(int))
    return joined.where(joined != "", profile).rename("reasons")


def actions(segment: pd.Series) -> pd.Series:
    """The suggested action for each customer's reliance segment."""
    words = {k: tr(v) for k, v in ACTIONS.items()}
    return segment.astype(str).map(words).fillna(tr("review by the relationship manager")).rename(
        "suggested_action")
