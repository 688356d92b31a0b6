"""Figures in one house style: ``data`` in, keyword-only options, ``ax=None``, the Axes returned.

The public face for notebooks (``from analysis import plots``; ``plots.km_plot(...)``):
:mod:`~analysis.plots.base` holds the style and the helpers every figure shares (the one
``_ax``), the other modules one family of figures each:

- :mod:`~analysis.plots.survival`: Kaplan-Meier curves, hazard, attrition rates, Lorenz curve;
- :mod:`~analysis.plots.estimates`: forest plots of estimates with intervals;
- :mod:`~analysis.plots.cox`: Schoenfeld residuals, hazard ratio along a covariate, dose-response;
- :mod:`~analysis.plots.calibration`: calibration and accuracy of predicted risks;
- :mod:`~analysis.plots.competing`: cumulative incidence and cause-specific hazard ratios;
- :mod:`~analysis.plots.ipw`: covariate balance before and after weighting;
- :mod:`~analysis.plots.ranking`: a ranked list: precision, value captured, profit, lead time.
"""

from analysis.plots.base import PALETTE, TENURE_LABEL, grid, set_style
from analysis.plots.calibration import accuracy_plot, calibration_plot
from analysis.plots.competing import cause_forest_plot, cif_plot
from analysis.plots.cox import dose_response_plot, partial_effect_plot, schoenfeld_plot
from analysis.plots.estimates import estimates_plot, forest_plot
from analysis.plots.ipw import balance_plot
from analysis.plots.ranking import lead_time_plot, list_curve_plot
from analysis.plots.survival import hazard_plot, km_panels, km_plot, lorenz_plot, rate_plot

__all__ = ["PALETTE", "TENURE_LABEL", "set_style", "grid",
           "km_plot", "km_panels", "hazard_plot", "lorenz_plot", "rate_plot",
           "forest_plot", "estimates_plot",
           "schoenfeld_plot", "partial_effect_plot", "dose_response_plot",
           "calibration_plot", "accuracy_plot",
           "cif_plot", "cause_forest_plot",
           "balance_plot", "list_curve_plot", "lead_time_plot"]
