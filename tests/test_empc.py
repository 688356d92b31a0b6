"""EMPC (stats/empc.py) against an independent computation: numerical integration over the
success rate of the maximum profit over EVERY point of the ROC curve (no convex hull, no
closed form), with scipy's adaptive quadrature; and the paper's profit per contact by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import beta as beta_dist

from analysis.stats.empc import beta_from_mean, campaign_profit, empc, roc_hull, roc_points


def _brute_empc(scores, labels, clv, d, f, a, b):
    x, y = roc_points(scores, labels)  # every ROC point: F1 (stayers), F0 (leavers) listed
    pi0 = np.mean(labels)
    pi1 = 1 - pi0

    def best(g):
        return np.max(clv * ((g * (1 - d / clv) - f / clv) * pi0 * y - (d / clv + f / clv) * pi1 * x))

    # the maximum is piecewise linear in g: integrate each of 400 equal pieces adaptively
    edges = np.linspace(0, 1, 401)
    return sum(integrate.quad(lambda g: best(g) * beta_dist.pdf(g, a, b), lo, hi, limit=200,
                              epsabs=1e-10, epsrel=0)[0] for lo, hi in zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("seed,n,clv,d,f,a,b", [
    (1, 300, 200.0, 10.0, 1.0, 6.0, 14.0),      # the paper's defaults
    (2, 500, 1500.0, 200.0, 50.0, 6.0, 14.0),   # this project's scale
    (3, 200, 100.0, 5.0, 2.0, 2.0, 3.0),
])
def test_empc_matches_brute_force_integration(seed, n, clv, d, f, a, b):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.2).astype(int)
    scores = np.round(labels * 0.8 + rng.normal(0, 1, n), 2)  # rounded: ties too
    got = empc(scores, labels, clv=clv, offer_cost=d, contact_cost=f, alpha=a, beta=b).empc
    want = _brute_empc(scores, labels, clv, d, f, a, b)
    assert got == pytest.approx(want, abs=1e-6)
    assert got > 0


def test_empc_list_fraction_matches_a_fine_grid():
    rng = np.random.default_rng(5)
    labels = (rng.random(400) < 0.25).astype(int)
    scores = labels + rng.normal(0, 1, 400)
    r = empc(scores, labels, clv=200, offer_cost=10, contact_cost=1)
    x, y = roc_points(scores, labels)
    pi0 = labels.mean()
    g = np.linspace(0, 1, 200_001)[1:-1]
    prof = (g[:, None] * 0.95 - 0.005) * pi0 * y[None] - 0.055 * (1 - pi0) * x[None]
    frac = (pi0 * y + (1 - pi0) * x)[np.argmax(prof, axis=1)]
    w = beta_dist.pdf(g, 6, 14)
    assert r.fraction == pytest.approx(np.sum(frac * w) / np.sum(w), abs=1e-4)


def test_one_tie_group_lists_everybody_only_when_the_success_rate_is_high():
    labels = np.r_[np.ones(10), np.zeros(90)]
    r = empc(np.zeros(100), labels, clv=200, offer_cost=10, contact_cost=1)
    # list nobody (0) or everybody: 200 * [(0.95 g - 0.005) * 0.1 - 0.055 * 0.9] = 19 g - 10
    g = 10 / 19
    want = 19 * 0.3 * beta_dist.sf(g, 7, 14) - 10 * beta_dist.sf(g, 6, 14)
    assert r.empc == pytest.approx(want, abs=1e-12)
    assert r.fraction == pytest.approx(beta_dist.sf(g, 6, 14), abs=1e-12)


def test_hull_drops_points_under_a_chord():
    x, y = roc_hull([4, 3, 2, 1], [1, 0, 1, 0])
    assert x.tolist() == [0.0, 0.0, 0.5, 1.0] and y.tolist() == [0.0, 0.5, 1.0, 1.0]


def test_campaign_profit_by_hand_and_beta_parameters():
    # 3 leavers on the list: 0.3 * (1000 - 100) - 20 each; 7 stayers: -(100 + 20) each
    assert campaign_profit(3, 7, clv=1000, offer_cost=100, contact_cost=20,
                           success_rate=0.3) == pytest.approx(3 * 250 - 7 * 120)
    assert beta_from_mean(0.25, 8) == (2.0, 6.0)
    with pytest.raises(ValueError, match="0 < mean < 1"):
        beta_from_mean(1.2, 20)
    with pytest.raises(ValueError, match="offer_cost < clv"):
        empc([1, 0], [1, 0], clv=10, offer_cost=20, contact_cost=1)
