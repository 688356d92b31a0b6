"""Tests for analysis.stats.km.

References: statsmodels ``SurvfuncRight`` / ``survdiff`` (both accept ``entry=`` with the
counting-process risk set ``entry < t <= duration``, the same as R's
``survfit(Surv(entry, duration, event) ~ 1)``) and lifelines (no truncation). Hand examples are
worked out in the comments next to the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_rossi, load_waltons
from lifelines.exceptions import StatisticalWarning
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times, restricted_mean_survival_time
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.proportion import proportion_confint

from analysis.errors import InsufficientDataError
from analysis.stats.hypothesis import TestResult, logrank
from analysis.stats.rates import attrition_rates, hazard_by_tenure
from analysis.stats.km import km_table, median_survival, numbers_at_risk, survival_at
from analysis.stats.rmst import rmst, rmst_difference

Z = stats.norm.ppf(0.975)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    """Rossi recidivism data (432 rows, weeks 1-52, heavy ties) plus a left-truncation column.

    ``entry`` is a whole week drawn below ``week`` (seeded), so entries tie with event times:
    the strict ``entry < t`` convention matters.
    """
    df = load_rossi()
    rng = np.random.default_rng(20240501)
    df["entry"] = rng.integers(0, df["week"].to_numpy())
    df["prio_band"] = pd.cut(df["prio"], [-1, 1, 4, 100], labels=["0-1", "2-4", "5+"])
    return df


@pytest.fixture
def tiny() -> pd.DataFrame:
    # durations 1, 2, 2+, 3, 4+  ->  S: 1 -> 4/5 -> 4/5*3/4 = 3/5 -> 3/5*1/2 = 3/10
    return pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})


@pytest.fixture
def tiny_lt() -> pd.DataFrame:
    """Five customers, three already on the book at entry > 0 (left truncation).

    id  entry  duration  event
    A   0      2         1
    B   0      3         0
    C   1      3         1
    D   2      4         1     (enters at 2: NOT at risk for A's event at 2)
    E   3      5         0
    Risk sets #(entry < t <= duration): t=2 {A,B,C} n=3 d=1; t=3 {B,C,D} n=3 d=1;
    t=4 {D,E} n=2 d=1; t=5 {E} n=1 censored.
    S(2) = 2/3, S(3) = 4/9, S(4) = 2/9.
    """
    return pd.DataFrame(
        {
            "entry": [0, 0, 1, 2, 3],
            "duration": [2, 3, 3, 4, 5],
            "event": [1, 0, 1, 1, 0],
        },
        index=list("ABCDE"),
    )


# ------------------------------------------------------------------------------ km_table


def test_km_hand_example(tiny):
    km = km_table(tiny)
    assert list(km.columns) == [
        "group", "time", "at_risk", "events", "censored", "entered",
        "survival", "se", "ci_low", "ci_high",
    ]
    assert (km["group"] == "all").all()
    assert km["time"].tolist() == [0, 1, 2, 3, 4]
    assert km["at_risk"].tolist() == [5, 5, 4, 2, 1]
    assert km["events"].tolist() == [0, 1, 1, 1, 0]
    assert km["censored"].tolist() == [0, 0, 1, 0, 1]
    assert km["entered"].tolist() == [5, 0, 0, 0, 0]
    np.testing.assert_allclose(km["survival"], [1, 0.8, 0.6, 0.3, 0.3], atol=1e-12)
    # Greenwood: S * sqrt(sum d/(n(n-d))): 1/20, + 1/12, + 1/2
    gw = np.cumsum([0, 1 / 20, 1 / 12, 1 / 2, 0])
    se = np.array([1, 0.8, 0.6, 0.3, 0.3]) * np.sqrt(gw)
    np.testing.assert_allclose(km["se"], se, atol=1e-12)
    assert km["se"].iloc[3] == pytest.approx(0.3 * np.sqrt(0.633333333333), rel=1e-9)
    # log(-log) interval at t = 3 by hand
    s, v = 0.3, gw[3]
    lo = np.exp(-np.exp(np.log(-np.log(s)) + Z * np.sqrt(v) / abs(np.log(s))))
    hi = np.exp(-np.exp(np.log(-np.log(s)) - Z * np.sqrt(v) / abs(np.log(s))))
    assert km["ci_low"].iloc[3] == pytest.approx(lo, rel=1e-10)
    assert km["ci_high"].iloc[3] == pytest.approx(hi, rel=1e-10)
    assert km["ci_low"].iloc[0] == 1.0 and km["ci_high"].iloc[0] == 1.0


def test_km_hand_example_left_truncation(tiny_lt):
    km = km_table(tiny_lt, entry="entry")
    assert km["time"].tolist() == [0, 1, 2, 3, 4, 5]
    # origin row: the two customers entering at 0 are under observation just after it
    assert km["at_risk"].tolist() == [2, 2, 3, 3, 2, 1]
    assert km["entered"].tolist() == [2, 1, 1, 1, 0, 0]
    assert km["events"].tolist() == [0, 0, 1, 1, 1, 0]
    assert km["censored"].tolist() == [0, 0, 0, 1, 0, 1]
    np.testing.assert_allclose(km["survival"], [1, 1, 2 / 3, 4 / 9, 2 / 9, 2 / 9], atol=1e-12)
    # Greenwood sum at t=4: 1/(3*2) + 1/(3*2) + 1/(2*1) = 5/6
    assert km["se"].iloc[4] == pytest.approx(2 / 9 * np.sqrt(5 / 6), rel=1e-12)
    # lifelines counts D (entry == 2) at risk at t = 2 and gives S(2) = 3/4: we must not
    assert km["survival"].iloc[2] != pytest.approx(0.75)


def test_km_matches_statsmodels_rossi_no_truncation(rossi):
    for fin, sub in rossi.groupby("fin"):
        sf = SurvfuncRight(sub["week"], sub["arrest"])
        km = km_table(rossi, duration="week", event="arrest", group="fin")
        ev = km[(km["group"] == fin) & (km["events"] > 0)]
        np.testing.assert_allclose(ev["time"], sf.surv_times)
        np.testing.assert_array_equal(ev["at_risk"], sf.n_risk)
        np.testing.assert_array_equal(ev["events"], sf.n_events)
        np.testing.assert_allclose(ev["survival"], sf.surv_prob, atol=1e-8, rtol=0)
        np.testing.assert_allclose(ev["se"], sf.surv_prob_se, atol=1e-8, rtol=0)


def test_km_matches_statsmodels_rossi_left_truncation(rossi):
    sf = SurvfuncRight(rossi["week"], rossi["arrest"], entry=rossi["entry"])
    km = km_table(rossi, duration="week", event="arrest", entry="entry")
    ev = km[km["events"] > 0]
    np.testing.assert_allclose(ev["time"], sf.surv_times)
    np.testing.assert_array_equal(ev["at_risk"], sf.n_risk)
    np.testing.assert_allclose(ev["survival"], sf.surv_prob, atol=1e-8, rtol=0)
    np.testing.assert_allclose(ev["se"], sf.surv_prob_se, atol=1e-8, rtol=0)
    # truncation changes the answer (else the test above would prove nothing about entry)
    plain = km_table(rossi, duration="week", event="arrest")
    assert abs(plain["survival"].iloc[-1] - km["survival"].iloc[-1]) > 0.01


def test_km_at_risk_brute_force(rossi):
    km = km_table(rossi, duration="week", event="arrest", entry="entry")
    e, t = rossi["entry"].to_numpy(), rossi["week"].to_numpy()
    rows = km.iloc[1:]
    brute = [int(((e < x) & (x <= t)).sum()) for x in rows["time"]]
    assert rows["at_risk"].tolist() == brute
    assert km["entered"].sum() == len(rossi)
    assert km["events"].sum() == rossi["arrest"].sum()
    assert km["censored"].sum() == (1 - rossi["arrest"]).sum()


def test_km_ci_matches_lifelines(rossi):
    kmf = KaplanMeierFitter().fit(rossi["week"], rossi["arrest"])
    km = km_table(rossi, duration="week", event="arrest")
    ci = kmf.confidence_interval_
    np.testing.assert_allclose(km["time"], ci.index.to_numpy())
    np.testing.assert_allclose(km["survival"], kmf.survival_function_.iloc[:, 0], atol=1e-10)
    np.testing.assert_allclose(km["ci_low"], ci.iloc[:, 0], atol=1e-8)
    np.testing.assert_allclose(km["ci_high"], ci.iloc[:, 1], atol=1e-8)


def test_weighted_km_hand_example_left_truncation(tiny_lt):
    # weights A..E = 2, 1, 1, 3, 1; risk sets as in tiny_lt, weighted:
    # t=2 {A,B,C} n=4 d=2 -> S = 1/2; t=3 {B,C,D} n=5 d=1 -> 2/5; t=4 {D,E} n=4 d=3 -> 1/10
    km = km_table(tiny_lt.assign(w=[2.0, 1, 1, 3, 1]), entry="entry", weights="w")
    assert km["time"].tolist() == [0, 1, 2, 3, 4, 5]
    assert km["at_risk"].tolist() == [3, 3, 4, 5, 4, 1]  # 3 at the origin: A and B
    assert km["entered"].tolist() == [3, 1, 3, 1, 0, 0]
    assert km["events"].tolist() == [0, 0, 2, 1, 3, 0]
    assert km["censored"].tolist() == [0, 0, 0, 1, 0, 1]
    np.testing.assert_allclose(km["survival"], [1, 1, 0.5, 0.4, 0.1, 0.1], rtol=1e-15)
    assert km[["se", "ci_low", "ci_high"]].isna().all().all()
    with pytest.raises(ValueError, match="'w' \\(weights\\) must be finite and >= 0"):
        km_table(tiny_lt.assign(w=[1.0, -1, 1, 1, 1]), entry="entry", weights="w")


def test_weighted_km_matches_lifelines(rossi):
    # lifelines' KaplanMeierFitter(weights=...): tied whole weeks, no truncation
    w = np.random.default_rng(4).uniform(0.2, 3.0, len(rossi))
    km = km_table(rossi.assign(w=w), duration="week", event="arrest", group="fin", weights="w")
    for g, sub in rossi.assign(w=w).groupby("fin"):
        with pytest.warns(StatisticalWarning, match="weights are not integers"):
            kmf = KaplanMeierFitter().fit(sub["week"], sub["arrest"], weights=sub["w"])
        ours = km[km["group"] == g]
        ref = kmf.survival_function_.iloc[:, 0]
        np.testing.assert_allclose(ours["time"], ref.index.to_numpy())
        np.testing.assert_allclose(ours["survival"], ref.to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours["at_risk"].iloc[1:],
                                   kmf.event_table["at_risk"].iloc[1:], rtol=1e-12)


def test_weighted_km_matches_lifelines_left_truncation():
    # continuous entry times never equal an event time, so lifelines' convention (an entrant is
    # at risk at its entry time) and ours (entry < t) give the same risk sets
    rng = np.random.default_rng(8)
    n = 600
    entry = rng.uniform(0, 10, n)
    t = entry + rng.exponential(12, n)
    c = entry + rng.uniform(1, 30, n)
    d = pd.DataFrame({"entry": entry, "duration": np.minimum(t, c), "event": (t <= c).astype(int),
                      "w": rng.uniform(0.5, 2.0, n)})
    km = km_table(d, entry="entry", weights="w")
    with pytest.warns(StatisticalWarning, match="weights are not integers"):
        kmf = KaplanMeierFitter().fit(d["duration"], d["event"], entry=d["entry"],
                                      weights=d["w"])
    at = km["time"].to_numpy()[1:]
    ref = kmf.survival_function_at_times(at).to_numpy()
    np.testing.assert_allclose(km["survival"].to_numpy()[1:], ref, rtol=1e-12)
    assert 0.01 < km["survival"].iloc[-1] < 0.5


def test_km_categorical_group_order_and_alpha(rossi):
    km = km_table(rossi, duration="week", event="arrest", group="prio_band", alpha=0.1)
    assert list(pd.unique(km["group"])) == ["0-1", "2-4", "5+"]
    km95 = km_table(rossi, duration="week", event="arrest", group="prio_band")
    inside = km["survival"] < 1
    assert (km.loc[inside, "ci_high"] - km.loc[inside, "ci_low"]
            < km95.loc[inside, "ci_high"] - km95.loc[inside, "ci_low"]).all()


def test_numbers_at_risk_reads_the_table(tiny_lt):
    km = km_table(tiny_lt, entry="entry")
    got = numbers_at_risk(km, [0, 0.5, 2, 2.5, 4.5, 6])
    # (entry < t <= duration) brute force for t > 0; origin gives those entering at 0
    assert got["at_risk"].tolist() == [2, 2, 3, 3, 1, 0]


# ------------------------------------------------------------------------------ survival_at


def test_survival_at(tiny):
    res = survival_at(tiny, [0, 1, 2.5, 4, 10])
    np.testing.assert_allclose(res["survival"].iloc[:4], [1, 0.8, 0.6, 0.3])
    assert np.isnan(res["survival"].iloc[4]) and np.isnan(res["ci_low"].iloc[4])
    assert "beyond last follow-up" in res["note"].iloc[4]
    assert res["note"].iloc[:4].tolist() == [""] * 4
    assert res["at_risk"].tolist() == [5, 5, 2, 1, 0]
    km = km_table(tiny)
    assert res["ci_low"].iloc[2] == pytest.approx(km["ci_low"].iloc[2])


def test_survival_at_matches_lifelines(rossi):
    res = survival_at(rossi, [10.5, 26, 52], duration="week", event="arrest", group="fin")
    for fin, sub in rossi.groupby("fin"):
        kmf = KaplanMeierFitter().fit(sub["week"], sub["arrest"])
        ours = res[res["group"] == fin]["survival"].to_numpy()
        np.testing.assert_allclose(ours, kmf.survival_function_at_times([10.5, 26, 52]),
                                   atol=1e-10)


def test_survival_at_before_first_entry(tiny_lt):
    df = tiny_lt.assign(entry=tiny_lt["entry"] + 0.5)
    res = survival_at(df, [0.2, 2.5], entry="entry")
    assert np.isnan(res["survival"].iloc[0]) and "before the first entry" in res["note"].iloc[0]
    assert res["survival"].iloc[1] == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------ median


def test_median_matches_lifelines():
    w = load_waltons()
    res = median_survival(w, duration="T", event="E", group="group").set_index("group")
    for g, sub in w.groupby("group"):
        kmf = KaplanMeierFitter().fit(sub["T"], sub["E"])
        ci = median_survival_times(kmf.confidence_interval_)
        assert res.at[g, "median"] == kmf.median_survival_time_
        assert res.at[g, "ci_low"] == ci.iloc[0, 0]
        assert res.at[g, "ci_high"] == ci.iloc[0, 1]
    assert res.at["miR-137", "median"] == 26.0 and res.at["control", "median"] == 58.0
    assert (res.at["miR-137", "ci_low"], res.at["miR-137", "ci_high"]) == (19.0, 29.0)


def test_median_not_reached_is_nan(tiny):
    df = tiny.assign(event=[1, 0, 0, 0, 0])
    res = median_survival(df)
    assert np.isnan(res["median"].iloc[0]) and np.isnan(res["ci_high"].iloc[0])
    assert median_survival(tiny)["median"].iloc[0] == 3.0


# ------------------------------------------------------------------------------ log-rank


def test_logrank_two_groups_vs_lifelines_and_statsmodels(rossi):
    res = logrank(rossi, group="fin", duration="week", event="arrest")
    assert isinstance(res, TestResult)
    ll = multivariate_logrank_test(rossi["week"], rossi["fin"], rossi["arrest"])
    sm_chi2, sm_p = survdiff(rossi["week"].to_numpy(), rossi["arrest"].to_numpy(),
                             rossi["fin"].to_numpy())
    assert res.chi2 == pytest.approx(ll.test_statistic, abs=1e-6)
    assert res.p == pytest.approx(ll.p_value, abs=1e-6)
    assert res.chi2 == pytest.approx(sm_chi2, abs=1e-6)
    assert res.p == pytest.approx(sm_p, abs=1e-6)
    assert res.df == 1
    assert res.chi2 == pytest.approx(3.8376, abs=1e-4)  # R: survdiff(Surv(week, arrest) ~ fin)
    s = res.summary
    assert s["n"].tolist() == [216, 216]
    assert s["observed"].tolist() == [66, 48]
    assert s["expected"].sum() == pytest.approx(114)
    # two groups: chi2 = (O-E)^2 / V
    assert res.chi2 == pytest.approx(s["o_minus_e"].iloc[0] ** 2 / s["variance"].iloc[0])


def test_logrank_three_groups(rossi):
    res = logrank(rossi, group="prio_band", duration="week", event="arrest")
    ll = multivariate_logrank_test(rossi["week"], rossi["prio_band"].astype(str), rossi["arrest"])
    sm_chi2, sm_p = survdiff(rossi["week"].to_numpy(), rossi["arrest"].to_numpy(),
                             rossi["prio_band"].astype(str).to_numpy())
    assert res.df == 2
    assert res.chi2 == pytest.approx(ll.test_statistic, abs=1e-6)
    assert res.chi2 == pytest.approx(sm_chi2, abs=1e-6)
    assert res.p == pytest.approx(sm_p, abs=1e-6)


def test_logrank_left_truncation_vs_statsmodels(rossi):
    res = logrank(rossi, group="fin", duration="week", event="arrest", entry="entry")
    sm_chi2, sm_p = survdiff(rossi["week"].to_numpy(), rossi["arrest"].to_numpy(),
                             rossi["fin"].to_numpy(), entry=rossi["entry"].to_numpy())
    assert res.chi2 == pytest.approx(sm_chi2, abs=1e-6)
    assert res.p == pytest.approx(sm_p, abs=1e-6)
    plain = logrank(rossi, group="fin", duration="week", event="arrest")
    assert abs(res.chi2 - plain.chi2) > 0.05
    res3 = logrank(rossi, group="prio_band", duration="week", event="arrest", entry="entry")
    sm3, _ = survdiff(rossi["week"].to_numpy(), rossi["arrest"].to_numpy(),
                      rossi["prio_band"].astype(str).to_numpy(),
                      entry=rossi["entry"].to_numpy())
    assert res3.chi2 == pytest.approx(sm3, abs=1e-6)


def test_logrank_insufficient_data(rossi):
    with pytest.raises(InsufficientDataError, match="only one group"):
        logrank(rossi[rossi["fin"] == 1], group="fin", duration="week", event="arrest")
    with pytest.raises(InsufficientDataError, match="no events"):
        logrank(rossi.assign(arrest=0), group="fin", duration="week", event="arrest")
    assert issubclass(InsufficientDataError, ValueError)


# ------------------------------------------------------------------------------ RMST


def test_rmst_hand_example(tiny):
    res = rmst(tiny, [4, 2.5])
    # tau = 4: area = 1*1 + 0.8*1 + 0.6*1 + 0.3*1 = 2.7
    # A(1) = 0.8+0.6+0.3 = 1.7, A(2) = 0.9, A(3) = 0.3
    var4 = 1.7**2 / (5 * 4) + 0.9**2 / (4 * 3) + 0.3**2 / (2 * 1)
    # tau = 2.5: area = 1 + 0.8 + 0.6*0.5 = 2.1; A(1) = 0.8 + 0.3 = 1.1, A(2) = 0.3
    var25 = 1.1**2 / 20 + 0.3**2 / 12
    np.testing.assert_allclose(res["rmst"], [2.7, 2.1], atol=1e-12)
    np.testing.assert_allclose(res["se"], np.sqrt([var4, var25]), atol=1e-12)
    np.testing.assert_allclose(res["ci_low"], res["rmst"] - Z * res["se"])
    assert res["tau"].tolist() == [4.0, 2.5]
    # lifelines' return_variance is the variance of min(T, tau) (1.21 here), not of the estimate
    kmf = KaplanMeierFitter().fit(tiny["duration"], tiny["event"])
    est, var_min = restricted_mean_survival_time(kmf, t=4, return_variance=True)
    assert est == pytest.approx(2.7)
    assert var_min == pytest.approx(1.21) and res["se"].iloc[0] ** 2 == pytest.approx(0.257)


def test_rmst_hand_example_left_truncation(tiny_lt):
    res = rmst(tiny_lt, 4.5, entry="entry")
    # S = 1 on [0,2), 2/3 on [2,3), 4/9 on [3,4), 2/9 on [4,4.5)
    area = 2 + 2 / 3 + 4 / 9 + 2 / 9 * 0.5
    a2, a3, a4 = 2 / 3 + 4 / 9 + 1 / 9, 4 / 9 + 1 / 9, 1 / 9
    var = a2**2 / (3 * 2) + a3**2 / (3 * 2) + a4**2 / (2 * 1)
    assert res["rmst"].iloc[0] == pytest.approx(area, rel=1e-12)
    assert res["se"].iloc[0] == pytest.approx(np.sqrt(var), rel=1e-12)


def test_rmst_beyond_follow_up_is_nan(tiny):
    res = rmst(tiny, 5)
    assert np.isnan(res["rmst"].iloc[0]) and "beyond last follow-up" in res["note"].iloc[0]


def test_rmst_point_estimate_matches_lifelines(rossi):
    kmf = KaplanMeierFitter().fit(rossi["week"], rossi["arrest"])
    res = rmst(rossi, [20, 40.5, 52], duration="week", event="arrest")
    for tau, ours in zip([20, 40.5, 52], res["rmst"]):
        assert ours == pytest.approx(restricted_mean_survival_time(kmf, t=tau), abs=1e-8)


def test_rmst_no_censoring_se_is_sd_over_sqrt_n():
    rng = np.random.default_rng(7)
    t = rng.exponential(10, 300)
    res = rmst(pd.DataFrame({"duration": t, "event": 1}), 12)
    m = np.minimum(t, 12)
    assert res["rmst"].iloc[0] == pytest.approx(m.mean(), rel=1e-12)
    # without censoring the Greenwood-type variance is exactly var(min(T, tau), ddof=0) / n
    assert res["se"].iloc[0] == pytest.approx(m.std(ddof=0) / np.sqrt(len(t)), rel=1e-9)


def _exp_sample(rng, n, lam, cens_max, entry_max=0.0):
    entry = rng.uniform(0, entry_max, n) if entry_max > 0 else np.zeros(n)
    t = entry + rng.exponential(1 / lam, n)  # memoryless: truncated at entry
    c = entry + rng.uniform(1, cens_max, n)
    return pd.DataFrame({"entry": entry, "duration": np.minimum(t, c),
                         "event": (t <= c).astype(int)})


def test_rmst_exponential_closed_form_large_n():
    rng = np.random.default_rng(11)
    lam, tau = 0.05, 24.0
    truth = (1 - np.exp(-lam * tau)) / lam
    df = _exp_sample(rng, 20000, lam, cens_max=60)
    res = rmst(df, tau)
    assert abs(res["rmst"].iloc[0] - truth) < 3 * res["se"].iloc[0]
    assert res["se"].iloc[0] < 0.1
    # left truncated (entry < 6) still estimates the same RMST (S = 1 before 0 is exact here)
    df_lt = _exp_sample(rng, 20000, lam, cens_max=60, entry_max=6)
    res_lt = rmst(df_lt, tau, entry="entry")
    assert abs(res_lt["rmst"].iloc[0] - truth) < 3 * res_lt["se"].iloc[0]
    # ignoring truncation is biased upwards (customers who left before entry are missing)
    naive = rmst(df_lt, tau)["rmst"].iloc[0]
    assert naive - truth > 3 * res_lt["se"].iloc[0]


def test_rmst_se_matches_empirical_sd():
    rng = np.random.default_rng(2024)
    reps, n, lam, tau = 300, 80, 0.05, 24.0
    frames = [_exp_sample(rng, n, lam, cens_max=50).assign(rep=r) for r in range(reps)]
    res = rmst(pd.concat(frames, ignore_index=True), tau, group="rep")
    assert len(res) == reps
    ratio = res["se"].mean() / res["rmst"].std(ddof=1)
    assert ratio == pytest.approx(1.0, abs=0.10)


def test_rmst_difference(rossi):
    taus = [26, 52]
    diff = rmst_difference(rossi, taus, group="fin", duration="week", event="arrest")
    per = rmst(rossi, taus, duration="week", event="arrest", group="fin")
    a = per[per["group"] == 1].set_index("tau")
    b = per[per["group"] == 0].set_index("tau")
    assert diff["group"].tolist() == [1, 1] and diff["reference"].tolist() == [0, 0]
    for _, row in diff.iterrows():
        d = a.at[row["tau"], "rmst"] - b.at[row["tau"], "rmst"]
        se = np.hypot(a.at[row["tau"], "se"], b.at[row["tau"], "se"])
        assert row["difference"] == pytest.approx(d)
        assert row["se"] == pytest.approx(se)
        assert row["ci_high"] == pytest.approx(d + Z * se)
        assert row["p"] == pytest.approx(2 * stats.norm.sf(abs(d) / se))
    assert diff["difference"].iloc[1] > 0  # financial aid: longer time to re-arrest
    flipped = rmst_difference(rossi, 52, group="fin", reference=1, duration="week",
                              event="arrest")
    assert flipped["difference"].iloc[0] == pytest.approx(-diff["difference"].iloc[1])
    with pytest.raises(ValueError, match="reference"):
        rmst_difference(rossi, 52, group="fin", reference=3, duration="week", event="arrest")
    with pytest.raises(InsufficientDataError):
        rmst_difference(rossi[rossi["fin"] == 0], 52, group="fin", duration="week",
                        event="arrest")


# ------------------------------------------------------------------------------ hazard


def test_hazard_by_tenure_hand_example(tiny_lt):
    haz = hazard_by_tenure(tiny_lt, entry="entry", bandwidth=0)
    assert haz["time"].tolist() == [1, 2, 3, 4, 5]
    # month (0,1]: A, B; (1,2]: A, B, C; (2,3]: B, C, D; (3,4]: D, E; (4,5]: E
    assert haz["person_months"].tolist() == [2, 3, 3, 2, 1]
    assert haz["at_risk"].tolist() == [2, 3, 3, 2, 1]
    assert haz["events"].tolist() == [0, 1, 1, 1, 0]
    np.testing.assert_allclose(haz["hazard"], [0, 1 / 3, 1 / 3, 1 / 2, 0])
    np.testing.assert_allclose(haz["hazard_smooth"], haz["hazard"])
    # exact Poisson interval with no smoothing: 0 events in 2 person-months
    assert haz["smooth_ci_high"].iloc[0] == pytest.approx(-np.log(0.025) / 2, rel=1e-9)
    assert haz["smooth_ci_low"].iloc[0] == 0


def test_hazard_fractional_exposure():
    df = pd.DataFrame({"entry": [0.5, 0.0], "duration": [2.25, 1.0], "event": [1, 0]})
    haz = hazard_by_tenure(df, entry="entry", bandwidth=0)
    np.testing.assert_allclose(haz["person_months"], [1.5, 1.0, 0.25])
    assert haz["events"].tolist() == [0, 0, 1]
    assert haz["hazard"].iloc[2] == pytest.approx(4.0)


def test_hazard_equals_km_discrete_hazard_on_whole_months(rossi):
    haz = hazard_by_tenure(rossi, duration="week", event="arrest", entry="entry", bandwidth=0)
    km = km_table(rossi, duration="week", event="arrest", entry="entry")
    ev = km[km["events"] > 0].set_index("time")
    h = haz.set_index("time").loc[ev.index]
    np.testing.assert_allclose(h["hazard"], ev["events"] / ev["at_risk"], rtol=1e-12)
    np.testing.assert_array_equal(h["at_risk"], ev["at_risk"])


def test_hazard_recovers_constant_hazard():
    rng = np.random.default_rng(3)
    lam = 0.03
    df = _exp_sample(rng, 20000, lam, cens_max=48, entry_max=24)
    haz = hazard_by_tenure(df, entry="entry", bandwidth=6)
    busy = haz[haz["person_months"] > 3000]
    assert len(busy) > 30
    np.testing.assert_allclose(busy["hazard_smooth"], lam, rtol=0.12)
    # neighbouring months share data, so one sample's coverage is lumpy: calibration is
    # checked over replicates in test_hazard_smooth_ci_is_calibrated
    covered = (busy["smooth_ci_low"] <= lam) & (lam <= busy["smooth_ci_high"])
    assert covered.mean() >= 0.75
    overall = haz["events"].sum() / haz["person_months"].sum()
    assert overall == pytest.approx(lam, rel=0.03)
    # smoothing narrows the interval compared with the raw monthly rate
    raw = hazard_by_tenure(df, entry="entry", bandwidth=0)
    width = lambda h: (h["smooth_ci_high"] - h["smooth_ci_low"])[h["person_months"] > 3000]
    assert (width(haz) < width(raw)).all()


def test_hazard_smooth_ci_is_calibrated():
    rng = np.random.default_rng(2)
    lam, reps = 0.03, 200
    frames = [_exp_sample(rng, 1000, lam, cens_max=48, entry_max=24).assign(rep=r)
              for r in range(reps)]
    haz = hazard_by_tenure(pd.concat(frames, ignore_index=True), entry="entry", bandwidth=6,
                           group="rep")
    for month in (20.0, 40.0):
        h = haz[haz["time"] == month]
        assert len(h) == reps
        assert h["hazard_smooth"].mean() == pytest.approx(lam, rel=0.03)
        implied_se = ((h["smooth_ci_high"] - h["smooth_ci_low"]) / (2 * Z)).mean()
        assert h["hazard_smooth"].std() / implied_se == pytest.approx(1.0, abs=0.15)
        covered = (h["smooth_ci_low"] <= lam) & (lam <= h["smooth_ci_high"])
        assert covered.mean() >= 0.9


def test_hazard_peak_is_found():
    rng = np.random.default_rng(5)
    n = 8000
    # hazard 0.01 except 0.08 in months 10-14: the peak the report must show
    t = np.full(n, 60.0)
    ev = np.zeros(n, int)
    alive = np.ones(n, bool)
    for m in range(1, 61):
        h = 0.08 if 10 <= m <= 14 else 0.01
        leave = alive & (rng.random(n) < h)
        t[leave], ev[leave] = m, 1
        alive &= ~leave
    haz = hazard_by_tenure(pd.DataFrame({"duration": t, "event": ev}), bandwidth=3)
    peak = haz.loc[haz["hazard_smooth"].idxmax(), "time"]
    assert 10 <= peak <= 14


# ------------------------------------------------------------------------------ attrition rates


def test_attrition_rates_by_hand():
    df = pd.DataFrame(
        {
            "tier": [1, 1, 1, 1, 2, 2, 2],
            "entry": [0, 0, 6, 12, 0, 0, 0],
            "duration": [12, 24, 18, 36, 6, 12, 48],
            "event": [1, 0, 1, 1, 0, 0, 0],
        }
    )
    res = attrition_rates(df, by="tier", entry="entry").set_index("tier")
    assert res["n"].tolist() == [4, 3]
    assert res["events"].tolist() == [3, 0]
    # person-months: tier 1 = 12 + 24 + 12 + 24 = 72; tier 2 = 6 + 12 + 48 = 66
    assert res["person_months"].tolist() == [72, 66]
    assert res.at[1, "share_leaving"] == 0.75
    # 3 events in 6 person-years = 50 per 100 person-years
    assert res.at[1, "rate_per_100_person_years"] == pytest.approx(50.0)
    assert res.at[2, "rate_per_100_person_years"] == 0
    # Wilson interval, 3/4, by the formula and statsmodels
    p, n = 0.75, 4
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    assert res.at[1, "share_ci_low"] == pytest.approx(centre - half)
    assert res.at[1, "share_ci_high"] == pytest.approx(centre + half)
    lo, hi = proportion_confint(3, 4, method="wilson")
    assert (res.at[1, "share_ci_low"], res.at[1, "share_ci_high"]) == pytest.approx((lo, hi))
    assert res.at[1, "share_ci_low"] == pytest.approx(0.300641, abs=1e-6)
    # Garwood exact Poisson for 3 events: (0.618672, 8.767273) events, over 6 person-years
    assert res.at[1, "rate_ci_low"] == pytest.approx(100 * 0.618672 / 6, rel=1e-5)
    assert res.at[1, "rate_ci_high"] == pytest.approx(100 * 8.767273 / 6, rel=1e-5)
    # 0 events in 5.5 person-years: upper = -ln(0.025) = 3.688879 events
    assert res.at[2, "rate_ci_low"] == 0
    assert res.at[2, "rate_ci_high"] == pytest.approx(100 * 3.688879 / 5.5, rel=1e-6)


def test_attrition_rates_without_entry_uses_full_duration():
    df = pd.DataFrame({"seg": ["a", "a", "b"], "duration": [12, 12, 6], "event": [1, 0, 1]})
    res = attrition_rates(df, by="seg")
    assert res["seg"].tolist() == ["a", "b"]
    assert res["person_months"].tolist() == [24, 6]
    np.testing.assert_allclose(res["rate_per_100_person_years"], [50.0, 200.0])


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.drop(columns="event"), r"\['event'\] not found"),
        (lambda d: d.assign(duration=[1, -2, 2, 3, 4]), r"negative values in rows \[1\]"),
        (lambda d: d.assign(duration=[1, np.nan, 2, 3, 4]), r"missing or infinite.*\[1\]"),
        (lambda d: d.assign(event=[1, 2, 0, 1, 0]), r"must be 0 or 1.*\[1\]"),
        (lambda d: d.assign(event=[1, np.nan, 0, 1, 0]), r"must be 0 or 1.*\[1\]"),
        (lambda d: d.assign(duration=["a", 2, 2, 3, 4]), r"'duration' must be numeric"),
    ],
)
def test_validation_errors(tiny, change, message):
    with pytest.raises(ValueError, match=message):
        km_table(change(tiny))


def test_validation_entry_and_group(tiny_lt):
    bad = tiny_lt.assign(entry=[0, 3, 1, 2, 3])
    with pytest.raises(ValueError, match=r"greater than 'entry'.*\['B'\]"):
        km_table(bad, entry="entry")
    with pytest.raises(ValueError, match=r"'g' has missing values in rows \['C'\]"):
        km_table(tiny_lt.assign(g=["x", "x", None, "y", "y"]), group="g")
    with pytest.raises(InsufficientDataError, match="no customers"):
        km_table(tiny_lt.iloc[:0])
    with pytest.raises(ValueError, match="tau"):
        rmst(tiny_lt, -1)
    with pytest.raises(ValueError, match=r"\['nope'\] not found"):
        attrition_rates(tiny_lt, by="nope")


def test_no_events_is_fine_for_descriptives(tiny):
    df = tiny.assign(event=0)
    km = km_table(df)
    assert (km["survival"] == 1).all()
    res = rmst(df, 4)
    assert res["rmst"].iloc[0] == 4 and res["se"].iloc[0] == 0
