"""Restricted (natural) cubic splines: the one spline basis of the package.

Used for non-linear covariate effects in the drivers model
(:mod:`analysis.studies.drivers.design`) and for the smoothed calibration curve
(:func:`analysis.stats.metrics.calibration`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["restricted_cubic_basis"]


def restricted_cubic_basis(x, knots) -> np.ndarray:
    """Restricted (natural) cubic spline basis: ``x`` and ``len(knots) - 2`` non-linear columns.

    Harrell's parametrisation (R's ``rms::rcspline.eval(x, knots, inclx = TRUE, norm = 2)``):
    with knots ``t_1 < ... < t_k`` the non-linear column ``j = 1 .. k - 2`` is

    ``[(x - t_j)+^3 - (x - t_{k-1})+^3 (t_k - t_j) / (t_k - t_{k-1})
    + (x - t_k)+^3 (t_{k-1} - t_j) / (t_k - t_{k-1})] / (t_k - t_1)^2``,

    cubic between the knots, linear beyond the outer knots, and divided by ``(t_k - t_1)^2`` so
    that it is on the scale of ``x``. Together with an intercept the columns span the natural
    cubic splines with these knots.

    Parameters
    ----------
    x : array (n,)
        Values of the covariate.
    knots : array (k,)
        At least 3 distinct, increasing knots.

    Returns
    -------
    ndarray (n, k - 1)
        ``x`` in the first column, then the non-linear columns.

    Raises
    ------
    ValueError
        Fewer than 3 knots, or knots not strictly increasing.

    Examples
    --------
    >>> restricted_cubic_basis([0.5, 3.0], [0, 1, 2]).tolist()
    [[0.5, 0.03125], [3.0, 3.0]]
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(knots, dtype=float)
    k = t.size
    if k < 3 or np.any(np.diff(t) <= 0):
        raise ValueError("restricted cubic splines need at least 3 distinct increasing knots")
    norm = (t[-1] - t[0]) ** 2

    def pos3(v):
        return np.clip(v, 0, None) ** 3

    cols = [x]
    for j in range(k - 2):
        cols.append(
            (pos3(x - t[j])
             - pos3(x - t[-2]) * (t[-1] - t[j]) / (t[-1] - t[-2])
             + pos3(x - t[-1]) * (t[-2] - t[j]) / (t[-1] - t[-2])) / norm
        )
    return np.column_stack(cols)
