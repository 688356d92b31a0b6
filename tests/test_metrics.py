"""Held-out accuracy: scikit-survival's metrics against second computations, calibration, horizons."""

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from sksurv.metrics import brier_score, concordance_index_censored
from sksurv.util import Surv

from analysis.stats import metrics
from analysis.errors import InsufficientDataError
from analysis.stats.km import survival_at


def test_brier_score_matches_a_hand_ipcw_computation():
    # Censoring distribution from the training data (reverse Kaplan-Meier, events leave first):
    # t=1: n=8, d=1, c=0 -> G=1; t=2: n=7, d=1, c=1 -> G=5/6; t=3: G=5/6;
    # t=4: n=4, c=1 -> G=5/6*3/4=0.625; t=5: n=3, d=1, c=1 -> G=0.3125.
    train_t = np.array([1, 2, 2, 3, 4, 5, 5, 6.0])
    train_e = np.array([1, 0, 1, 1, 0, 1, 0, 0])
    test_t = np.array([1, 2, 3, 4, 5.0])
    test_e = np.array([1, 1, 0, 1, 0])
    surv = np.array([0.5, 0.6, 0.7, 0.8, 0.9])  # predicted survival at t = 3
    # cases (T <= 3, event): S^2 / G(T): 0.25/1 + 0.36/(5/6); censored at 3: 0;
    # controls (T > 3): (1-S)^2 / G(3): 0.04/(5/6) + 0.01/(5/6)
    by_hand = (0.25 + 0.36 / (5 / 6) + 0.04 / (5 / 6) + 0.01 / (5 / 6)) / 5
    assert by_hand == pytest.approx(0.1484)
    acc = metrics.accuracy(train_t, train_e, test_t, test_e, (1 - surv)[:, None], [3.0])
    assert acc.table["brier"].iloc[0] == pytest.approx(by_hand, abs=1e-12)
    # null model: training Kaplan-Meier at 3 = 7/8 * 6/7 * 4/5 = 0.6 for everyone
    null_by_hand = (0.6**2 + 0.6**2 / (5 / 6) + 0.4**2 / (5 / 6) + 0.4**2 / (5 / 6)) / 5
    assert null_by_hand == pytest.approx(0.2352)
    assert acc.table["brier_null"].iloc[0] == pytest.approx(null_by_hand, abs=1e-12)
    assert acc.table["ipa"].iloc[0] == pytest.approx(1 - by_hand / null_by_hand, abs=1e-12)


def test_harrell_concordance_matches_lifelines():
    rng = np.random.default_rng(3)
    t = rng.integers(1, 30, 800).astype(float)  # monthly ties
    e = rng.random(800) < 0.5
    risk = rng.normal(size=800) - 0.02 * t
    risk[:100] = np.round(risk[:100])  # tied scores
    ours = concordance_index_censored(e, t, risk)[0]
    assert ours == pytest.approx(concordance_index(t, -risk, e), abs=1e-12)
    # inside accuracy(): follow-up censored after the last horizon, score = risk at it
    acc = metrics.accuracy(t, e, t, e, np.column_stack([risk, risk]), [5.0, 20.0])
    tc, ec = metrics.censor_after(t, e, 20.0)
    assert acc.c_harrell == pytest.approx(concordance_index(tc, -risk, ec), abs=1e-12)


def test_conditional_risk_and_step_function():
    H0 = pd.Series([0.1, 0.3, 0.6], index=[1.0, 2.0, 5.0])
    assert metrics.step_at(H0, [0.5, 1, 1.5, 2, 4.9, 5, 9]).tolist() == [0, 0.1, 0.1, 0.3, 0.3, 0.6, 0.6]
    r = metrics.conditional_risk(H0, lp=[0.0, np.log(2)], entry=[0.0, 1.0], horizons=[1, 4])
    np.testing.assert_allclose(r[0], [1 - np.exp(-0.1), 1 - np.exp(-0.3)])
    np.testing.assert_allclose(r[1], [1 - np.exp(-2 * 0.2), 1 - np.exp(-2 * 0.5)])


def test_horizons_are_clipped_inside_the_follow_up():
    hs, notes = metrics.clip_horizons([12, 24, 36], test_time=[1, 5, 20, 35, 36], train_time=[3, 36])
    assert hs == [12.0, 24.0, 35.0]
    assert "measured at 35" in notes[0]
    hs, notes = metrics.clip_horizons([12, 24], test_time=[1, 5, 10])
    assert hs == [5.0]
    with pytest.raises(InsufficientDataError):
        metrics.clip_horizons([12], test_time=[3.0, 3.0])


def test_censor_after_keeps_everything_up_to_the_cut():
    t, e = metrics.censor_after([1, 5, 35, 36, 36], [1, 1, 1, 1, 0], 35)
    assert t.tolist() == [1, 5, 35, 35.5, 35.5] and e.tolist() == [1, 1, 1, 0, 0]


def test_calibration_index_small_when_calibrated_large_when_not():
    rng = np.random.default_rng(5)
    n = 3000
    x = rng.normal(size=n)
    lam = 0.05 * np.exp(0.8 * x)
    t = rng.exponential(1 / lam)
    time, event = np.minimum(t, 10.0), (t <= 10).astype(int)
    true_risk = 1 - np.exp(-5 * lam)
    good = metrics.calibration(time, event, true_risk, 5.0)
    bad = metrics.calibration(time, event, 0.5 * true_risk, 5.0)
    assert good.ici < 0.015 < 0.05 < bad.ici
    assert len(good.groups) == 10 and good.groups["n"].sum() == n
    obs = good.groups["observed"].to_numpy()
    assert np.all(np.abs(obs - good.groups["predicted"].to_numpy()) < 0.06)
    with pytest.raises(InsufficientDataError):
        metrics.calibration(time[:20], np.zeros(20), true_risk[:20], 5.0)


def _km_by_definition(time, event, at):
    """The former ``metrics._km``: Kaplan-Meier by its definition, one risk set per event time."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    ut = np.unique(time[event])
    n_risk = np.array([(time >= t).sum() for t in ut])
    d = np.array([((time == t) & event).sum() for t in ut])
    s = np.cumprod(1 - d / n_risk)
    idx = np.searchsorted(ut, np.asarray(at, dtype=float), side="right") - 1
    return np.r_[1.0, s][idx + 1]


def test_null_brier_uses_the_kaplan_meier_of_stats_km_bit_for_bit():
    # metrics used to count its own risk sets (O(n K) loop); it now reads stats.km.survival_at.
    # The null model's survival must be the same to the last bit, so no report number moves.
    rng = np.random.default_rng(11)
    t = rng.integers(1, 40, 3000).astype(float)
    e = rng.random(3000) < 0.3
    hs = [3.0, 12.0, 24.0, 36.0]
    tc, ec = metrics.censor_after(t, e, max(hs))
    ref = _km_by_definition(tc, ec, hs)
    ours = survival_at(pd.DataFrame({"t": tc, "e": ec.astype(int)}), hs, duration="t", event="e")
    np.testing.assert_array_equal(ours["survival"].to_numpy(), ref)
    # and through accuracy(): the null Brier score is scikit-survival's for these survivals
    acc = metrics.accuracy(t, e, t, e, rng.random((len(t), len(hs))), hs)
    y_train = Surv.from_arrays(event=ec, time=tc)
    _, bs0 = brier_score(y_train, y_train, np.tile(ref, (len(t), 1)), hs)
    np.testing.assert_array_equal(acc.table["brier_null"].to_numpy(), bs0)
