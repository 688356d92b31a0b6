"""House style of every figure: palette, labels, axes helpers.

Every figure function of :mod:`analysis.plots` gets its Axes from :func:`_ax` (the one place a
new figure is made), checks its input with :func:`_need` and, on a log axis, labels ticks with
:func:`_log_ticks`.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "TENURE_LABEL",
    "set_style",
    "grid",
    "figure_png",
    "CJK_FONT",
    "register_cjk_font",
]

#: The CJK font of every figure, for Chinese labels and data values (branch names, levels):
#: Noto Sans CJK SC (SIL Open Font License), shipped by the ``mplfonts`` package. Latin text
#: stays in DejaVu Sans; matplotlib falls back to this font glyph by glyph.
CJK_FONT = "Noto Sans CJK SC"
_CJK_FILE = ("fonts", "NotoSansCJKsc-Regular.otf")

#: Figures in reports: drawn at this many pixels per CSS pixel (sharp on high-resolution
#: screens and in print), then reduced to a 256-colour palette (a third of the bytes).
PNG_SCALE = 2
PNG_DPI = 100


#: The house colour cycle (seaborn's colour-blind-safe palette).
PALETTE: list[tuple[float, float, float]] = list(sns.color_palette("colorblind", 10))


TENURE_LABEL = "Tenure (months on book)"


#: Bytes a figure may take before it is drawn at a lower resolution (dense scatter plots).
PNG_BUDGET = 60_000


def figure_png(fig: Figure, *, scale: float = PNG_SCALE, dpi: int = PNG_DPI,
               budget: int = PNG_BUDGET) -> tuple[bytes, dict]:
    """A figure as a compact high-resolution PNG and its display size.

    Drawn at ``scale * dpi`` and quantised to a 256-colour palette (lossless for the flat
    colours of a chart, about a third of the bytes of a full-colour PNG); the metadata asks the
    page to show it at ``1 / scale`` of its pixel size, as a ``dpi`` figure would appear. A
    figure above ``budget`` bytes (thousands of scatter points) is drawn again at 1.5x, then
    1x, so that a report stays small.

    Returns
    -------
    (png, metadata)
        What an IPython PNG formatter returns: the bytes and ``{"width", "height"}``.
    """
    import io

    from PIL import Image

    for s in [x for x in (scale, 1.5, 1.0) if x <= scale]:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=s * dpi, bbox_inches="tight")
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        pal = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out = io.BytesIO()
        pal.save(out, format="PNG", optimize=True)
        if len(out.getvalue()) <= budget:
            break
    return out.getvalue(), {"width": round(img.width / s), "height": round(img.height / s)}


def _use_compact_png() -> None:
    """In an IPython kernel, show figures through :func:`figure_png` (the inline backend's own
    PNG ignores ``savefig.dpi`` and is three times larger)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    ip = get_ipython()
    if ip is None:
        return
    # Load the backend now: the inline backend registers its own PNG formatter when it is
    # loaded (lazily, at the first figure), which would replace ours.
    try:
        plt._get_backend_mod()
    except AttributeError:  # pragma: no cover - matplotlib without the private helper
        plt.switch_backend(plt.get_backend())
    fmt = ip.display_formatter.formatters["image/png"]
    fmt.for_type(Figure, figure_png)


def register_cjk_font() -> bool:
    """Make :data:`CJK_FONT` known to matplotlib (once); False when ``mplfonts`` is missing.

    The entry is added without parsing the 16 MB font file (that would cost 0.4 s in every
    report kernel); matplotlib opens it at the first CJK glyph.
    """
    import importlib.util
    import os

    from matplotlib import font_manager as fm

    if any(f.name == CJK_FONT for f in fm.fontManager.ttflist):
        return True
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        return False
    path = os.path.join(spec.submodule_search_locations[0], *_CJK_FILE)
    if not os.path.exists(path):
        return False
    fm.fontManager.ttflist.append(fm.FontEntry(
        fname=path, name=CJK_FONT, style="normal", variant="normal", weight=400,
        stretch="normal", size="scalable"))
    fm.fontManager._findfont_cached.cache_clear()  # an earlier lookup may be cached
    return True


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
            # Labels hold data values (branch names, levels): a "$" in them is text, never
            # mathtext (an unbalanced one would otherwise fail the figure, and the report).
            "text.parse_math": False,
        },
    )
    if register_cjk_font():  # Chinese labels and data values render, never as empty boxes
        plt.rcParams["font.family"] = ["DejaVu Sans", CJK_FONT]
    _use_compact_png()


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


def _ax(ax: Axes | None, figsize: Sequence[float] = (7.0, 4.5)) -> Axes:
    """The Axes to draw on: ``ax`` itself, or the Axes of a new ``figsize`` figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=tuple(figsize))
    return ax


def _titled(ax: Axes, title: str | None) -> Axes:
    """``ax`` with ``title`` set (when given): the last step of every figure."""
    if title:
        ax.set_title(title)
    return ax


def grid(n: int, *, ncols: int = 2,
         size: Sequence[float] = (5.0, 3.4)) -> tuple[Figure, list[Axes]]:
    """A figure with ``n`` panels in ``ncols`` columns.

    Parameters
    ----------
    n : int
        Number of panels.
    ncols : int
        Panels per row.
    size : (float, float)
        Width and height of one panel in inches.

    Returns
    -------
    (Figure, list of Axes)
        The figure and its ``n`` visible panels, row by row (spare cells are hidden).
    """
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False)
    flat = list(axes.ravel())
    for extra in flat[n:]:
        extra.set_visible(False)
    return fig, flat[:n]


#: Candidate tick sets of a log axis, coarse to fine; :func:`_log_ticks` takes the finest one
#: that puts at most ``_MAX_LOG_TICKS`` ticks in view.
_LOG_TICKS = (
    (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100),
    (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50, 100),
    (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5),
)
_MAX_LOG_TICKS = 8


def _log_ticks(ax: Axes, axis: str = "x", span: tuple[float, float] | None = None) -> None:
    """Readable ticks on a log axis (0.5, 1, 2 ... instead of powers of ten).

    ``span`` is the range the ticks may cover (default: the axis limits).
    """
    lo, hi = span if span is not None else (ax.get_xlim() if axis == "x" else ax.get_ylim())
    chosen = np.array([])
    for nice in _LOG_TICKS:
        arr = np.array(nice)
        ticks = arr[(arr >= lo) & (arr <= hi)]
        if len(ticks) > _MAX_LOG_TICKS and len(chosen) >= 2:
            break
        chosen = ticks
    target = ax.xaxis if axis == "x" else ax.yaxis
    if len(chosen) >= 2:
        target.set_major_locator(ticker.FixedLocator(chosen))
        target.set_minor_locator(ticker.NullLocator())
    target.set_major_formatter(ticker.FormatStrFormatter("%g"))
    target.set_minor_formatter(ticker.NullFormatter())


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
