"""Figures of the drivers report (report 03), in the house style of :mod:`analysis.plots`.

Same conventions: keyword-only arguments, tidy inputs, ``ax=None`` (a new figure when not
given), the Axes is returned, nothing is shown or saved, no statistics beyond reading the inputs
(the lowess line of :func:`schoenfeld_plot` is a visual smoother, as R's ``plot.cox.zph``).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.plots.base import PALETTE, TENURE_LABEL

__all__ = [
    "schoenfeld_plot",
    "calibration_plot",
    "accuracy_plot",
    "cif_plot",
    "partial_effect_plot",
    "cause_forest_plot",
]


def _log_ticks(ax: Axes, axis: str = "x") -> None:
    """Readable ticks on a log axis (0.5, 1, 2 ... instead of powers of ten)."""
    from matplotlib import ticker

    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    nice = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50, 100])
    ticks = nice[(nice >= lo) & (nice <= hi)]
    target = ax.xaxis if axis == "x" else ax.yaxis
    if len(ticks) >= 2:
        target.set_major_locator(ticker.FixedLocator(ticks))
    target.set_major_formatter(ticker.FormatStrFormatter("%g"))
    target.set_minor_formatter(ticker.NullFormatter())


def _ax(ax, figsize=(6.0, 4.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def schoenfeld_plot(residuals: pd.DataFrame, column: str, *, beta: float | None = None,
                    ax: Axes | None = None, title: str | None = None,
                    transform: str = "km") -> Axes:
    """Scaled Schoenfeld residuals of one column against transformed time, with a lowess line.

    ``residuals`` as :attr:`analysis.stats.cox.zph.ZphResult.residuals` (``time``, ``gtime``, one column
    per coefficient, coefficient added): a flat line at the coefficient means a constant hazard
    ratio; a trend means the effect changes with tenure. Tick labels show tenure in months.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    if column not in residuals:
        raise ValueError(f"no residuals for column {column!r}; have {list(residuals.columns)}")
    ax = _ax(ax)
    x = residuals["gtime"].to_numpy(dtype=float)
    y = residuals[column].to_numpy(dtype=float)
    ax.scatter(x, y, s=4, alpha=0.25, color=PALETTE[0], lw=0, gid="residuals")
    if len(x) >= 5:
        sm = lowess(y, x, frac=0.4, return_sorted=True)
        ax.plot(sm[:, 0], sm[:, 1], color=PALETTE[3], lw=2, gid="smooth", label="lowess")
    if beta is not None:
        ax.axhline(beta, ls="--", color="0.3", lw=1, gid="beta", label="fitted (constant)")
    ax.axhline(0, ls=":", color="0.6", lw=1)
    lo, hi = np.nanquantile(y, [0.02, 0.98])
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    # tenure tick labels at transformed positions
    t = residuals["time"].to_numpy(dtype=float)
    order = np.argsort(x)
    qs = np.quantile(x, [0.05, 0.3, 0.55, 0.8, 0.97]) if len(x) else []
    ticks = np.unique(np.round(np.interp(qs, x[order], t[order])))
    pos = [float(np.interp(v, t[np.argsort(t)], x[np.argsort(t)])) for v in ticks]
    ax.set_xticks(pos)
    ax.set_xticklabels([f"{v:g}" for v in ticks])
    ax.set_xlabel(f"{TENURE_LABEL} ({transform} scale)")
    ax.set_ylabel("beta(t) (log hazard ratio)")
    if title:
        ax.set_title(title)
    return ax


def calibration_plot(groups: pd.DataFrame, curve: pd.DataFrame | None = None, *,
                     ax: Axes | None = None, title: str | None = None) -> Axes:
    """Predicted vs observed risk: risk groups (with 95% CI) and the smooth calibration curve.

    ``groups``: ``predicted``, ``observed``, ``ci_low``, ``ci_high`` (one row per risk group);
    ``curve``: ``predicted``, ``observed``. The diagonal is perfect calibration.
    """
    ax = _ax(ax, figsize=(4.6, 4.4))
    p = groups["predicted"].to_numpy(dtype=float)
    o = groups["observed"].to_numpy(dtype=float)
    err = np.vstack([o - groups["ci_low"].to_numpy(dtype=float),
                     groups["ci_high"].to_numpy(dtype=float) - o])
    err = np.clip(np.nan_to_num(err), 0, None)
    c = ax.errorbar(p, o, yerr=err, fmt="o", color=PALETTE[0], capsize=3, ms=5,
                    label="risk groups (observed, 95% CI)")
    c.lines[0].set_gid("groups")
    top = float(np.nanmax([p.max(), np.nanmax(groups["ci_high"]), 0.05])) * 1.08
    if curve is not None and len(curve):
        (ln,) = ax.plot(curve["predicted"], curve["observed"], color=PALETTE[3], lw=1.8,
                        label="smoothed")
        ln.set_gid("curve")
        top = max(top, float(np.nanmax(curve["observed"])) * 1.05)
    ax.plot([0, top], [0, top], ls="--", color="0.5", lw=1, label="perfect", gid="diagonal")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("Predicted risk of leaving")
    ax.set_ylabel("Observed (1 - Kaplan-Meier)")
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def accuracy_plot(table: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """AUC (left axis) and Brier scores of the model and of no model (right axis) by horizon."""
    ax = _ax(ax, figsize=(6.0, 4.0))
    h = table["horizon"].to_numpy(dtype=float)
    (a,) = ax.plot(h, table["auc"], "o-", color=PALETTE[0], lw=2, label="AUC (left)")
    a.set_gid("auc")
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel("Time-dependent AUC")
    ax.set_xlabel("Horizon (months after entry)")
    ax.set_xticks(h)
    ax2 = ax.twinx()
    (b,) = ax2.plot(h, table["brier"], "s-", color=PALETTE[3], lw=2, label="Brier, model (right)")
    b.set_gid("brier")
    (b0,) = ax2.plot(h, table["brier_null"], "s--", color="0.5", lw=1.5,
                     label="Brier, no covariates (right)")
    b0.set_gid("brier_null")
    ax2.set_ylim(0, max(0.3, float(np.nanmax(table["brier_null"])) * 1.2))
    ax2.set_ylabel("Brier score (lower is better)")
    ax2.grid(False)
    lines = [a, b, b0]
    ax.legend(lines, [ln.get_label() for ln in lines], loc="lower right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def cif_plot(cif: pd.DataFrame, *, ax: Axes | None = None, max_time: float | None = None,
             ci: bool = True, title: str | None = None) -> Axes:
    """Cumulative incidence by cause (from :func:`analysis.stats.competing.cumulative_incidence`)."""
    ax = _ax(ax, figsize=(7.0, 4.5))
    for i, (name, sub) in enumerate(cif.groupby("cause", sort=False)):
        if max_time is not None:
            sub = sub[sub["time"] <= max_time]
        color = PALETTE[i % len(PALETTE)]
        (ln,) = ax.step(sub["time"], sub["cif"], where="post", color=color, lw=1.8, label=str(name))
        ln.set_gid(f"cif:{name}")
        if ci:
            ax.fill_between(sub["time"], sub["ci_low"], sub["ci_high"], step="post", color=color,
                            alpha=0.15, lw=0)
    ax.set_xlabel(TENURE_LABEL)
    ax.set_ylabel("Cumulative incidence (share who left for the reason)")
    ax.set_ylim(bottom=0)
    if max_time is not None:
        ax.set_xlim(0, max_time)
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def partial_effect_plot(curve: pd.DataFrame, *, ax: Axes | None = None, xlabel: str = "",
                        title: str | None = None) -> Axes:
    """Hazard ratio along a covariate (relative to a reference value) with its 95% band.

    ``curve``: ``x``, ``hr``, ``ci_low``, ``ci_high``.
    """
    ax = _ax(ax)
    (ln,) = ax.plot(curve["x"], curve["hr"], color=PALETTE[0], lw=2)
    ln.set_gid("effect")
    ax.fill_between(curve["x"], curve["ci_low"], curve["ci_high"], color=PALETTE[0], alpha=0.15,
                    lw=0)
    ax.axhline(1, ls="--", color="0.5", lw=1)
    ax.set_yscale("log")
    _log_ticks(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Hazard ratio (vs the median)")
    if title:
        ax.set_title(title)
    return ax


def cause_forest_plot(table: pd.DataFrame, *, ax: Axes | None = None,
                      title: str | None = None) -> Axes:
    """Cause-specific hazard ratios: one row per driver, one marker per cause (log scale).

    ``table``: ``driver``, ``cause``, ``hr``, ``ci_low``, ``ci_high``.
    """
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
                        color=PALETTE[j % len(PALETTE)], label=str(cause))
        c.lines[0].set_gid(f"cause:{cause}")
    ax.axvline(1, ls="--", color="0.5", lw=1)
    ax.set_xscale("log")
    _log_ticks(ax, "x")
    ax.set_yticks(np.arange(len(drivers))[::-1])
    ax.set_yticklabels(drivers)
    ax.set_xlabel("Cause-specific hazard ratio (log scale)")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def grid(n: int, *, ncols: int = 2, size: Sequence[float] = (5.0, 3.4)):
    """A figure with ``n`` panels in ``ncols`` columns; returns (fig, list of axes)."""
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False)
    flat = list(axes.ravel())
    for extra in flat[n:]:
        extra.set_visible(False)
    return fig, flat[:n]
