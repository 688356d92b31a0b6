"""Each customer's future from their last observed month: survival, months and discounted profit.

The projection reuses the monthly models of the parametric g-formula
(:mod:`analysis.stats.gformula`: product changes, large outflows, balance and the hazard of
leaving, fitted on the person-month history) and simulates every customer on book at the as-of
month forward, month by month, from their own state then (products, product history, outflows
of the last three months, balance, tier, tenure). Survival is the product of ``1 - hazard``
along each path (no event draws), so a customer's expected months on book over the horizon and
expected discounted profit are sums over the path:

    months_i = sum_{m=1..H} S_i(m-1)
    clv_i    = sum_{m=1..H} S_i(m-1) * margin_i(m) * (1 + r)^(-m/12)

with ``S_i(m-1)`` the chance of still being on book in month ``m`` (a customer leaving in month
``m`` earns that month's profit, as the closing month's row of the data). The **margin** of a
simulated month is the customer's profit in the as-of month moved by what changed since:
``margin = profit_asof + g_aum * (AUM - AUM_asof) + g_products * (products - products_asof)
+ g_loan * (loan - loan_asof)``, with ``g`` from a regression of monthly profit on the balances
and products *within* customers (:func:`margin_model`; customer fixed effects, so it reads how
a customer's profit moves when their balance or products move, not differences between
customers), and the loan balance running down along each customer's own trend of the last 12
months. Time since study entry is held at its as-of value (the conditions of the last month carry
forward); tenure moves on.

A :class:`Scenario` changes the products held (a rule on the natural count, as the g-formula's
interventions) and/or the hazard; scenarios share their random numbers (common random numbers),
so differences between them carry little Monte Carlo noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.stats.gformula import (_draws, _linear_parts, _paths, _stacked, _tier,
                                     tenure_basis)

__all__ = ["Scenario", "margin_model", "start_states", "project", "PROJECTED"]

#: Per-customer quantities of :func:`project`.
PROJECTED = ("months", "dmonths", "clv", "profit12", "lost12", "departs12")


@dataclass(frozen=True)
class Scenario:
    """A change to the natural course: ``products(natural, t) -> count`` and/or
    ``hazard(h, st, lp) -> h`` (``st`` the month's state, ``lp()`` the hazard's linear predictor).
    """

    products: Callable | None = None
    hazard: Callable | None = None


NATURAL = Scenario()


def margin_model(panel: pd.DataFrame, *, value: str = "profit",
                 terms: Sequence[str] = ("aum", "loan_balance", "n_products"),
                 id_col: str = "customer_id") -> dict:
    """How a customer's monthly profit moves with their balances and products (within customers).

    Ordinary least squares of ``value`` on ``terms`` after removing each customer's mean (the
    fixed-effects "within" estimator); terms absent from the panel or constant within every
    customer are left out.

    Returns
    -------
    dict
        ``coef`` (term -> profit per unit), ``se`` (classical standard errors), ``r2`` (within).

    Examples
    --------
    >>> p = pd.DataFrame({"customer_id": list("aabb"), "profit": [2.0, 3.0, 10.0, 12.0],
    ...                   "aum": [100.0, 200.0, 1000.0, 1200.0], "n_products": [1, 1, 2, 2]})
    >>> margin_model(p)["coef"]
    {'aum': 0.01}
    """
    use = [c for c in terms if c in panel]
    g = panel.groupby(id_col, sort=False)
    y = panel[value].to_numpy(dtype=float)
    y = y - g[value].transform("mean").to_numpy(dtype=float)
    cols, names = [], []
    for c in use:
        x = panel[c].to_numpy(dtype=float) - g[c].transform("mean").to_numpy(dtype=float)
        if np.abs(x).max(initial=0.0) > 1e-12:
            cols.append(x)
            names.append(c)
    if not names:
        return {"coef": {}, "se": {}, "r2": 0.0}
    X = np.column_stack(cols)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    df = max(len(y) - g.ngroups - len(names), 1)
    cov = np.linalg.pinv(X.T @ X) * (resid @ resid) / df
    tss = float(y @ y)
    return {"coef": {n: float(b) for n, b in zip(names, beta)},
            "se": {n: float(s) for n, s in zip(names, np.sqrt(np.diag(cov)))},
            "r2": 1.0 - float(resid @ resid) / tss if tss > 0 else 0.0}


def start_states(state: pd.DataFrame, fitter, tiers, *, transforms: dict) -> tuple:
    """The simulation's start from each customer's as-of state.

    Parameters
    ----------
    state : DataFrame
        :func:`analysis.frames.asof_state` (one row per customer on book at the as-of month).
    fitter, tiers :
        From :func:`~analysis.stats.gformula.prepare_models` (its ``baseline`` names the
        customer-level covariates the models use).
    transforms : dict
        How the baseline covariates were made from the raw columns when the models were fitted:
        ``engagement`` (mean, SD) and ``branches`` (the levels with an indicator); see
        :func:`baseline_columns`.

    Returns
    -------
    ids, base, start, money
        Customer ids; the baseline dict of the simulation (``a0``, ``tenure0`` and the
        baseline covariates); the start state (``a_hist``, ``out_hist`` (3 x n, oldest first),
        ``log_aum``, ``tier``, ``t12``); ``money`` (``profit0``, ``aum0``, ``loan0``,
        ``loan_slope``, ``a0``).
    """
    if state.empty:
        raise InsufficientDataError("no customer on book at the as-of month")
    ids = state["customer_id"].to_numpy()
    cols = baseline_columns(state, transforms)
    base = {"a0": state["a"].to_numpy(dtype=float),
            "tenure0": state["tenure"].to_numpy(dtype=float) + 1.0}
    for c in fitter.baseline:
        base[c] = np.asarray(cols[c], dtype=float)
    start = {"a_hist": state["a_hist"].to_numpy(dtype=float),
             "out_hist": state[["out_2", "out_1", "out_0"]].to_numpy(dtype=float).T.copy(),
             "t12": (state["time"].to_numpy(dtype=float) + 1.0) / 12.0}
    if fitter.has_aum:
        start["log_aum"] = state["log_aum"].to_numpy(dtype=float)
        if tiers is not None:
            start["tier"] = _tier(np.expm1(start["log_aum"]), *tiers).astype(float)
    money = {k: state[k].to_numpy(dtype=float) for k in ("profit0", "aum0", "loan0",
                                                         "loan_slope")}
    money["a0"] = base["a0"]
    return ids, base, start, money


def baseline_columns(state: pd.DataFrame, transforms: dict) -> dict:
    """The baseline covariates of the monthly models (as ``person_months`` of
    :mod:`analysis.studies.product_effect.causal` makes them) from an as-of state's raw
    columns: standardised engagement and its square, ``age10``, ``loan`` (segment at entry),
    ``log_entry``, ``new``, ``log_aum0``, ``tier0``, branch indicators."""
    from analysis.config import AGE_CENTRE

    out = {}
    if "engagement" in state and transforms.get("engagement") is not None:
        mean, sd = transforms["engagement"]
        e = (state["engagement"].to_numpy(dtype=float) - mean) / sd
        out["engagement"], out["engagement_sq"] = e, e ** 2
    if "age_at_open" in state:
        out["age10"] = (state["age_at_open"].to_numpy(dtype=float) - AGE_CENTRE) / 10
    out["loan"] = (state["segment_entry"] == "loan").to_numpy(dtype=float)
    te = state["tenure_entry"].to_numpy(dtype=float)
    out["log_entry"], out["new"] = np.log1p(te), (te == 0).astype(float)
    out["log_aum0"] = np.log1p(np.clip(state["aum_entry"].to_numpy(dtype=float), 0, None))
    out["tier0"] = state["tier_entry"].to_numpy(dtype=float)
    for lv in transforms.get("branches", ()):
        out[f"branch_{lv}"] = (state["branch"].astype(str) == lv).to_numpy(dtype=float)
    return out


def project(models, fitter, tiers, base: dict, start: dict, money: dict, margin: dict,
            scenarios: dict[str, Scenario], *, horizon: int = 60, discount_rate: float = 0.08,
            paths=2, seed: int = 0, chunk: int = 50_000) -> dict[str, dict]:
    """Expected months on book and discounted profit of every customer under each scenario.

    Parameters
    ----------
    models, fitter, tiers :
        Fitted monthly models (:func:`analysis.stats.gformula.prepare_models` and
        ``fitter.fit()`` or ``fitter.refit``).
    base, start, money :
        From :func:`start_states`.
    margin : dict
        :func:`margin_model` output.
    scenarios : dict
        Label -> :class:`Scenario` (``Scenario()`` is the natural course).
    horizon : int
        Months projected.
    discount_rate : float
        Annual rate; month ``m``'s profit is multiplied by ``(1 + r)^(-m/12)``.
    paths : int or array of int
        Simulated paths per customer (even; one number or one per customer), in antithetic
        pairs (the second path of a pair uses ``1 - u`` and ``-z`` where the first uses ``u``
        and ``z``). Give the customers who carry most of the value more paths: their balances
        dominate the Monte Carlo error of a group's lifetime value.
    seed : int
        Seed of the random numbers (shared by the scenarios).
    chunk : int
        Path pairs simulated at a time (memory: about 6 x horizon x chunk x scenarios draws).

    Returns
    -------
    dict
        Scenario label -> ``{name: array over customers}`` for ``months``, ``dmonths``
        (discounted months on book, for costs paid monthly while on book), ``clv`` (discounted
        profit over the horizon), ``profit12`` (undiscounted profit over the next 12 months),
        ``lost12`` (the profit of the next 12 months the customer would have earned had they
        stayed, times the chance they have left: the value at risk), ``departs12`` (chance of
        leaving within 12 months), plus ``curve`` (mean chance of being on book in month
        ``1..horizon``, over customers).
    """
    n = len(base["a0"])
    pairs = np.broadcast_to(np.asarray(paths, dtype=int), (n,)) // 2
    if (pairs < 1).any():
        raise ValueError("every customer needs at least 2 paths (one antithetic pair)")
    owner_all = np.repeat(np.arange(n), pairs)
    weight_all = 1.0 / (2.0 * pairs[owner_all])
    disc = (1.0 + float(discount_rate)) ** (-np.arange(1, horizon + 1) / 12.0)
    coef = margin.get("coef", {})
    g_aum, g_n, g_loan = (float(coef.get(k, 0.0)) for k in ("aum", "n_products",
                                                            "loan_balance"))
    out = {lab: {k: np.zeros(n) for k in PROJECTED} for lab in scenarios}
    for lab in scenarios:
        out[lab]["curve"] = np.zeros(horizon)
    rng = np.random.default_rng(seed)
    labels = list(scenarios)
    k = len(labels)
    for lo in range(0, len(owner_all), chunk):
        half = owner_all[lo:lo + chunk]
        rows = np.concatenate([half, half])
        w = np.concatenate([weight_all[lo:lo + chunk]] * 2)
        r = len(rows)
        # the scenarios are simulated together, stacked in blocks of these rows
        big = np.tile(rows, k)
        b = {key: v[big] for key, v in base.items()}
        s0 = {key: (v[:, big] if key == "out_hist" else v[big] if np.ndim(v) else v)
              for key, v in start.items()}
        m0 = {key: v[big] for key, v in money.items()}
        lin = _linear_parts(models, fitter, b)
        basis = [tenure_basis(b["tenure0"] + t) for t in range(horizon)]
        u1, u2, z = _draws(rng, horizon, len(half))
        draws = tuple(np.tile(np.hstack(pair), (1, k))
                      for pair in ((u1, 1.0 - u1), (u2, 1.0 - u2), (z, -z)))
        stacked = _stacked([sc.products for sc in scenarios.values()], r)
        rule = (lambda a, t: a) if stacked is None else stacked[0]
        hz = _stacked([sc.hazard for sc in scenarios.values()], r)
        hazard = None if hz is None else hz[1]
        acc = {key: np.zeros(r * k) for key in PROJECTED}
        s = np.ones(r * k)
        wk = np.tile(w, k)
        for t, st, h in _paths(models, fitter, b, rule, horizon, draws, tiers, lin,
                               start=s0, hazard=hazard, basis=basis):
            m = m0["profit0"] + g_n * (st["a"] - m0["a0"])
            if g_aum and "log_aum" in st and st["log_aum"] is not None:
                m = m + g_aum * (np.expm1(st["log_aum"]) - m0["aum0"])
            if g_loan:
                loan = np.maximum(m0["loan0"] + m0["loan_slope"] * (t + 1), 0.0)
                m = m + g_loan * (loan - m0["loan0"])
            acc["months"] += s
            acc["dmonths"] += s * disc[t]
            acc["clv"] += s * m * disc[t]
            curve = (wk * s).reshape(k, r).sum(axis=1) / n
            for j, lab in enumerate(labels):
                out[lab]["curve"][t] += curve[j]
            if t < 12:
                acc["profit12"] += s * m
                acc["lost12"] += (1.0 - s) * m
            s = s * (1.0 - h)
            if t == min(11, horizon - 1):
                acc["departs12"] += 1.0 - s
        for j, lab in enumerate(labels):
            blk = slice(j * r, (j + 1) * r)
            for key in PROJECTED:
                out[lab][key] += np.bincount(rows, weights=w * acc[key][blk], minlength=n)
    return out
