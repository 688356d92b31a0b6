"""The model of the synthetic bank book: configuration, time-fixed draws and ONE monthly step.

The generator simulates each customer month by month from the day they opened (up to 20 years
before the observation window), so the book seen in the window is left-truncated exactly as a
real one: customers who left before the window are never seen, and survivors enter late.

Model (monthly, on the tenure time scale)::

    hazard(t) = h0(t) * exp( b_prod * (n_products(t) - 2)
                             + b_eng * engagement
                             + b_age * (age_at_open - 45) / 10
                             + b_loan * [segment == loan]
                             + b_out * [large outflow in the previous 3 months]
                             + b_u * unmeasured
                             + b_branch[branch] )

and an event in month t happens with probability ``1 - exp(-hazard(t))`` (grouped continuous-time
proportional hazards). Confounding: ``engagement`` raises product adoption *and* lowers the hazard,
so a naive product-count comparison overstates the retention effect; adjusting for the measured
``engagement`` removes it. An optional unmeasured factor (off by default) acts the same way but is
not written to the data, for sensitivity analyses.

The **feedback** scenario (``SyntheticConfig(feedback=True)``, or
``SyntheticConfig.scenario("feedback")``; off by default, when the book above is unchanged bit
for bit) adds the feedback of real books (see ``docs/causal_truth.md``)::

    lift(t)   = lift(t-1) + aum_lift_speed * (aum_lift_per_product * (n_products(t) - 2) - lift(t-1))
    AUM(t)    = exp(log_aum(t) + lift(t))            (products raise later AUM, and so the tier)
    adoption  *= exp(tier_on_adoption * (tier(t-1) - 3))      (higher tier, more product offers)
    hazard(t) *= exp(log(hr_per_aum_lift) * lift(t)            (relationship depth built by products)
                     + engagement_hinge * max(0, -engagement))  (non-linear engagement effect)
                 * frailty                                      (gamma, mean 1, unmeasured)

so the value tier is a time-varying confounder affected by earlier products (products -> lift ->
tier -> adoption; lift -> hazard), and the conditional hazard ratio per product held now
(``hr_per_product``) is no longer the effect of holding more products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import ndtri

from analysis.config import TIER_THRESHOLDS

__all__ = [
    "SyntheticConfig",
    "BookState",
    "Month",
    "monthly_step",
    "baseline_hazard",
    "tier_from_aum",
    "REASON_MODEL",
    "REASON_FEATURES",
    "reason_shares",
    "scenario_config",
    "SCENARIOS",
    "FEEDBACK_FIELDS",
]

#: The named scenarios of the generator (``SyntheticConfig.scenario(name)``).
SCENARIOS: tuple[str, ...] = ("default", "feedback")
#: Fields that act only when ``feedback`` is on (left out of the truth-cache key while off).
FEEDBACK_FIELDS: tuple[str, ...] = ("feedback", "aum_lift_per_product", "aum_lift_speed",
                                    "hr_per_aum_lift", "tier_on_adoption", "frailty_variance",
                                    "engagement_hinge")

DEFAULT_BRANCHES: tuple[str, ...] = ("Central", "East", "Harbour", "North", "South", "West")


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the synthetic book; every true effect is a parameter.

    Hazard ratios are given on the natural scale (``hr_*``); the truth returned with the data
    carries both the HR and its log.
    """

    n_customers: int = 6000
    months: int = 36
    seed: int = 2024
    window_start: str = "2023-01-01"
    max_prior_years: int = 20
    branches: tuple[str, ...] = DEFAULT_BRANCHES
    # True hazard ratios.
    hr_per_product: float = 0.80
    hr_engagement: float = 0.70  # per SD of engagement
    hr_age_per_10y: float = 0.92
    hr_loan_segment: float = 1.25
    hr_recent_outflow: float = 8.0  # large outflow in the previous 3 months
    hr_unmeasured: float = 1.0  # per SD of the unmeasured factor; 1 = off
    branch_hr: tuple[float, ...] = (1.0, 1.15, 0.85, 1.05, 1.3, 0.9)
    # Non-proportional hazards (off by default): the loan segment's log-HR changes by this much
    # per year of tenure, centred at 5 years (log-HR = log(hr_loan_segment) + g*(tenure/12 - 5)).
    segment_loan_time_interaction: float = 0.0
    # Baseline monthly hazard scale (at 2 products, average covariates).
    baseline_scale: float = 0.009
    # Product dynamics: monthly adoption and drop probabilities; engagement raises adoption.
    adoption_rate: float = 0.012
    engagement_on_adoption: float = 0.6  # log-rate per SD
    unmeasured_on_adoption: float = 0.0  # log-rate per SD; 0 = off
    drop_rate: float = 0.003
    max_products: int = 10
    # Large fund outflows (early-warning signal).
    outflow_rate: float = 0.006
    engagement_on_outflow: float = -0.5
    tier_thresholds: tuple[float, ...] = TIER_THRESHOLDS
    chunk_size: int = 200_000
    # Feedback (the "feedback" scenario; every field below acts only when feedback is True).
    feedback: bool = False
    aum_lift_per_product: float = 0.5  # long-run log-AUM lift per product above 2
    aum_lift_speed: float = 0.05  # share of the gap to that lift closed each month
    hr_per_aum_lift: float = 0.55  # hazard ratio per unit of product-driven log-AUM lift
    tier_on_adoption: float = 0.3  # adoption log-rate per value tier (last month's) above 3
    frailty_variance: float = 0.25  # variance of the per-customer gamma frailty (mean 1)
    engagement_hinge: float = 0.35  # extra log-HR per SD of engagement below the mean

    @classmethod
    def scenario(cls, name: str = "default", **params) -> "SyntheticConfig":
        """The configuration of a named scenario (``"default"`` or ``"feedback"``).

        >>> SyntheticConfig.scenario("feedback").feedback
        True
        """
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
        return cls(**{"feedback": name == "feedback", **params})

    @property
    def scenario_name(self) -> str:
        """``"feedback"`` when the feedback is on, else ``"default"``."""
        return "feedback" if self.feedback else "default"

    def log_hr(self) -> dict[str, float]:
        return {
            "n_products": float(np.log(self.hr_per_product)),
            "engagement": float(np.log(self.hr_engagement)),
            "age_per_10y": float(np.log(self.hr_age_per_10y)),
            "segment_loan": float(np.log(self.hr_loan_segment)),
            "outflow_3m": float(np.log(self.hr_recent_outflow)),
            "unmeasured": float(np.log(self.hr_unmeasured)),
        }


def scenario_config(name: str = "default", **params) -> SyntheticConfig:
    """Module-level spelling of :meth:`SyntheticConfig.scenario`."""
    return SyntheticConfig.scenario(name, **params)


def baseline_hazard(tenure_months: np.ndarray, scale: float) -> np.ndarray:
    """Monthly baseline hazard over tenure.

    High in the first year (new relationships are fragile), lower later, with a bump around
    30 months (introductory rates and fee waivers running out).
    """
    t = np.asarray(tenure_months, dtype=float)
    return scale * (0.7 + 1.0 * np.exp(-t / 9.0) + 0.6 * np.exp(-(((t - 30.0) / 6.0) ** 2)))


def tier_from_aum(aum: np.ndarray, thresholds: tuple[float, ...] = TIER_THRESHOLDS) -> np.ndarray:
    """Value tier 1-5 ("stars") from AUM and the lower bounds of tiers 2..5."""
    return (np.searchsorted(np.asarray(thresholds), np.asarray(aum), side="right") + 1).astype(
        np.int8
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_baseline(rng: np.random.Generator, k: int, cfg: SyntheticConfig) -> dict:
    """Draw the time-fixed characteristics of ``k`` candidate customers (in a fixed order)."""
    prior = cfg.max_prior_years * 12
    # Opening month relative to the window start (negative = before the window). Account
    # openings grow slowly over time.
    u = rng.random(k)
    span = prior + cfg.months
    open_offset = np.floor(span * np.sqrt(u)).astype(int) - prior
    branch_idx = rng.integers(0, len(cfg.branches), k)
    age_at_open = np.clip(rng.normal(40.0, 13.0, k), 18, 85).round().astype(int)
    gender = np.where(rng.random(k) < 0.5, "F", "M")
    engagement = rng.normal(0.0, 1.0, k)
    unmeasured = rng.normal(0.0, 1.0, k)
    loan = rng.random(k) < _sigmoid(-0.5 + 0.03 * (45 - age_at_open))
    # Products at opening: 1-3, more for engaged customers; loan customers hold the loan too.
    n_prod = 1 + rng.binomial(2, _sigmoid(0.8 * engagement - 0.8)) + loan.astype(int)
    n_prod = n_prod.astype(np.int16)
    # AUM: heavy-tailed level, a random walk, and rare large outflows.
    log_aum = (
        9.7 + 0.35 * engagement + 0.012 * (age_at_open - 40) - 0.5 * loan + rng.normal(0, 1.85, k)
    )
    deposit_share = rng.beta(6, 3, k)
    loan_bal = np.where(loan, np.exp(rng.normal(11.8, 0.6, k)), 0.0)
    loan_term = rng.integers(120, 360, k)

    lh = cfg.log_hr()
    branch_lhr = np.log(np.asarray(cfg.branch_hr, dtype=float))[branch_idx]
    static_lp = (
        lh["engagement"] * engagement
        + lh["age_per_10y"] * (age_at_open - 45) / 10.0
        + lh["segment_loan"] * loan
        + lh["unmeasured"] * unmeasured
        + branch_lhr
    )
    adopt_lrate = (
        cfg.engagement_on_adoption * engagement + cfg.unmeasured_on_adoption * unmeasured
    )
    outflow_p = cfg.outflow_rate * np.exp(cfg.engagement_on_outflow * engagement)
    frailty = np.ones(k)
    if cfg.feedback:  # drawn last, so the draws above are those of the default book
        if cfg.frailty_variance > 0:
            theta = cfg.frailty_variance
            frailty = rng.gamma(1.0 / theta, theta, k)
        static_lp = static_lp + cfg.engagement_hinge * np.maximum(0.0, -engagement) + np.log(
            frailty)
    return dict(
        open_offset=open_offset,
        branch_idx=branch_idx,
        age_at_open=age_at_open,
        gender=gender,
        engagement=engagement,
        unmeasured=unmeasured,
        loan=loan,
        n_prod=n_prod,
        log_aum=log_aum,
        deposit_share=deposit_share,
        loan_bal=loan_bal,
        loan_term=loan_term,
        lh=lh,
        static_lp=static_lp,
        adopt_lrate=adopt_lrate,
        outflow_p=outflow_p,
        frailty=frailty,
    )


def _product_change(n: np.ndarray, r: np.ndarray, adopt_lrate: np.ndarray, started: np.ndarray,
                    cfg: SyntheticConfig) -> np.ndarray:
    """Products held this month given last month's ``n`` and uniforms ``r``.

    Adoptions (saturating at ``max_products``, faster for engaged customers) and occasional
    drops (never below one product); nothing changes in the opening month.
    """
    p_adopt = cfg.adoption_rate * np.exp(adopt_lrate) * (cfg.max_products - n) / cfg.max_products
    p_drop = np.where(n > 1, cfg.drop_rate, 0.0)
    change = np.where(r < p_adopt, 1, np.where(r > 1 - p_drop, -1, 0)) * started
    return (n + change).astype(np.int16)


def _monthly_hazard(tenure: np.ndarray, static_lp: np.ndarray, n: np.ndarray,
                    recent: np.ndarray, lh: dict, cfg: SyntheticConfig) -> np.ndarray:
    """Hazard this month: products now, any large outflow in the previous 3 months."""
    lp = static_lp + lh["n_products"] * (n - 2) + lh["outflow_3m"] * recent
    return baseline_hazard(tenure, cfg.baseline_scale) * np.exp(lp)


#: Why customers leave: given a closure, the reason is drawn from a multinomial logit whose
#: scores depend on the closing month's state (``high_aum``: AUM at tier 4+; ``recent_outflow``:
#: a large outflow in the previous 3 months, as in the hazard; ``age_65plus``). Shares at all features 0:
#: rates elsewhere 40%, relocation 27%, service dissatisfaction 30%, involuntary 3%.
REASON_MODEL: dict[str, dict[str, float]] = {
    "rates elsewhere": {"intercept": 0.0, "high_aum": 1.0},
    "relocation": {"intercept": -0.4},
    "service dissatisfaction": {"intercept": -0.3, "recent_outflow": 1.5},
    "death or other involuntary": {"intercept": -2.5, "age_65plus": 2.0},
}
REASON_FEATURES: tuple[str, ...] = ("high_aum", "recent_outflow", "age_65plus")


def reason_shares(**features) -> dict[str, float]:
    """True shares of the departure reasons given a closure, for 0/1 ``features``.

    >>> round(reason_shares()["rates elsewhere"], 3)
    0.401
    """
    scores = {r: c.get("intercept", 0.0) + sum(c.get(f, 0.0) * float(features.get(f, 0))
                                                 for f in REASON_FEATURES)
              for r, c in REASON_MODEL.items()}
    z = sum(np.exp(s) for s in scores.values())
    return {r: float(np.exp(s) / z) for r, s in scores.items()}


def _draw_reasons(rng: np.random.Generator, **features) -> np.ndarray:
    """Reason codes (index into :data:`REASON_MODEL`) for closures with the given features."""
    n = len(next(iter(features.values())))
    scores = np.column_stack([
        np.full(n, c.get("intercept", 0.0))
        + sum(c.get(f, 0.0) * np.asarray(features[f], dtype=float) for f in REASON_FEATURES)
        for c in REASON_MODEL.values()
    ])
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(n)
    return np.minimum((u[:, None] > cum).sum(axis=1), len(REASON_MODEL) - 1).astype(np.int8)


@dataclass
class BookState:
    """What changes month to month for ``k`` candidate customers (arrays indexed by candidate).

    ``log_aum`` is tracked by the book, and by the interventional-truth simulator only in the
    feedback scenario (where the tier drives adoption); otherwise it is None and no balance
    numbers are drawn. ``lift`` (feedback only) is the product-driven part of log AUM.
    """

    b: dict  # the time-fixed draws of :func:`_draw_baseline`
    n_prod: np.ndarray
    alive: np.ndarray
    last_outflow: np.ndarray  # absolute month of the last large outflow
    log_aum: np.ndarray | None = None
    lift: np.ndarray | None = None

    @classmethod
    def opening(cls, b: dict, *, balances: bool, feedback: bool = False) -> "BookState":
        """State at opening: products and balances as drawn, nobody has left, no outflow yet."""
        k = b["open_offset"].size
        return cls(b=b, n_prod=b["n_prod"], alive=np.ones(k, dtype=bool),
                   last_outflow=np.full(k, -10_000, dtype=int),
                   log_aum=b["log_aum"] if balances else (
                       b["log_aum"].copy() if feedback else None),
                   lift=np.zeros(k) if feedback else None)

    def copy(self) -> "BookState":
        """An independent copy of the changing arrays (the time-fixed draws are shared)."""
        def c(x):
            return None if x is None else x.copy()
        return BookState(b=self.b, n_prod=self.n_prod.copy(), alive=self.alive.copy(),
                         last_outflow=self.last_outflow.copy(), log_aum=c(self.log_aum),
                         lift=c(self.lift))

    def aum(self, idx: np.ndarray) -> np.ndarray:
        """AUM of customers ``idx`` now (with the product-driven lift in the feedback scenario)."""
        if self.lift is None:
            return np.exp(self.log_aum[idx])
        return np.exp(self.log_aum[idx] + self.lift[idx])


@dataclass
class Month:
    """One simulated month of the customers on book (arrays aligned with ``idx``)."""

    idx: np.ndarray  # candidates on book this month
    tenure: np.ndarray
    n: np.ndarray  # products held this month
    outflow: np.ndarray  # a large outflow this month
    recent: np.ndarray  # a large outflow in the previous 3 months (enters the hazard)
    event: np.ndarray  # left this month
    tier: np.ndarray | None = None  # value tier this month (feedback scenario only)


def monthly_step(state: BookState, m: int, cfg: SyntheticConfig,
                 uniform: Callable[[np.ndarray], np.ndarray], *,
                 balance_rng: np.random.Generator | None = None,
                 set_products: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                 ) -> Month | None:
    """Advance every customer on book in absolute month ``m`` by one month (``state`` in place).

    The ONE monthly step of the model, shared by the book (:mod:`analysis.data.synthetic`) and
    the interventional-truth simulator (:mod:`analysis.data.truth`). The order of the random
    numbers is part of the model (the book is reproducible bit for bit): ``uniform(idx)`` gives
    the uniforms of the customers ``idx`` for, in turn, the product change, the outflow and the
    event; with ``balance_rng`` the balances move between the product and outflow draws (drift)
    and after the outflow draw (outflow sizes). Without ``balance_rng`` but with balances in
    ``state`` (the truth simulator in the feedback scenario) the drift and the outflow sizes come
    from ``uniform`` too, at the same places (drift via the normal quantile), so every random
    number of a customer-month is indexed by customer (common random numbers).
    ``set_products(idx, n)`` may replace this month's product counts after the natural change
    (an intervention). Returns None when nobody is on book.
    """
    b = state.b
    open_offset = b["open_offset"]
    idx = np.flatnonzero(state.alive & (open_offset <= m))
    if idx.size == 0:
        return None
    tenure = m - open_offset[idx]
    started = tenure > 0
    adopt = b["adopt_lrate"][idx]
    if cfg.feedback:  # last month's tier drives product offers
        adopt = adopt + cfg.tier_on_adoption * (
            tier_from_aum(state.aum(idx), cfg.tier_thresholds).astype(float) - 3.0)
    # Products held this month: adoptions (saturating) and occasional drops.
    n = _product_change(state.n_prod[idx], uniform(idx), adopt, started, cfg)
    if set_products is not None:
        n = set_products(idx, n)
    state.n_prod[idx] = n
    if cfg.feedback:  # products held now build the product-driven part of AUM
        lift = state.lift[idx]
        state.lift[idx] = lift + started * cfg.aum_lift_speed * (
            cfg.aum_lift_per_product * (n - 2.0) - lift)
    if balance_rng is not None:
        state.log_aum[idx] += started * balance_rng.normal(0.004, 0.06, idx.size)
    elif state.log_aum is not None:
        state.log_aum[idx] += started * (0.004 + 0.06 * ndtri(uniform(idx)))
    out = started & (uniform(idx) < b["outflow_p"][idx])
    if balance_rng is not None:
        state.log_aum[idx[out]] += np.log(balance_rng.uniform(0.15, 0.5, out.sum()))
    elif state.log_aum is not None:
        state.log_aum[idx[out]] += np.log(0.15 + 0.35 * uniform(idx)[out])
    # Hazard this month: products now, any outflow in the previous 3 months.
    recent = (m - state.last_outflow[idx]) <= 3
    state.last_outflow[idx[out]] = m
    slp = b["static_lp"][idx]
    if cfg.segment_loan_time_interaction:  # non-proportional loan effect (off by default)
        slp = slp + cfg.segment_loan_time_interaction * b["loan"][idx] * (tenure / 12.0 - 5.0)
    tier = None
    if cfg.feedback:
        slp = slp + np.log(cfg.hr_per_aum_lift) * state.lift[idx]
        tier = tier_from_aum(state.aum(idx), cfg.tier_thresholds)
    h = _monthly_hazard(tenure, slp, n, recent, b["lh"], cfg)
    event = uniform(idx) < -np.expm1(-h)
    state.alive[idx[event]] = False
    return Month(idx=idx, tenure=tenure, n=n, outflow=out, recent=recent, event=event, tier=tier)
