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
    assert GENERATED_WITH["configs"] == [{}, {"feedback": True}]
    assert truth_cache_key(SyntheticConfig.scenario("feedback")) in INTERVENTION_TRUTH


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


# --- the causal truth from study entry (issue 14) ------------------------------------------------
from analysis.data.causal_truth import MEASURES, STATIC_K, causal_arm, grouped_efron_hr  # noqa: E402
from analysis.data.truth import ground_truth  # noqa: E402


def test_grouped_efron_matches_lifelines_on_individual_rows():
    import pandas as pd
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(3)
    arms, rows = [], []
    for k in (1, 2, 3):
        T = np.minimum(rng.geometric(0.04 * 0.8 ** k, 400), 36)
        ev = (T < 36) | (rng.random(400) < 0.3)  # ties at 36 with and without events
        arms.append({"T": T, "event": ev})
        rows.append(pd.DataFrame({"T": T, "E": ev.astype(int), "k": float(k)}))
    cph = CoxPHFitter().fit(pd.concat(rows), "T", "E")
    assert grouped_efron_hr(arms, [1, 2, 3]) == pytest.approx(cph.params_["k"], abs=1e-8)


def test_causal_arms_share_random_numbers_and_follow_their_regime():
    cfg = SyntheticConfig(feedback=True)
    st = _pre_window_state(np.random.default_rng([2, 0, 0]), 4000, cfg)
    seq = np.random.SeedSequence([2, 0, 2])
    arms = {r: causal_arm(st, cfg, seq, r) for r in (None, 1, 4, "one_more")}
    w = int(st["window"].sum())
    assert all(a["T"].size == w for a in arms.values())
    assert arms[None]["T"].max() == 36 and arms[None]["T"].min() >= 1
    again = causal_arm(st, cfg, seq, None)  # deterministic given the seed sequence
    np.testing.assert_array_equal(again["T"], arms[None]["T"])
    # more products, longer stays (the same customers and random numbers in every arm)
    assert arms[1]["T"].mean() < arms[None]["T"].mean() < arms["one_more"]["T"].mean()
    assert arms["one_more"]["T"].mean() < arms[4]["T"].mean() + 1
    assert (arms[4]["T"] >= arms[1]["T"]).mean() > 0.97


def test_ground_truth_gives_each_key_one_meaning():
    for scenario in ("default", "feedback"):
        t = ground_truth(SyntheticConfig.scenario(scenario))
        assert t["scenario"] == scenario
        assert t["iptw_marginal_hr_2plus_vs_1_book"] != t["iptw_marginal_hr_2plus_vs_1_deposit"]
        assert t["iptw_marginal_hr_2plus_vs_1"] == t["iptw_marginal_hr_2plus_vs_1_book"]
        c = t["causal"]
        assert c["horizon_months"] == 36 and c["n_customers"] >= 100_000
        assert set(c["static"]) == {str(k) for k in STATIC_K}
        for arm in (*c["static"].values(), c["natural_course"], c["one_more_product"]):
            assert set(MEASURES) <= set(arm)
            assert arm["rmst_12"] < arm["rmst_24"] < arm["rmst_36"] < 36 and 0 < arm["retention_12"] < 1
        more, nat = c["one_more_product"], c["natural_course"]
        assert more["rmst_36_gain"] == pytest.approx(more["rmst_36"] - nat["rmst_36"])
        assert c["log_marginal_hr_per_product"] == pytest.approx(np.log(c["marginal_hr_per_product"]))

        def shape(d):
            return {k: shape(v) for k, v in d.items()} if isinstance(d, dict) else None

        numbers = {k: v for k, v in c.items() if k in c["mc_se"]}
        assert shape(c["mc_se"]) == shape(numbers)
        assert set(c["mc_se"]) == {"static", "natural_course", "one_more_product",
                                   "marginal_hr_per_product", "log_marginal_hr_per_product",
                                   "marginal_hr_k_vs_1"}
        assert 0 < c["mc_se"]["log_marginal_hr_per_product"] < 0.005
    default, feedback = (ground_truth(SyntheticConfig.scenario(s))["causal"]
                         for s in ("default", "feedback"))
    # without feedback the marginal HR per product is near the conditional 0.8; with feedback
    # (products build AUM, which lowers the hazard) holding more products does much more
    assert 0.78 < default["marginal_hr_per_product"] < 0.84
    assert feedback["marginal_hr_per_product"] < 0.76
    assert truth_cache_key(SyntheticConfig(tier_on_adoption=2.0)) == truth_cache_key()
    assert truth_cache_key(SyntheticConfig.scenario("feedback")) != truth_cache_key()


@pytest.mark.parametrize("scenario", ["default", "feedback"])
def test_causal_truth_cache_matches_a_small_resimulation(scenario):
    """A 4,000-customer re-simulation (another seed) lands within 4 MC SEs of the cache."""
    cfg = SyntheticConfig.scenario(scenario)
    fresh = simulate_intervention_truth(n_customers=4000, seed=13, chunk=8000,
                                        feedback=cfg.feedback)["causal"]
    cached = ground_truth(cfg)["causal"]
    checks = [("static", "1", "rmst_36"), ("static", "4", "retention_12"),
              ("one_more_product", "rmst_36_gain"), ("log_marginal_hr_per_product",)]
    for path in checks:
        new, old, se_new, se_old = fresh, cached, fresh["mc_se"], cached["mc_se"]
        for p in path:
            new, old, se_new, se_old = new[p], old[p], se_new[p], se_old[p]
        assert abs(new - old) < 4 * np.hypot(se_new, se_old), (path, new, old, se_new)
