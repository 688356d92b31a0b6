"""The true expected customer lifetime value (CLV) of a synthetic book.

The customer-value report estimates, for every customer on book at the as-of month, the
expected discounted profit over a horizon. Its truth has no closed form (products, outflows,
balances, the product-driven AUM lift and the hazard all evolve together), so it is simulated
here with the book's own monthly step (:func:`analysis.data.dynamics.monthly_step`),
continuing each customer's OWN latent state at the window end (engagement, unmeasured factor,
frailty, lift, last outflow, balances) ``reps`` times beyond the window.

Conventions (the estimator uses exactly these, see ``docs/value_truth.md``):

- as-of = the last window month (absolute month ``cfg.months - 1``); the population is every
  customer of the book on book in that month who did not close in it (book order);
- future month ``m = 1..H`` is absolute month ``cfg.months - 1 + m``; a customer is on book in
  month m if not closed in months 1..m-1 (the closing month still earns its profit);
- ``profit(m) = 0.0012 aum(m) + 0.0008 loan(m) + 1.0 n_products(m)`` (the panel's, unrounded),
  discounted by ``(1 + r) ** (-m / 12)``;
- ``clv = E[sum_m 1{on book in m} profit(m) discount(m)]``, ``months = E[sum_m 1{on book in
  m}]``, ``departs12 = P(close in months 1..12)``, ``profit12 = E[sum_{m<=12} 1{on book in m}
  profit(m)]`` (undiscounted);
- "one more product": targets are customers at tier 3+ holding one product at as-of; every
  future month they hold their natural count + 1 (capped at ``max_products``), the natural
  count evolving by the book's product rule under the intervention (as ``one_more`` of
  :mod:`analysis.data.causal_truth`). Both arms share their random numbers customer by
  customer, path by path and month by month (common random numbers), so the gains are precise.

Variance reduction (exact, no bias): departures are integrated out along each path (the step's
event draw is 1 and the path carries ``P(on book | path)``, see :class:`_Tally`), and paths come
in antithetic pairs (see :class:`_Draws`). MC errors and timings: ``docs/value_truth.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.dynamics import (BookState, SyntheticConfig, _monthly_hazard, monthly_step,
                                    tier_from_aum)
from analysis.data.synthetic import _iter_simulated

__all__ = ["value_truth", "customer_value_truth", "value_truth_table", "step_hazard",
           "DEFAULT_REPS", "MEASURES", "PROFIT"]

#: Future paths per customer by default (MC errors measured in ``docs/value_truth.md``).
DEFAULT_REPS = 200
#: Customer-paths simulated at once (bounds memory: the default book peaks at 370 MB RSS).
_BATCH_ROWS = 1 << 19
#: The expected values per customer (``<name>_sum`` in a cell).
MEASURES = ("clv", "months", "departs12", "profit12")
#: The monthly profit, as in the panel.
PROFIT = "0.0012*aum + 0.0008*loan + 1*products a month"
_GAINS = ("clv_gain", "months_gain")
# Stream tag of the future paths: SeedSequence([seed, chunk, _STREAM, batch]) is used by no
# other draw, so the book does not change.
_STREAM = 0xC1F


#: Uniforms :func:`monthly_step` takes per customer-month when balances are tracked, in its
#: order: product change, drift, outflow, outflow size, event (the last).
_DRAWS = 5


class _Draws:
    """The uniforms of one month, drawn once and shared by both arms (common random numbers).

    Paths come in antithetic pairs: path ``r + reps/2`` of a customer takes ``1 - u`` where
    path ``r`` takes ``u`` (a lower AUM drift where the other has a higher one, and so on), so
    the lognormal AUM averages out faster. ``reader(rows)`` gives a ``uniform(idx)`` for
    :func:`monthly_step` whose j-th call returns the j-th uniforms of rows ``rows[idx]`` of the
    natural arm. The event draw is 1 (nobody leaves on a path): the departure is integrated out
    exactly (see :class:`_Tally`).
    """

    def __init__(self, rng: np.random.Generator, customers: int, reps: int):
        half = rng.random((_DRAWS - 1, customers, reps // 2))
        self.u = np.concatenate([half, 1.0 - half], axis=2).reshape(_DRAWS - 1, -1)
        self.calls = 0

    def reader(self, rows: np.ndarray | None = None):
        self.calls = 0

        def uniform(idx):
            j, self.calls = self.calls, self.calls + 1
            if j == _DRAWS - 1:
                return np.ones(idx.size)
            if j >= _DRAWS:
                raise RuntimeError("monthly_step draws more uniforms than the value truth knows")
            return self.u[j][idx if rows is None else rows[idx]]
        return uniform

    def check(self) -> None:
        if self.calls != _DRAWS:  # the step's draws changed: the event draw is not the 5th
            raise RuntimeError(f"monthly_step drew {self.calls} uniforms, expected {_DRAWS}")


def _replicate(state: BookState, rows: np.ndarray) -> BookState:
    """A state of its own for the customer-paths ``rows`` (indices into ``state``'s arrays)."""
    k = state.n_prod.size

    def take(x):
        return None if x is None else x[rows]
    b = {key: (v[rows] if isinstance(v, np.ndarray) and v.shape[:1] == (k,) else v)
         for key, v in state.b.items()}
    return BookState(b=b, n_prod=state.n_prod[rows], alive=np.ones(rows.size, dtype=bool),
                     last_outflow=state.last_outflow[rows], log_aum=take(state.log_aum),
                     lift=take(state.lift))


def step_hazard(state: BookState, mo, cfg: SyntheticConfig, reps: int = 1) -> np.ndarray:
    """The hazard :func:`monthly_step` used for the customers ``mo.idx`` of the month ``mo``.

    The terms of the step after it ran (products and lift held now, a recent outflow, the
    non-proportional loan term); tests check that the step's event is ``u < 1 - exp(-hazard)``.
    With ``reps``, ``mo.idx`` are whole blocks of ``reps`` paths of a customer (same tenure),
    and the result has shape ``(customers, reps)`` (the baseline computed once per customer).
    """
    b, idx = state.b, mo.idx
    slp = b["static_lp"][idx]
    if cfg.segment_loan_time_interaction:
        slp = slp + cfg.segment_loan_time_interaction * b["loan"][idx] * (mo.tenure / 12.0 - 5.0)
    if cfg.feedback:
        slp = slp + np.log(cfg.hr_per_aum_lift) * state.lift[idx]
    shape = (-1, reps)
    return _monthly_hazard(mo.tenure.reshape(shape)[:, :1], slp.reshape(shape),
                           mo.n.reshape(shape), mo.recent.reshape(shape), b["lh"], cfg)


class _Tally:
    """Running sums per customer-path of one arm, the departure integrated out.

    Nobody leaves on a path (event draw 1); given the path of products, outflows and balances
    the customer is on book in month m with probability ``S(m-1) = prod_{j<m} exp(-h_j)``
    (departures are drawn from uniforms of their own), so ``S(m-1) profit(m)`` has the same
    expectation as ``1{on book in m} profit(m)`` and a smaller variance (conditional Monte
    Carlo); with common random numbers the arms' paths differ only where products act on them.
    Arrays are ``(customers, reps)``.
    """

    def __init__(self, state: BookState, reps: int):
        b = state.b
        self.reps, self.size = reps, state.n_prod.size
        shape = (self.size // reps, reps)
        # the loan is deterministic: once per customer
        self.loan_amount = b["loan_bal"].reshape(shape)[:, :1]
        self.loan_term = b["loan_term"].reshape(shape)[:, :1]
        self.clv, self.months, self.profit12 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.departs12 = np.zeros(shape)
        self.dmonths = np.zeros(shape)  # discounted months on book
        self.surv = np.ones(shape)  # P(on book at the start of the month | path)

    def add(self, state: BookState, mo, m: int, disc: float, cfg: SyntheticConfig) -> None:
        if mo is None or mo.idx.size != self.size:
            raise RuntimeError("a path left the book: the event draw is no longer the last")
        t = mo.tenure.reshape(self.surv.shape)[:, :1]
        loan = self.loan_amount * np.clip(1 - t / self.loan_term, 0, 1)
        profit = (0.0012 * state.aum(mo.idx).reshape(self.surv.shape) + 0.0008 * loan
                  + 1.0 * mo.n.reshape(self.surv.shape))
        w = self.surv
        self.clv += disc * w * profit
        self.months += w
        self.dmonths += disc * w
        if m <= 12:
            self.profit12 += w * profit
        self.surv = w * np.exp(-step_hazard(state, mo, cfg, self.reps))
        if m == 12:
            self.departs12 = 1.0 - self.surv


def _mean_var(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per customer (row): the mean over its paths and the MC variance of that mean.

    The variance comes from the antithetic pairs' means (independent, unlike the paths).
    """
    half = x.shape[1] // 2
    pairs = 0.5 * (x[:, :half] + x[:, half:])
    return x.mean(axis=1), pairs.var(axis=1, ddof=1) / half


def _future(state: BookState, pop: np.ndarray, target: np.ndarray, cfg: SyntheticConfig,
            horizon: int, discount_rate: float, reps: int, seed_seq) -> dict:
    """Simulate ``reps`` futures of customers ``pop`` (candidates of ``state``) in both arms."""
    rows = np.repeat(pop, reps)  # customer-major: path r of customer i is row i * reps + r
    nat = _replicate(state, rows)
    t_rows = np.flatnonzero(np.repeat(target, reps))  # the targets' rows of the natural arm
    more = _replicate(nat, t_rows)
    latent = more.n_prod.copy()  # the natural count under the intervention
    cap = cfg.max_products

    def one_more(idx, n):
        latent[idx] = n
        return np.minimum(n + 1, cap).astype(np.int16)

    tn, tm = _Tally(nat, reps), _Tally(more, reps)
    rng = np.random.default_rng(seed_seq)
    for m in range(1, horizon + 1):
        month = cfg.months - 1 + m
        disc = (1.0 + discount_rate) ** (-m / 12.0)
        draws = _Draws(rng, pop.size, reps)
        tn.add(nat, monthly_step(nat, month, cfg, draws.reader()), m, disc, cfg)
        draws.check()
        if t_rows.size:
            np.copyto(more.n_prod, latent)  # the natural change acts on the latent count
            mo = monthly_step(more, month, cfg, draws.reader(t_rows), set_products=one_more)
            draws.check()
            tm.add(more, mo, m, disc, cfg)
    out = {}
    for name in (*MEASURES, "dmonths"):
        out[name], out[f"{name}_mcvar"] = _mean_var(getattr(tn, name))
    for name, base in zip(_GAINS, ("clv", "months")):
        gain = np.full(pop.size, np.nan)
        var = np.full(pop.size, np.nan)
        if t_rows.size:
            gain[target], var[target] = _mean_var(getattr(tm, base) - getattr(tn, base)[target])
        out[name], out[f"{name}_mcvar"] = gain, var
    return out


def _resolve(cfg: SyntheticConfig | None, horizon: int, discount_rate: float,
             reps: int | None) -> tuple[SyntheticConfig, int]:
    cfg = SyntheticConfig() if cfg is None else cfg
    reps = DEFAULT_REPS if reps is None else int(reps)
    if horizon < 12:
        raise ValueError(f"horizon must be at least 12 months (departs12, profit12), got {horizon}")
    if reps < 4 or reps % 2:
        raise ValueError(f"reps must be even (antithetic pairs) and at least 4, got {reps}")
    if discount_rate <= -1:
        raise ValueError("discount_rate must be above -1")
    return cfg, reps


def customer_value_truth(cfg: SyntheticConfig | None = None, horizon: int = 60,
                         discount_rate: float = 0.08, reps: int | None = None) -> pd.DataFrame:
    """The true expected value of every customer on book at the as-of month (one row each).

    Parameters
    ----------
    cfg : SyntheticConfig, optional
        The book's configuration (default: the default book).
    horizon : int
        Future months simulated after the as-of month.
    discount_rate : float
        Annual discount rate; month m's profit is multiplied by ``(1 + r) ** (-m / 12)``.
    reps : int, optional
        Future paths per customer (default :data:`DEFAULT_REPS`).

    Returns
    -------
    DataFrame
        In the book's customer order: ``customer_id, branch, tier, segment`` (at as-of), the
        as-of state (``tenure_months, n_products, aum, loan_balance, loan_amount, loan_term,
        static_lp``: the time-fixed part of the true log hazard), ``target`` (of "one more
        product"), the expected values :data:`MEASURES`, ``dmonths`` (discounted months on
        book), ``clv_gain`` and ``months_gain`` (NaN for non-targets), and for each expected
        value ``<name>_mcvar``, the Monte Carlo variance of its estimate.
    """
    cfg, reps = _resolve(cfg, horizon, discount_rate, reps)
    per = max(1, _BATCH_ROWS // reps)  # customers per batch
    frames = []
    for chunk, sim, take, got in _iter_simulated(cfg, reasons=False):
        state: BookState = sim["state"]
        b = state.b
        pop = take[state.alive[take] & (b["open_offset"][take] <= cfg.months - 1)]
        if pop.size == 0:
            continue
        tenure = cfg.months - 1 - b["open_offset"][pop]
        # the panel's rounding, so tier and segment are those of the panel's as-of rows
        aum = np.round(state.aum(pop), 2)
        loan = b["loan_bal"][pop] * np.clip(1 - tenure / b["loan_term"][pop], 0, 1)
        tier = tier_from_aum(aum, cfg.tier_thresholds)
        n_prod = state.n_prod[pop]
        target = (tier >= 3) & (n_prod == 1)
        res = []
        for i, start in enumerate(range(0, pop.size, per)):
            sl = slice(start, start + per)
            seq = np.random.SeedSequence([cfg.seed, chunk, _STREAM, i])
            res.append(_future(state, pop[sl], target[sl], cfg, horizon, discount_rate, reps,
                               seq))
        values = {key: np.concatenate([r[key] for r in res]) for key in res[0]}
        frame = pd.DataFrame({
            "customer_id": [f"C{got + j:07d}" for j in np.searchsorted(take, pop)],
            "branch": np.asarray(cfg.branches, dtype=object)[b["branch_idx"][pop]],
            "tier": tier.astype(int),
            "segment": np.where(b["loan"][pop], "loan", "deposit"),
            "tenure_months": tenure.astype(int),
            "n_products": n_prod.astype(int),
            "aum": aum,
            "loan_balance": np.round(loan, 2),
            "loan_amount": b["loan_bal"][pop],
            "loan_term": b["loan_term"][pop].astype(int),
            "static_lp": b["static_lp"][pop],
            "target": target,
        })
        frames.append(frame.assign(**values))
    return pd.concat(frames, ignore_index=True)


def value_truth(cfg: SyntheticConfig | None = None, horizon: int = 60,
                discount_rate: float = 0.08, reps: int | None = None) -> dict:
    """The true expected CLV of a synthetic book, in cells that add up to any scope.

    Parameters
    ----------
    cfg, horizon, discount_rate, reps
        As :func:`customer_value_truth`.

    Returns
    -------
    dict
        JSON-able: ``assumptions`` (``horizon_months, discount_rate, as_of, profit, currency,
        reps``) and ``cells``, one per (branch, tier, segment) at as-of present, each with
        ``n``, ``clv_sum, months_sum, departs12_sum, profit12_sum`` (sums over the customers of
        their expected values), ``clv_sq_sum`` (sum of squared expected CLVs, for spreads),
        ``targets``, ``clv_gain_sum, months_gain_sum`` (over targets) and ``<name>_mcvar_sum``
        for each of these sums (the Monte Carlo variance of the sum: the SE of a group mean is
        ``sqrt(sum of mcvar_sum) / n``). See :func:`value_truth_table`.
    """
    cfg, reps = _resolve(cfg, horizon, discount_rate, reps)
    per = customer_value_truth(cfg, horizon, discount_rate, reps)
    per["clv_sq"] = per["clv"] ** 2
    per["targets"] = per["target"].astype(int)
    sums = [*MEASURES, *_GAINS]
    agg = per.groupby(["branch", "tier", "segment"], sort=False).agg(
        n=("clv", "size"), targets=("targets", "sum"), clv_sq_sum=("clv_sq", "sum"),
        **{f"{s}_sum": (s, "sum") for s in sums},
        **{f"{s}_mcvar_sum": (f"{s}_mcvar", "sum") for s in sums})
    agg = agg.reset_index()
    order = {b: i for i, b in enumerate(cfg.branches)}
    agg = agg.sort_values(["branch", "tier", "segment"], key=lambda c: c.map(order)
                          if c.name == "branch" else c).reset_index(drop=True)
    cells = []
    for row in agg.to_dict("records"):
        cell = {"branch": str(row.pop("branch")), "tier": int(row.pop("tier")),
                "segment": str(row.pop("segment")), "n": int(row.pop("n")),
                "targets": int(row.pop("targets"))}
        cell.update({key: float(v) for key, v in row.items()})
        cells.append(cell)
    as_of = pd.Timestamp(cfg.window_start).to_period("M") + (cfg.months - 1)
    return {
        "assumptions": {
            "horizon_months": int(horizon),
            "discount_rate": float(discount_rate),
            "as_of": f"{as_of.to_timestamp():%Y-%m-01}",
            "profit": PROFIT,
            "currency": "yuan",
            "reps": reps,
            "population": "on book in the as-of month (the last window month), not closed in it",
            "intervention": "one_more_product: targets = tier >= 3 and 1 product at as-of; every "
                            "future month natural count + 1 (capped), common random numbers",
        },
        "cells": cells,
    }


def value_truth_table(truth_value: dict, branch: str | None = None,
                      by: tuple[str, ...] | list[str] = ("tier", "segment")) -> pd.DataFrame:
    """Group means of a :func:`value_truth` result (bank or one branch).

    Parameters
    ----------
    truth_value : dict
        The result of :func:`value_truth` (``truth["value"]`` of a synthetic book).
    branch : str, optional
        Only this branch's customers (default: the whole bank).
    by : tuple of str
        Grouping among ``"branch"``, ``"tier"``, ``"segment"``; ``()`` gives one overall row.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n``, the means ``clv, months, departs12, profit12``, ``clv_sd``
        (spread of the customers' expected CLV), ``targets``, the mean gains over targets
        ``clv_gain, months_gain`` (NaN without targets) and ``<name>_mc_se``, the Monte Carlo
        SE of each mean.

    Examples
    --------
    >>> cells = [{"branch": "A", "tier": 1, "segment": "loan", "n": 2, "clv_sum": 10.0,
    ...           "clv_sq_sum": 58.0, "targets": 0, "clv_gain_sum": 0.0}]
    >>> value_truth_table({"cells": cells}, by=())[["n", "clv", "clv_sd"]].to_dict("records")
    [{'n': 2, 'clv': 5.0, 'clv_sd': 2.0}]
    """
    by = list(by)
    unknown = set(by) - {"branch", "tier", "segment"}
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}: use branch, tier, segment")
    cells = pd.DataFrame(truth_value["cells"])
    if branch is not None:
        cells = cells[cells["branch"] == branch]
        if cells.empty:
            raise ValueError(f"no customers of branch {branch!r} in the value truth")
    sums = [c for c in cells.columns if c.endswith("_sum")]
    g = (cells.groupby(by, sort=True)[["n", "targets", *sums]].sum().reset_index() if by
         else cells[["n", "targets", *sums]].sum().to_frame().T)
    out = g[by].copy() if by else pd.DataFrame(index=g.index)
    n, t = g["n"].to_numpy(float), g["targets"].to_numpy(float)
    out["n"] = g["n"].astype(int).to_numpy()
    for name in (*MEASURES, "targets", *_GAINS):
        if name == "targets":
            out["targets"] = g["targets"].astype(int).to_numpy()
            continue
        if f"{name}_sum" not in g:
            continue
        denom = t if name in _GAINS else n
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.where(denom > 0, g[f"{name}_sum"].to_numpy(float) / denom, np.nan)
            if f"{name}_mcvar_sum" in g:
                out[f"{name}_mc_se"] = np.where(
                    denom > 0, np.sqrt(g[f"{name}_mcvar_sum"].to_numpy(float)) / denom, np.nan)
        if name == "clv":
            # population SD of the customers' expected CLV (max: rounding can go below 0)
            out["clv_sd"] = np.sqrt(np.maximum(
                g["clv_sq_sum"].to_numpy(float) / n - out["clv"].to_numpy() ** 2, 0.0))
    return out.reset_index(drop=True)
