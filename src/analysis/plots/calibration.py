"""Prediction-accuracy figures: calibration (predicted vs observed risk) and AUC/Brier by horizon.

Tidy frames in, keyword-only options, ``ax=None``, the Axes returned, nothing shown or saved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.i18n import tr
from analysis.plots.base import PALETTE, _ax, _need, _titled

__all__ = ["calibration_plot", "accuracy_plot"]


def calibration_plot(groups: pd.DataFrame, curve: pd.DataFrame | None = None, *,
                     ax: Axes | None = None, title: str | None = None) -> Axes:
    """Predicted vs observed risk: risk groups (with their CIs) and a smooth calibration curve.

    Predicted risk on the x axis, observed risk on the y axis; the diagonal is perfect
    calibration.

    Parameters
    ----------
    groups : DataFrame
        One row per risk group: ``predicted``, ``observed``, ``ci_low``, ``ci_high`` (the
        interval of the observed risk).
    curve : DataFrame, optional
        ``predicted``, ``observed`` along a smooth calibration curve.
    ax : Axes, optional
        Where to draw the calibration plot; a new figure when None.
    title : str, optional
        Title (e.g. the horizon).

    Returns
    -------
    Axes
        The groups are the error-bar line with gid ``"groups"`` (x = predicted, y = observed),
        the curve the line with gid ``"curve"``, the diagonal gid ``"diagonal"``.
    """
    _need(groups, ["predicted", "observed", "ci_low", "ci_high"], "groups")
    ax = _ax(ax, figsize=(4.6, 4.4))
    p = groups["predicted"].to_numpy(dtype=float)
    o = groups["observed"].to_numpy(dtype=float)
    err = np.vstack([o - groups["ci_low"].to_numpy(dtype=float),
                     groups["ci_high"].to_numpy(dtype=float) - o])
    err = np.clip(np.nan_to_num(err), 0, None)
    c = ax.errorbar(p, o, yerr=err, fmt="o", color=PALETTE[0], capsize=3, ms=5,
                    label=tr("risk groups (observed, 95% CI)"))
    c.lines[0].set_gid("groups")
    top = float(np.nanmax([p.max(), np.nanmax(groups["ci_high"]), 0.05])) * 1.08
    if curve is not None and len(curve):
        _need(curve, ["predicted", "observed"], "curve")
        (ln,) = ax.plot(curve["predicted"], curve["observed"], color=PALETTE[3], lw=1.8,
                        label=tr("smoothed"))
        ln.set_gid("curve")
        top = max(top, float(np.nanmax(curve["observed"])) * 1.05)
    ax.plot([0, top], [0, top], ls="--", color="0.5", lw=1, label=tr("perfect"), gid="diagonal")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(tr("Predicted risk of leaving"))
    ax.set_ylabel(tr("Observed risk of leaving (1 - Kaplan-Meier)"))
    ax.legend(loc="upper left", fontsize="small")
    return _titled(ax, title)


def accuracy_plot(table: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """AUC (left axis) and Brier scores of the model and of no model (right axis) by horizon.

    Parameters
    ----------
    table : DataFrame
        One row per horizon: ``horizon``, ``auc``, ``brier``, ``brier_null``.
    ax : Axes, optional
        Where to draw AUC (and, on its twin, Brier); a new figure when None.
    title : str, optional
        Title above both axes.

    Returns
    -------
    Axes
        The left axes, with the AUC line (gid ``"auc"``); the Brier lines (gids ``"brier"`` and
        ``"brier_null"``) are on its twin, ``ax.brier_ax``.
    """
    _need(table, ["horizon", "auc", "brier", "brier_null"], "table")
    ax = _ax(ax, figsize=(6.0, 4.0))
    h = table["horizon"].to_numpy(dtype=float)
    (a,) = ax.plot(h, table["auc"], "o-", color=PALETTE[0], lw=2, label=tr("AUC (left)"))
    a.set_gid("auc")
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel(tr("Time-dependent AUC"))
    ax.set_xlabel(tr("Horizon (months after entry)"))
    ax.set_xticks(h)
    ax2 = ax.twinx()
    (b,) = ax2.plot(h, table["brier"], "s-", color=PALETTE[3], lw=2,
                    label=tr("Brier, model (right)"))
    b.set_gid("brier")
    (b0,) = ax2.plot(h, table["brier_null"], "s--", color="0.5", lw=1.5,
                     label=tr("Brier, no covariates (right)"))
    b0.set_gid("brier_null")
    ax2.set_ylim(0, max(0.3, float(np.nanmax(table["brier_null"])) * 1.2))
    ax2.set_ylabel(tr("Brier score (lower is better)"))
    ax2.grid(False)
    lines = [a, b, b0]
    ax.legend(lines, [ln.get_label() for ln in lines], loc="lower right", fontsize="small")
    ax.brier_ax = ax2
    return _titled(ax, title)
