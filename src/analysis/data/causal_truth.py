"""Interventional truth on the report's scales: RMST, retention and the marginal HR per product.

Part of :func:`analysis.data.truth.simulate_intervention_truth` (see ``docs/causal_truth.md``).
Every customer of the window population (on book at the window start, or opening inside the
window) is followed from *study entry* (the first month observed in the window: the window start,
or the opening month) for ``HORIZON`` months, beyond the window end if needed (the truth has no
administrative censoring), under each regime:

``natural``
    No intervention.
``k`` (1..4), "static"
    The customer holds exactly k products every month from entry on.
``one_more``
    A latent *natural* count N evolves by the book's product rule (given last month's N and the
    covariates as they are under the intervention, e.g. the tier built by the products held);
    the customer holds min(N + 1, max_products).

Interventions act in the entry month after that month's natural change. All regimes share their
random numbers customer by customer and month by month (common random numbers). ``T`` is the
number of months on book from entry, counting the entry month (the counting-process ``stop -
entry``); ``RMST_tau = E[min(T, tau)]``, retention at 12 months ``= P(T > 12)``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from analysis.data.dynamics import BookState, SyntheticConfig, monthly_step

__all__ = ["HORIZON", "STATIC_K", "MEASURES", "causal_arm", "causal_truth", "grouped_efron_hr",
           "draws_per_month"]

#: Follow-up after study entry (months).
HORIZON = 36
#: The "everyone holds exactly k products" arms.
STATIC_K = (1, 2, 3, 4)
#: Measures of each arm: RMST at 12/24/36 months after entry, P(still a customer at 12 months).
MEASURES = ("rmst_12", "rmst_24", "rmst_36", "retention_12")
#: Independent batches of customers for the Monte Carlo standard errors (batch means).
BATCHES = 20

DEFINITION = (
    "time origin = study entry (first month in the window: window start, or opening); follow-up "
    "36 months (simulated past the window end, no censoring); population = every customer in the "
    "window at entry; T = months on book from entry counting the entry month; rmst_tau = "
    "E[min(T, tau)]; retention_12 = P(T > 12); static[k]: exactly k products every month from "
    "entry; one_more_product: min(N+1, max_products) with N the natural count evolving under the "
    "intervention; marginal_hr_per_product: exp(beta), Cox (Efron ties, time since entry, "
    "censored at 36) with k linear on the pooled static arms k=1..4; marginal_hr_k_vs_1: Cox HR "
    "of static arm k vs 1; common random numbers across arms; mc_se: batch-means Monte Carlo SE"
)


def _arm_state(state: dict) -> BookState:
    """A fresh copy of the state at the window start (every arm starts from the same one)."""
    return BookState(b=state["b"], n_prod=state["n_prod"].copy(), alive=state["alive"].copy(),
                     last_outflow=state["last_outflow"].copy(),
                     log_aum=None if state["log_aum"] is None else state["log_aum"].copy(),
                     lift=None if state["lift"] is None else state["lift"].copy())


def draws_per_month(cfg: SyntheticConfig) -> int:
    """Uniforms per customer-month: products, outflow, event (+ drift, outflow size: feedback)."""
    return 5 if cfg.feedback else 3


def causal_arm(state: dict, cfg: SyntheticConfig, seed_seq, regime, horizon: int = HORIZON
               ) -> dict:
    """Follow the window population of one chunk from study entry under ``regime``.

    ``regime``: None (natural course), an int k (exactly k products from entry on) or
    ``"one_more"``. Random numbers: one ``(draws_per_month, k)`` block per month from
    ``seed_seq``, indexed by candidate (common random numbers). Returns ``T`` and ``event``
    (left within ``horizon`` months) for the window population, in candidate order.
    """
    b = state["b"]
    k = b["open_offset"].size
    arm = _arm_state(state)
    arm.alive &= state["window"]
    entry_m = np.maximum(b["open_offset"], 0)
    T = np.zeros(k, dtype=np.int32)
    event = np.zeros(k, dtype=bool)
    latent = arm.n_prod.copy()  # the natural count under "one_more"
    cap = cfg.max_products

    def set_products(idx, n):
        if regime is None:
            return n
        if regime == "one_more":
            latent[idx] = n
            return np.minimum(n + 1, cap).astype(np.int16)
        return np.full(idx.size, int(regime), dtype=np.int16)

    rng = np.random.default_rng(seed_seq)
    for m in range(cfg.months + horizon - 1):
        rows = iter(rng.random((draws_per_month(cfg), k)))
        if regime == "one_more":  # the natural change acts on the latent count
            np.copyto(arm.n_prod, latent)
        mo = monthly_step(arm, m, cfg, lambda idx: next(rows)[idx], set_products=set_products)
        if mo is None:
            if m >= cfg.months:
                break
            continue
        T[mo.idx] = m - entry_m[mo.idx] + 1
        event[mo.idx[mo.event]] = True
        arm.alive[mo.idx[T[mo.idx] >= horizon]] = False  # follow-up complete
    w = state["window"]
    return dict(T=T[w], event=event[w])


def grouped_efron_hr(arms: list[dict], x: list[float], horizon: int = HORIZON) -> float:
    """Log hazard ratio per unit of ``x`` of a Cox model (Efron ties) on pooled arms.

    Each arm is ``{"T", "event"}`` (time since entry, integer months; censored at ``horizon``)
    with covariate value ``x`` for all its rows. Customers with the same covariate and time are
    exchangeable, so the partial likelihood is computed from the numbers at risk and leaving per
    arm and month (the same value as a Cox fit on the individual rows).
    """
    t = np.arange(1, horizon + 1)
    r = np.array([[np.sum(a["T"] >= s) for s in t] for a in arms], dtype=float)
    d = np.array([np.bincount(np.minimum(a["T"][a["event"]], horizon + 1), minlength=horizon + 2
                              )[1:horizon + 1] for a in arms], dtype=float)
    xs = np.asarray(x, dtype=float)
    dt = d.sum(axis=0)
    frac = [np.arange(int(n)) / n for n in dt]
    sx = float((d * xs[:, None]).sum())

    def negll(beta):
        e = np.exp(beta * xs)[:, None]
        R, D = (r * e).sum(axis=0), (d * e).sum(axis=0)
        return -(beta * sx - sum(np.log(R[i] - f * D[i]).sum() for i, f in enumerate(frac)))

    res = minimize_scalar(negll, bounds=(-5.0, 5.0), method="bounded",
                          options={"xatol": 1e-12})
    return float(res.x)


def _measures(a: dict) -> dict:
    T = a["T"]
    out = {f"rmst_{tau}": float(np.minimum(T, tau).mean()) for tau in (12, 24, 36)}
    out["retention_12"] = float((T > 12).mean())
    return out


def _estimands(arms: dict, rows=slice(None)) -> dict:
    """Every causal estimand from the arms (restricted to customers ``rows``)."""
    sub = {key: {"T": a["T"][rows], "event": a["event"][rows]} for key, a in arms.items()}
    nat, more = _measures(sub[None]), _measures(sub["one_more"])
    more["rmst_36_gain"] = more["rmst_36"] - nat["rmst_36"]
    more["retention_12_gain"] = more["retention_12"] - nat["retention_12"]
    log_hr = grouped_efron_hr([sub[k] for k in STATIC_K], list(STATIC_K))
    k_vs_1 = {str(k): float(np.exp(grouped_efron_hr([sub[1], sub[k]], [0.0, 1.0])))
              for k in STATIC_K[1:]}
    return {"static": {str(k): _measures(sub[k]) for k in STATIC_K}, "natural_course": nat,
            "one_more_product": more, "marginal_hr_per_product": float(np.exp(log_hr)),
            "log_marginal_hr_per_product": log_hr, "marginal_hr_k_vs_1": k_vs_1}


def _se(parts: list):
    """Batch-means standard error, leaf by leaf, of a list of nested dicts of floats."""
    if isinstance(parts[0], dict):
        return {key: _se([p[key] for p in parts]) for key in parts[0]}
    v = np.asarray(parts, dtype=float)
    return float(v.std(ddof=1) / np.sqrt(v.size))


def causal_truth(states: list[dict], cfg: SyntheticConfig, seed: int, *,
                 horizon: int = HORIZON, batches: int = BATCHES) -> dict:
    """Simulate every regime on the chunks ``states`` and return ``ground_truth()["causal"]``.

    Chunk ``c`` draws its window random numbers from ``SeedSequence([seed, c, 2])`` (a stream of
    its own: the entry-month arms of the IPW truth keep theirs).
    """
    arms = {}
    for regime in (None, "one_more", *STATIC_K):
        res = [causal_arm(st, cfg, np.random.SeedSequence([seed, c, 2]), regime, horizon)
               for c, st in enumerate(states)]
        arms[regime] = {key: np.concatenate([r[key] for r in res]) for key in ("T", "event")}
    n = arms[None]["T"].size
    out = _estimands(arms)
    batch = np.arange(n) * batches // n
    out["mc_se"] = _se([_estimands(arms, batch == i) for i in range(batches)])
    out.update(definition=DEFINITION, horizon_months=horizon, n_customers=int(n), seed=seed,
               batches=batches)
    return out
