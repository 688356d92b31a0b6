"""The true expected customer lifetime value of a synthetic book (analysis.data.value_truth)."""

import importlib
import json

import numpy as np
import pandas as pd
import pytest

from analysis.data import customer_value_truth, generate_portfolio, value_truth, value_truth_table
from analysis.data.dynamics import SyntheticConfig, baseline_hazard, monthly_step
from analysis.data.synthetic import _iter_simulated

vt = importlib.import_module("analysis.data.value_truth")

H, R = 60, 0.08
# Products fixed (no adoption, no drop), no outflows: hazard, AUM mean and loan in closed form.
FIXED = dict(n_customers=200, months=12, seed=11, adoption_rate=0.0, drop_rate=0.0,
             outflow_rate=0.0)


def _closed_form(row: pd.Series, cfg: SyntheticConfig, n: int) -> dict:
    """Expected values of one customer holding ``n`` products every future month (FIXED)."""
    m = np.arange(1, H + 1)
    t = row["tenure_months"] + m
    lp = row["static_lp"] + np.log(cfg.hr_per_product) * (n - 2)
    h = baseline_hazard(t, cfg.baseline_scale) * np.exp(lp)
    on_book = np.exp(-np.concatenate([[0.0], np.cumsum(h)[:-1]]))  # S(m-1)
    aum = row["aum"] * np.exp(m * (0.004 + 0.06**2 / 2))  # E[aum(m)]: lognormal random walk
    loan = row["loan_amount"] * np.clip(1 - t / row["loan_term"], 0, 1)
    profit = 0.0012 * aum + 0.0008 * loan + 1.0 * n
    disc = (1 + R) ** (-m / 12)
    return {"clv": float((on_book * profit * disc).sum()), "months": float(on_book.sum()),
            "departs12": float(1 - np.exp(-h[:12].sum())),
            "profit12": float((on_book * profit)[:12].sum())}


@pytest.fixture(scope="module")
def fixed():
    cfg = SyntheticConfig(**FIXED)
    return cfg, customer_value_truth(cfg, horizon=H, discount_rate=R, reps=400)


def test_closed_form_with_fixed_products(fixed):
    cfg, per = fixed
    cf = pd.DataFrame([_closed_form(r, cfg, int(r["n_products"])) for _, r in per.iterrows()])
    # survival is integrated exactly and products are fixed: no Monte Carlo error at all
    np.testing.assert_allclose(per["months"], cf["months"], rtol=1e-10)
    np.testing.assert_allclose(per["departs12"], cf["departs12"], rtol=1e-10, atol=1e-14)
    assert per["months_mcvar"].max() < 1e-20
    # CLV: only the AUM random walk is simulated; customer by customer within 4.5 MC SEs
    # (the as-of AUM is rounded to cents, as in the panel: 1e-6 relative)
    se = np.sqrt(per["clv_mcvar"])
    assert (np.abs(per["clv"] - cf["clv"]) <= 4.5 * se + 1e-6 * cf["clv"]).all()
    total_se = np.sqrt(per["clv_mcvar"].sum())
    assert abs(per["clv"].sum() - cf["clv"].sum()) < 4 * total_se
    assert total_se < 0.003 * cf["clv"].sum()  # 400 paths: the bank total to 0.3%
    z = (per["profit12"] - cf["profit12"]) / np.sqrt(per["profit12_mcvar"])
    assert np.abs(z).max() < 4.5


def test_one_more_product_closed_form(fixed):
    """Targets hold 2 instead of 1 product: hazard x hr_per_product, fee +1, every month."""
    cfg, per = fixed
    targets = per[per["target"]]
    assert len(targets) >= 10
    assert ((targets["tier"] >= 3) & (targets["n_products"] == 1)).all()
    assert per.loc[~per["target"], "clv_gain"].isna().all()
    for _, r in targets.iterrows():
        nat, more = _closed_form(r, cfg, 1), _closed_form(r, cfg, 2)
        assert r["months_gain"] == pytest.approx(more["months"] - nat["months"], rel=1e-9)
        want = more["clv"] - nat["clv"]
        assert abs(r["clv_gain"] - want) <= 4.5 * np.sqrt(r["clv_gain_mcvar"]) + 1e-6 * want
    # the hazard ratio of 0.8 buys months: 1.5 to 3.6 of the next 60 here (mean 2.2)
    assert 1.0 < targets["months_gain"].mean() < 5.0


def test_population_is_the_as_of_month_of_the_panel(monkeypatch):
    # several chunks of the book and several batches of paths
    cfg = SyntheticConfig(n_customers=900, months=14, seed=5, chunk_size=700)
    book = generate_portfolio(900, months=14, seed=5, chunk_size=700)
    monkeypatch.setattr(vt, "_BATCH_ROWS", 400)
    per = customer_value_truth(cfg, reps=4)
    panel = book.panel
    last = panel[(panel["month"] == panel["month"].max()) & ~panel["closed"]]
    assert per["customer_id"].tolist() == last["customer_id"].tolist()  # same order too
    np.testing.assert_array_equal(per["tier"], last["tier"])
    np.testing.assert_array_equal(per["segment"], last["segment"])
    np.testing.assert_array_equal(per["n_products"], last["n_products"])
    np.testing.assert_allclose(per["aum"], last["aum"])
    np.testing.assert_allclose(per["loan_balance"], last["loan_balance"])
    branch = book.customers.set_index("customer_id").loc[last["customer_id"], "branch"]
    np.testing.assert_array_equal(per["branch"], branch)
    # the cells add up to the population, cell by cell
    truth = value_truth(cfg, reps=4)
    cells = pd.DataFrame(truth["cells"])
    want = last.assign(branch=branch.to_numpy()).groupby(["branch", "tier", "segment"]).size()
    got = cells.set_index(["branch", "tier", "segment"])["n"]
    assert got.sort_index().to_dict() == want.sort_index().to_dict()
    assert cells["n"].sum() == len(last)
    assert cells["targets"].sum() == ((last["tier"] >= 3) & (last["n_products"] == 1)).sum()
    assert truth["assumptions"]["as_of"] == "2024-02-01"  # 2023-01 + 13 months
    assert truth["assumptions"]["reps"] == 4


@pytest.mark.parametrize("params", [dict(segment_loan_time_interaction=0.1),
                                    dict(feedback=True)])
def test_the_integrated_hazard_is_the_steps(params):
    """The survival carried along a path uses exactly the hazard the step leaves with."""
    cfg = SyntheticConfig(n_customers=300, months=6, seed=2, **params)
    _, sim, take, _ = next(_iter_simulated(cfg, reasons=False))
    st = sim["state"]
    pop = take[st.alive[take]]
    reps = 4
    path = vt._replicate(st, np.repeat(pop, reps))
    rng = np.random.default_rng(1)
    for month in range(cfg.months, cfg.months + 3):
        draws = vt._Draws(rng, pop.size, reps)
        before = path.copy()
        mo = monthly_step(path, month, cfg, draws.reader())
        p = -np.expm1(-vt.step_hazard(path, mo, cfg, reps).ravel())
        for scale, leave in ((1 - 1e-9, True), (1 + 1e-9, False)):
            other = before.copy()
            inner = draws.reader()

            def uniform(idx, inner=inner, scale=scale):
                u = inner(idx)
                return np.minimum(p * scale, 1.0)[idx] if draws.calls == vt._DRAWS else u
            mo2 = monthly_step(other, month, cfg, uniform)
            assert (mo2.event == leave).all()
            np.testing.assert_array_equal(mo2.n, mo.n)


def test_integrating_departures_out_agrees_with_sampling_them():
    """Full dynamics: the value truth equals following paths that leave (plain Monte Carlo)."""
    cfg = SyntheticConfig(n_customers=300, months=12, seed=4)
    horizon = 24
    per = customer_value_truth(cfg, horizon=horizon, reps=40)
    _, sim, take, _ = next(_iter_simulated(cfg, reasons=False))
    st = sim["state"]
    pop = take[st.alive[take]]
    path = vt._replicate(st, np.repeat(pop, 500))
    b = path.b
    rng = np.random.default_rng(99)
    rows = path.n_prod.size
    months, left12, clv = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    for m in range(1, horizon + 1):
        mo = monthly_step(path, cfg.months - 1 + m, cfg, lambda idx: rng.random(idx.size))
        loan = b["loan_bal"][mo.idx] * np.clip(1 - mo.tenure / b["loan_term"][mo.idx], 0, 1)
        profit = 0.0012 * path.aum(mo.idx) + 0.0008 * loan + mo.n
        months[mo.idx] += 1
        clv[mo.idx] += (1 + R) ** (-m / 12) * profit
        if m <= 12:
            left12[mo.idx[mo.event]] = 1
    for name, plain in (("months", months), ("departs12", left12), ("clv", clv)):
        se = np.hypot(plain.std() / np.sqrt(rows), np.sqrt(per[f"{name}_mcvar"].sum()) / len(per))
        assert abs(plain.mean() - per[name].mean()) < 4 * se, name
        assert se < 0.015 * per[name].mean(), name  # a test with power


def test_gains_with_and_without_a_product_effect():
    base = dict(n_customers=1500, months=12, seed=8)
    # products do not act on the hazard: identical paths, the gain is the +1 fee exactly
    per = customer_value_truth(SyntheticConfig(hr_per_product=1.0, **base), reps=8)
    t = per[per["target"]]
    assert len(t) > 40
    assert (t["months_gain"] == 0).all()
    np.testing.assert_allclose(t["clv_gain"], t["dmonths"], rtol=1e-9)
    assert (t["dmonths"] < t["months"]).all() and (t["dmonths"] > 0.8 * t["months"]).all()
    # the default hazard ratio 0.8: more months on every path, and more than the fee
    per = customer_value_truth(SyntheticConfig(**base), reps=8)
    t = per[per["target"]]
    assert (t["months_gain"] > 0).all()
    assert t["months_gain"].mean() > 30 * np.sqrt(t["months_gain_mcvar"].sum()) / len(t)
    assert (t["clv_gain"] >= t["dmonths"] - 1e-9).all()


def test_deterministic_and_json(tmp_path):
    cfg = SyntheticConfig(n_customers=300, months=12, seed=3)
    a, b = value_truth(cfg, reps=4), value_truth(cfg, reps=4)
    assert a == b
    assert json.loads(json.dumps(a, allow_nan=False)) == a  # strict JSON: no NaN
    c = value_truth(SyntheticConfig(n_customers=300, months=12, seed=4), reps=4)
    assert c["cells"] != a["cells"]
    assert a["assumptions"] == {**a["assumptions"], "horizon_months": 60, "discount_rate": 0.08,
                                "currency": "yuan", "profit": vt.PROFIT}
    # the book itself does not change (its own random numbers)
    assert generate_portfolio(300, months=12, seed=3).fingerprint == generate_portfolio(
        300, months=12, seed=3).fingerprint
    with pytest.raises(ValueError, match="even"):
        value_truth(cfg, reps=5)


def test_table_aggregates_the_cells():
    cfg = SyntheticConfig(n_customers=600, months=12, seed=6)
    per = customer_value_truth(cfg, reps=4)
    truth = value_truth(cfg, reps=4)
    overall = value_truth_table(truth, by=())
    assert len(overall) == 1 and overall.loc[0, "n"] == len(per)
    for col in ("clv", "months", "departs12", "profit12"):
        assert overall.loc[0, col] == pytest.approx(per[col].mean(), rel=1e-12)
    assert overall.loc[0, "clv_sd"] == pytest.approx(per["clv"].std(ddof=0), rel=1e-9)
    assert overall.loc[0, "clv_mc_se"] == pytest.approx(
        np.sqrt(per["clv_mcvar"].sum()) / len(per), rel=1e-9)
    t = per[per["target"]]
    assert overall.loc[0, "targets"] == len(t)
    assert overall.loc[0, "clv_gain"] == pytest.approx(t["clv_gain"].mean(), rel=1e-12)
    by = value_truth_table(truth, by=("tier", "segment"))
    want = per.groupby(["tier", "segment"])["months"].mean().to_numpy()
    np.testing.assert_allclose(by["months"], want, rtol=1e-12)
    east = value_truth_table(truth, branch="East", by=("tier",))
    sub = per[per["branch"] == "East"].groupby("tier")
    np.testing.assert_array_equal(east["n"], sub.size().to_numpy())
    np.testing.assert_allclose(east["clv"], sub["clv"].mean().to_numpy(), rtol=1e-12)
    assert east.loc[east["targets"] == 0, "clv_gain"].isna().all()
    with pytest.raises(ValueError, match="branch"):
        value_truth_table(truth, branch="Nowhere")


def test_default_data_carries_the_value_truth(tmp_path, monkeypatch):
    from analysis.data import ensure_default_data

    calls = []
    monkeypatch.setattr(vt, "value_truth", lambda cfg: calls.append(cfg) or {"cells": []})
    out = ensure_default_data(tmp_path / "synthetic")
    truth = json.loads((out / "truth.json").read_text())
    assert truth["value"] == {"cells": []} and calls == [SyntheticConfig()]
    ensure_default_data(out)
    assert len(calls) == 1  # fresh: not recomputed
    # an older copy without the value truth is brought up to date
    del truth["value"]
    (out / "truth.json").write_text(json.dumps(truth))
    ensure_default_data(out)
    assert len(calls) == 2 and "value" in json.loads((out / "truth.json").read_text())
