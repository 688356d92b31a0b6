"""The Cox hazard ratio on pooled arms from survival curves (the g-formula's marginal HR)."""

import numpy as np
import pandas as pd
import pytest

from analysis.data.causal_truth import grouped_efron_hr
from analysis.stats.pooled_cox import pooled_cox_log_hr


def _curves_and_arms(n: int, seed: int = 5):
    """Arms of ``n`` customers with different, time-varying monthly hazards, and their curves."""
    rng = np.random.default_rng(seed)
    curves, arms = {}, []
    for k in (1, 2, 3, 4):
        h = 0.03 * 0.8 ** k * (1 + 0.5 * np.exp(-np.arange(1, 37) / 6))  # non-constant
        T = np.full(n, 37)
        alive = np.ones(n, dtype=bool)
        for s in range(1, 37):
            leave = alive & (rng.random(n) < h[s - 1])
            T[leave] = s
            alive &= ~leave
        ev = T <= 36
        T = np.minimum(T, 36)
        arms.append({"T": T, "event": ev})
        # the arm's empirical survival curve S(0..36)
        curves[f"static_{k}"] = np.r_[1.0, [1 - (ev & (T <= s)).mean() for s in range(1, 37)]]
    return curves, arms


def test_pooled_hr_from_curves_matches_the_truths_efron_fit_on_large_arms():
    """The Efron limit on curves equals the exact Efron fit on 200,000 rows per arm (the
    simulated truth's implementation) to 1e-4 on the log scale."""
    curves, arms = _curves_and_arms(200_000)
    x = {f"static_{k}": k for k in (1, 2, 3, 4)}
    exact = grouped_efron_hr(arms, [1, 2, 3, 4])
    assert pooled_cox_log_hr(curves, x) == pytest.approx(exact, abs=1e-4)
    assert exact == pytest.approx(np.log(0.8), abs=0.01)  # proportional hazards built in


def test_pooled_hr_matches_lifelines_on_the_rows_of_small_arms():
    """On 3,000 customers per arm Efron's exact sums differ from their limit only slightly;
    lifelines (an independent Cox implementation) on the individual rows agrees to 2e-3."""
    from lifelines import CoxPHFitter

    curves, arms = _curves_and_arms(3000, seed=11)
    rows = pd.concat([pd.DataFrame({"T": a["T"], "E": a["event"].astype(int), "k": float(k)})
                      for k, a in zip((1, 2, 3, 4), arms)])
    cph = CoxPHFitter().fit(rows, "T", "E")
    x = {f"static_{k}": k for k in (1, 2, 3, 4)}
    assert pooled_cox_log_hr(curves, x) == pytest.approx(cph.params_["k"], abs=2e-3)


def test_pooled_hr_closed_form_and_horizon():
    """Two arms with constant hazards: the HR is the hazard ratio (up to the grouping into
    months); a shorter horizon uses fewer months; an increasing curve is refused."""
    t = np.arange(37)
    s = {"a": (1 - 0.04) ** t, "b": (1 - 0.02) ** t}
    # continuous-time hazards -log(1 - p): 0.0408 and 0.0202
    assert np.exp(pooled_cox_log_hr(s, {"a": 0, "b": 1})) == pytest.approx(
        np.log(1 - 0.02) / np.log(1 - 0.04), abs=0.01)
    assert pooled_cox_log_hr(s, {"a": 0, "b": 1}, horizon=12) == pytest.approx(
        pooled_cox_log_hr({k: v[:13] for k, v in s.items()}, {"a": 0, "b": 1}), abs=1e-9)
    with pytest.raises(ValueError, match="increases"):
        pooled_cox_log_hr({"a": np.r_[1.0, 0.9, 0.95], "b": np.r_[1.0, 0.9, 0.8]},
                          {"a": 0, "b": 1})
