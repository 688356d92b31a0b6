"""Report 03's outflow warning for a given customer (gamma frailty sensitivity).

The feedback scenario's generator gives each customer a gamma frailty of variance 0.25 and a
recent-outflow HR of 8 *for a given customer*; a Cox model across customers is attenuated
(``benchmarks/outflow_frailty.py``). These tests check the section's numbers against their own
model (the Cox row is the time-varying model's; more frailty, a larger ratio for a given
customer) and that the truth table compares like with like.
"""

import numpy as np
import pandas as pd
import pytest

from analysis.data import generate_portfolio
from analysis.report.headline import to_jsonable
from analysis.studies.drivers.design import build_design
from analysis.studies.drivers.estimate import attrition_drivers, time_varying_model
from analysis.studies.drivers.frailty import monthly_rows, outflow_given_customer
from analysis.studies.drivers.headline import headline
from analysis.studies.drivers.truth import frailty_truth, truth_comparison
from analysis.studies.population import prepare_study


@pytest.fixture(scope="module")
def feedback_tv():
    study = prepare_study(portfolio=generate_portfolio(4000, seed=3, scenario="feedback"))
    return study, time_varying_model(study, build_design(study))


def test_monthly_rows_cover_every_month_at_risk_once(feedback_tv):
    _, tv = feedback_tv
    rows = monthly_rows(tv.data, tv.columns)
    months = (tv.data["duration"] - tv.data["entry"]).sum()
    assert len(rows) == months
    assert rows["event"].sum() == tv.data["event"].sum()
    # each customer's months are consecutive and the departure is on the last one
    g = rows.groupby("customer_id")["tenure"]
    assert ((g.max() - g.min() + 1) == g.size()).all()
    last = rows.groupby("customer_id").tail(1)
    assert rows.loc[rows["event"] == 1].index.isin(last.index).all()


def test_ratio_for_a_given_customer_grows_with_the_assumed_frailty(feedback_tv):
    _, tv = feedback_tv
    res = outflow_given_customer(tv, variances=(0.25, 0.5, 1.0))
    t = res.table
    assert t["kind"].tolist() == ["none", "estimated", "assumed", "assumed", "assumed"]
    cox = tv.model.term("outflow_3m")
    assert t.iloc[0]["hr"] == pytest.approx(cox["hr"], rel=1e-12)
    # with the variance estimated at ~0 the grouped model is the Cox model up to ties and bands
    if res.theta < 1e-3:
        assert abs(np.log(t.iloc[1]["hr"] / t.iloc[0]["hr"])) < 0.03
    assumed = t[t["kind"] == "assumed"]["hr"].to_numpy()
    assert np.all(np.diff(assumed) > 0) and assumed[0] > t.iloc[0]["hr"]
    # each interval is about as wide as the Cox model's (same information, one more parameter)
    width = np.log(t["ci_high"] / t["ci_low"])
    assert width.max() / width.min() < 1.2


def test_truth_tables_compare_like_with_like_under_feedback(feedback_tv):
    study, tv = feedback_tv
    truth = study.portfolio.truth
    dyn = truth_comparison(tv.effects, truth, tv.terms, "time-varying").set_index("key")
    # under feedback neither the product nor the outflow row estimates the generator's value
    assert dyn.loc["n_products", "comparable"].startswith("no")
    assert dyn.loc["outflow_3m", "comparable"].startswith("no")
    res = outflow_given_customer(tv, variances=(0.25, 0.5))
    ft = frailty_truth(res, truth).iloc[0]
    assert ft["variance"] == 0.25 and ft["true_hr"] == pytest.approx(8.0)
    assumed = res.table[(res.table["kind"] == "assumed") & (res.table["variance"] == 0.25)]
    assert ft["hr"] == assumed["hr"].iloc[0]
    assert ft["covered"] == (ft["ci_low"] <= 8.0 <= ft["ci_high"])


def test_default_book_compares_the_cox_row_and_the_report_carries_it():
    study = prepare_study(portfolio=generate_portfolio(2500, seed=5))
    dr = attrition_drivers(study, horizons=[12, 24])
    assert dr.frailty.ok and dr.truth_frailty.ok
    ft = dr.truth_frailty.value.iloc[0]
    # no frailty in the default book: the Cox row itself is compared with 8
    assert ft["variance"] == 0 and ft["hr"] == dr.frailty.value.table.iloc[0]["hr"]
    h = to_jsonable(headline(dr))["drivers"]
    rows = h["outflow_given_customer"]["rows"]
    assert [r["kind"] for r in rows] == ["none", "estimated", "assumed", "assumed", "assumed"]
    assert [r["frailty_variance"] for r in rows[2:]] == [0.25, 0.5, 1.0]
    assert h["truth"]["outflow_given_customer"]["true_hr"] == pytest.approx(8.0)
    # branch reports skip the refit and say where it is
    off = attrition_drivers(study, horizons=[12, 24], frailty=False)
    assert not off.frailty.ok and "bank-wide" in off.frailty.note
    assert "outflow_given_customer" not in headline(off)["drivers"]


def test_a_large_book_is_fitted_on_a_seeded_sample(feedback_tv):
    _, tv = feedback_tv
    a = outflow_given_customer(tv, variances=(0.5,), max_customers=1500, seed=7)
    b = outflow_given_customer(tv, variances=(0.5,), max_customers=1500, seed=7)
    full = outflow_given_customer(tv, variances=(0.5,))
    assert a.sampled and a.n_customers == 1500 and not full.sampled
    assert a.fits["estimated"].n_customers == 1500
    pd.testing.assert_frame_equal(a.table, b.table)
    # the first row stays the full model's; the sample's rows are wider
    assert a.table.iloc[0]["hr"] == full.table.iloc[0]["hr"]
    width = lambda t: np.log(t["ci_high"] / t["ci_low"]).to_numpy()  # noqa: E731
    assert (width(a.table)[1:] > width(full.table)[1:]).all()
