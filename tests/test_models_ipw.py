"""Inverse probability weighting: weights, balance, weighted curves, marginal HR."""

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.stats.cox.lifelines_fit import fit_cox
from analysis.stats.ipw import (
    balance_table,
    iptw_cox,
    propensity_scores,
    stabilised_weights,
    weighted_km,
)
from analysis.errors import InsufficientDataError
from analysis.stats.km import km_table

warnings.filterwarnings("ignore", module="lifelines")


def _confounded(n=4000, seed=1, effect=np.log(0.7)):
    """x raises the chance of exposure and lowers the hazard: a naive HR is too protective."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    a = (rng.random(n) < 1 / (1 + np.exp(-(0.2 + 1.2 * x)))).astype(float)
    t = rng.exponential(1 / (0.05 * np.exp(effect * a - 0.7 * x)))
    t = np.ceil(t)  # whole months: few distinct times, many ties (as in the bank data)
    entry = np.floor(rng.uniform(0, 5, n))
    keep = t > entry  # left truncation: only those still there at entry are seen
    c = entry + np.ceil(rng.uniform(5, 40, n))
    d = pd.DataFrame({"entry": entry, "duration": np.minimum(t, c), "event": (t <= c).astype(int),
                      "a": a, "x": x})
    return d[keep].reset_index(drop=True)


def test_stabilised_weights_formula_and_trimming():
    w, info = stabilised_weights([1, 1, 0, 0], [0.5, 0.8, 0.5, 0.2], trim=None)
    np.testing.assert_allclose(w, [0.5 / 0.5, 0.5 / 0.8, 0.5 / 0.5, 0.5 / 0.8])
    rng = np.random.default_rng(0)
    ps = rng.uniform(0.02, 0.98, 1000)
    a = (rng.random(1000) < ps).astype(float)
    w, info = stabilised_weights(a, ps, trim=(1, 99))
    raw, _ = stabilised_weights(a, ps, trim=None)
    lo, hi = np.percentile(raw, [1, 99])
    assert w.min() == pytest.approx(lo) and w.max() == pytest.approx(hi)
    assert info["trimmed"] == int(((raw < lo) | (raw > hi)).sum()) > 0


def test_balance_improves_and_marginal_hr_is_recovered():
    d = _confounded()
    naive = fit_cox(d, ["a"]).term("a")["hr"]
    res = iptw_cox(d, treatment="a", covariates=["x"], trim=None)
    assert res.balance.loc[0, "smd_before"] > 0.5
    assert abs(res.balance.loc[0, "smd_after"]) < 0.05
    # Without effect modification the marginal HR of a Cox model with only x is close to the
    # conditional one; weighting moves the naive estimate towards it.
    conditional = fit_cox(d, ["a", "x"]).term("a")["hr"]
    assert naive < 0.6 < conditional
    assert abs(np.log(res.effect["hr"]) - np.log(0.7)) < abs(np.log(naive) - np.log(0.7))
    assert res.effect["ci_low"] < res.effect["hr"] < res.effect["ci_high"]
    assert res.cox.robust and res.diagnostics["ess_exposed"] < res.diagnostics["n_exposed"]


def test_weighted_km_with_unit_weights_is_the_kaplan_meier():
    d = _confounded(500, 3).assign(w=1.0, g=lambda x: np.where(x["a"] == 1, "y", "n"))
    ours = weighted_km(d, group="g", weights="w")
    ref = km_table(d, group="g", entry="entry")
    for g in ("n", "y"):
        a = ours[ours["group"] == g]
        b = ref[ref["group"] == g]
        # read our step function at the reference table's times (right-continuous)
        idx = np.searchsorted(a["time"].to_numpy(), b["time"].to_numpy(), side="right") - 1
        np.testing.assert_allclose(a["survival"].to_numpy()[idx], b["survival"], atol=1e-12)


def test_propensity_model_and_thin_groups():
    d = _confounded(600, 4)
    ps, table = propensity_scores(d, "a", ["x"])
    assert ps.between(0, 1).all() and table.set_index("term").at["x", "coef"] > 0.8
    with pytest.raises(InsufficientDataError, match="both groups"):
        propensity_scores(d.assign(a=1.0), "a", ["x"])
    no_events = d.assign(event=np.where(d["a"] == 0, 0, d["event"]))
    with pytest.raises(InsufficientDataError, match="no customer left"):
        iptw_cox(no_events, treatment="a", covariates=["x"])


def test_balance_table_smd_definition():
    d = pd.DataFrame({"a": [1, 1, 0, 0], "x": [1.0, 3.0, 0.0, 2.0]})
    t = balance_table(d, "a", ["x"], weights=[1, 1, 1, 1])
    assert t.loc[0, "smd_before"] == pytest.approx(1.0)  # (2 - 1) / sqrt((1 + 1) / 2)
    assert t.loc[0, "smd_after"] == pytest.approx(1.0)
