"""Tests for analysis.stats.concentration (hand examples)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.concentration import gini, lorenz_curve, top_share


def test_lorenz_hand_example():
    lc = lorenz_curve([16, 1, 1, 1, 1])  # order does not matter
    assert list(lc.columns) == ["share_customers", "share_value"]
    np.testing.assert_allclose(lc["share_customers"], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(lc["share_value"], [0, 0.05, 0.10, 0.15, 0.20, 1.0])


def test_top_share_80_20():
    assert top_share([1, 1, 1, 1, 16], top=0.2) == pytest.approx(0.8)
    assert top_share([1, 1, 1, 1, 16], top=0.4) == pytest.approx(17 / 20)
    assert top_share([5, 5, 5, 5]) == pytest.approx(0.2)  # equality: the top 20% hold 20%
    assert top_share([3, 1, 2], top=0) == 0 and top_share([3, 1, 2], top=1) == 1
    # top 20% of 10 customers = the two largest: (50 + 30) / 100
    assert top_share(pd.Series([50, 30, 5, 5, 2, 2, 2, 2, 1, 1])) == pytest.approx(0.8)
    # fractional boundary customer: top 50% of 3 = the largest + half the middle one
    assert top_share([1, 2, 3], top=0.5) == pytest.approx((3 + 1) / 6)


def test_gini_hand_examples():
    # area under the Lorenz curve of [1,1,1,1,16] is 0.2, so G = 1 - 2 * 0.2
    assert gini([1, 1, 1, 1, 16]) == pytest.approx(0.6)
    assert gini([7, 7, 7]) == pytest.approx(0.0)
    # one customer of n holds everything: G = (n - 1) / n
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)
    # mean absolute difference formula: G = sum|xi - xj| / (2 n^2 mean)
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(mad)


def test_negative_values_are_kept():
    # profits: one loss-making customer; shares are of the net total (10)
    values = [-2, 1, 1, 10]
    lc = lorenz_curve(values)
    np.testing.assert_allclose(lc["share_value"], [0, -0.2, -0.1, 0.0, 1.0])
    assert lc["share_value"].min() < 0
    # the top 25% (one customer) earn 100% of the net profit; top 50% earn 110%
    assert top_share(values, top=0.25) == pytest.approx(1.0)
    assert top_share(values, top=0.5) == pytest.approx(1.1)
    assert gini(values) == pytest.approx(2 * (1 * -2 + 2 * 1 + 3 * 1 + 4 * 10) / (4 * 10) - 5 / 4)
    assert gini(values) == pytest.approx(0.9)
    # heavy losses: G = 2 * (-10 + 2 + 3 + 40) / (4 * 2) - 5/4 = 7.5, beyond the usual [0, 1]
    assert gini([-10, 1, 1, 10]) == pytest.approx(7.5)


@pytest.mark.parametrize(
    "values, message",
    [
        ([], "empty"),
        ([1, np.nan, 3], r"missing or infinite entries at \[1\]"),
        ([-5, 1, 2], "positive total"),
        ([0, 0], "positive total"),
        ([[1, 2], [3, 4]], "one-dimensional"),
    ],
)
def test_invalid_values(values, message):
    with pytest.raises(ValueError, match=message):
        lorenz_curve(values)


def test_nan_position_uses_series_labels():
    with pytest.raises(ValueError, match=r"\['c'\]"):
        gini(pd.Series([1.0, 2.0, np.nan], index=list("abc")))
    with pytest.raises(ValueError, match="top"):
        top_share([1, 2], top=1.5)
