"""Marginal structural Cox model and its building blocks (stats.logit, stats.msm).

Independent references: statsmodels' GLM (Binomial, freq_weights) for the pooled logits and
lifelines' CoxTimeVaryingFitter with case weights for the weighted Cox point estimate; closed forms for the
continuation-ratio probabilities and the censoring weights; the generator's interventional truth
for the estimator as a whole. ``tests/fixtures/r/msm_weighted_cox.R`` fits the same weighted
Cox model with R's survival (``coxph(..., weights, cluster)``); the numbers asserted here are
lifelines'. Report 02's MSM on the default book is refitted in R in
``tests/test_product_effect.py::test_report02_models_match_r`` (``tools/r_reference.py``).
"""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InsufficientDataError
from analysis.stats.logit import fit_linear, fit_logit, full_rank_columns, logit_covariance
from analysis.stats.msm import (ChangeModel, EntryModel, MSMBootstrap, bootstrap_interval,
                                censoring_weights, cox_monthly_1d, fit_msm_cox, group_cumprod,
                                msm_weights)


def _logit_data(n=4000, seed=3):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [-1.0, 0.7, -0.5])))).astype(float)
    w = rng.integers(1, 4, n).astype(float)
    return X, y, w


def test_logit_matches_statsmodels_glm_with_weights():
    import statsmodels.api as sm

    X, y, w = _logit_data()
    ref = sm.GLM(y, X, family=sm.families.Binomial(), freq_weights=w).fit()
    b = fit_logit(X, y, w)
    np.testing.assert_allclose(b, ref.params, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(logit_covariance(X, b, w))), ref.bse, rtol=1e-6)


def test_ridge_keeps_a_separated_group_finite():
    X = np.column_stack([np.ones(6), [1, 1, 0, 0, 0, 0]])
    y = np.array([0, 0, 1, 0, 1, 0.0])  # nobody with x = 1 has the outcome
    with pytest.raises(InsufficientDataError, match="almost perfectly predicts"):
        fit_logit(X, y)
    b = fit_logit(X, y, ridge=1e-6)
    assert b[1] < -8 and abs(b[0]) < 1e-4  # x = 0 rows: 2 of 4, log-odds 0


def test_linear_and_rank_helpers():
    X, y, w = _logit_data()
    import statsmodels.api as sm
    b, _ = fit_linear(X, y, w)
    np.testing.assert_allclose(b, sm.WLS(y, X, weights=w).fit().params, atol=1e-10)
    aliased = np.column_stack([X, X[:, 1] * 2 + 1])
    assert full_rank_columns(aliased) == [0, 1, 2]


def test_entry_model_probabilities_are_the_level_shares_without_covariates():
    a = np.array([1, 1, 2, 2, 2, 3, 4, 6, 7, 1.0])
    m = EntryModel(levels=4).fit(np.ones((10, 1)), a)
    p = m.prob(np.ones((10, 1)), a)
    # levels 1, 2, 3 and 4+ (pooled): shares 3/10, 3/10, 1/10, 3/10
    np.testing.assert_allclose(p, [0.3, 0.3, 0.3, 0.3, 0.3, 0.1, 0.3, 0.3, 0.3, 0.3], atol=1e-6)


def test_change_model_structural_zero_and_shares():
    a_prev = np.array([1, 1, 1, 1, 2, 2, 2, 2.0])
    a = np.array([1, 2, 1, 1, 1, 2, 3, 2.0])  # no drop ever seen from 1
    m = ChangeModel().fit(np.ones((8, 1)), a_prev, a)
    up, down = m.probs(np.ones((8, 1)), a_prev)
    assert down[:4].tolist() == [0, 0, 0, 0]
    np.testing.assert_allclose(up, 2 / 8, atol=1e-5)  # 2 ups in 8 rows (the logit is shared)
    np.testing.assert_allclose(down[4:], (1 - 0.25) * (1 / 3), atol=1e-5)  # 1 drop of 3 not-up
    assert m.draw(np.ones((2, 1)), np.array([1.0, 2.0]), np.array([0.1, 0.99])).tolist() == [2, 1]


def test_group_cumprod_and_censoring_weights():
    np.testing.assert_allclose(
        group_cumprod(np.array([2.0, 0.5, 3.0]), np.array(["a", "a", "b"])), [2.0, 1.0, 3.0])
    # group g: 4 customers; after month 0 one is censored (no event), after month 1 another
    pm = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c", "c", "d", "d", "d"],
                       "time": [0, 1, 2, 0, 0, 1, 0, 1, 2], "event": [0] * 9, "g": 1})
    w = censoring_weights(pm, group="g")
    # month 0: 1 of 4 censored after it -> weight at month 1 = 1 / (3/4); month 1: 1 of 3
    np.testing.assert_allclose(w, [1, 4 / 3, 2, 1, 1, 4 / 3, 1, 4 / 3, 2])


def _toy_pm(n=1500, seed=5):
    """A small monthly book: confounder x raises product adoption and lowers the hazard."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    rows = []
    a = 1 + (rng.random(n) < 1 / (1 + np.exp(-x)))
    alive = np.ones(n, bool)
    for t in range(12):
        if t > 0:
            a = a + (rng.random(n) < 0.05 * np.exp(0.5 * x))
        h = 0.03 * np.exp(np.log(0.8) * a - 0.4 * x)
        ev = rng.random(n) < h
        for i in np.flatnonzero(alive):
            rows.append((i, t, int(ev[i]), float(a[i]), float(x[i])))
        alive &= ~ev
    pm = pd.DataFrame(rows, columns=["customer_id", "time", "event", "a", "x"])
    pm = pm.sort_values(["customer_id", "time"]).reset_index(drop=True)
    pm["a_prev"] = pm.groupby("customer_id")["a"].shift(1)
    return pm


def test_weighted_cox_matches_lifelines_time_varying_with_weights():
    # statsmodels' PHReg ignores case weights together with entry times here (it returns the
    # unweighted fit, -0.4615), so lifelines' CoxTimeVaryingFitter(weights_col) is the reference
    from lifelines import CoxTimeVaryingFitter

    pm = _toy_pm()
    w, info = msm_weights(pm, treatment="a", previous="a_prev", numerator=["a_prev", "time"],
                          denominator=["a_prev", "time", "x"], entry_denominator=["x"])
    assert 0.9 < info["mean"] < 1.1
    fit = fit_msm_cox(pm, w, treatment="a")
    d = pm.assign(start=pm["time"].astype(float), stop=pm["time"] + 1.0, w=w)
    ref = CoxTimeVaryingFitter().fit(d[["customer_id", "start", "stop", "event", "a", "w"]],
                                     id_col="customer_id", start_col="start", stop_col="stop",
                                     event_col="event", weights_col="w")
    assert fit.effect["coef"] == pytest.approx(float(ref.params_["a"]), abs=1e-8)
    assert fit.effect["coef"] == pytest.approx(-0.178612, abs=1e-6)  # lifelines; R script
    naive = fit_msm_cox(pm, np.ones(len(pm)), treatment="a").effect["hr"]
    assert naive < 0.74  # confounded by x
    t = fit_msm_cox(pm, w, treatment="a", truncate=(1, 99))
    assert t.diagnostics["truncated"] > 0 and t.diagnostics["truncate_high"] < info["max"]


def test_monthly_cox_equals_the_efron_engine_also_on_duplicated_rows():
    pm = _toy_pm()
    w, _ = msm_weights(pm, treatment="a", previous="a_prev", numerator=["a_prev", "time"],
                       denominator=["a_prev", "time", "x"], entry_denominator=["x"])
    ref = np.log(fit_msm_cox(pm, w, treatment="a").effect["hr"])
    assert cox_monthly_1d(pm["time"], pm["a"], pm["event"], w) == pytest.approx(ref, abs=1e-9)
    # counts act as literal duplicates (tied events counted with them), as in a resample
    counts = np.random.default_rng(1).integers(0, 3, len(pm))
    dup = pm.loc[np.repeat(np.arange(len(pm)), counts)].reset_index(drop=True)
    dup["customer_id"] = np.arange(len(dup))  # each copy its own cluster; the point is the same
    ref_dup = np.log(fit_msm_cox(dup, np.repeat(w, counts), treatment="a").effect["hr"])
    got = cox_monthly_1d(pm["time"], pm["a"], pm["event"], w, counts)
    assert got == pytest.approx(ref_dup, abs=1e-9)


def test_censoring_weights_with_case_weights_equal_duplicated_customers():
    pm = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c", "c", "d", "d", "d"],
                       "time": [0, 1, 2, 0, 0, 1, 0, 1, 2], "event": [0] * 9, "g": 1})
    # customer b drawn twice, d not at all: month 0 has a, b, b, c -> 2 of 4 censored after it
    w = censoring_weights(pm, group="g", weights=np.array([1, 1, 1, 2, 1, 1, 0, 0, 0]))
    np.testing.assert_allclose(w[:3], [1, 2, 4])  # month 1: 1 of 2 (a, c) censored after it


def test_msm_bootstrap_reproduces_the_full_fit_and_gives_a_t_interval():
    pm = _toy_pm()
    kw = dict(treatment="a", previous="a_prev", numerator=["a_prev", "time"],
              denominator=["a_prev", "time", "x"], entry_denominator=["x"])
    w, _ = msm_weights(pm, **kw)
    boot = MSMBootstrap(pm, ipcw_group=None, truncate=(1, 99), **kw)
    np.testing.assert_allclose(boot.weights(), w)
    full = np.log(fit_msm_cox(pm, w, treatment="a").effect["hr"])
    ones = boot.replicate(np.ones(len(boot.customers)))
    assert ones["log_hr"] == pytest.approx(full, abs=1e-7)  # refit from the full fit stays put
    trunc = np.log(fit_msm_cox(pm, w, treatment="a", truncate=(1, 99)).effect["hr"])
    assert ones["log_hr_truncated"] == pytest.approx(trunc, abs=1e-7)
    rng = np.random.default_rng(0)
    n = len(boot.customers)
    reps = [boot.replicate(rng.multinomial(n, np.full(n, 1 / n)), init=full)["log_hr"]
            for _ in range(30)]
    ci = bootstrap_interval(full, reps, log=True)
    sd = np.std(reps, ddof=1)
    assert ci["se_log_hr"] == pytest.approx(sd)
    assert np.log(ci["ci_high"]) - full == pytest.approx(2.0452 * sd, rel=1e-3)  # t(29)
    # the refitted weights make the bootstrap SE at least the order of the sandwich's
    sandwich = fit_msm_cox(pm, w, treatment="a").effect["se_log_hr"]
    assert 0.7 < sd / sandwich < 2.0


def test_cluster_robust_covariance_matches_statsmodels():
    import statsmodels.api as sm

    from analysis.stats.logit import cluster_robust_covariance, predict_logit

    rng = np.random.default_rng(1)
    n, groups = 3000, 300
    g = rng.integers(0, groups, n)
    shared = rng.normal(size=groups)[g]  # a customer effect: months are correlated
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [-1.0, 0.5] + shared)))).astype(float)
    b = fit_logit(X, y)
    V = cluster_robust_covariance(X, y - predict_logit(X, b), logit_covariance(X, b), g)
    ref = sm.GLM(y, X, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": g}).cov_params()
    # statsmodels adds the factor (n - 1) / (n - k) to R's G / (G - 1)
    np.testing.assert_allclose(V * (n - 1) / (n - 2), ref, rtol=1e-6)
    # the intercept's SE grows by half against the model-based one (0.069 vs 0.041)
    assert np.sqrt(V[0, 0]) > 1.5 * np.sqrt(logit_covariance(X, b)[0, 0])
