"""Episode splitting: cut counting-process intervals at tenure points."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["split_intervals"]


def split_intervals(intervals: pd.DataFrame, cuts: Sequence[float], *, start: str = "start",
                    stop: str = "stop", event: str = "event",
                    band: str | None = None) -> pd.DataFrame:
    """Split ``(start, stop]`` intervals at tenure cut points (episode splitting).

    The event stays on the last piece; other columns are copied. Estimates of a Cox model do not
    change; covariates that depend on time bands (``x * [t in band]``) become possible.
    ``band`` names a column to add that numbers the pieces' tenure bands 0..len(cuts).

    Examples
    --------
    >>> iv = pd.DataFrame({"start": [0.0, 5.0], "stop": [10.0, 7.0], "event": [1, 0]})
    >>> split_intervals(iv, [4, 8], band="band").to_dict("list")
    {'start': [0.0, 4.0, 8.0, 5.0], 'stop': [4.0, 8.0, 10.0, 7.0], 'event': [0, 0, 1, 0], 'band': [0, 1, 2, 1]}
    """
    cuts = np.unique(np.asarray(cuts, dtype=float))
    s = intervals[start].to_numpy(dtype=float)
    t = intervals[stop].to_numpy(dtype=float)
    inside = (cuts[None, :] > s[:, None]) & (cuts[None, :] < t[:, None])
    n_pieces = 1 + inside.sum(axis=1)
    rep = np.repeat(np.arange(len(intervals)), n_pieces)
    out = intervals.iloc[rep].reset_index(drop=True)
    bounds = []
    for i in np.flatnonzero(n_pieces > 1):
        bounds.append((i, cuts[inside[i]]))
    new_s = s[rep].copy()
    new_t = t[rep].copy()
    first = np.concatenate([[0], np.cumsum(n_pieces)[:-1]])
    for i, cs in bounds:
        pos = first[i]
        edges = np.concatenate([[s[i]], cs, [t[i]]])
        new_s[pos:pos + len(cs) + 1] = edges[:-1]
        new_t[pos:pos + len(cs) + 1] = edges[1:]
    last = np.zeros(len(out), dtype=bool)
    last[np.cumsum(n_pieces) - 1] = True
    out[start] = new_s
    out[stop] = new_t
    out[event] = np.where(last, out[event].to_numpy(), 0)
    if band is not None:
        out[band] = np.searchsorted(cuts, new_s, side="right")
    return out
