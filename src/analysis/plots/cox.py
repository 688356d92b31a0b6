"""Cox-model figures: scaled Schoenfeld residuals, hazard ratio along a covariate, dose-response.

Tidy frames in, keyword-only options, ``ax=None``, the Axes returned, nothing shown or saved.
No statistics beyond reading the inputs (the lowess line of :func:`schoenfeld_plot` is a
visual smoother, as in R's ``plot.cox.zph``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.i18n import language, tr, tr_value
from analysis.plots.base import PALETTE, _ax, _log_ticks, _need, _titled

__all__ = ["schoenfeld_plot", "partial_effect_plot", "dose_response_plot"]

#: x-axis label of tenure at the event times the residuals belong to (English; shown with tr).
_EVENT_TENURE = "Tenure at departure (months)"

#: Time transforms of the PH test in words (Chinese reports; the code in English ones).
_TRANSFORMS = {"km": "Kaplan-Meier", "rank": "rank of time", "identity": "time itself",
               "log": "log of time"}


def _tenure_ticks(ax: Axes, g: np.ndarray, t: np.ndarray) -> None:
    """Ticks at transformed-time positions ``g`` labelled with the tenure ``t`` they stand for."""
    if len(g) == 0:
        return
    by_g, by_t = np.argsort(g), np.argsort(t)
    qs = np.quantile(g, [0.05, 0.3, 0.55, 0.8, 0.97])
    ticks = np.unique(np.round(np.interp(qs, g[by_g], t[by_g])))
    ax.set_xticks([float(np.interp(v, t[by_t], g[by_t])) for v in ticks])
    ax.set_xticklabels([f"{v:g}" for v in ticks])


def schoenfeld_plot(residuals: pd.DataFrame, column: str, *, beta: float | None = None,
                    x: str | None = None, transform: str = "km", ax: Axes | None = None,
                    legend: bool | None = None, title: str | None = None) -> Axes:
    """Scaled Schoenfeld residuals (estimates of beta(t)) of one column over tenure, smoothed.

    A flat smooth at the coefficient means a constant hazard ratio (proportional hazards); a
    trend means the effect changes with tenure.

    Parameters
    ----------
    residuals : DataFrame
        One row per event: ``time`` (tenure at the event) and the column ``column`` (scaled
        residual plus coefficient, R's convention), optionally ``gtime`` (the transformed
        time): :attr:`analysis.stats.cox.zph.ZphResult.residuals` or the residuals of
        :func:`analysis.stats.cox.zph.cox_zph`.
    column : str
        The coefficient to draw.
    beta : float, optional
        The fitted (constant) coefficient, drawn as a dashed line; default the mean of the
        residuals (equal to the coefficient at the fit).
    x : str, optional
        Column on the x axis: ``"gtime"`` when the frame has it (then the ticks are labelled
        with the tenure they stand for), else ``"time"``.
    transform : str
        Name of the time transform behind ``gtime``, for the axis label.
    ax : Axes, optional
        Where to draw the residuals; a new figure when None.
    legend : bool, optional
        Draw a legend; default only on a figure of its own (``ax`` None), not on a panel.
    title : str, optional
        Panel title.

    Returns
    -------
    Axes
        The residuals are the scatter with gid ``"residuals"`` (x, ``column``), the lowess line
        has gid ``"smooth"`` (five or more events) and the constant line gid ``"beta"``.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    if legend is None:
        legend = ax is None
    if column not in residuals:
        raise ValueError(f"no residuals for column {column!r}; have {list(residuals.columns)}")
    if x is None:
        x = "gtime" if "gtime" in residuals else "time"
    _need(residuals, [x, "time"], "residuals")
    ax = _ax(ax, figsize=(6.0, 4.0))
    g = residuals[x].to_numpy(dtype=float)
    y = residuals[column].to_numpy(dtype=float)
    ax.scatter(g, y, s=4, alpha=0.25, color=PALETTE[0], lw=0, gid="residuals",
               label=tr("scaled residuals"))
    if len(g) >= 5:
        sm = lowess(y, g, frac=0.4, return_sorted=True)
        ax.plot(sm[:, 0], sm[:, 1], color=PALETTE[3], lw=2, gid="smooth",
                label=tr("smoothed beta(t)"))
    level = float(np.nanmean(y)) if beta is None else float(beta)
    ax.axhline(level, ls="--", color="0.3", lw=1, gid="beta", label=tr("fitted (constant)"))
    ax.axhline(0, ls=":", color="0.6", lw=1)
    lo, hi = np.nanquantile(y, [0.02, 0.98])
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    if x == "time":
        ax.set_xlabel(tr(_EVENT_TENURE))
    else:
        _tenure_ticks(ax, g, residuals["time"].to_numpy(dtype=float))
        scale = transform if language() == "en" else tr(_TRANSFORMS.get(transform, transform))
        ax.set_xlabel(tr("{label}, {transform} scale", label=tr(_EVENT_TENURE), transform=scale))
    ax.set_ylabel(tr("beta(t) of {column} (log hazard ratio)", column=tr_value(column)))
    if legend:
        ax.legend(loc="upper right", fontsize="small")
    return _titled(ax, title)


def partial_effect_plot(curve: pd.DataFrame, *, ax: Axes | None = None, xlabel: str = "",
                        title: str | None = None) -> Axes:
    """Hazard ratio along a covariate (relative to a reference value) with its 95% band.

    Parameters
    ----------
    curve : DataFrame
        ``x``, ``hr``, ``ci_low``, ``ci_high``.
    ax : Axes, optional
        Where to draw the curve; a new figure when None.
    xlabel : str
        The covariate in words.
    title : str, optional
        Title of the curve.

    Returns
    -------
    Axes
        The curve is the line with gid ``"effect"`` (x, hr), on a log y axis; the band is
        ``ax.collections[0]``.
    """
    _need(curve, ["x", "hr", "ci_low", "ci_high"], "curve")
    ax = _ax(ax, figsize=(6.0, 4.0))
    (ln,) = ax.plot(curve["x"], curve["hr"], color=PALETTE[0], lw=2)
    ln.set_gid("effect")
    ax.fill_between(curve["x"], curve["ci_low"], curve["ci_high"], color=PALETTE[0], alpha=0.15,
                    lw=0)
    ax.axhline(1, ls="--", color="0.5", lw=1, gid="reference")
    ax.set_yscale("log")
    _log_ticks(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(tr("Hazard ratio (vs the median)"))
    return _titled(ax, title)


def dose_response_plot(shape: pd.DataFrame, *, ax: Axes | None = None,
                       title: str | None = None) -> Axes:
    """Hazard ratio by number of products (vs 1) with 95% CIs, and the linear model's curve.

    Parameters
    ----------
    shape : DataFrame
        ``level, products, hr, ci_low, ci_high`` and optionally ``linear_hr`` (the ``shape``
        table of :func:`analysis.studies.product_effect.estimate.estimate_product_effect`; the
        linear curve is ``linear_hr`` of the last row spread evenly over the added products).
    ax : Axes, optional
        Where to draw the estimates by number of products; a new figure when None.
    title : str, optional
        Title of the dose-response figure.

    Returns
    -------
    Axes
        The estimates are the error-bar line with gid ``"estimates"`` (products, hr) on a log
        y axis, the linear curve the line with gid ``"linear"``.
    """
    _need(shape, ["level", "products", "hr", "ci_low", "ci_high"], "shape")
    ax = _ax(ax, figsize=(6.5, 4.2))
    x = shape["products"].to_numpy(dtype=float)
    hr = shape["hr"].to_numpy(dtype=float)
    err = np.vstack([hr - shape["ci_low"].to_numpy(dtype=float),
                     shape["ci_high"].to_numpy(dtype=float) - hr])
    c = ax.errorbar(x, hr, yerr=err, fmt="o", color=PALETTE[0], capsize=4, lw=1.6,
                    label=tr("by number of products"))
    c.lines[0].set_gid("estimates")
    if "linear_hr" in shape and shape["linear_hr"].notna().all():
        xx = np.linspace(1, x.max(), 50)
        slope = np.log(shape["linear_hr"].to_numpy(dtype=float)[-1]) / max(x[-1] - 1, 1)
        ax.plot(xx, np.exp(slope * (xx - 1)), ls="--", color=PALETTE[1], gid="linear",
                label=tr("same HR for every added product"))
    ax.axhline(1.0, color="0.5", lw=1, ls=":", gid="reference")
    ax.set_yscale("log")
    _log_ticks(ax, "y", span=(float(np.nanmin(shape["ci_low"])) * 0.9,
                              max(1.05, float(np.nanmax(shape["ci_high"])) * 1.1)))
    ax.set_xticks(x)
    ax.set_xticklabels([str(tr_value(v)) for v in shape["level"].astype(str)])
    ax.set_xlabel(tr("Products held"))
    ax.set_ylabel(tr("Hazard ratio vs 1 product (log scale)"))
    ax.legend(loc="lower left")
    return _titled(ax, title)
