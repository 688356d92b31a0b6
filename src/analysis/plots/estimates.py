"""Forest plots: estimates with their intervals, one row each (hazard, time or odds ratios).

Tidy frames in, keyword-only options, ``ax=None``, the Axes returned, nothing shown or saved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.transforms import blended_transform_factory

from analysis.i18n import tr, tr_value
from analysis.plots.base import PALETTE, _ax, _log_ticks, _need, _titled

__all__ = ["forest_plot", "estimates_plot"]


def forest_plot(
    table: pd.DataFrame,
    *,
    estimate: str = "hr",
    low: str = "ci_low",
    high: str = "ci_high",
    label: str = "term",
    ax: Axes | None = None,
    log: bool = True,
    ref: float | None = 1.0,
    annotate: bool = True,
    title: str | None = None,
) -> Axes:
    """Forest plot of estimates with intervals (e.g. hazard ratios of a Cox model).

    Rows are drawn top to bottom in the table's order.

    Parameters
    ----------
    table : DataFrame
        One row per estimate, with the columns named by ``estimate``, ``low``, ``high`` and
        ``label``.
    estimate, low, high, label : str
        Column names of the estimate, its interval limits and the row label.
    ax : Axes, optional
        Where to draw the forest plot; a new figure when None.
    log : bool
        Log x axis (ratios); then every estimate and limit must be positive.
    ref : float or None
        The no-effect line (None for none).
    annotate : bool
        Write ``"est (low-high)"`` at the right of each row.
    title : str, optional
        Title above the rows.

    Returns
    -------
    Axes
        The markers are the error-bar line with gid ``"estimates"`` (x = estimate, y = row
        position, first row on top), the reference line has gid ``"reference"``.
    """
    _need(table, [estimate, low, high, label], "table")
    est = table[estimate].to_numpy(dtype=float)
    lo = table[low].to_numpy(dtype=float)
    hi = table[high].to_numpy(dtype=float)
    if log and (np.any(lo <= 0) or np.any(est <= 0)):
        raise ValueError("forest_plot(log=True) needs positive estimates and limits (ratios)")
    k = len(table)
    ax = _ax(ax, figsize=(6.5, 0.45 * k + 1.2))
    ypos = np.arange(k)[::-1]
    container = ax.errorbar(
        est, ypos, xerr=np.vstack([est - lo, hi - est]), fmt="s", color=PALETTE[0],
        capsize=3, lw=1.5, ms=5,
    )
    container.lines[0].set_gid("estimates")
    if ref is not None:
        ax.axvline(ref, ls="--", color="0.5", lw=1, gid="reference")
    if log:
        ax.set_xscale("log")
        lo_all = float(min(lo.min(), ref if ref is not None else lo.min()))
        hi_all = float(max(hi.max(), ref if ref is not None else hi.max()))
        _log_ticks(ax, "x", span=(lo_all / 1.2, hi_all * 1.2))
    ax.set_yticks(ypos)
    ax.set_yticklabels([str(tr_value(v)) for v in table[label]])
    ax.set_ylim(-0.7, k - 0.3)
    ax.set_xlabel(tr(estimate))
    if annotate:
        trans = blended_transform_factory(ax.transAxes, ax.transData)
        for y, e, a, b in zip(ypos, est, lo, hi):
            ax.text(1.02, y, f"{e:.2f} ({a:.2f}-{b:.2f})", transform=trans, va="center",
                    fontsize="small", gid="annotation")
    return _titled(ax, title)


def estimates_plot(summary: pd.DataFrame, *, ax: Axes | None = None,
                   title: str | None = None) -> Axes:
    """All hazard-ratio estimates side by side (a forest plot), true values marked if known.

    Parameters
    ----------
    summary : DataFrame
        ``method``, ``contrast``, ``hr``, ``ci_low``, ``ci_high`` and optionally ``truth``
        (the ``summary`` of :func:`analysis.studies.product_effect.estimate.estimate_product_effect`);
        rows without an estimate are left out, the label is ``"method: contrast"``.
    ax : Axes, optional
        Where to draw all estimates; a new figure when None.
    title : str, optional
        Title above the estimates.

    Returns
    -------
    Axes
        As :func:`forest_plot`; the true values are a scatter with gid ``"truth"``.
    """
    _need(summary, ["method", "contrast", "hr", "ci_low", "ci_high"], "summary")
    s = summary[summary["hr"].notna()].reset_index(drop=True)
    s = s.assign(label=[tr("{method}: {contrast}", method=tr_value(m), contrast=tr_value(c))
                        for m, c in zip(s["method"], s["contrast"])])
    ax = forest_plot(s, label="label", ax=ax, title=title)
    if "truth" in s and s["truth"].notna().any():
        ypos = np.arange(len(s))[::-1]
        m = s["truth"].notna().to_numpy()
        ax.scatter(s["truth"].to_numpy(dtype=float)[m], ypos[m], marker="x", color=PALETTE[3],
                   zorder=5, label=tr("true value (synthetic data)"), gid="truth")
        ax.legend(loc="lower left", fontsize="small")
    ax.set_xlabel(tr("hazard ratio (log scale)"))
    return ax
