"""The shifted-beta-geometric retention model: Fader and Hardie's published fit, left
truncation recovered by simulation, and the projections against brute-force sums."""

import numpy as np
import pytest
from scipy.special import betaln

from analysis.errors import ConvergenceWarning, InsufficientDataError
from analysis.stats.sbg import SBGFit, fit_sbg, survivor_rows

# Fader & Hardie (2007), Table 1: customers of 1000 still active at the start of years 0..7.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def _fit_counts(alive):
    rows = survivor_rows(alive)
    return fit_sbg(rows["entry"], rows["exit"], rows["event"], rows["weight"])


def _expand(alive):
    """One row per customer (no weights): the same data the long way."""
    rows = survivor_rows(alive)
    rep = rows.loc[rows.index.repeat(rows["weight"])]
    return rep["entry"].to_numpy(), rep["exit"].to_numpy(), rep["event"].to_numpy()


@pytest.mark.parametrize("alive, alpha, beta, loglik", [
    # The paper's estimates (section 4). Note the labels: the regular cohort (37% gone after a
    # year) has the low beta; alpha / (alpha + beta) is the first year's churn, so 0.668 /
    # 4.474 = 15% cannot belong to the regular cohort whatever the labels say.
    (REGULAR, 0.704, 1.182, -1680.3),
    (HIGH_END, 0.668, 3.806, -1611.2),
])
def test_fader_hardie_published_fit(alive, alpha, beta, loglik):
    fit = _fit_counts(alive)
    assert round(fit.alpha, 3) == alpha
    assert round(fit.beta, 3) == beta
    assert round(fit.loglik, 1) == loglik
    assert (fit.n, fit.events) == (1000, 1000 - alive[-1])
    # the log-likelihood is the closed form at the estimates
    a, b = fit.alpha, fit.beta
    lost, t = -np.diff(alive), np.arange(1, 8)
    direct = (lost * (betaln(a + 1, b + t - 1) - betaln(a, b))).sum() \
        + alive[-1] * (betaln(a, b + 7) - betaln(a, b))
    assert fit.loglik == pytest.approx(direct, rel=1e-12)
    # per-customer rows give the same fit as the pooled weights
    long = fit_sbg(*_expand(alive))
    assert long.alpha == pytest.approx(fit.alpha, rel=1e-7)
    assert long.beta == pytest.approx(fit.beta, rel=1e-7)
    assert long.cov == pytest.approx(fit.cov, rel=1e-6)


def test_projection_tracks_the_held_out_years():
    # The paper's point: fitted to years 1-7, the sBG projects years 8-12 closely
    # (Table 1 continues: regular 223, 207, 194, 183, 173; high end 468, 445, 427, 409, 394).
    held_out = {"regular": (REGULAR, [223, 207, 194, 183, 173]),
                "high_end": (HIGH_END, [468, 445, 427, 409, 394])}
    for alive, actual in held_out.values():
        fit = _fit_counts(alive)
        projected = 1000 * fit.survival(np.arange(8, 13))
        assert np.abs(projected / np.array(actual) - 1).max() < 0.05


def test_standard_errors_match_a_numerical_hessian():
    fit = _fit_counts(REGULAR)
    lost, t = -np.diff(REGULAR), np.arange(1, 8)

    def ll(u, v):
        a, b = np.exp(u), np.exp(v)
        return (lost * (betaln(a + 1, b + t - 1) - betaln(a, b))).sum() \
            + REGULAR[-1] * (betaln(a, b + 7) - betaln(a, b))

    u, v, h = np.log(fit.alpha), np.log(fit.beta), 1e-4
    huu = (ll(u + h, v) - 2 * ll(u, v) + ll(u - h, v)) / h**2
    hvv = (ll(u, v + h) - 2 * ll(u, v) + ll(u, v - h)) / h**2
    huv = (ll(u + h, v + h) - ll(u + h, v - h) - ll(u - h, v + h) + ll(u - h, v - h)) / (4 * h**2)
    cov = np.linalg.inv(-np.array([[huu, huv], [huv, hvv]]))
    assert fit.cov == pytest.approx(cov, rel=1e-4)
    assert fit.se_alpha == pytest.approx(fit.alpha * np.sqrt(cov[0, 0]), rel=1e-4)
    tab = fit.table()
    assert tab["parameter"].tolist() == ["alpha", "beta", "mean_churn"]
    a_row = tab.iloc[0]
    assert a_row["ci_low"] == pytest.approx(fit.alpha * np.exp(-1.959964 * fit.se_log_alpha))
    mean = tab.iloc[2]
    assert mean["estimate"] == pytest.approx(0.704 / (0.704 + 1.182), abs=1e-3)
    assert mean["ci_low"] < mean["estimate"] < mean["ci_high"]


@pytest.fixture(scope="module")
def truncated_book():
    """Customers from Beta(2, 6), seen only if they survive to a random entry tenure (0-24),
    then followed for up to 24 months."""
    rng = np.random.default_rng(20070101)
    n = 200_000
    theta = rng.beta(2.0, 6.0, n)
    T = rng.geometric(theta)  # P(T = t) = (1 - theta)^(t - 1) theta, t >= 1
    entry = rng.integers(0, 25, n)
    seen = T > entry
    entry, T = entry[seen], T[seen]
    end = entry + 24
    return entry, np.minimum(T, end), (T <= end).astype(int)


def test_left_truncation_recovers_the_beta(truncated_book):
    entry, exit_, event = truncated_book
    fit = fit_sbg(entry, exit_, event)
    assert abs(np.log(fit.alpha) - np.log(2.0)) < 3 * fit.se_log_alpha
    assert abs(np.log(fit.beta) - np.log(6.0)) < 3 * fit.se_log_beta
    # ignoring the entry treats the survivors as a fresh cohort: churn looks far lower
    naive = fit_sbg(np.zeros_like(entry), exit_, event)
    true_mean = 2.0 / 8.0
    assert naive.alpha / (naive.alpha + naive.beta) < 0.5 * true_mean
    assert abs(np.log(naive.beta) - np.log(6.0)) > 20 * naive.se_log_beta
    assert fit.alpha / (fit.alpha + fit.beta) == pytest.approx(true_mean, abs=0.01)


def test_projections_against_brute_force():
    fit = SBGFit(alpha=0.704, beta=1.182, cov=np.eye(2), loglik=0.0, n=1, events=1)
    a, b = fit.alpha, fit.beta
    # S(t) as the product of the retention rates, P(T = t) as S(t - 1) - S(t)
    t = np.arange(0, 41)
    r = (b + t[1:] - 1) / (a + b + t[1:] - 1)
    S = np.concatenate([[1.0], np.cumprod(r)])
    assert fit.survival(t) == pytest.approx(S, rel=1e-12)
    assert fit.pmf(t[1:]) == pytest.approx(S[:-1] - S[1:], rel=1e-10)
    assert fit.retention_rate(t[1:]) == pytest.approx(r)
    assert np.all(np.diff(fit.retention_rate(t[1:])) > 0)  # rising: the sBG's signature
    # and S(t) by integrating (1 - theta)^t over the Beta density
    from scipy import integrate, stats
    s5 = integrate.quad(lambda th: (1 - th) ** 5 * stats.beta.pdf(th, a, b), 0, 1)[0]
    assert fit.survival(5) == pytest.approx(s5, rel=1e-8)
    # conditional survival, vectorised over customers
    t0 = np.array([0, 3, 10, 24])
    assert fit.conditional_survival(t0, t0 + 12) == pytest.approx(S[t0 + 12] / S[t0],
                                                                  rel=1e-12)
    assert fit.conditional_survival(3, [3, 15]) == pytest.approx([1.0, S[15] / S[3]])
    # expected months on book over 12 months, with and without a discount
    disc = 1 / 1.01 ** np.arange(12)
    for x in t0:
        brute = sum(fit.survival(x + m - 1) / fit.survival(x) for m in range(1, 13))
        assert fit.expected_months(x, 12) == pytest.approx(brute, rel=1e-12)
        brute_d = sum(disc[m - 1] * fit.survival(x + m - 1) / fit.survival(x)
                      for m in range(1, 13))
        assert fit.expected_months(x, 12, disc) == pytest.approx(brute_d, rel=1e-12)
    em = fit.expected_months(t0, 12)
    assert em.shape == (4,) and np.all(np.diff(em) > 0)  # loyal old customers stay longer
    assert fit.expected_months(0, 1) == 1.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="exit > entry"):
        fit_sbg([3], [3], [1])
    with pytest.raises(ValueError, match="exit > entry"):
        fit_sbg([0], [0], [1])
    with pytest.raises(ValueError, match="exit must be >= entry"):
        fit_sbg([5], [3], [0])
    with pytest.raises(ValueError, match="whole numbers"):
        fit_sbg([-1], [3], [1])
    with pytest.raises(ValueError, match="whole numbers"):
        fit_sbg([0], [2.5], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        fit_sbg([0], [2], [2])
    with pytest.raises(ValueError, match="same length"):
        fit_sbg([0, 0], [2], [1])
    with pytest.raises(ValueError, match="weights"):
        fit_sbg([0], [2], [1], [-1])
    with pytest.raises(InsufficientDataError, match="no customer left"):
        fit_sbg([0, 0], [3, 5], [0, 0])
    with pytest.raises(InsufficientDataError, match="no customers"):
        fit_sbg([], [], [])
    fit = _fit_counts(REGULAR)
    with pytest.raises(ValueError, match="t1 must be >= t0"):
        fit.conditional_survival([5], [4])
    with pytest.raises(ValueError, match=">= 1"):
        fit.retention_rate(0)
    with pytest.raises(ValueError, match="discount"):
        fit.expected_months(0, 12, np.ones(11))


def test_no_heterogeneity_warns():
    # Expected counts of a constant 20% churn: the sBG can only approach it as alpha, beta -> inf
    alive = 1000 * 0.8 ** np.arange(8)
    rows = survivor_rows(alive)
    with pytest.warns(ConvergenceWarning, match="no spread"):
        fit = fit_sbg(rows["entry"], rows["exit"], rows["event"], rows["weight"])
    assert fit.alpha / (fit.alpha + fit.beta) == pytest.approx(0.2, abs=1e-3)
