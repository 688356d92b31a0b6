"""Competing-risks figures: cumulative incidence by cause and cause-specific hazard ratios.

Tidy frames in, keyword-only options, ``ax=None``, the Axes returned, nothing shown or saved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.i18n import tr, tr_value
from analysis.plots.base import PALETTE, TENURE_LABEL, _ax, _log_ticks, _need, _titled

__all__ = ["cif_plot", "cause_forest_plot"]


def cif_plot(cif: pd.DataFrame, *, ax: Axes | None = None, max_time: float | None = None,
             ci: bool = True, title: str | None = None) -> Axes:
    """Cumulative incidence by cause, as step curves with their pointwise bands.

    Parameters
    ----------
    cif : DataFrame
        ``cause``, ``time``, ``cif`` and (with ``ci``) ``ci_low``, ``ci_high``, as
        :func:`analysis.stats.competing.cumulative_incidence` returns.
    ax : Axes, optional
        Where to draw the incidence curves; a new figure when None.
    max_time : float, optional
        Draw up to this tenure.
    ci : bool
        Draw the confidence bands.
    title : str, optional
        Title of the incidence figure.

    Returns
    -------
    Axes
        One step line per cause, gid ``"cif:<cause>"`` (time, cif), in the order of first
        appearance.
    """
    _need(cif, ["cause", "time", "cif"] + (["ci_low", "ci_high"] if ci else []), "cif")
    ax = _ax(ax, figsize=(7.0, 4.5))
    for i, (name, sub) in enumerate(cif.groupby("cause", sort=False)):
        if max_time is not None:
            sub = sub[sub["time"] <= max_time]
        color = PALETTE[i % len(PALETTE)]
        (ln,) = ax.step(sub["time"], sub["cif"], where="post", color=color, lw=1.8,
                        label=str(tr_value(name)))
        ln.set_gid(f"cif:{name}")
        if ci:
            ax.fill_between(sub["time"], sub["ci_low"], sub["ci_high"], step="post", color=color,
                            alpha=0.15, lw=0)
    ax.set_xlabel(tr(TENURE_LABEL))
    ax.set_ylabel(tr("Cumulative incidence (share who left for the reason)"))
    ax.set_ylim(bottom=0)
    if max_time is not None:
        ax.set_xlim(0, max_time)
    ax.legend(loc="upper left", fontsize="small")
    return _titled(ax, title)


def cause_forest_plot(table: pd.DataFrame, *, ax: Axes | None = None,
                      title: str | None = None) -> Axes:
    """Cause-specific hazard ratios: one row per driver, one marker per cause (log scale).

    Parameters
    ----------
    table : DataFrame
        ``driver``, ``cause``, ``hr``, ``ci_low``, ``ci_high``; drivers top to bottom in order
        of first appearance.
    ax : Axes, optional
        Where to draw the hazard ratios; a new figure when None.
    title : str, optional
        Title above the drivers.

    Returns
    -------
    Axes
        One error-bar line per cause, gid ``"cause:<cause>"`` (x = hr, y = the driver's row,
        shifted a little per cause); y tick labels are the drivers.
    """
    _need(table, ["driver", "cause", "hr", "ci_low", "ci_high"], "table")
    drivers = list(dict.fromkeys(table["driver"]))
    causes = list(dict.fromkeys(table["cause"]))
    ax = _ax(ax, figsize=(7.5, 0.55 * len(drivers) * max(1, len(causes)) / 2 + 1.5))
    width = 0.8 / max(len(causes), 1)
    for j, cause in enumerate(causes):
        sub = table[table["cause"] == cause].set_index("driver").reindex(drivers)
        y = np.arange(len(drivers))[::-1] + (len(causes) / 2 - j - 0.5) * width
        est = sub["hr"].to_numpy(dtype=float)
        err = np.vstack([est - sub["ci_low"].to_numpy(dtype=float),
                         sub["ci_high"].to_numpy(dtype=float) - est])
        c = ax.errorbar(est, y, xerr=err, fmt="o", ms=4, capsize=2, lw=1.2,
                        color=PALETTE[j % len(PALETTE)], label=str(tr_value(cause)))
        c.lines[0].set_gid(f"cause:{cause}")
    ax.axvline(1, ls="--", color="0.5", lw=1, gid="reference")
    ax.set_xscale("log")
    _log_ticks(ax, "x")
    ax.set_yticks(np.arange(len(drivers))[::-1])
    ax.set_yticklabels([str(tr_value(d)) for d in drivers])
    ax.set_xlabel(tr("Cause-specific hazard ratio (log scale)"))
    ax.legend(loc="best", fontsize="small")
    return _titled(ax, title)
