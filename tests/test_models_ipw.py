"""Inverse probability weighting: weights, balance, weighted curves, marginal HR."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats.cox.fit import fit_cox
from analysis.stats.ipw import (
    balance_table,
    iptw_cox,
    propensity_scores,
    stabilised_weights,
    weighted_km,
)
from analysis.errors import InsufficientDataError
from analysis.stats.km import km_table


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
    cols = ["group", "time", "at_risk", "events", "censored", "entered", "survival"]
    pd.testing.assert_frame_equal(ours[cols], ref[cols], check_dtype=False)
    assert ours[["se", "ci_low", "ci_high"]].isna().all().all()


def _weighted_km_before(data, *, group, weights, duration="duration", event="event",
                        entry="entry"):
    """The former ``ipw.weighted_km`` (its own sorted cumulative sums), kept as the reference."""
    parts = []
    for label, sub in data.groupby(group, sort=True, observed=True):
        t = sub[duration].to_numpy(dtype=float)
        e = sub[event].to_numpy(dtype=float)
        w = sub[weights].to_numpy(dtype=float)
        s = sub[entry].to_numpy(dtype=float) if entry else np.zeros(len(t))
        times = np.unique(t)
        ot, os_ = np.argsort(t), np.argsort(s)
        ts, ss = t[ot], s[os_]
        cw_t = np.concatenate([np.cumsum(w[ot][::-1])[::-1], [0.0]])
        cw_s = np.concatenate([np.cumsum(w[os_][::-1])[::-1], [0.0]])
        at_risk = (cw_t[np.searchsorted(ts, times, "left")]
                   - cw_s[np.searchsorted(ss, times, "left")])
        pos = np.searchsorted(times, t)
        d = np.bincount(pos, weights=w * e, minlength=times.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            surv = np.cumprod(np.where(at_risk > 0, 1 - d / at_risk, 1.0))
        origin = float(min(s.min(), times.min()))
        parts.append(pd.DataFrame({
            "group": label,
            "time": np.concatenate([[origin], times]),
            "at_risk": np.concatenate([[w[s <= origin].sum()], at_risk]),
            "events": np.concatenate([[0.0], d]),
            "survival": np.concatenate([[1.0], surv]),
        }))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("entry", ["entry", None])
def test_weighted_km_is_the_former_implementation(entry):
    # weighted_km is now km_table(weights=...): the same curves as the code it replaced, at
    # every row of the former table (which had no rows at entry times without a departure).
    d = _confounded(2000, 7)
    ps, _ = propensity_scores(d, "a", ["x"])
    w, _ = stabilised_weights(d["a"], ps, trim=(1, 99))
    d = d.assign(w=w, g=np.where(d["a"] == 1, "2+", "1"))
    before = _weighted_km_before(d, group="g", weights="w", entry=entry)
    after = weighted_km(d, group="g", weights="w", entry=entry)
    for g in ("1", "2+"):
        b = before[before["group"] == g]
        a = after[after["group"] == g].set_index("time").loc[b["time"]]
        for col in ("at_risk", "events", "survival"):
            np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-12)
        assert len(a) == len(b) > 40 and a["survival"].min() >= 0.0  # never below 0 by rounding


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
