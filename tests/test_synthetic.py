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


# --- the feedback scenario (issue 14) -----------------------------------------------------------
def test_feedback_off_keeps_the_default_book_bit_identical(book):
    # fingerprints of the default books before the feedback switch existed
    assert book.fingerprint == "f52e94e2a93a"
    assert generate_portfolio(500, months=12, seed=1).fingerprint == "bc44de0d0ede"
    # the feedback fields are inert while the switch is off
    off = generate_portfolio(500, months=12, seed=1, tier_on_adoption=2.0, frailty_variance=1.0)
    assert off.fingerprint == "bc44de0d0ede" and off.truth["scenario"] == "default"


def test_scenario_presets():
    assert SyntheticConfig.scenario("feedback") == SyntheticConfig(feedback=True)
    assert SyntheticConfig.scenario() == SyntheticConfig()
    assert SyntheticConfig.scenario("feedback", seed=3).seed == 3
    with pytest.raises(ValueError, match="unknown scenario 'loops'; choose from default, feedback"):
        SyntheticConfig.scenario("loops")
    p = generate_portfolio(300, months=6, seed=1, scenario="feedback")
    assert p.truth["scenario"] == "feedback" and p.source == "synthetic-feedback"
    assert p.fingerprint != generate_portfolio(300, months=6, seed=1).fingerprint
    # the frailty is drawn with mean 1 and the configured variance, and is hidden
    from analysis.data.dynamics import _draw_baseline

    drawn = _draw_baseline(np.random.default_rng(0), 100_000, SyntheticConfig(feedback=True))
    assert abs(drawn["frailty"].mean() - 1) < 0.01 and abs(drawn["frailty"].var() - 0.25) < 0.01
    assert "frailty" not in p.customers.columns
    # the book's customers survived to be seen: the frail ones are depleted (left truncation)
    f = generate_portfolio(3000, months=6, seed=2, scenario="feedback").hidden["frailty"]
    assert 0.8 < f.mean() < 0.95


@pytest.fixture(scope="module")
def feedback_book():
    return generate_portfolio(6000, scenario="feedback")


def _aum_after_adoption(b):
    """Change in log AUM from the month before an adoption to 12 months after, vs no change."""
    p = b.panel[["customer_id", "month", "aum", "n_products", "outflow"]].copy()
    g = p.groupby("customer_id")
    p["log_aum"] = np.log(p["aum"])
    p["d12"] = g["log_aum"].shift(-12) - g["log_aum"].shift(1)
    p["step"] = p["n_products"] - g["n_products"].shift(1)
    p["later_change"] = (g["n_products"].shift(-12) - p["n_products"]).abs()
    # no outflow in the 13 months (outflows cut AUM), no other product change afterwards
    cum = g["outflow"].cumsum()
    p["outflows"] = cum.groupby(p["customer_id"]).shift(-12) - cum.groupby(
        p["customer_id"]).shift(2).fillna(0)  # outflows in months t-1 .. t+12
    ok = p["d12"].notna() & (p["outflows"] == 0) & (p["later_change"] == 0)
    return (p.loc[ok & (p["step"] == 1), "d12"].mean() - p.loc[ok & (p["step"] == 0), "d12"].mean(),
            int((ok & (p["step"] == 1)).sum()))


def test_feedback_products_raise_later_aum(book, feedback_book):
    lift, n = _aum_after_adoption(feedback_book)
    # expected: the lift target rises by aum_lift_per_product = 0.5; 1 - 0.95**12 of it in a year
    assert n > 300 and 0.15 < lift < 0.32, (lift, n)
    no_lift, _ = _aum_after_adoption(book)
    assert abs(no_lift) < 0.05


def _adoption_fit(b, with_tier: bool):
    cfg = SyntheticConfig(feedback=True)
    p = b.panel.merge(b.customers[["customer_id", "engagement"]], on="customer_id")
    g = p.groupby("customer_id")
    prev, prev_tier = g["n_products"].shift(), g["tier"].shift()
    keep = prev.notna()
    rows, prev, prev_tier = p[keep], prev[keep], prev_tier[keep]
    lrate = cfg.engagement_on_adoption * rows["engagement"]
    if with_tier:
        lrate = lrate + cfg.tier_on_adoption * (prev_tier - 3)
    expected = (cfg.adoption_rate * np.exp(lrate) * (cfg.max_products - prev) / cfg.max_products)
    adopted = rows["n_products"] > prev
    high = prev_tier >= 4
    return adopted[high].sum(), expected[high].sum(), adopted[~high].sum(), expected[~high].sum()


def test_feedback_tier_raises_adoption(feedback_book):
    obs_hi, exp_hi, obs_lo, exp_lo = _adoption_fit(feedback_book, with_tier=True)
    assert abs(obs_hi - exp_hi) < 4 * np.sqrt(exp_hi) and abs(obs_lo - exp_lo) < 4 * np.sqrt(exp_lo)
    # without the tier term, high-tier customers adopt far more often than the model says
    obs_hi, exp_hi, _, _ = _adoption_fit(feedback_book, with_tier=False)
    assert obs_hi > exp_hi + 6 * np.sqrt(exp_hi)
    # and in the book itself: adoption by last month's tier rises from tier 1 to tier 5
    p = feedback_book.panel
    g = p.groupby("customer_id")
    up = (p["n_products"] > g["n_products"].shift()).astype(float)[g.cumcount() > 0]
    by_tier = up.groupby(g["tier"].shift()[g.cumcount() > 0]).mean()
    assert by_tier.loc[5.0] > 2 * by_tier.loc[1.0]
