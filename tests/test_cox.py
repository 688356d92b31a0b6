"""The one Cox fit with left truncation: against lifelines and statsmodels, residuals, robust
SEs, weights, episode splitting, the Wald test."""

import numpy as np
import pandas as pd
import pytest
from _phreg import fit_phreg
from lifelines import CoxPHFitter, CoxTimeVaryingFitter

from analysis.data import generate_portfolio
from analysis.errors import InsufficientDataError
from analysis.stats.cox.episodes import split_intervals
from analysis.stats.cox.fit import fit_cox, fit_cox_time_varying
from analysis.stats.cox.residuals import score_residuals
from analysis.stats.cox.zph import zph_for
from analysis.stats.hypothesis import wald_test
from analysis.studies.product_effect.frames import prepare_product_frames


def _score_residuals(d, covs, beta, *, start="entry", stop="duration", event="event",
                     weights=None, strata=None):
    return score_residuals(d[covs].to_numpy(), beta, stop=d[stop], event=d[event],
                           start=None if start is None else d[start],
                           weights=None if weights is None else d[weights],
                           strata=None if strata is None else d[strata[0]])


def _continuous(n=400, seed=3):
    """Right-censored data with distinct continuous times (no ties), two covariates, weights."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n).astype(float)
    t = rng.exponential(10 * np.exp(-0.5 * x1 - 0.3 * x2))
    c = rng.uniform(0, 20, n)
    return pd.DataFrame({"duration": np.minimum(t, c), "event": (t <= c).astype(int),
                         "x1": x1, "x2": x2, "w": rng.uniform(0.5, 2, n)})


def _monthly(n=600, seed=4):
    """Whole-month times (many ties) with delayed entry, strata and weights."""
    d = _continuous(n, seed)
    rng = np.random.default_rng(seed + 1)
    d["duration"] = np.ceil(d["duration"])
    d["entry"] = np.floor(rng.uniform(0, 1, n) * (d["duration"] - 1)).clip(0)
    d["branch"] = rng.choice(["A", "B", "C"], n)
    return d


@pytest.fixture(scope="module")
def book():
    p = generate_portfolio(2000, seed=11)
    frame, iv, _ = prepare_product_frames(p, lag=1)
    return frame, iv


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, tol=1e-6):
    a, b = a.set_index("term"), b.set_index("term")
    assert set(a.index) == set(b.index)
    for term in a.index:  # map by name, never by position
        assert a.at[term, "coef"] == pytest.approx(b.at[term, "coef"], abs=tol), term
        assert a.at[term, "se"] == pytest.approx(b.at[term, "se"], abs=tol), term


def test_static_cox_with_entry_agrees_with_statsmodels(book):
    frame, _ = book
    covs = ["n_products_entry", "engagement", "loan", "age10", "entry_years", "log_aum"]
    lf = fit_cox(frame, covs, entry="entry")
    sm = fit_phreg(frame, covs, entry="entry")
    _assert_same(lf.summary, sm)
    assert lf.log_likelihood == pytest.approx(sm.attrs["log_likelihood"], abs=1e-6)
    # reversed column order: still matched by name
    _assert_same(lf.summary, fit_phreg(frame, covs[::-1], entry="entry"))


def test_time_varying_cox_agrees_with_statsmodels_stratified(book):
    _, iv = book
    covs = ["n_products", "engagement", "loan", "outflow_3m", "age10"]
    tv = fit_cox_time_varying(iv, covs, strata="branch")
    sm = fit_phreg(iv, covs, duration="stop", entry="start", strata="branch")
    _assert_same(tv.summary, sm)
    # The same intervals as rows with delayed entry in CoxPHFitter: identical model.
    st = fit_cox(iv, covs, duration="stop", entry="start", strata="branch")
    _assert_same(tv.summary, st.summary, tol=1e-7)


def test_statsmodels_counts_entry_ties_differently():
    """statsmodels puts a row entering at an event time in its risk set; R and lifelines do not.

    Splitting a customer's interval at a whole month must not change a Cox fit; it changes
    statsmodels' unless entries are shifted (what fit_phreg does).
    """
    from statsmodels.duration.hazard_regression import PHReg

    d = _monthly(300, 9)
    d["id"] = np.arange(len(d))
    pieces = split_intervals(d.rename(columns={"entry": "start", "duration": "stop"}), [3, 6])
    whole = fit_cox(d, ["x1"], entry="entry").term("x1")["coef"]
    split = fit_cox(pieces, ["x1"], duration="stop", entry="start").term("x1")["coef"]
    assert split == pytest.approx(whole, abs=1e-8)
    raw = PHReg(pieces["stop"], pieces[["x1"]], status=pieces["event"], entry=pieces["start"],
                ties="efron").fit().params[0]
    assert abs(raw - whole) > 1e-3  # the pitfall
    shifted = fit_phreg(pieces, ["x1"], duration="stop", entry="start").set_index("term")
    assert shifted.at["x1", "coef"] == pytest.approx(whole, abs=1e-6)


def test_efron_score_residuals_sum_to_zero_at_the_mle():
    d = _monthly()
    fit = fit_cox(d, ["x1", "x2"], entry="entry", weights="w", strata="branch")
    beta = fit.summary.set_index("term").loc[["x1", "x2"], "coef"].to_numpy()
    U = _score_residuals(d, ["x1", "x2"], beta, start="entry", weights="w", strata=["branch"])
    np.testing.assert_allclose((U * d[["w"]].to_numpy()).sum(axis=0), 0, atol=1e-6)
    U0 = _score_residuals(d, ["x1", "x2"], np.zeros(2), start="entry", weights="w",
                          strata=["branch"])
    assert np.abs(U0.sum(axis=0)).max() > 1  # not trivially zero


def test_robust_se_matches_lifelines_without_truncation_or_ties():
    d = _continuous()
    for weights in (None, "w"):
        ours = fit_cox(d, ["x1", "x2"], entry=None, weights=weights, robust=True)
        cols = ["duration", "event", "x1", "x2"] + ([weights] if weights else [])
        ref = CoxPHFitter().fit(d[cols], "duration", "event", weights_col=weights, robust=True)
        np.testing.assert_allclose(ours.summary["se"], ref.standard_errors_[["x1", "x2"]],
                                   rtol=1e-6)


def test_robust_se_with_entry_is_invariant_to_splitting_when_clustered():
    d = _monthly(400, 21)
    d["id"] = np.arange(len(d))
    iv = d.rename(columns={"entry": "start", "duration": "stop"})
    whole = fit_cox(iv, ["x1", "x2"], duration="stop", entry="start", weights="w", robust=True)
    pieces = split_intervals(iv, [2, 4, 8])
    assert len(pieces) > len(iv)
    split = fit_cox(pieces, ["x1", "x2"], duration="stop", entry="start", weights="w",
                    cluster="id")
    np.testing.assert_allclose(split.summary["coef"], whole.summary["coef"], atol=1e-7)
    np.testing.assert_allclose(split.summary["se"], whole.summary["se"], rtol=1e-6)
    # close to the model-based SE when the model is right and weights are not extreme
    naive = np.sqrt(np.diag(whole.naive_variance))
    np.testing.assert_allclose(whole.summary["se"], naive, rtol=0.25)


# lifelines reminds that naive SEs are biased with non-integer weights: we compare coefficients
@pytest.mark.filterwarnings("ignore:It appears your weights are not integers")
def test_weighted_fit_with_entry_ties_and_strata_matches_lifelines():
    """Case weights (IPW) with delayed entry and Efron ties: R's coxph(weights=) convention."""
    d = _monthly(700, 12)
    for strata in (None, "branch"):
        ours = fit_cox(d, ["x1", "x2"], entry="entry", weights="w", strata=strata)
        cols = ["duration", "event", "entry", "x1", "x2", "w"] + ([strata] if strata else [])
        ref = CoxPHFitter().fit(d[cols], "duration", "event", entry_col="entry", weights_col="w",
                                strata=[strata] if strata else None)
        np.testing.assert_allclose(ours.params, ref.params_[["x1", "x2"]], atol=1e-6)
        assert ours.log_likelihood == pytest.approx(ref.log_likelihood_, abs=1e-6)


def test_time_varying_fit_matches_lifelines_time_varying_fitter(book):
    _, iv = book
    covs = ["n_products", "engagement", "outflow_3m"]
    ours = fit_cox_time_varying(iv, covs)
    # lifelines' default Newton step (0.95, no line search) overshoots on this book and stops on
    # a singular Hessian; a smaller first step reaches the same optimum
    ref = CoxTimeVaryingFitter().fit(iv[["customer_id", "start", "stop", "event"] + covs],
                                     id_col="customer_id", event_col="event", start_col="start",
                                     stop_col="stop", fit_options={"step_size": 0.3})
    np.testing.assert_allclose(ours.params, ref.params_[covs], atol=1e-6)
    np.testing.assert_allclose(ours.standard_errors, ref.standard_errors_[covs], atol=1e-6)
    assert ours.n == iv["customer_id"].nunique() and ours.n_rows == len(iv)


def test_score_residuals_of_a_customer_add_up_over_split_intervals():
    """Splitting a customer's interval does not change the model, so the residuals of the pieces
    add up to the residual of the whole interval (with entry, ties, strata and weights)."""
    d = _monthly(500, 31)
    d["id"] = np.arange(len(d))
    iv = d.rename(columns={"entry": "start", "duration": "stop"})
    beta = np.array([0.4, -0.3])
    whole = _score_residuals(iv, ["x1", "x2"], beta, start="start", stop="stop", weights="w",
                             strata=["branch"])
    pieces = split_intervals(iv, [2, 5, 9])
    parts = _score_residuals(pieces, ["x1", "x2"], beta, start="start", stop="stop",
                             weights="w", strata=["branch"])
    summed = pd.DataFrame(parts).groupby(pieces["id"].to_numpy()).sum().to_numpy()
    np.testing.assert_allclose(summed, whole, atol=1e-10)
    assert np.abs(whole).max() > 0.1


def test_intervals_follow_alpha():
    d = _continuous(300, 5)
    f95 = fit_cox(d, ["x1"], entry=None)
    f90 = fit_cox(d, ["x1"], entry=None, alpha=0.10)
    b, se = f95.term("x1")["coef"], f95.term("x1")["se_log_hr"]
    assert f95.term("x1")["ci_low"] == pytest.approx(np.exp(b - 1.959963985 * se))
    assert f90.term("x1")["ci_low"] == pytest.approx(np.exp(b - 1.644853627 * se))
    assert f90.table(alpha=0.05).equals(f95.summary)


def test_zph_flags_a_time_varying_effect():
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.binomial(1, 0.5, n).astype(float)
    # HR 4 before t = 2, HR 1/4 after: strongly non-proportional
    t1 = rng.exponential(1 / (0.3 * np.exp(np.log(4) * x)))
    t2 = 2 + rng.exponential(1 / (0.3 * np.exp(-np.log(4) * x)))
    t = np.where(t1 < 2, t1, t2)
    d = pd.DataFrame({"duration": np.minimum(t, 8), "event": (t < 8).astype(int), "x": x,
                      "entry": rng.uniform(0, 0.5, n)})
    d = d[d["duration"] > d["entry"]]
    res = zph_for(fit_cox(d, ["x"]), transform="km")
    assert res.table.loc["x", "p"] < 1e-6
    assert {"time", "gtime", "x"} <= set(res.residuals.columns)


def test_split_intervals_keeps_event_on_last_piece():
    iv = pd.DataFrame({"id": [1, 2], "start": [0.0, 5.0], "stop": [10.0, 7.0], "event": [1, 0],
                       "x": [0.5, 1.0]})
    out = split_intervals(iv, [3, 6, 12])
    assert out[["start", "stop"]].values.tolist() == [[0, 3], [3, 6], [6, 10], [5, 6], [6, 7]]
    assert out["event"].tolist() == [0, 0, 1, 0, 0]
    assert out["x"].tolist() == [0.5, 0.5, 0.5, 1.0, 1.0]


def test_wald_test_of_equal_coefficients():
    d = _continuous(800, 8)
    fit = fit_cox(d, ["x1", "x2"], entry=None)
    res = wald_test(fit.params, fit.variance, [[1, -1]])
    b, V = fit.summary["coef"].to_numpy(), fit.variance.to_numpy()
    expected = (b[0] - b[1]) ** 2 / (V[0, 0] + V[1, 1] - 2 * V[0, 1])
    assert res["chi2"] == pytest.approx(expected) and res["df"] == 1


def test_thin_data_raises_plain_language_errors():
    d = _continuous(50, 2)
    with pytest.raises(InsufficientDataError, match="no events"):
        fit_cox(d.assign(event=0), ["x1"], entry=None)
    with pytest.raises(InsufficientDataError, match="single value"):
        fit_cox(d.assign(x1=1.0), ["x1"], entry=None)
    with pytest.raises(InsufficientDataError, match="not estimable"):
        fit_cox(d.assign(x2=np.where(d["event"] == 1, 0.0, d["x2"])), ["x2"], entry=None)
    with pytest.raises(ValueError, match="not found"):
        fit_cox(d, ["nope"], entry=None)
