"""Transitional alias: notebook 02 imports ``from analysis.plots import product_effect as figures``.

The figures live in their families (:mod:`~analysis.plots.cox`, :mod:`~analysis.plots.ipw`,
:mod:`~analysis.plots.estimates`) and are all re-exported by :mod:`analysis.plots`; delete this
module once the notebook reads ``from analysis import plots``.
"""

from analysis.plots import balance_plot, dose_response_plot, estimates_plot, schoenfeld_plot

__all__ = ["dose_response_plot", "schoenfeld_plot", "balance_plot", "estimates_plot"]
