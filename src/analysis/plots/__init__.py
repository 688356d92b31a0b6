"""Figures in one house style: ``data`` in, keyword-only options, ``ax=None``, the Axes returned.

The public face for notebooks (``from analysis import plots``; ``plots.km_plot(...)``):
:mod:`~analysis.plots.base` holds the style and helpers every figure shares, the other modules
one family of figures each.
"""

from analysis.plots.base import PALETTE, TENURE_LABEL, set_style
from analysis.plots.survival import forest_plot, hazard_plot, km_plot, lorenz_plot, rate_plot

__all__ = ["PALETTE", "TENURE_LABEL", "set_style", "km_plot", "hazard_plot", "lorenz_plot",
           "rate_plot", "forest_plot"]
