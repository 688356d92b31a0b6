"""Landmark analysis: who is in a landmark's population, and thin landmarks."""

import warnings

import pandas as pd
import pytest

from analysis.data import generate_portfolio
from analysis.stats.landmark import landmark_cox, landmark_frame
from analysis.studies.product_effect.frames import prepare_product_frames

warnings.filterwarnings("ignore", module="lifelines")

IV = pd.DataFrame({
    "customer_id": ["a", "a", "b", "c", "d"],
    "start": [0.0, 5.0, 8.0, 2.0, 0.0],
    "stop": [5.0, 20.0, 30.0, 6.0, 6.0],
    "event": [0, 1, 0, 1, 0],
    "n_products": [1.0, 2.0, 3.0, 1.0, 2.0],
})


def test_landmark_population_and_follow_up():
    lf = landmark_frame(IV, 6).set_index("customer_id")
    # a: on book at 6 with 2 products, leaves at 20; b first seen at 8 (after the landmark);
    # c left at 6 (not after the landmark); d censored at 6
    assert list(lf.index) == ["a"]
    assert lf.at["a", "n_products"] == 2 and lf.at["a", "time"] == 14 and lf.at["a", "event"] == 1
    lf = landmark_frame(IV, 10, horizon=5).set_index("customer_id")
    assert set(lf.index) == {"a", "b"}
    assert lf.at["a", "time"] == 5 and lf.at["a", "event"] == 0  # cut at the horizon


def test_landmark_cox_on_a_small_book_and_thin_landmarks():
    p = generate_portfolio(1500, seed=8)
    _, iv, _ = prepare_product_frames(p, lag=1)
    table, fits = landmark_cox(iv, [6, 12, 400], covariates=["engagement", "loan"])
    t = table.set_index("landmark")
    assert t.at[6.0, "n"] > 200 and t.at[6.0, "ci_low"] < t.at[6.0, "hr"] < t.at[6.0, "ci_high"]
    assert set(fits) == {6.0, 12.0}
    assert t.at[400.0, "note"].startswith("not estimable") and pd.isna(t.at[400.0, "hr"])
    with pytest.raises(KeyError):
        t.at[24.0, "hr"]
