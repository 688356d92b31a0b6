"""AFT models (stats.aft): a direct Weibull likelihood, simulation truth, the former code, notes."""

import warnings

import lifelines
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from analysis.errors import InsufficientDataError
from analysis.stats.aft import AFT_MODELS, fit_aft

TIME_RATIO = np.exp(0.5)


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


def test_weibull_matches_a_direct_maximum_likelihood(book):
    fit = fit_aft(book, ["x", "z"], entry="entry")
    theta, loglik = _weibull_mle(book)
    w = fit.comparison.set_index("distribution").loc["Weibull"]
    assert w["log_likelihood"] == pytest.approx(loglik, abs=1e-4)
    assert w["aic"] == pytest.approx(-2 * loglik + 2 * 4, abs=1e-3)
    assert fit.best == "Weibull"  # the true family wins by AIC
    np.testing.assert_allclose(fit.summary["coef"], theta[1:3], atol=1e-4)
    np.testing.assert_allclose(fit.params.to_numpy(), theta[1:3], atol=1e-4)


def test_time_ratio_recovers_the_simulation_truth_and_alpha_sets_the_interval(book):
    fit = fit_aft(book, ["x", "z"], entry="entry")
    row = fit.summary.set_index("term").loc["x"]
    assert row["ci_low"] < TIME_RATIO < row["ci_high"]
    assert row["time_ratio"] == pytest.approx(np.exp(row["coef"]))
    z = stats.norm.ppf(0.975)
    assert row["ci_high"] == pytest.approx(np.exp(row["coef"] + z * row["se"]))
    assert row["se"] == pytest.approx(np.sqrt(fit.variance.loc["x", "x"]))
    wide = fit_aft(book, ["x", "z"], entry="entry", alpha=0.01).summary.set_index("term").loc["x"]
    z99 = stats.norm.ppf(0.995)
    assert np.log(wide["ci_high"] / wide["ci_low"]) == pytest.approx(2 * z99 * row["se"])
    assert list(fit.comparison["delta_aic"]) == sorted(fit.comparison["delta_aic"])
    assert fit.comparison["delta_aic"].iloc[0] == 0 and (fit.comparison["note"] == "").all()


def test_same_numbers_as_the_former_drivers_code(book):
    # The AFT fits used to live in studies/drivers/estimate.py (all warnings silenced); the
    # moved code must give the very same fits.
    fit = fit_aft(book, ["x", "z"], entry="entry")
    df = book[["x", "z", "entry", "duration", "event"]]
    for name, (cls, loc) in AFT_MODELS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = getattr(lifelines, cls)().fit(df, "duration", "event", entry_col="entry")
        row = fit.comparison.set_index("distribution").loc[name]
        assert row["aic"] == m.AIC_ and row["log_likelihood"] == m.log_likelihood_
        if name == fit.best:
            pd.testing.assert_series_equal(fit.params, m.params_.loc[loc].drop("Intercept"))


def test_a_warning_about_the_fit_becomes_a_note_not_a_print(book):
    # a column that is a multiple of another: lifelines pseudo-inverts the Hessian and warns
    d = book.assign(x2=2 * book["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape
        fit = fit_aft(d, ["x", "x2", "z"], entry="entry")
    assert (fit.comparison["note"] == "The Hessian was not invertible.").all()


def test_nothing_fitted_is_not_estimable(book):
    with pytest.raises(InsufficientDataError, match="no parametric model"):
        fit_aft(book.assign(duration=0.0), ["x"], entry=None)  # lifelines: ValueError
