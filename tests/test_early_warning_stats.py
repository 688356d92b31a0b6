"""Generic methods of report 04: the discrete-time hazard fit against statsmodels' GLM, the
ranking metrics against scikit-learn and by hand, the cluster bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.metrics import roc_auc_score

from analysis.errors import InsufficientDataError
from analysis.stats.discrete_hazard import cumulative_risk, fit_discrete_hazard
from analysis.stats.ranking import (auc, calibration_groups, cluster_bootstrap, list_top,
                                    top_fraction_lift)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 4000
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.random(n) < 0.3])
    eta = -3.0 + 0.5 * X[:, 1] + 0.8 * X[:, 2]
    y = (rng.random(n) < -np.expm1(-np.exp(eta))).astype(float)
    return X.astype(float), y


@pytest.mark.parametrize("link,sm_link", [("cloglog", sm.families.links.CLogLog()),
                                          ("logit", sm.families.links.Logit())])
def test_fit_matches_statsmodels_glm(data, link, sm_link):
    X, y = data
    ours = fit_discrete_hazard(X, y, link=link)
    ref = sm.GLM(y, X, family=sm.families.Binomial(link=sm_link)).fit(tol=1e-12)
    np.testing.assert_allclose(ours.coef, ref.params, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.cov)), ref.bse, rtol=1e-5)
    assert ours.loglik == pytest.approx(ref.llf, abs=1e-6)


def test_ridge_shrinks_but_not_the_intercept(data):
    X, y = data
    free = fit_discrete_hazard(X, y)
    tied = fit_discrete_hazard(X, y, ridge=1e4)
    assert np.all(np.abs(tied.coef[1:]) < np.abs(free.coef[1:]) / 2)
    # the intercept still matches the overall rate
    assert tied.predict(X).mean() == pytest.approx(y.mean(), rel=0.05)


def test_no_departure_is_not_estimable(data):
    X, _ = data
    with pytest.raises(InsufficientDataError, match="no departure"):
        fit_discrete_hazard(X, np.zeros(len(X)))


def test_cumulative_risk_by_hand():
    np.testing.assert_allclose(cumulative_risk([[0.1, 0.2, 0.3]]), [1 - 0.9 * 0.8 * 0.7])


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    y = rng.random(500) < 0.3
    s = np.round(y + rng.normal(size=500), 1)
    assert auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_lift_splits_a_cut_tie_group():
    # top 30% = 3 of 10: scores 9 (case) and two of the four tied 5s (2 cases among 4)
    s = [9, 5, 5, 5, 5, 1, 1, 1, 1, 1]
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert top_fraction_lift(s, y, 0.3) == pytest.approx(((1 + 2 * 2 / 4) / 3) / 0.4)


def test_list_top_respects_eligibility():
    got = list_top([5, 4, 3, 2], 3, eligible=[True, False, True, False])
    assert got.tolist() == [True, False, True, False]


def test_calibration_groups_by_hand():
    g = calibration_groups([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1], groups=2)
    assert g["n"].tolist() == [2, 2]
    assert g["observed"].tolist() == [0.5, 1.0]
    assert g["predicted"].tolist() == pytest.approx([0.1, 0.9])
    assert (g["ci_low"] <= g["observed"]).all() and (g["ci_high"] >= g["observed"]).all()


def test_cluster_bootstrap_is_reproducible_and_covers_the_estimate():
    rng = np.random.default_rng(0)
    num = rng.random((200, 2))
    den = np.ones(200)
    a = cluster_bootstrap(num, den, n_boot=100, seed=4)
    b = cluster_bootstrap(num, den, n_boot=100, seed=4)
    np.testing.assert_array_equal(a["draws"], b["draws"])
    np.testing.assert_allclose(a["estimate"], num.mean(axis=0))
    assert np.all(a["ci_low"] < a["estimate"]) and np.all(a["estimate"] < a["ci_high"])
