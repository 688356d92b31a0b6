"""House style of every figure: palette, labels, axes helpers."""

from __future__ import annotations

from typing import Sequence
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes


__all__ = [
    "PALETTE",
    "set_style",
]


#: The house colour cycle (seaborn's colour-blind-safe palette).
PALETTE: list[tuple[float, float, float]] = list(sns.color_palette("colorblind", 10))


TENURE_LABEL = "Tenure (months on book)"


def set_style(context: str = "notebook", font_scale: float = 1.0) -> None:
    """Apply the house style globally (seaborn ``ticks`` theme, colour-blind palette).

    Parameters
    ----------
    context : str
        seaborn context (``"paper"``, ``"notebook"``, ``"talk"``).
    font_scale : float
        Font size multiplier.
    """
    sns.set_theme(
        context=context,
        style="ticks",
        palette=PALETTE,
        font_scale=font_scale,
        rc={
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "legend.frameon": False,
        },
    )


def _need(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a DataFrame, got {type(frame).__name__}")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing}; it has {list(frame.columns)}"
        )
    if len(frame) == 0:
        raise ValueError(f"{what} is empty: nothing to plot")


def _ax(ax: Axes | None, figsize=(7.0, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _group_levels(frame: pd.DataFrame) -> list:
    if "group" not in frame.columns:
        return [None]
    g = frame["group"]
    if isinstance(g.dtype, pd.CategoricalDtype):
        present = set(g.dropna().unique())
        return [c for c in g.cat.categories if c in present]
    return list(pd.unique(g))


def _subset(frame: pd.DataFrame, level) -> pd.DataFrame:
    if level is None:
        return frame
    return frame[frame["group"] == level]
