"""The one risk-set counter every estimator builds on (Kaplan-Meier, log-rank, Cox, IPW, metrics).

Convention (counting process, R's ``Surv(start, stop, event)``, lifelines and scikit-survival's
``_compute_counts_truncated``): a row is **at risk at time t when start < t <= stop**. A row
without delayed entry has ``start = 0`` (or any value below the first time). Rows whose interval
contains no time of the grid contribute nothing.

Everything is O((n + K) log K) with ``K`` grid times: one ``searchsorted`` per row, then a
difference array and a cumulative sum, so that weighted sums (Cox ``S0, S1, S2``, weighted
Kaplan-Meier) and plain counts come from the same code.
"""

from __future__ import annotations

import numpy as np

__all__ = ["risk_index", "at_risk", "events_at"]


def risk_index(start, stop, times) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid positions spanned by each row's risk interval.

    Parameters
    ----------
    start, stop : array (n,)
        Entry and exit of each row (``start < stop``).
    times : array (K,)
        Sorted, distinct grid times.

    Returns
    -------
    first, last, ok : arrays (n,)
        Row ``i`` is at risk at ``times[first[i]] .. times[last[i]]`` when ``ok[i]``.

    Examples
    --------
    >>> first, last, ok = risk_index([0, 2], [3, 5], [1, 2, 3, 4])
    >>> first.tolist(), last.tolist(), ok.tolist()
    ([0, 2], [2, 3], [True, True])
    """
    times = np.asarray(times, dtype=float)
    first = np.searchsorted(times, np.asarray(start, dtype=float), side="right")
    last = np.searchsorted(times, np.asarray(stop, dtype=float), side="right") - 1
    return first, last, first <= last


def at_risk(start, stop, times, weights=None, *, index=None) -> np.ndarray:
    """Number (or weighted sum) of rows at risk at each grid time: ``start < t <= stop``.

    Parameters
    ----------
    start, stop : array (n,)
        Entry and exit of each row.
    times : array (K,)
        Sorted, distinct grid times.
    weights : array (n,) or (n, m), optional
        Per-row weights (one column per sum); counts when omitted.
    index : tuple, optional
        The result of :func:`risk_index` for these rows and times, to reuse it across sums.

    Returns
    -------
    ndarray (K,) or (K, m)
        Integer counts without ``weights``, float sums with them.

    Examples
    --------
    >>> at_risk([0, 0, 2], [3, 1, 5], [1, 2, 3, 4]).tolist()
    [2, 1, 2, 1]
    >>> at_risk([0, 0, 2], [3, 1, 5], [1, 3], weights=[1.0, 0.5, 2.0]).tolist()
    [1.5, 3.0]
    """
    times = np.asarray(times, dtype=float)
    K = times.size
    first, last, ok = risk_index(start, stop, times) if index is None else index
    f, l1 = first[ok], last[ok] + 1
    if weights is None:
        diff = np.bincount(f, minlength=K + 1) - np.bincount(l1, minlength=K + 1)
        return np.cumsum(diff)[:K].astype(np.int64)
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1:
        w = w[ok]
        diff = np.bincount(f, w, minlength=K + 1) - np.bincount(l1, w, minlength=K + 1)
        return np.cumsum(diff)[:K]
    w = w[ok]
    out = np.empty((K, w.shape[1]))
    for j in range(w.shape[1]):
        diff = np.bincount(f, w[:, j], minlength=K + 1) - np.bincount(l1, w[:, j], minlength=K + 1)
        out[:, j] = np.cumsum(diff)[:K]
    return out


def events_at(stop, event, times, weights=None) -> np.ndarray:
    """Number (or weighted sum) of events at each grid time (``stop == t`` and ``event``).

    Event times missing from ``times`` are an error (they would be silently lost).

    Examples
    --------
    >>> events_at([1, 3, 3, 4], [1, 1, 0, 1], [1, 3, 4]).tolist()
    [1, 1, 1]
    """
    times = np.asarray(times, dtype=float)
    stop = np.asarray(stop, dtype=float)
    ev = np.asarray(event).astype(bool)
    pos = np.searchsorted(times, stop[ev])
    if pos.size and (pos.max() >= times.size or np.any(times[pos] != stop[ev])):
        raise ValueError("an event time is not on the grid of times")
    if weights is None:
        return np.bincount(pos, minlength=times.size).astype(np.int64)
    return np.bincount(pos, np.asarray(weights, dtype=float)[ev], minlength=times.size)
