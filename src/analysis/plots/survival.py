"""Survival figures: Kaplan-Meier curves, hazard along the tenure, attrition rates, value concentration.

Conventions (seaborn's): keyword-only arguments, tidy frames in (the outputs of
:mod:`analysis.stats.km` and :mod:`analysis.stats.concentration`) or ``data=`` plus column names, ``ax=None``
(a new figure is made when not given), the main :class:`~matplotlib.axes.Axes` is returned and
nothing is shown or saved here. Call :func:`set_style` once (a notebook's first cell) for the
house look; the plot functions use the house palette whatever the global style.

Nothing here computes statistics beyond reading the frames it is given.
"""

from __future__ import annotations

from typing import Sequence
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1 import make_axes_locatable

from analysis.stats.km import numbers_at_risk
from analysis.i18n import tr, tr_value
from analysis.plots.base import (PALETTE, TENURE_LABEL, _ax, _group_levels, _need, _subset, grid,
                                 _titled)

__all__ = [
    "km_plot",
    "hazard_plot",
    "lorenz_plot",
    "rate_plot",
    "km_panels",
]


def km_plot(
    km: pd.DataFrame,
    *,
    ax: Axes | None = None,
    at_risk_times: Sequence[float] | None = None,
    ci: bool = True,
    censor_marks: bool = True,
    title: str | None = None,
    risk_table: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
    min_at_risk: int = 10,
) -> Axes:
    """Kaplan-Meier curves from a :func:`analysis.stats.km.km_table` frame.

    One step curve per group, with the pointwise confidence band (``ci``), ``+`` censor marks
    where ``censored > 0`` (``censor_marks``) and, under the plot, a numbers-at-risk table in
    the style of R's survminer: one row per group, the counts under the x ticks. The ticks are
    ``at_risk_times`` when they fit the axis (none closer than 1/15 of it), else the axis's own;
    either way a count is never shown away from its tick. The counts come from the table itself
    (:func:`analysis.stats.km.numbers_at_risk`), so they honour left truncation. The curves stop
    where fewer than ``min_at_risk`` customers remain in every group; the legend sits outside
    the plot, right of it.

    Returns
    -------
    Axes
        The main axes. The at-risk table is a second axes of the same figure, labelled
        ``"risk_table"`` (``ax.figure.axes``) and also reachable as ``ax.risk_table_ax``.
    """
    _need(km, ["group", "time", "survival", "at_risk", "censored"], "km")
    if ci:
        _need(km, ["ci_low", "ci_high"], "km")
    ax = _ax(ax)
    levels = _group_levels(km)
    colors = {lvl: PALETTE[i % len(PALETTE)] for i, lvl in enumerate(levels)}
    for lvl in levels:
        sub = _subset(km, lvl).sort_values("time", kind="stable")
        t = sub["time"].to_numpy(dtype=float)
        s = sub["survival"].to_numpy(dtype=float)
        color = colors[lvl]
        (line,) = ax.step(t, s, where="post", color=color, lw=1.8, label=str(tr_value(lvl)))
        line.set_gid(f"km:{lvl}")
        if ci:
            ax.fill_between(
                t,
                sub["ci_low"].to_numpy(dtype=float),
                sub["ci_high"].to_numpy(dtype=float),
                step="post",
                color=color,
                alpha=0.15,
                lw=0,
                label="_nolegend_",
            )
        if censor_marks:
            m = sub["censored"].to_numpy() > 0
            (marks,) = ax.plot(
                t[m], s[m], ls="none", marker="+", ms=7, mew=1.2, color=color,
                label="_nolegend_",
            )
            marks.set_gid(f"censor:{lvl}")
    tmin, tmax = float(km["time"].min()), float(km["time"].max())
    # survminer-like: cut the tail where fewer than `min_at_risk` customers remain in every
    # group (the last steps of a curve on a handful of customers are noise)
    enough = km.loc[km["at_risk"] >= min_at_risk, "time"]
    if len(enough) and float(enough.max()) > tmin:
        tmax = min(tmax, float(enough.max()))
    ax.set_xlim(tmin, tmax if tmax > tmin else tmin + 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(tr(TENURE_LABEL) if xlabel is None else xlabel)  # "": no label
    ax.set_ylabel(tr("Share still a customer") if ylabel is None else ylabel)
    if title:
        ax.set_title(title)
    if len(levels) > 1:  # outside the curves, right of the plot
        ax.legend(title=None, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

    if risk_table:
        # the counts sit under the x ticks: the requested times become the ticks when they fit
        # the axis (no two closer than 1/15 of it), else the axis's own ticks are used
        lo, hi = ax.get_xlim()
        wanted = sorted(float(x) for x in (at_risk_times or []) if lo <= float(x) <= hi)
        gaps = np.diff(wanted)
        if len(wanted) >= 2 and gaps.min() >= (hi - lo) / 15:
            ax.set_xticks(wanted)
        times = [float(x) for x in ax.get_xticks() if lo <= x <= hi]
        counts = numbers_at_risk(km, times)
        divider = make_axes_locatable(ax)
        tax = divider.append_axes(
            "bottom", size=0.25 + 0.22 * len(levels), pad=0.65, sharex=ax
        )
        tax.set_label("risk_table")
        tax.set_ylim(-0.5, len(levels) - 0.5)
        for i, lvl in enumerate(levels):
            y = len(levels) - 1 - i
            sub = counts[counts["group"] == lvl] if lvl is not None else counts
            for t, n in zip(sub["time"], sub["at_risk"]):
                tax.text(t, y, f"{int(n)}", ha="center", va="center", color=colors[lvl],
                         fontsize="small", gid=f"risk:{lvl}")
        tax.set_yticks(range(len(levels)))
        tax.set_yticklabels([str(tr_value(lvl)) for lvl in reversed(levels)], fontsize="small")
        for tick, lvl in zip(tax.get_yticklabels(), reversed(levels)):
            tick.set_color(colors[lvl])
        tax.tick_params(axis="x", labelbottom=False, length=0)
        tax.tick_params(axis="y", length=0, pad=16)
        tax.grid(False)
        for side in ("top", "right", "bottom", "left"):
            tax.spines[side].set_visible(False)
        tax.set_title(tr("Number at risk"), loc="left", fontsize="small")
        ax.risk_table_ax = tax
    return ax


def hazard_plot(
    haz: pd.DataFrame,
    *,
    ax: Axes | None = None,
    raw: bool = True,
    ci: bool = True,
    scale: float = 1.0,
    ylabel: str | None = None,
    title: str | None = None,
) -> Axes:
    """Attrition hazard along the tenure from :func:`analysis.stats.rates.hazard_by_tenure`.

    Smoothed hazard as a line with its confidence band, raw monthly hazards as faint points.
    ``scale`` multiplies the rates (e.g. ``100`` for "per 100 customers per month").
    """
    _need(haz, ["time", "hazard", "hazard_smooth"], "haz")
    if ci:
        _need(haz, ["smooth_ci_low", "smooth_ci_high"], "haz")
    ax = _ax(ax)
    levels = _group_levels(haz)
    for i, lvl in enumerate(levels):
        sub = _subset(haz, lvl).sort_values("time")
        color = PALETTE[i % len(PALETTE)]
        t = sub["time"].to_numpy(dtype=float)
        (line,) = ax.plot(t, scale * sub["hazard_smooth"].to_numpy(dtype=float), color=color,
                          lw=2, label=str(tr_value(lvl)))
        line.set_gid(f"smooth:{lvl}")
        if ci:
            ax.fill_between(t, scale * sub["smooth_ci_low"].to_numpy(dtype=float),
                            scale * sub["smooth_ci_high"].to_numpy(dtype=float),
                            color=color, alpha=0.15, lw=0, label="_nolegend_")
        if raw:
            (pts,) = ax.plot(t, scale * sub["hazard"].to_numpy(dtype=float), ls="none",
                             marker="o", ms=3, alpha=0.5, color=color, label="_nolegend_")
            pts.set_gid(f"raw:{lvl}")
    ax.set_xlabel(tr(TENURE_LABEL))
    unit = (tr("per customer-month") if scale == 1
            else tr("per {scale} customer-months", scale=f"{scale:g}"))
    ax.set_ylabel(ylabel or tr("Attrition hazard ({unit})", unit=unit))
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
    if len(levels) > 1:
        ax.legend()
    return ax


def lorenz_plot(
    lorenz: pd.DataFrame,
    *,
    ax: Axes | None = None,
    top: float = 0.2,
    title: str | None = None,
) -> Axes:
    """Lorenz curve of customer value from :func:`analysis.stats.concentration.lorenz_curve`.

    Draws the curve, the line of equality (dashed diagonal) and marks the point where the top
    ``top`` fraction of customers starts, annotated with that fraction's share of the value
    (the 80/20 check).
    """
    _need(lorenz, ["share_customers", "share_value"], "lorenz")
    ax = _ax(ax, figsize=(5.0, 5.0))
    x = lorenz["share_customers"].to_numpy(dtype=float)
    y = lorenz["share_value"].to_numpy(dtype=float)
    (curve,) = ax.plot(x, y, color=PALETTE[0], lw=2, label=tr("customers ranked by value"))
    curve.set_gid("lorenz")
    (diag,) = ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label=tr("equality"))
    diag.set_gid("equality")
    x0 = 1 - top
    y0 = float(np.interp(x0, x, y))
    share = 1 - y0
    (pt,) = ax.plot([x0], [y0], marker="o", color=PALETTE[3], ls="none", label="_nolegend_")
    pt.set_gid("top_point")
    ax.annotate(
        tr("top {top} of customers\nhold {share} of the value", top=f"{top:.0%}",
           share=f"{share:.0%}"),
        xy=(x0, y0),
        xytext=(0.05, 0.75),
        textcoords="axes fraction",
        arrowprops={"arrowstyle": "->", "color": "0.3"},
        fontsize="small",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(min(0.0, float(y.min())), max(1.0, float(y.max())))
    ax.set_xlabel(tr("Share of customers (lowest value first)"))
    ax.set_ylabel(tr("Share of total value"))
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def rate_plot(
    rates: pd.DataFrame,
    *,
    x: str,
    ax: Axes | None = None,
    y: str = "rate_per_100_person_years",
    low: str = "rate_ci_low",
    high: str = "rate_ci_high",
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
) -> Axes:
    """Point estimates with confidence-interval error bars, one per level of ``x``.

    ``reference`` draws a dashed line (e.g. the whole bank's rate on a branch's chart),
    labelled ``reference_label``.

    Made for :func:`analysis.stats.rates.attrition_rates` (default columns: the attrition rate per
    100 customer-years with its exact Poisson interval); pass ``y="share_leaving",
    low="share_ci_low", high="share_ci_high"`` for the share leaving.
    """
    _need(rates, [x, y, low, high], "rates")
    ax = _ax(ax)
    est = rates[y].to_numpy(dtype=float)
    lo = rates[low].to_numpy(dtype=float)
    hi = rates[high].to_numpy(dtype=float)
    pos = np.arange(len(rates))
    container = ax.errorbar(
        pos, est, yerr=np.vstack([est - lo, hi - est]), fmt="o", color=PALETTE[0], capsize=4,
        lw=1.5,
    )
    container.lines[0].set_gid("estimates")
    ax.set_xticks(pos)
    ax.set_xticklabels([str(tr_value(v)) for v in rates[x]])
    ax.set_xlim(-0.5, len(rates) - 0.5)
    ax.set_xlabel(xlabel or tr(x.replace("_", " ")))
    default = {
        "rate_per_100_person_years": "Attrition per 100 customer-years",
        "share_leaving": "Share of customers who left",
    }
    ax.set_ylabel(ylabel or tr(default.get(y, y)))
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, ls="--", color="0.35", lw=1, gid="reference",
                   label=reference_label or "_nolegend_")
        if reference_label:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_ylim(bottom=0)
    return _titled(ax, title)


def km_panels(
    km: pd.DataFrame,
    *,
    reference: pd.DataFrame | None = None,
    reference_label: str | None = None,
    at_risk_times: Sequence[float] | None = None,
    xmax: float | None = None,
    ncols: int = 3,
    title: str | None = None,
) -> Figure:
    """Small multiples: one Kaplan-Meier panel per group instead of many overlapping curves.

    Each panel shows its group's curve with band and numbers at risk (as :func:`km_plot`), and
    ``reference`` (a one-group ``km_table``, e.g. all customers) as a grey dashed line, so that
    every group is read against the same yardstick. Panels share both axes.

    Returns
    -------
    Figure
    """
    levels = _group_levels(km)
    fig, axes = grid(len(levels), ncols=ncols, size=(3.6, 3.0))
    for i, (lvl, ax) in enumerate(zip(levels, axes)):
        sub = _subset(km, lvl)
        km_plot(sub, ax=ax, at_risk_times=at_risk_times, title=str(tr_value(lvl)),
                xlabel="", ylabel="")
        for line in ax.get_lines():
            line.set_color(PALETTE[i % len(PALETTE)])
        for coll in ax.collections:
            coll.set_color(PALETTE[i % len(PALETTE)])
        table = getattr(ax, "risk_table_ax", None)
        for text in ([] if table is None else [*table.texts, *table.get_yticklabels()]):
            text.set_color(PALETTE[i % len(PALETTE)])
        if reference is not None and len(reference):
            ref = reference.sort_values("time", kind="stable")
            ax.step(ref["time"], ref["survival"], where="post", color="0.45", lw=1.1, ls="--",
                    label=reference_label or "_nolegend_", gid="reference")
        if xmax is not None:
            ax.set_xlim(0, xmax)
    if reference_label and axes:
        axes[0].legend(loc="lower left", frameon=False, fontsize="small")
    fig.supxlabel(tr(TENURE_LABEL))
    fig.supylabel(tr("Share still a customer"))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
