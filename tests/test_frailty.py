"""Gamma-frailty grouped proportional hazards (stats.frailty).

Independent references: finite differences for the analytic score; statsmodels' GLM (binomial,
complementary log-log link, band indicators) for the model without frailty, which it equals
exactly; a simulation with a known gamma frailty and delayed entry for the estimator as a whole.
"""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InsufficientDataError
from analysis.stats import frailty
from analysis.stats.frailty import fit_gamma_frailty, tenure_bands

TRUE_X, TRUE_O, TRUE_THETA = 0.5, np.log(4.0), 0.5


def _simulate(n: int, theta: float, seed: int) -> pd.DataFrame:
    """Customers opened at tenure 0, seen from a random entry month ``a`` if still on book then
    (delayed entry), followed up to 36 months; a recent-outflow flag ``o`` that switches on for 3
    months at random, absent before entry; hazard ``Z * h0(t) * exp(0.5 x + log 4 o)``."""
    rng = np.random.default_rng(seed)
    z = rng.gamma(1 / theta, theta, n) if theta > 0 else np.ones(n)
    x = rng.normal(size=n)
    a = rng.integers(0, 24, n)

    def h0(t):
        return 0.02 * (1 + np.exp(-t / 6))

    pre = np.array([h0(np.arange(k)).sum() for k in range(25)])
    seen = rng.random(n) < np.exp(-z * pre[a] * np.exp(TRUE_X * x))
    rows = []
    for i in np.flatnonzero(seen):
        until = -1
        for t in range(a[i], a[i] + 36):
            if rng.random() < 0.05:
                until = t + 3
            o = float(until - 3 < t <= until)
            d = rng.random() < 1 - np.exp(-z[i] * h0(t) * np.exp(TRUE_X * x[i] + TRUE_O * o))
            rows.append((i, t, int(d), x[i], o))
            if d:
                break
    return pd.DataFrame(rows, columns=["customer_id", "tenure", "event", "x", "o"])


@pytest.fixture(scope="module")
def book():
    return _simulate(4000, TRUE_THETA, seed=1)


EDGES = tuple(range(0, 60, 3))


def test_score_is_the_derivative_of_the_log_likelihood(book):
    lik, _ = frailty._build(book, ["x", "o"], "customer_id", "tenure", "event", {"o": 0},
                            EDGES, 5)
    rng = np.random.default_rng(0)
    for _ in range(3):
        par = np.r_[rng.normal(-4, 0.3, lik.n_bands), rng.normal(0, 0.5, 2),
                    np.log(rng.uniform(0.05, 2))]
        _, g = lik(par)
        num = np.array([(lik(par + e)[0] - lik(par - e)[0]) / 2e-6
                        for e in np.eye(par.size) * 1e-6])
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-5)


def test_without_frailty_it_is_the_cloglog_model_of_statsmodels(book):
    sm = pytest.importorskip("statsmodels.api")
    fit = fit_gamma_frailty(book, ["x", "o"], pre_entry={"o": 0}, edges=EDGES, theta=0)
    band = tenure_bands(book["tenure"].to_numpy(), np.asarray(fit.baseline.index))
    X = np.column_stack([np.eye(len(fit.baseline))[band], book[["x", "o"]].to_numpy()])
    glm = sm.GLM(book["event"].to_numpy(), X,
                 family=sm.families.Binomial(sm.families.links.CLogLog())).fit(tol=1e-12)
    np.testing.assert_allclose(fit.params.to_numpy(), glm.params[-2:], rtol=1e-5)
    np.testing.assert_allclose(fit.baseline.to_numpy(), glm.params[:-2], rtol=1e-5)
    # observed (here) against expected (GLM) information: equal to well under 1%
    np.testing.assert_allclose(np.sqrt(np.diag(fit.variance)), glm.bse[-2:], rtol=0.01)
    assert fit.theta == 0


def test_recovers_the_frailty_and_the_hazard_ratio_for_a_given_customer(book):
    fit = fit_gamma_frailty(book, ["x", "o"], pre_entry={"o": 0}, edges=EDGES)
    assert fit.converged
    o = fit.term("o")
    assert o["ci_low"] < 4.0 < o["ci_high"]
    assert abs(fit.params["x"] - TRUE_X) < 3 * np.sqrt(fit.variance.loc["x", "x"])
    assert abs(fit.theta - TRUE_THETA) < 2.5 * fit.theta_se
    assert fit.theta > 0.1  # the frailty is detected
    # the model without frailty attenuates both effects, as the frailty predicts
    cox = fit_gamma_frailty(book, ["x", "o"], pre_entry={"o": 0}, edges=EDGES, theta=0)
    assert cox.params["o"] < fit.params["o"] and cox.params["x"] < fit.params["x"]


def test_bands_without_enough_departures_are_merged(book):
    fit = fit_gamma_frailty(book, ["x", "o"], pre_entry={"o": 0}, edges=tuple(range(60)),
                            min_band_events=40)
    band = tenure_bands(book["tenure"].to_numpy(), np.asarray(fit.baseline.index))
    per_band = np.bincount(band, book["event"].to_numpy())
    assert per_band.min() >= 40


def test_bad_rows_are_refused():
    rows = pd.DataFrame({"customer_id": ["a", "a", "b"], "tenure": [0, 2, 5],
                         "event": [0, 1, 0], "x": [0.0, 1.0, 0.0]})
    with pytest.raises(InsufficientDataError, match="one row per customer and month"):
        fit_gamma_frailty(rows, ["x"])
    rows["tenure"] = [0, 1, 5]
    rows["event"] = [1, 0, 0]
    with pytest.raises(InsufficientDataError, match="last row"):
        fit_gamma_frailty(rows, ["x"])
    rows["event"] = 0
    with pytest.raises(InsufficientDataError, match="no departures"):
        fit_gamma_frailty(rows, ["x"])
