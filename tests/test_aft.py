"""AFT models (stats.aft): lifelines' fitters as the reference, a direct Weibull likelihood, the
closed form of an uncensored log-normal model (least squares), simulation truth, notes."""

import warnings

import lifelines
import numpy as np
import pandas as pd
import pytest
from lifelines.exceptions import ApproximationWarning
from scipy import optimize, stats

from analysis.errors import InsufficientDataError
from analysis.stats import aft
from analysis.stats.aft import AFT_MODELS, fit_aft

TIME_RATIO = np.exp(0.5)
COLS = ["x", "z"]


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    """Weibull times (shape 1.5, scale 10 exp(0.5 x - 0.2 z)), left-truncated, censored."""
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.integers(0, 2, n).astype(float)
    z = rng.normal(size=n)
    t = 10 * np.exp(0.5 * x - 0.2 * z) * rng.weibull(1.5, n)
    entry = rng.uniform(0, 3, n)
    c = entry + rng.uniform(5, 30, n)
    d = pd.DataFrame({"x": x, "z": z, "entry": entry, "duration": np.minimum(t, c),
                      "event": (t <= c).astype(int)})
    return d[t > entry].reset_index(drop=True)  # only those still there at entry are seen


def _lifelines(cls: str, d: pd.DataFrame, entry, tight: bool):
    """lifelines' fit; ``tight``: its optimiser run to convergence (its defaults stop early:
    SLSQP ftol 1e-6 for the log-logistic, BFGS gtol 1e-5 for the log-normal)."""
    opts = None
    if tight:
        opts = {"gtol": 1e-9} if cls == "LogNormalAFTFitter" else {"ftol": 1e-14, "maxiter": 1000}
    df = d[COLS + ([entry] if entry else []) + ["duration", "event"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' own deprecations, not ours
        return getattr(lifelines, cls)().fit(df, "duration", "event", entry_col=entry,
                                             fit_options=opts)


@pytest.fixture(scope="module")
def ours(book):
    return {entry: fit_aft(book, COLS, entry=entry) for entry in ("entry", None)}


def _model(name, data, entry, cols=COLS):
    """Our fitted model of one distribution (``fit.model`` holds only the best one)."""
    d = aft._prepare(data, sorted(cols), "duration", "event", entry)
    return aft._fit_one(name, d, sorted(cols), None)[0]


@pytest.mark.parametrize("entry", ["entry", None])
@pytest.mark.parametrize("name", list(AFT_MODELS))
def test_same_fit_as_lifelines(book, ours, name, entry):
    cls, loc = AFT_MODELS[name]
    fit = ours[entry]
    row = fit.comparison.set_index("distribution").loc[name]
    ref, tight = _lifelines(cls, book, entry, False), _lifelines(cls, book, entry, True)
    # Log-likelihood and AIC: those of lifelines' defaults to 1e-7 relative (never below: ours
    # is the maximum), and of lifelines run to convergence to 1e-12.
    assert row["log_likelihood"] == pytest.approx(ref.log_likelihood_, rel=1e-7)
    assert row["log_likelihood"] >= ref.log_likelihood_ - 1e-9
    assert row["log_likelihood"] == pytest.approx(tight.log_likelihood_, rel=1e-12)
    assert row["aic"] == pytest.approx(tight.AIC_, rel=1e-12)
    assert row["parameters"] == len(tight.params_) == 4
    # Coefficients (lifelines' layout: location per covariate and intercept, then the shape),
    # standard errors and the variance matrix.
    m = _model(name, book, entry)
    assert list(m.params_.index) == list(tight.params_.index)
    np.testing.assert_allclose(m.params_, tight.params_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.standard_errors_, tight.standard_errors_, rtol=1e-5)
    np.testing.assert_allclose(m.variance_matrix_, tight.variance_matrix_, rtol=1e-4, atol=1e-9)
    # against lifelines' defaults: within their optimiser's error (up to 2% of an SE for the
    # log-logistic, whose SLSQP stops at ftol 1e-6; 1e-4 SE for the other two)
    err = 0.05 if name == "log-logistic" else 1e-3
    np.testing.assert_array_less(np.abs(m.params_ - ref.params_), err * ref.standard_errors_)
    np.testing.assert_allclose(m.standard_errors_, ref.standard_errors_, rtol=1e-3)
    # (fit_aft starts the other two from the Weibull fit: the same optimum to rounding)
    assert m.AIC_ == pytest.approx(row["aic"], rel=1e-12)
    assert m.log_likelihood_ == pytest.approx(row["log_likelihood"], rel=1e-12)
    if name == fit.best:
        pd.testing.assert_series_equal(fit.params, m.params_.loc[loc].drop("Intercept"),
                                       rtol=1e-8)
        pd.testing.assert_frame_equal(fit.variance, m.variance_matrix_.loc[loc, loc].drop(
            index="Intercept", columns="Intercept"), rtol=1e-8)
        pd.testing.assert_series_equal(fit.model.params_, m.params_, rtol=1e-8)


def _weibull_mle(d: pd.DataFrame):
    """Left-truncated Weibull AFT by its likelihood: S(t) = exp(-(t / lam)^rho),
    lam = exp(b0 + b x + c z); loglik = sum e log h(t) - H(t) + H(entry)."""
    X = np.column_stack([np.ones(len(d)), d["x"], d["z"]])
    t, s, e = d["duration"].to_numpy(), d["entry"].to_numpy(), d["event"].to_numpy()

    def negll(theta):
        beta, rho = theta[:3], np.exp(theta[3])
        lam = np.exp(X @ beta)
        log_h = np.log(rho) - np.log(lam) + (rho - 1) * (np.log(t) - np.log(lam))
        return -np.sum(e * log_h - (t / lam) ** rho + (s / lam) ** rho)

    res = optimize.minimize(negll, np.array([np.log(10.0), 0, 0, 0]), method="BFGS",
                            options={"gtol": 1e-8})
    return res.x, -res.fun


def test_weibull_matches_a_direct_maximum_likelihood(book, ours):
    fit = ours["entry"]
    theta, loglik = _weibull_mle(book)
    w = fit.comparison.set_index("distribution").loc["Weibull"]
    assert w["log_likelihood"] == pytest.approx(loglik, abs=1e-6)
    assert w["aic"] == pytest.approx(-2 * loglik + 2 * 4, abs=1e-5)
    assert fit.best == "Weibull"  # the true family wins by AIC
    np.testing.assert_allclose(fit.summary["coef"], theta[1:3], atol=1e-5)
    np.testing.assert_allclose(fit.params.to_numpy(), theta[1:3], atol=1e-5)
    assert fit.model.params_[("rho_", "Intercept")] == pytest.approx(theta[3], abs=1e-5)
    assert fit.model.sigma == pytest.approx(np.exp(-theta[3]), rel=1e-5)


def test_uncensored_log_normal_is_least_squares():
    # Without censoring or entry the log-normal MLE is OLS on log t: sigma^2 = RSS / n,
    # var(beta) = sigma^2 (X'X)^-1, var(log sigma) = 1 / (2n), loglik of the normal in log t
    # minus sum log t.
    rng = np.random.default_rng(3)
    n = 500
    x = rng.normal(size=n)
    logt = 1.0 + 0.3 * x + 0.8 * rng.normal(size=n)
    df = pd.DataFrame({"x": x, "duration": np.exp(logt), "event": 1})
    X = np.column_stack([x, np.ones(n)])
    beta, rss = np.linalg.lstsq(X, logt, rcond=None)[:2]
    sigma = np.sqrt(rss[0] / n)
    m = _model("log-normal", df, None, ["x"])
    np.testing.assert_allclose(m.params_.to_numpy(), [*beta, np.log(sigma)], rtol=1e-9)
    V = sigma ** 2 * np.linalg.inv(X.T @ X)
    np.testing.assert_allclose(m.variance_matrix_.to_numpy()[:2, :2], V, rtol=1e-7)
    assert m.standard_errors_.iloc[2] == pytest.approx(1 / np.sqrt(2 * n), rel=1e-7)
    loglik = stats.norm.logpdf(logt, X @ beta, sigma).sum() - logt.sum()
    assert m.log_likelihood_ == pytest.approx(loglik, rel=1e-12)
    row = fit_aft(df, ["x"]).comparison.set_index("distribution").loc["log-normal"]
    assert row["aic"] == pytest.approx(-2 * loglik + 2 * 3, rel=1e-12)


def test_zero_entry_adds_nothing(book, ours):
    fit = fit_aft(book.assign(entry=0.0), COLS, entry="entry")
    pd.testing.assert_frame_equal(fit.comparison, ours[None].comparison, rtol=1e-10)
    pd.testing.assert_frame_equal(fit.summary, ours[None].summary, rtol=1e-8)


def test_time_ratio_recovers_the_simulation_truth_and_alpha_sets_the_interval(book, ours):
    fit = ours["entry"]
    row = fit.summary.set_index("term").loc["x"]
    assert row["ci_low"] < TIME_RATIO < row["ci_high"]
    assert row["time_ratio"] == pytest.approx(np.exp(row["coef"]))
    z = stats.norm.ppf(0.975)
    assert row["ci_high"] == pytest.approx(np.exp(row["coef"] + z * row["se"]))
    assert row["se"] == pytest.approx(np.sqrt(fit.variance.loc["x", "x"]))
    wide = fit_aft(book, COLS, entry="entry", alpha=0.01).summary.set_index("term").loc["x"]
    z99 = stats.norm.ppf(0.995)
    assert np.log(wide["ci_high"] / wide["ci_low"]) == pytest.approx(2 * z99 * row["se"])
    assert list(fit.comparison["delta_aic"]) == sorted(fit.comparison["delta_aic"])
    assert fit.comparison["delta_aic"].iloc[0] == 0 and (fit.comparison["note"] == "").all()


def test_covariates_in_lifelines_order(book):
    fit = fit_aft(book, ["z", "x"], entry="entry")
    assert list(fit.params.index) == list(fit.summary["term"]) == ["x", "z"]


def test_a_singular_hessian_becomes_a_note_not_a_print(book):
    # a column that is a multiple of another: lifelines pseudo-inverts the Hessian and warns
    d = book.assign(x2=2 * book["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape
        fit = fit_aft(d, ["x", "x2", "z"], entry="entry")
    assert (fit.comparison["note"] == "The Hessian was not invertible.").all()
    with pytest.warns(ApproximationWarning, match="Hessian was not invertible"):
        lifelines.WeibullAFTFitter().fit(d[["x", "x2", "z", "entry", "duration", "event"]],
                                         "duration", "event", entry_col="entry")
    # the fit still reaches the maximum (the likelihood is flat along x2 = 2 x): as without x2
    full = fit_aft(book, COLS, entry="entry").comparison.set_index("distribution")
    same = fit.comparison.set_index("distribution")
    np.testing.assert_allclose(same["log_likelihood"], full["log_likelihood"], rtol=1e-10)
    assert fit.params["x"] + 2 * fit.params["x2"] == pytest.approx(
        fit_aft(book, COLS, entry="entry").params["x"], rel=1e-6)


def test_no_convergence_becomes_a_note(book, monkeypatch):
    monkeypatch.setattr(aft, "_MAX_STEPS", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_aft(book, COLS, entry="entry")
    assert (fit.comparison["note"] == "Did not converge in 2 Newton steps.").all()
    assert not fit.model.converged


def test_a_group_without_events_is_a_note(book):
    # g = 1 only among censored customers: the likelihood rises without end as their time
    # ratio grows (lifelines stops somewhere along the way and says nothing)
    g = ((book["event"] == 0) & (np.arange(len(book)) % 5 == 0)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_aft(book.assign(g=g), ["g", *COLS], entry="entry")
    assert (fit.comparison["note"] == "No finite estimate for g.").all()
    row = fit.summary.set_index("term").loc["g"]
    assert row["coef"] > 5 and row["se"] > 1e3
    assert fit.summary.set_index("term").loc["x", "ci_low"] < TIME_RATIO  # others unharmed


def test_nothing_fitted_is_not_estimable(book):
    with pytest.raises(InsufficientDataError, match="no parametric model"):
        fit_aft(book.assign(duration=0.0), ["x"], entry=None)  # lifelines: ValueError
    with pytest.raises(InsufficientDataError, match="no parametric model"):
        fit_aft(book.assign(entry=book["duration"]), ["x"], entry="entry")

