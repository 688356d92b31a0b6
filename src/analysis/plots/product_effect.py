"""Figures of the product-effect report (house style of :mod:`analysis.plots`).

Same conventions as :mod:`analysis.plots`: tidy frames in, keyword-only options, ``ax=None``,
the Axes returned, nothing shown or saved. Kept beside the models they draw (a leaf module:
nothing in :mod:`analysis.stats` imports it); candidates to move into :mod:`analysis.plots`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

from analysis.plots.base import PALETTE

__all__ = ["dose_response_plot", "schoenfeld_plot", "balance_plot", "estimates_plot"]


def _ax(ax: Axes | None, figsize=(6.5, 4.2)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def dose_response_plot(shape: pd.DataFrame, *, ax: Axes | None = None,
                       title: str | None = None) -> Axes:
    """Hazard ratio by number of products (vs 1) with 95% CIs, and the linear model's curve.

    ``shape`` has ``level, products, hr, ci_low, ci_high, linear_hr`` (the ``shape`` table of
    :func:`analysis.studies.product_effect.estimate.estimate_product_effect`).
    """
    ax = _ax(ax)
    x = shape["products"].to_numpy(dtype=float)
    hr = shape["hr"].to_numpy(dtype=float)
    err = np.vstack([hr - shape["ci_low"].to_numpy(dtype=float),
                     shape["ci_high"].to_numpy(dtype=float) - hr])
    ax.errorbar(x, hr, yerr=err, fmt="o", color=PALETTE[0], capsize=4, lw=1.6,
                label="by number of products")
    if "linear_hr" in shape and shape["linear_hr"].notna().all():
        xx = np.linspace(1, x.max(), 50)
        slope = np.log(shape["linear_hr"].to_numpy(dtype=float)[-1]) / max(x[-1] - 1, 1)
        ax.plot(xx, np.exp(slope * (xx - 1)), ls="--", color=PALETTE[1],
                label="same HR for every added product")
    ax.axhline(1.0, color="0.5", lw=1, ls=":")
    ax.set_yscale("log")
    lo = float(np.nanmin(shape["ci_low"])) * 0.9
    ticks = [t for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0)
             if lo <= t <= max(1.05, float(np.nanmax(shape["ci_high"])) * 1.1)]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xticks(x)
    ax.set_xticklabels(shape["level"].astype(str))
    ax.set_xlabel("Products held")
    ax.set_ylabel("Hazard ratio vs 1 product (log scale)")
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title)
    return ax


def schoenfeld_plot(residuals: pd.DataFrame, term: str, *, ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """Scaled Schoenfeld residuals of ``term`` over tenure, with a lowess smooth.

    Under proportional hazards the smooth is flat at the estimated log hazard ratio (dashed).
    ``residuals`` has ``time`` and the column ``term`` (beta(t) estimates).
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    ax = _ax(ax)
    t = residuals["time"].to_numpy(dtype=float)
    y = residuals[term].to_numpy(dtype=float)
    ax.scatter(t, y, s=6, alpha=0.25, color=PALETTE[0], label="scaled residuals")
    if len(t) > 10:
        sm = lowess(y, t, frac=0.4, return_sorted=True)
        ax.plot(sm[:, 0], sm[:, 1], color=PALETTE[1], lw=2, label="smoothed beta(t)")
        lo, hi = np.percentile(y, [5, 95])
        ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    ax.axhline(float(np.mean(y)), color="0.3", lw=1, ls="--", label="estimate (constant)")
    ax.axhline(0.0, color="0.5", lw=1, ls=":")
    ax.set_xlabel("Tenure at departure (months)")
    ax.set_ylabel("log hazard ratio per product")
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def balance_plot(balance: pd.DataFrame, *, ax: Axes | None = None,
                 title: str | None = None) -> Axes:
    """Absolute standardised mean differences before and after weighting ("love plot")."""
    ax = _ax(ax, figsize=(6.0, 0.4 * len(balance) + 1.4))
    b = balance.dropna(subset=["smd_before"])
    y = np.arange(len(b))[::-1]
    ax.scatter(b["smd_before"].abs(), y, marker="o", color=PALETTE[3], label="before weighting")
    if "smd_after" in b:
        ax.scatter(b["smd_after"].abs(), y, marker="s", color=PALETTE[0], label="after weighting")
    ax.axvline(0.1, color="0.5", ls="--", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(b["covariate"].astype(str))
    ax.set_xlabel("|standardised mean difference| (2+ vs 1 product)")
    ax.legend(loc="lower right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def estimates_plot(summary: pd.DataFrame, *, ax: Axes | None = None,
                   title: str | None = None) -> Axes:
    """All hazard-ratio estimates side by side (forest plot), true values marked if known."""
    from analysis.plots.survival import forest_plot

    s = summary[summary["hr"].notna()].reset_index(drop=True)
    s = s.assign(label=s["method"] + ": " + s["contrast"])
    ax = forest_plot(s, label="label", ax=ax, title=title)
    if "truth" in s and s["truth"].notna().any():
        ypos = np.arange(len(s))[::-1]
        m = s["truth"].notna().to_numpy()
        ax.scatter(s["truth"].to_numpy(dtype=float)[m], ypos[m], marker="x", color=PALETTE[3],
                   zorder=5, label="true value (synthetic data)")
        ax.legend(loc="lower left", fontsize="small")
    ax.set_xlabel("hazard ratio (log scale)")
    return ax
