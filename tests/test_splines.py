"""The one restricted cubic spline basis: closed form, linear tails, patsy's natural splines."""

import numpy as np
import pytest
from patsy import dmatrix

from analysis.stats.splines import restricted_cubic_basis


def test_closed_form_of_harrells_parametrisation():
    # knots 0, 1, 2 (norm (2 - 0)^2 = 4): column 2 = [x+^3 - 2 (x-1)+^3 + (x-2)+^3] / 4
    x = np.array([-1.0, 0.5, 1.5, 3.0])
    B = restricted_cubic_basis(x, [0, 1, 2])
    by_hand = [0.0, 0.125 / 4, (3.375 - 2 * 0.125) / 4, (27 - 2 * 8 + 1) / 4]
    np.testing.assert_allclose(B[:, 0], x)
    np.testing.assert_allclose(B[:, 1], by_hand, rtol=1e-15)


def test_linear_beyond_the_outer_knots():
    x = np.linspace(-10, 10, 201)
    B = restricted_cubic_basis(x, [-2, 0, 1, 3])
    assert B.shape == (201, 3)
    np.testing.assert_allclose(np.diff(B[x > 3], n=2, axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(B[x < -2][:, 1:], 0, atol=1e-12)


def test_spans_the_natural_cubic_splines_of_patsy():
    # patsy's cr() is the natural cubic regression spline basis with the same knots (another
    # parametrisation of the same space): with an intercept, each spans the other exactly.
    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(0, 10, 400))
    knots = np.array([0.5, 3.0, 6.5, 9.5])
    ours = np.column_stack([np.ones_like(x), restricted_cubic_basis(x, knots)])
    cr = np.asarray(dmatrix(
        "cr(x, knots=inner, lower_bound=lo, upper_bound=hi) - 1",
        {"x": x, "inner": knots[1:-1], "lo": knots[0], "hi": knots[-1]},
    ))
    assert cr.shape[1] == ours.shape[1] == 4
    for A, B in ((ours, cr), (cr, ours)):
        coef, *_ = np.linalg.lstsq(A, B, rcond=None)
        np.testing.assert_allclose(A @ coef, B, atol=1e-8 * np.abs(B).max())


def test_rejects_too_few_or_unordered_knots():
    with pytest.raises(ValueError, match="at least 3"):
        restricted_cubic_basis([1.0, 2.0], [0, 1])
    with pytest.raises(ValueError, match="increasing"):
        restricted_cubic_basis([1.0, 2.0], [0, 2, 1])
