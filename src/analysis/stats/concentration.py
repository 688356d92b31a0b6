"""Value concentration: how much of the book's value the top customers hold (the "80/20").

Rule for negative values (loss-making customers): they are **kept**. Profit can be negative and
dropping or clipping those customers would overstate concentration. Shares are taken of the
*net* total, so with losses the Lorenz curve first dips below 0 and the top customers' share
can exceed 1 (e.g. the top 20% earn 110% of the net profit, the losses eat the other 10%);
the Gini coefficient can then exceed 1. The net total must be strictly positive, otherwise
shares are undefined or meaningless and a :class:`ValueError` is raised. Missing (NaN) or
infinite values raise a :class:`ValueError` naming their positions; drop or impute them first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["lorenz_curve", "top_share", "gini"]


def _values(values) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        raise TypeError("values must be one column (a Series or 1-d array), not a DataFrame")
    labels = values.index if isinstance(values, pd.Series) else None
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError("values must be numeric") from exc
    if arr.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("values is empty: no customers")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = labels[bad].tolist() if labels is not None else np.flatnonzero(bad).tolist()
        raise ValueError(f"values has missing or infinite entries at {where[:10]}")
    total = arr.sum()
    if not total > 0:
        raise ValueError(
            f"the total value is {total:g}; shares of the total need a positive total "
            "(value concentration is undefined for a loss-making or empty book)"
        )
    return np.sort(arr)


def lorenz_curve(values) -> pd.DataFrame:
    """Lorenz curve of customer value, from the lowest-value customer to the highest.

    Parameters
    ----------
    values : array-like or Series
        One value per customer (e.g. annual profit or AUM). Negative values are kept (see the
        module docstring).

    Returns
    -------
    DataFrame
        Columns ``share_customers`` (0 .. 1) and ``share_value`` (cumulative share of the total,
        0 .. 1 at the ends), ``n + 1`` rows starting at (0, 0). Customers are sorted from the
        lowest to the highest value.

    Examples
    --------
    >>> lorenz_curve([1, 1, 1, 1, 16])["share_value"].tolist()
    [0.0, 0.05, 0.1, 0.15, 0.2, 1.0]
    """
    arr = _values(values)
    n = arr.size
    cum = np.concatenate([[0.0], np.cumsum(arr)]) / arr.sum()
    cum[-1] = 1.0
    return pd.DataFrame({"share_customers": np.arange(n + 1) / n, "share_value": cum})


def top_share(values, top: float = 0.2) -> float:
    """Share of the total value held by the top ``top`` fraction of customers.

    Read from the piecewise-linear Lorenz curve: ``1 - L(1 - top)``. When ``top * n`` is a
    whole number this is exactly the share of the ``top * n`` highest-value customers;
    otherwise the boundary customer counts fractionally (linear interpolation). With
    loss-making customers the result can exceed 1.

    Examples
    --------
    >>> round(top_share([1, 1, 1, 1, 16], top=0.2), 10)
    0.8
    """
    if not 0 <= top <= 1:
        raise ValueError(f"top must be a fraction in [0, 1], got {top!r}")
    lc = lorenz_curve(values)
    below = float(np.interp(1 - top, lc["share_customers"], lc["share_value"]))
    return 1.0 - below


def gini(values) -> float:
    """Gini coefficient of customer value (0 = everyone equal, near 1 = one customer has all).

    Population (not small-sample corrected) Gini: one minus twice the area under the Lorenz
    curve, ``G = 2 sum_i i x_(i) / (n sum x) - (n + 1) / n`` with ascending ``x_(i)``. With
    loss-making customers (negative values) it can exceed 1.

    Examples
    --------
    >>> round(gini([1, 1, 1, 1, 16]), 10)
    0.6
    """
    arr = _values(values)
    n = arr.size
    i = np.arange(1, n + 1)
    return float(2 * np.sum(i * arr) / (n * arr.sum()) - (n + 1) / n)
