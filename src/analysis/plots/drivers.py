"""Transitional alias: notebook 03 imports ``from analysis.plots import drivers as dp``.

The figures live in their families (:mod:`~analysis.plots.cox`,
:mod:`~analysis.plots.calibration`, :mod:`~analysis.plots.competing`, :mod:`~analysis.plots.base`)
and are all re-exported by :mod:`analysis.plots`; delete this module once the notebook reads
``from analysis import plots``.
"""

from analysis.plots import (accuracy_plot, calibration_plot, cause_forest_plot, cif_plot, grid,
                            partial_effect_plot, schoenfeld_plot)

__all__ = ["schoenfeld_plot", "calibration_plot", "accuracy_plot", "cif_plot",
           "partial_effect_plot", "cause_forest_plot", "grid"]
