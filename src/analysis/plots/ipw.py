"""Inverse-probability-weighting figures: covariate balance before and after weighting.

Tidy frames in, keyword-only options, ``ax=None``, the Axes returned, nothing shown or saved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.i18n import tr, tr_value
from analysis.plots.base import PALETTE, _ax, _need, _titled

__all__ = ["balance_plot"]

#: The usual threshold of a negligible imbalance (|standardised mean difference| < 0.1).
_SMD_OK = 0.1


def balance_plot(balance: pd.DataFrame, *, ax: Axes | None = None,
                 title: str | None = None) -> Axes:
    """Absolute standardised mean differences before and after weighting (a "love plot").

    Parameters
    ----------
    balance : DataFrame
        One row per covariate: ``covariate``, ``smd_before`` and optionally ``smd_after``
        (rows without ``smd_before`` are left out); first row on top.
    ax : Axes, optional
        Where to draw the balance plot; a new figure when None.
    title : str, optional
        Title of the balance figure.

    Returns
    -------
    Axes
        Scatters with gids ``"before"`` and ``"after"`` (x = |SMD|, y = row position), the
        0.1 threshold line gid ``"threshold"``.
    """
    _need(balance, ["covariate", "smd_before"], "balance")
    ax = _ax(ax, figsize=(6.0, 0.4 * len(balance) + 1.4))
    b = balance.dropna(subset=["smd_before"])
    y = np.arange(len(b))[::-1]
    ax.scatter(b["smd_before"].abs(), y, marker="o", color=PALETTE[3], label=tr("before weighting"),
               gid="before")
    if "smd_after" in b:
        ax.scatter(b["smd_after"].abs(), y, marker="s", color=PALETTE[0], label=tr("after weighting"),
                   gid="after")
    ax.axvline(_SMD_OK, color="0.5", ls="--", lw=1, gid="threshold")
    ax.set_yticks(y)
    ax.set_yticklabels([str(tr_value(c)) for c in b["covariate"].astype(str)])
    ax.set_xlabel(tr("|standardised mean difference| (2+ vs 1 product)"))
    ax.legend(loc="lower right", fontsize="small")
    return _titled(ax, title)
