"""Figures of a ranked list (early warning): precision and value captured by list size, expected
profit by list size, lead time from first listing to departure.

Tidy frames in (``method, k, <metric>`` by list size per branch), keyword-only options,
``ax=None``, the Axes returned; each method's line carries its name as gid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.i18n import tr
from analysis.plots.base import PALETTE, _ax, _need, _titled

__all__ = ["list_curve_plot", "lead_time_plot"]

_LABELS = {"precision": "Share of the listed who left", "value_captured":
           "Share of the departing profit on the list", "profit": "Expected profit a month"}


def list_curve_plot(curves: pd.DataFrame, metric: str = "precision", *, labels: dict | None = None,
                    list_size: int | None = None, ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """One line per method: ``metric`` against the list size per branch (``k``).

    ``labels`` maps method names to legend words; ``list_size`` draws the current list size as
    a vertical line (gid ``"list_size"``).
    """
    _need(curves, ["method", "k", metric], "curves")
    ax = _ax(ax)
    for i, (m, sub) in enumerate(curves.groupby("method", sort=False)):
        (ln,) = ax.plot(sub["k"], sub[metric], color=PALETTE[i % len(PALETTE)], lw=1.8,
                        label=(labels or {}).get(m, m))
        ln.set_gid(m)
    if list_size:
        ax.axvline(list_size, color="0.5", ls="--", lw=1, gid="list_size")
    if metric == "profit":
        ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xlabel(tr("Customers listed per branch a month"))
    ax.set_ylabel(tr(_LABELS.get(metric, metric)))
    ax.legend(fontsize="small")
    return _titled(ax, title)


def lead_time_plot(lead: pd.DataFrame, *, labels: dict | None = None, ax: Axes | None = None,
                   title: str | None = None) -> Axes:
    """Departures caught by months from first listing to leaving, bars per method side by side.

    ``lead``: ``method, lead, departures``; each bar carries its method's name as gid (heights =
    departures).
    """
    _need(lead, ["method", "lead", "departures"], "lead")
    ax = _ax(ax)
    methods = list(dict.fromkeys(lead["method"]))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        sub = lead[lead["method"] == m]
        bars = ax.bar(sub["lead"].to_numpy(float) + (i - (len(methods) - 1) / 2) * width,
                      sub["departures"], width=width, color=PALETTE[i % len(PALETTE)],
                      label=(labels or {}).get(m, m))
        for patch in bars:
            patch.set_gid(m)
    ax.set_xticks(np.sort(lead["lead"].unique()))
    ax.set_xlabel(tr("Months from first listing to leaving"))
    ax.set_ylabel(tr("Departures caught"))
    ax.legend(fontsize="small")
    return _titled(ax, title)
