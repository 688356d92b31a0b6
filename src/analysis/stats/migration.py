"""Value-tier migration: how customers move between the 1-5 star tiers and off the book.

The monthly panel has one row per customer and month on book (``customer_id``, ``month`` as
the month start, ``tier`` 1-5, ``closed`` True on the customer's last row, the month they
leave). Conventions shared by every function here:

* **One step is one month.** The pair (month ``t``, month ``t + 1``) of a customer on book in
  month ``t`` has the *next state* ``"departed"`` when the month-``t`` row is ``closed`` (the
  customer is gone after ``t``), otherwise the tier on their month-``t + 1`` row. The tier of
  a closing row counts: a customer who moved up in the month they left reached that tier.
  Every person-month is the origin of exactly one pair, so nothing is counted twice.
* **A window of** ``months`` **steps up to** ``as_of`` uses the origin months ``as_of - months
  .. as_of - 1``: every next month lies in ``as_of - months + 1 .. as_of`` (none after
  ``as_of``). A customer on book at ``as_of`` who closes that month is *not* departed within
  the window: their departure is after ``as_of``.
* A non-closed row whose next month is missing (a gap, or the data ending early) has an
  unknown next state and is left out (counted as neither staying nor leaving).

:func:`tier_transitions` estimates the monthly transition rates; :func:`reach_tier` follows a
landmark cohort directly; :func:`markov_reach` chains the monthly matrices (a Markov model on
the tier alone) and :func:`reach_crosscheck` puts the two side by side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats._validate import _check_columns, _z
from analysis.stats.rates import _wilson

__all__ = [
    "TIERS",
    "tier_transitions",
    "transition_matrix",
    "reach_tier",
    "markov_reach",
    "reach_crosscheck",
]

#: The value tiers (stars), lowest first.
TIERS = (1, 2, 3, 4, 5)
DEPARTED = "departed"
STATES = tuple(str(t) for t in TIERS) + (DEPARTED,)


def _month_index(month) -> np.ndarray:
    """Months as consecutive integers (year * 12 + month - 1): month arithmetic without dates."""
    m = pd.DatetimeIndex(pd.to_datetime(month))
    return np.asarray(m.year * 12 + m.month - 1, dtype=np.int64)


def _label(idx: int) -> str:
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def _steps(panel: pd.DataFrame) -> pd.DataFrame:
    """Checked panel with one row per person-month: ``m`` (month index), ``tier``, ``closed``
    and ``next`` (the next state as in the module docstring, None when unknown)."""
    _check_columns(panel, ["customer_id", "month", "tier", "closed"])
    if len(panel) == 0:
        raise InsufficientDataError("the panel is empty: no customer months to follow")
    df = pd.DataFrame({"customer_id": panel["customer_id"].to_numpy(),
                       "m": _month_index(panel["month"]),
                       "tier": pd.to_numeric(panel["tier"]).to_numpy(),
                       "closed": panel["closed"].astype(bool).to_numpy()})
    bad = ~np.isin(df["tier"], TIERS)
    if bad.any():
        raise ValueError(f"tier must be one of {list(TIERS)}; found "
                         f"{sorted(pd.unique(df['tier'][bad]).tolist())[:10]}")
    df = df.sort_values(["customer_id", "m"], kind="stable").reset_index(drop=True)
    same = df["customer_id"].eq(df["customer_id"].shift(-1)).to_numpy()
    dup = same & (df["m"].shift(-1).to_numpy() == df["m"].to_numpy())
    if dup.any():
        raise ValueError("the panel has more than one row for the same customer and month, e.g. "
                         f"{df.loc[np.flatnonzero(dup)[:3], 'customer_id'].tolist()}")
    follows = same & (df["m"].shift(-1).to_numpy() == df["m"].to_numpy() + 1)
    next_tier = df["tier"].shift(-1).fillna(0).astype(int).astype(str).to_numpy()
    nxt = np.where(df["closed"], DEPARTED, np.where(follows, next_tier, None))
    df["next"] = nxt
    return df


def _resolve_as_of(steps: pd.DataFrame, as_of) -> int:
    last = int(steps["m"].max())
    if as_of is None:
        return last
    idx = int(_month_index([as_of])[0])
    if idx > last or idx < int(steps["m"].min()):
        raise ValueError(f"as_of {_label(idx)} is outside the panel's months "
                         f"({_label(int(steps['m'].min()))} to {_label(last)})")
    return idx


def _start(steps: pd.DataFrame, as_of: int, months: int, what: str) -> int:
    if int(months) != months or months < 1:
        raise ValueError(f"{what} must be a whole number of months >= 1, got {months!r}")
    first = as_of - int(months)
    if first < int(steps["m"].min()):
        need = (f"the landmark month {_label(first)} ({int(months)} months before "
                f"{_label(as_of)}) is needed" if what == "within" else
                f"{int(months)} months up to {_label(as_of)} need the panel from {_label(first)}")
        raise InsufficientDataError(
            f"{need}, but the panel starts in {_label(int(steps['m'].min()))}")
    return first


def _interval(k, n, alpha: float):
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = _wilson(k, n, _z(alpha))
    ok = n > 0
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def tier_transitions(panel: pd.DataFrame, as_of=None, months: int = 12, *,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Monthly transition rates between value tiers and to departure.

    Pairs (month ``t``, month ``t + 1``) of the same customer with ``t`` in ``as_of - months
    .. as_of - 1`` (see the module docstring for the conventions at departure and at
    ``as_of``), pooled over those ``months`` months.

    Parameters
    ----------
    panel : DataFrame
        Monthly panel with ``customer_id, month, tier, closed``.
    as_of : date-like, optional
        Last month of the window (default: the panel's last month).
    months : int
        Monthly steps in the window; the panel must start by ``as_of - months``.
    alpha : float
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame
        30 rows (every ``from_tier`` 1-5 times every ``to_state``), columns ``from_tier``
        (int), ``to_state`` (``"1"`` .. ``"5"``, ``"departed"``), ``n_from`` (person-months in
        ``from_tier`` with a known next state), ``count``, ``rate = count / n_from`` and its
        Wilson interval ``ci_low, ci_high`` (NaN where ``n_from`` is 0). Each tier's rates sum
        to 1.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b"],
    ...     "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01",
    ...                              "2024-01-01", "2024-02-01"]),
    ...     "tier": [2, 2, 3, 2, 2], "closed": [False, False, False, False, True]})
    >>> out = tier_transitions(panel, months=2)
    >>> out[(out["from_tier"] == 2) & (out["count"] > 0)][["to_state", "n_from", "count"]]
        to_state  n_from  count
    7          2       4      2
    8          3       4      1
    11  departed       4      1
    """
    steps = _steps(panel)
    end = _resolve_as_of(steps, as_of)
    first = _start(steps, end, months, "months")
    use = steps[(steps["m"] >= first) & (steps["m"] <= end - 1) & steps["next"].notna()]
    counts = (pd.crosstab(use["tier"], use["next"])
              .reindex(index=list(TIERS), columns=list(STATES), fill_value=0))
    out = (counts.rename_axis(index="from_tier", columns="to_state").stack()
           .rename("count").reset_index())
    out["from_tier"] = out["from_tier"].astype(np.int64)
    out["to_state"] = out["to_state"].astype(str)
    out["count"] = out["count"].astype(np.int64)
    out.insert(2, "n_from", out.groupby("from_tier")["count"].transform("sum").astype(np.int64))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(out["n_from"] > 0, out["count"] / out["n_from"], np.nan)
    out["ci_low"], out["ci_high"] = _interval(out["count"], out["n_from"], alpha)
    return out


def transition_matrix(transitions: pd.DataFrame) -> pd.DataFrame:
    """The monthly transition matrix (rows: from, columns: to) over the six states.

    ``"departed"`` is absorbing. A tier never seen as an origin has a NaN row.

    Examples
    --------
    >>> tr = pd.DataFrame({"from_tier": [1, 1], "to_state": ["1", "departed"],
    ...                    "rate": [0.9, 0.1]})
    >>> transition_matrix(tr).loc["1"].tolist()
    [0.9, 0.0, 0.0, 0.0, 0.0, 0.1]
    """
    _check_columns(transitions, ["from_tier", "to_state", "rate"])
    frame = transitions.assign(_from=transitions["from_tier"].astype(int).astype(str),
                               _to=transitions["to_state"].astype(str))
    unknown = set(frame["_to"]) - set(STATES)
    if unknown:
        raise ValueError(f"unknown to_state values {sorted(unknown)}; expected {list(STATES)}")
    mat = frame.pivot(index="_from", columns="_to", values="rate")
    mat = mat.reindex(index=list(STATES), columns=list(STATES))
    seen = mat.notna().any(axis=1)  # an origin tier: its unlisted moves have rate 0
    mat.loc[seen] = mat.loc[seen].fillna(0.0)
    mat.loc[DEPARTED] = [0.0] * len(TIERS) + [1.0]
    mat.index.name = mat.columns.name = None
    return mat


def markov_reach(transitions: pd.DataFrame, start_tiers=(2, 3), target: int = 4,
                 within: int = 12, start_weights=None) -> pd.DataFrame:
    """Chance of reaching tier >= ``target`` within ``within`` months under a Markov model.

    Chains the monthly matrix of :func:`tier_transitions`, with tiers ``>= target`` and
    ``"departed"`` made absorbing, so that ``reached`` is the first-passage probability (the
    Aalen-Johansen estimate for a homogeneous Markov chain in discrete time). The cohort
    starts in ``start_tiers`` with ``start_weights`` (e.g. the customers of each tier at the
    landmark; equal weights by default).

    Returns
    -------
    DataFrame
        Rows ``step`` 0 .. ``within``: ``reached`` (reached tier >= target by then),
        ``departed_first`` (left without reaching it), ``below`` (still on book below it);
        each row sums to 1.

    Raises
    ------
    InsufficientDataError
        The chain reaches a tier below ``target`` that was never seen as an origin.

    Examples
    --------
    >>> tr = pd.DataFrame({"from_tier": [3, 3, 3], "to_state": ["3", "4", "departed"],
    ...                    "rate": [0.8, 0.1, 0.1]})
    >>> markov_reach(tr, start_tiers=(3,), within=2).round(3).iloc[-1].tolist()
    [2.0, 0.18, 0.18, 0.64]
    """
    _check_target(start_tiers, target)
    if int(within) != within or within < 1:
        raise ValueError(f"within must be a whole number of months >= 1, got {within!r}")
    mat = transition_matrix(transitions)
    below = [str(t) for t in TIERS if t < target]
    above = [str(t) for t in TIERS if t >= target]
    known = mat.loc[below].notna().all(axis=1).to_numpy()
    q = mat.loc[below, below].fillna(0.0).to_numpy()  # moves among the tiers below target
    up = mat.loc[below, above].fillna(0.0).sum(axis=1).to_numpy()  # first passage up
    out = mat.loc[below, DEPARTED].fillna(0.0).to_numpy()
    w = np.ones(len(start_tiers)) if start_weights is None else np.asarray(start_weights, float)
    if w.shape != (len(start_tiers),) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("start_weights must be one non-negative weight per start tier, "
                         "not all zero")
    p = pd.Series(0.0, index=below)
    for t, wt in zip(start_tiers, w):
        p[str(int(t))] += wt / w.sum()
    p = p.to_numpy()
    rows = [(0, 0.0, 0.0, 1.0)]
    reached = departed = 0.0
    for step in range(1, int(within) + 1):
        if np.any(p[~known] > 0):
            missing = [b for b, k in zip(below, known) if not k]
            raise InsufficientDataError(f"no customer-month in tier(s) {missing} to estimate "
                                        "where customers there go next")
        reached += p @ up
        departed += p @ out
        p = p @ q
        rows.append((step, reached, departed, p.sum()))
    return pd.DataFrame(rows, columns=["step", "reached", "departed_first", "below"])


def _check_target(from_tiers, target: int) -> None:
    tiers = list(from_tiers)
    if not tiers or any(int(t) not in TIERS for t in tiers):
        raise ValueError(f"from_tiers must be tiers among {list(TIERS)}, got {from_tiers!r}")
    if target not in TIERS[1:] or any(int(t) >= target for t in tiers):
        raise ValueError(f"target must be a tier above every one of from_tiers {tiers}, "
                         f"got {target!r}")


def _product_group(n, top: int) -> pd.Categorical:
    """Products held as 1, 2, ..., ``top``+ (no product counts as one)."""
    labels = [str(i) for i in range(1, top)] + [f"{top}+"]
    idx = np.clip(np.asarray(n, dtype=float), 1, top).astype(int) - 1
    return pd.Categorical(np.asarray(labels)[idx], categories=labels, ordered=True)


def _follow(steps: pd.DataFrame, landmark: int, from_tiers, target: int,
            within: int) -> pd.DataFrame:
    """The landmark cohort with its outcome flags ``reached``, ``departed_first`` and
    ``incomplete`` (follow-up ended early without a departure)."""
    cohort = steps[(steps["m"] == landmark) & steps["tier"].isin([int(t) for t in from_tiers])]
    end = landmark + within
    after = steps[steps["customer_id"].isin(cohort["customer_id"]) & (steps["m"] > landmark)
                  & (steps["m"] <= end)]
    reached = after.loc[after["tier"] >= target, "customer_id"].unique()
    inside = steps[steps["customer_id"].isin(cohort["customer_id"]) & (steps["m"] >= landmark)
                   & (steps["m"] < end)]
    left = inside.loc[inside["closed"], "customer_id"].unique()
    last = after.groupby("customer_id")["m"].max()
    flags = pd.DataFrame({"customer_id": cohort["customer_id"].to_numpy(),
                          "tier": cohort["tier"].to_numpy()})
    flags["reached"] = flags["customer_id"].isin(reached)
    departed = flags["customer_id"].isin(left)
    flags["departed_first"] = departed & ~flags["reached"]
    seen_to = flags["customer_id"].map(last).fillna(landmark)
    flags["incomplete"] = ~departed & (seen_to < end)
    return flags


def reach_tier(panel: pd.DataFrame, as_of=None, from_tiers=(2, 3), target: int = 4,
               within: int = 12, by: str | None = "n_products", top: int = 4, *,
               alpha: float = 0.05) -> pd.DataFrame:
    """Share of a landmark cohort reaching a higher value tier within ``within`` months.

    The cohort: customers on book in a tier of ``from_tiers`` at the landmark month ``as_of -
    within`` (including those who close that month: they leave without reaching). A customer
    *reaches* the target when some row in months ``landmark + 1 .. as_of`` has tier
    ``>= target``; rows stop at departure, so reaching always comes before departing (a
    customer who moves up in the month they close did reach it). ``departed_first`` counts
    those who closed in months ``landmark .. as_of - 1`` without reaching it.

    With ``as_of`` the panel's last month every cohort member is followed to ``as_of`` or to
    their departure, so follow-up cannot end early. A customer whose rows stop early without
    a departure (a gap in the data) stays in ``n`` as not reached and is counted in
    ``incomplete``.

    Parameters
    ----------
    panel : DataFrame
        Monthly panel with ``customer_id, month, tier, closed`` and the ``by`` column.
    as_of : date-like, optional
        End of the follow-up (default: the panel's last month).
    from_tiers : tuple of int
        Tiers of the cohort at the landmark (all below ``target``).
    target : int
        Tier to reach (or above).
    within : int
        Months of follow-up; the landmark ``as_of - within`` must be in the panel.
    by : str or None
        Grouping column, read at the landmark. ``"n_products"`` is grouped as 1, 2, ...,
        ``top``+ (no product counts as one); another column is used as it is; None: only the
        ``"all"`` row.
    top : int
        Highest product group (with ``by="n_products"``).
    alpha : float
        1 - confidence level of the Wilson interval of ``share_reached``.

    Returns
    -------
    DataFrame
        One row per group (in order) and a last row ``"all"``: ``group`` (str), ``n``,
        ``reached``, ``share_reached``, ``ci_low``, ``ci_high``, ``departed_first``,
        ``share_departed``, ``incomplete``.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "b", "c"],
    ...     "month": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2 + ["2024-01-01"]),
    ...     "tier": [3, 4, 2, 2, 3], "closed": [False, False, False, False, True],
    ...     "n_products": [1, 1, 2, 2, 2]})
    >>> reach_tier(panel, within=1)[["group", "n", "reached", "departed_first"]]
      group  n  reached  departed_first
    0     1  1        1               0
    1     2  2        0               1
    2   all  3        1               1
    """
    _check_target(from_tiers, target)
    steps = _steps(panel)
    end = _resolve_as_of(steps, as_of)
    landmark = _start(steps, end, within, "within")
    if not (steps["m"] == landmark).any():
        raise InsufficientDataError(f"no customer is on book in the landmark month "
                                    f"{_label(landmark)}")
    flags = _follow(steps, landmark, from_tiers, target, int(within))
    if flags.empty:
        raise InsufficientDataError(f"no customer is in tier(s) {list(from_tiers)} in the "
                                    f"landmark month {_label(landmark)}")
    if by is not None:
        _check_columns(panel, [by])
        at = panel.loc[_month_index(panel["month"]) == landmark, ["customer_id", by]]
        value = flags["customer_id"].map(at.drop_duplicates("customer_id")
                                         .set_index("customer_id")[by])
        if value.isna().any():
            raise ValueError(f"column {by!r} is missing at the landmark for some customers")
        flags["group"] = (_product_group(value, top) if by == "n_products"
                          else pd.Categorical(value))
        parts = [(str(g), sub) for g, sub in flags.groupby("group", observed=True, sort=True)]
    else:
        parts = []
    parts.append(("all", flags))
    out = pd.DataFrame({
        "group": [g for g, _ in parts],
        "n": [len(s) for _, s in parts],
        "reached": [int(s["reached"].sum()) for _, s in parts],
        "departed_first": [int(s["departed_first"].sum()) for _, s in parts],
        "incomplete": [int(s["incomplete"].sum()) for _, s in parts],
    })
    out["share_reached"] = out["reached"] / out["n"]
    out["ci_low"], out["ci_high"] = _interval(out["reached"], out["n"], alpha)
    out["share_departed"] = out["departed_first"] / out["n"]
    return out[["group", "n", "reached", "share_reached", "ci_low", "ci_high",
                "departed_first", "share_departed", "incomplete"]]


def reach_crosscheck(panel: pd.DataFrame, as_of=None, from_tiers=(2, 3), target: int = 4,
                     within: int = 12) -> pd.DataFrame:
    """The landmark cohort's share reaching tier >= ``target`` next to the Markov chain's.

    The chain uses the transitions of the same ``within`` months (:func:`tier_transitions`)
    and starts from the cohort's tiers at the landmark. The two agree when the tier process
    is close to Markov; a gap means that where a customer sits inside a tier, or their
    history, matters beyond the tier itself.

    Returns
    -------
    DataFrame
        Rows ``method`` ``"cohort"`` and ``"markov"``: ``n`` (the cohort), ``share_reached``,
        ``share_departed``.
    """
    direct = reach_tier(panel, as_of, from_tiers, target, within, by=None).iloc[-1]
    steps = _steps(panel)
    end = _resolve_as_of(steps, as_of)
    cohort = steps[(steps["m"] == end - within) & steps["tier"].isin(list(from_tiers))]
    weights = [int((cohort["tier"] == int(t)).sum()) for t in from_tiers]
    chain = markov_reach(tier_transitions(panel, as_of, within), from_tiers, target, within,
                         weights).iloc[-1]
    return pd.DataFrame({"method": ["cohort", "markov"], "n": int(direct["n"]),
                         "share_reached": [direct["share_reached"], chain["reached"]],
                         "share_departed": [direct["share_departed"],
                                            chain["departed_first"]]})
