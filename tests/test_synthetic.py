"""The generator is deterministic and its realised rates match its parameters."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter

from analysis.data import generate_portfolio
from analysis.data.synthetic import SyntheticConfig, baseline_hazard, tier_from_aum
from analysis.frames import counting_process, survival_frame


@pytest.fixture(scope="module")
def book():
    return generate_portfolio(6000)


def test_deterministic_and_sized():
    a = generate_portfolio(400, months=12, seed=5)
    b = generate_portfolio(400, months=12, seed=5)
    c = generate_portfolio(400, months=12, seed=6)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    pd.testing.assert_frame_equal(a.panel, b.panel)
    assert len(a.customers) == 400 and a.panel["month"].nunique() == 12
    assert a.customers["customer_id"].is_unique


def test_truth_matches_parameters():
    p = generate_portfolio(200, months=6, seed=1, hr_per_product=0.7, hr_unmeasured=1.5)
    assert p.truth["hr_per_product"] == 0.7
    assert p.truth["log_hr"]["n_products"] == pytest.approx(np.log(0.7))
    assert p.truth["log_hr"]["unmeasured"] == pytest.approx(np.log(1.5))
    assert "unmeasured" not in p.customers.columns  # never written to the data
    assert p.truth["config"]["seed"] == 1


def test_book_shape(book):
    first = book.panel.groupby("customer_id").head(1)
    # Left truncation: most of the book was on it before the window opened.
    assert 0.5 < (first["tenure_months"] > 0).mean() < 0.9
    # Tiers follow the thresholds; all five exist.
    np.testing.assert_array_equal(book.panel["tier"], tier_from_aum(book.panel["aum"].to_numpy()))
    assert set(book.panel["tier"]) == {1, 2, 3, 4, 5}
    # Roughly 80/20: the top fifth of customers bring most of the profit.
    profit = book.panel.groupby("customer_id")["profit"].sum().sort_values(ascending=False)
    top = profit.iloc[: len(profit) // 5].sum() / profit.sum()
    assert 0.65 < top < 0.9
    # Product holdings change over time.
    changes = book.panel.groupby("customer_id")["n_products"].nunique()
    assert (changes > 1).mean() > 0.2
    # Annual attrition of a retail book: 5-20%.
    years = len(book.panel) / 12
    assert 0.05 < book.panel["closed"].sum() / years < 0.2


def test_confounding_direction(book):
    first = book.panel.groupby("customer_id").head(1).merge(book.customers, on="customer_id")
    assert np.corrcoef(first["engagement"], first["n_products"])[0, 1] > 0.2


def _transitions(book):
    p = book.panel.merge(book.customers[["customer_id", "engagement"]], on="customer_id")
    prev = p.groupby("customer_id")["n_products"].shift()
    keep = prev.notna()
    return p[keep], prev[keep]


def test_adoption_rate_matches_parameter(book):
    cfg = SyntheticConfig()
    rows, prev = _transitions(book)
    p_adopt = (
        cfg.adoption_rate
        * np.exp(cfg.engagement_on_adoption * rows["engagement"])
        * (cfg.max_products - prev)
        / cfg.max_products
    )
    observed = (rows["n_products"] > prev).sum()
    expected = p_adopt.sum()
    assert abs(observed - expected) < 4 * np.sqrt(expected)


def test_outflow_rate_matches_parameter(book):
    cfg = SyntheticConfig()
    rows, _ = _transitions(book)
    expected = (cfg.outflow_rate * np.exp(cfg.engagement_on_outflow * rows["engagement"])).sum()
    observed = rows["outflow"].sum()
    assert abs(observed - expected) < 4 * np.sqrt(expected)


def test_hazard_model_recovered(book):
    """A Cox model with the true covariates recovers every true log-HR within 3 SE."""
    cp = counting_process(book.panel, book.customers)
    cp["segment_loan"] = (cp["segment"] == "loan").astype(float)
    cp["age_per_10y"] = (cp["age_at_open"] - 45) / 10
    X = pd.get_dummies(
        cp[["customer_id", "start", "stop", "event", "n_products", "engagement", "segment_loan",
            "age_per_10y", "outflow_3m", "branch"]],
        columns=["branch"], drop_first=True, dtype=float,
    )
    fit = CoxTimeVaryingFitter().fit(
        X, id_col="customer_id", start_col="start", stop_col="stop", event_col="event",
        fit_options={"step_size": 0.5},  # the default 0.95 diverges with a large outflow effect
    )
    truth = book.truth["log_hr"]
    for name in ("n_products", "engagement", "segment_loan", "age_per_10y", "outflow_3m"):
        est, se = fit.params_[name], fit.standard_errors_[name]
        assert abs(est - truth[name]) < 3 * se, (name, est, se, truth[name])
    bhr = book.truth["branch_hr"]
    for b in ("East", "South"):
        est = fit.params_[f"branch_{b}"]
        assert abs(est - np.log(bhr[b] / bhr["Central"])) < 3 * fit.standard_errors_[f"branch_{b}"]


def test_baseline_hazard_shape():
    h = baseline_hazard(np.arange(60), 0.01)
    assert h[0] > h[12] and h[30] > h[20]  # early fragility, bump near 30 months


def test_outflows_precede_departures(book):
    frame, _ = survival_frame(book.panel, book.customers)
    leavers = frame.loc[frame.event == 1, "outflow_recent"].mean()
    stayers = frame.loc[frame.event == 0, "outflow_recent"].mean()
    assert leavers > 3 * stayers
