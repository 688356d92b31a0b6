"""The synthetic book's truth: the shared monthly step, the interventional-truth cache."""

import numpy as np
import pytest

from analysis.data import generate_portfolio
from analysis.data.dynamics import BookState, SyntheticConfig, _draw_baseline, monthly_step
from analysis.data.truth import (
    _pre_window_state,
    _window_arm,
    intervention_truth,
    model_hash,
    simulate_intervention_truth,
    truth_cache_key,
)
from analysis.data.truth_cache import GENERATED_WITH, INTERVENTION_TRUTH



def test_intervention_arms_share_random_numbers():
    cfg = SyntheticConfig()
    st = _pre_window_state(np.random.default_rng([1, 0, 0]), 3000, cfg)
    seq = np.random.SeedSequence([1, 0, 1])
    natural = _window_arm(st, cfg, seq, None)
    one = _window_arm(st, cfg, seq, np.ones(3000, dtype=np.int16))
    assert (one["n_entry"] == 1).all()
    same = natural["n_entry"] == 1
    assert same.sum() > 100
    # customers who held one product anyway live the same life in both arms
    np.testing.assert_array_equal(one["stop"][same], natural["stop"][same])
    np.testing.assert_array_equal(one["event"][same], natural["event"][same])
    # the others, set to one product, leave more often
    assert one["event"][~same].mean() > natural["event"][~same].mean() + 0.02
    # the natural arm is the generator's book: same share with 2+ products at entry
    book = generate_portfolio(3000, seed=1)
    first = book.panel.groupby("customer_id").head(1)
    assert abs((natural["n_entry"] >= 2).mean() - (first["n_products"] >= 2).mean()) < 0.04


def test_truth_cache_is_current_and_keyed_by_the_process():
    hit = intervention_truth()
    assert hit is not None, "rerun simulate_intervention_truth() and update truth_cache.py"
    assert hit["model_hash"] == model_hash()
    assert truth_cache_key(SyntheticConfig(n_customers=10, seed=3)) == truth_cache_key()
    assert truth_cache_key(SyntheticConfig(months=24)) != truth_cache_key()
    assert generate_portfolio(200, seed=2).truth["iptw_marginal_hr_2plus_vs_1"] == hit[
        "iptw_marginal_hr_2plus_vs_1"]
    # 2+ vs 1 is a bigger contrast than exactly 2 vs 1, and both are protective
    assert hit["iptw_marginal_hr_2plus_vs_1"] < hit["marginal_hr_2_vs_1"] < 1




def test_truth_cache_records_how_it_was_made():
    assert truth_cache_key() in INTERVENTION_TRUTH
    assert {"commit", "date", "numpy", "pandas", "lifelines"} <= set(GENERATED_WITH)
    assert GENERATED_WITH["configs"] == [{}]


def test_monthly_step_follows_the_hazard_model():
    """One month from opening: P(leave) = 1 - exp(-h0(0) exp(lp)) for everyone on book."""
    cfg = SyntheticConfig()
    b = _draw_baseline(np.random.default_rng(5), 200_000, cfg)
    b["open_offset"][:] = 0
    state = BookState.opening(b, balances=False)
    rng = np.random.default_rng(6)
    mo = monthly_step(state, 0, cfg, lambda idx: rng.random(idx.size))
    assert mo.idx.size == 200_000 and not mo.outflow.any()  # nothing happens in the opening month
    np.testing.assert_array_equal(mo.n, b["n_prod"])
    from analysis.data.dynamics import baseline_hazard

    lp = b["static_lp"] + b["lh"]["n_products"] * (mo.n - 2)
    p = -np.expm1(-baseline_hazard(0, cfg.baseline_scale) * np.exp(lp))
    se = np.sqrt((p * (1 - p)).sum())
    assert abs(mo.event.sum() - p.sum()) < 4 * se
    assert (~state.alive).sum() == mo.event.sum()


def test_an_intervention_sets_products_inside_the_step():
    cfg = SyntheticConfig()
    b = _draw_baseline(np.random.default_rng(5), 1000, cfg)
    state = BookState.opening(b, balances=False)
    rng = np.random.default_rng(1)
    mo = monthly_step(state, cfg.months - 1, cfg, lambda idx: rng.random(idx.size),
                      set_products=lambda idx, n: np.full(idx.size, 7, dtype=np.int16))
    assert (mo.n == 7).all() and (state.n_prod[mo.idx] == 7).all()


@pytest.mark.slow
def test_cached_truth_is_reproduced_by_a_fresh_simulation():
    """A 20,000-customer re-simulation (other seed) lands within 4 SE of the cached truth."""
    fresh = simulate_intervention_truth(n_customers=20_000, seed=11, chunk=20_000)
    cached = intervention_truth()
    for name in ("twoplus_vs_one", "two_vs_one"):
        new, old = fresh["details"][name], cached["details"][name]
        assert abs(new["log_hr"] - old["log_hr"]) < 4 * new["se_log_hr_independent"], name
