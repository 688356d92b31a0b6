"""Report 05's numbers: lifetime value, value at risk, economics, scenarios (monthly panels).

:func:`customer_value` fits the monthly models of the parametric g-formula on the study's
person-month history (products, outflows, balance and the hazard of leaving; the models of report
02, :mod:`analysis.stats.gformula`), then projects every customer on book at the as-of month
forward (:mod:`analysis.stats.projection`): expected months on book, discounted profit over the
horizon (the lifetime value, CLV) and profit at risk over the next 12 months. Scenarios change
the products held or the risk of leaving in the same simulation (common random numbers).

Intervals: ``n_boot`` replicates refit every monthly model on a resample of customers (a few
Newton steps from the full fit) and project the SAME customers again with fresh random numbers;
an interval is the estimate plus or minus the SD over replicates times Student's t quantile with
``n_boot - 1`` df (:func:`analysis.stats.msm.bootstrap_interval`). They carry the uncertainty of
the fitted models and of the simulation, for the customers on book now (the value of this book,
not of a population). The margin model (profit per unit of balance and per product, estimated
within customers) is held fixed: its standard errors are reported and are tiny on monthly data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analysis import config
from analysis.errors import Attempt, InsufficientDataError, attempt
from analysis.stats.gformula import prepare_models
from analysis.stats.msm import bootstrap_interval
from analysis.data.portfolio import Portfolio
from analysis.frames import asof_state, read_sql
from analysis.stats.projection import NATURAL, Scenario, margin_model, project, start_states
from analysis.studies.population import Study, product_group
from analysis.studies.product_effect.causal import _tier_thresholds, person_months
from analysis.studies.value.book_projection import pack, unpack
from analysis.studies.value.economics import economics_table, replacement
from analysis.studies.value.holdout import holdout_comparison
from analysis.studies.value.migration import tier_migration

__all__ = ["Assumptions", "CustomerValue", "Projector", "book_projection", "customer_value",
           "GROUPINGS", "group_table", "fit_sample", "top_share_at_risk"]

#: Groupings of the lifetime value (columns of the per-customer frame, at the as-of month).
GROUPINGS = ("tier", "segment", "product_group", "branch")
HOLDOUT_BANK_ONLY = ("The held-out check of the models runs on the whole bank: see the bank "
                     "report.")
#: Quantities summed per group in every bootstrap replicate.
QUANTITIES = ("clv", "months", "departs12", "lost12", "profit12")


@dataclass(frozen=True)
class Assumptions:
    """Every money assumption of the report (shown next to each money figure)."""

    horizon: int = config.VALUE_HORIZON_MONTHS
    discount_rate: float = config.VALUE_DISCOUNT_RATE
    currency: str = config.VALUE_CURRENCY
    contact_cost: float = config.RETENTION_CONTACT_COST
    offer_cost: float = config.RETENTION_OFFER_COST
    success_rate: float = config.RETENTION_SUCCESS_RATE
    acquisition_ratio: float = config.ACQUISITION_TO_RETENTION_COST
    waiver_cost: float = config.VALUE_WAIVER_COST
    waiver_tiers: tuple = (4, 5)
    outflow_cut: float = config.VALUE_OUTFLOW_CUT
    n_boot: int = 10
    paths: int = 2
    paths_top: int = 16
    seed: int = 0

    @property
    def acquisition_cost(self) -> float:
        """Cost of acquiring one customer: the ratio x one retention contact and offer."""
        return self.acquisition_ratio * (self.contact_cost + self.offer_cost)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["waiver_tiers"] = list(self.waiver_tiers)
        d["acquisition_cost"] = self.acquisition_cost
        return d


@dataclass
class CustomerValue:
    """Everything report 05 shows (the per-customer frame carries no ids)."""

    study: Study
    as_of: pd.Timestamp | None
    assumptions: Assumptions
    customers: Attempt  # per-customer projections (no ids)
    groups: dict = field(default_factory=dict)  # grouping -> DataFrame with intervals
    scenarios: Attempt = field(default_factory=Attempt)
    economics: Attempt = field(default_factory=Attempt)
    margin: dict = field(default_factory=dict)
    migration: Attempt = field(default_factory=Attempt)
    holdout: Attempt = field(default_factory=Attempt)
    truth: dict | None = None
    snapshot: bool = False
    notes: list = field(default_factory=list)
    sizes: dict = field(default_factory=dict)  # customers projected, fitted on, bootstrapped

    @property
    def scope(self) -> str:
        return self.study.params.get("branch") or "bank"


def _bootstrap_ci(point: float, reps: list, alpha: float = config.ALPHA) -> dict:
    ci = bootstrap_interval(point, reps, alpha) if len(reps) >= 2 else {
        "se": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    return {"estimate": float(point), "se": float(ci["se"]), "ci_low": float(ci["ci_low"]),
            "ci_high": float(ci["ci_high"])}


def group_table(frame: pd.DataFrame, by, point: dict, reps: list[dict],
                quantity: str = "clv", mean: bool = True) -> pd.DataFrame:
    """Mean (or total) of a projected quantity per group with its bootstrap interval.

    ``point`` and every element of ``reps`` map a quantity to per-customer arrays aligned with
    ``frame``.
    """
    keys = list(by) if isinstance(by, (list, tuple)) else ([by] if by else [])
    f = frame[keys].copy() if keys else pd.DataFrame(index=frame.index)
    f["_one"] = 1.0

    def agg(values):
        f["_v"] = values
        g = f.groupby(keys, observed=True, sort=True) if keys else None
        if g is None:
            return pd.Series({(): f["_v"].mean() if mean else f["_v"].sum()})
        return g["_v"].mean() if mean else g["_v"].sum()

    est = agg(point[quantity])
    rep = [agg(r[quantity]) for r in reps]
    n = (f.groupby(keys, observed=True, sort=True)["_one"].sum() if keys
         else pd.Series({(): float(len(f))}))
    rows = []
    for key in est.index:
        ci = _bootstrap_ci(est[key], [r[key] for r in rep])
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,))) if keys else {}
        rows.append({**row, "customers": int(n[key]), **ci})
    return pd.DataFrame(rows)


def _frame(state: pd.DataFrame, money: dict) -> pd.DataFrame:
    """The as-of groupings of the projected customers (no ids kept)."""
    return pd.DataFrame({
        "tier": state["tier"].to_numpy(dtype=int) if "tier" in state else 0,
        "segment": (state["segment"].astype(str).to_numpy() if "segment" in state else "all"),
        "product_group": product_group(state["a"], zero="merge").astype(str),
        "annual_profit": 12.0 * money["profit0"],
        "branch": (state["branch"].astype(str).to_numpy() if "branch" in state else "all")})


def fit_sample(panel, customers, as_of, size: int, *, seed: int = 0):
    """A seeded random sample of ``size`` customers (their customers rows and panel rows up to
    ``as_of``), or None when the book has no more customers than that. ``panel`` and
    ``customers`` are DataFrames or Parquet files/folders (read in SQL: only the sample's rows
    reach memory)."""
    if isinstance(customers, pd.DataFrame):
        ids = pd.unique(customers["customer_id"])
    else:
        ids = read_sql("SELECT customer_id FROM {src} ORDER BY customer_id",
                       customers)["customer_id"].to_numpy()
    if len(ids) <= size:
        return None
    pick = np.sort(np.random.default_rng([seed, 5]).choice(len(ids), size, replace=False))
    keep = pd.DataFrame({"customer_id": ids[pick]})
    day = pd.Timestamp(as_of)
    if isinstance(panel, pd.DataFrame):
        rows = panel[panel["customer_id"].isin(keep["customer_id"])
                     & (pd.to_datetime(panel["month"]) <= day)]
    else:
        rows = read_sql("SELECT p.* FROM {src} p SEMI JOIN keep USING (customer_id) "
                        f"WHERE p.month <= TIMESTAMP '{day:%Y-%m-%d}' "
                        "ORDER BY customer_id, month", panel, keep=keep)
    if isinstance(customers, pd.DataFrame):
        c = customers[customers["customer_id"].isin(keep["customer_id"])]
    else:
        c = read_sql("SELECT c.* FROM {src} c SEMI JOIN keep USING (customer_id) "
                     "ORDER BY customer_id", customers, keep=keep)
    return rows.reset_index(drop=True), c.reset_index(drop=True)


class Projector:
    """Fitted monthly models and the start states of the customers on book at the as-of month.

    The models are fitted on every customer's history, or on a seeded sample of
    ``fit_customers`` customers when the book is larger (the report says so); the start states
    of every customer come from SQL (:func:`analysis.frames.asof_state`), so a book of millions
    is projected without its monthly panel in memory.
    """

    def __init__(self, panel, customers, as_of: pd.Timestamp, a: Assumptions, *,
                 attrition: str = "closure", k: int = 3,
                 fit_customers: int = config.VALUE_FIT_CUSTOMERS, fit_on=None):
        # ``fit_on``: (panel, customers) of a sample already drawn (a large book's model sample)
        sample = (tuple(fit_on) if fit_on is not None
                  else fit_sample(panel, customers, as_of, fit_customers, seed=a.seed))
        self.sampled = sample is not None
        if sample is None:  # the whole book fits; files are read (the sample path reads SQL)
            def whole(src, order):
                return src if isinstance(src, pd.DataFrame) else read_sql(
                    f"SELECT * FROM {{src}} ORDER BY {order}", src)
            sample = (whole(panel, "customer_id, month"), whole(customers, "customer_id"))
        fit_panel, fit_cust = sample
        self.fit_size = int(fit_cust["customer_id"].nunique())
        book = Portfolio(customers=fit_cust, panel=fit_panel)
        pm, baseline = person_months(book, attrition=attrition, k=k, as_of=as_of,
                                     max_months=10**6)
        if pm["event"].sum() == 0:
            raise InsufficientDataError("no customer left during the data's months: the risk "
                                        "of leaving cannot be estimated")
        self.pm, self.fitter, self.tiers = prepare_models(pm, baseline,
                                                          tier_thresholds=_tier_thresholds(pm))
        self.models = self.fitter.fit()
        fit_months = pd.to_datetime(fit_panel["month"])
        self.margin = margin_model(fit_panel[fit_months <= as_of])
        self.fit_customers = fit_customers
        ids = pd.unique(pm["customer_id"])
        eng = None
        if "engagement" in baseline:
            e = fit_cust.set_index("customer_id")["engagement"].reindex(ids).astype(float)
            eng = (float(e.mean()), float(e.std()))
        transforms = {"engagement": eng,
                      "branches": [c.removeprefix("branch_") for c in baseline
                                   if c.startswith("branch_")]}
        state = asof_state(panel, as_of=as_of, attrition=attrition, k=k,
                           speed=self.fitter.speed, customers=customers)
        self.state = state
        self.ids, self.base, self.start, self.money = start_states(
            state, self.fitter, self.tiers, transforms=transforms)
        self.a = a
        # the top tenth by profit carries most of the value and of its Monte Carlo error
        p0 = self.money["profit0"]
        self.paths = np.where(p0 >= np.quantile(p0, 0.9), a.paths_top, a.paths)
        self.paths[p0 >= np.quantile(p0, 0.99)] = 4 * a.paths_top

    def run(self, models, scenarios: dict, rows=None, *, seed: int, light: bool = False) -> dict:
        def sub(d):
            if rows is None:
                return d
            return {k: (v[:, rows] if k == "out_hist" else v[rows] if np.ndim(v) else v)
                    for k, v in d.items()}
        paths = self.a.paths if light else (self.paths if rows is None else self.paths[rows])
        return project(models, self.fitter, self.tiers, sub(self.base), sub(self.start),
                       sub(self.money), self.margin, scenarios, horizon=self.a.horizon,
                       discount_rate=self.a.discount_rate, paths=paths, seed=seed)

    def refit(self, rng: np.random.Generator):
        cl = self.fitter.cluster
        k = int(cl.max()) + 1
        counts = rng.multinomial(k, np.full(k, 1.0 / k))
        return self.fitter.refit(self.models, counts[cl].astype(float))


def _scenario_rules(models, fitter, a: Assumptions, cap: float) -> dict:
    """The scenarios of the report: one more product (targets only), an outflow cut."""
    names = fitter.names["hazard"]
    b_recent = (float(models.beta["hazard"][1 + names.index("recent")])
                if "recent" in names else 0.0)
    x = float(a.outflow_cut)

    def outflow_cut(h, st, lp):
        # the excess hazard after a large outflow, cut by x
        h0 = 1.0 / (1.0 + np.exp(-(lp() - b_recent * st["recent"])))
        return h0 + (1.0 - x) * (h - h0)

    return {"one_more": Scenario(products=lambda nat, t: np.minimum(nat + 1.0, cap)),
            "outflow_cut": Scenario(hazard=outflow_cut)}


def _waiver_net(proj: Projector, models, rows: np.ndarray, a: Assumptions, *, seed: int):
    """Net value of a fee waiver making the hazard ``r`` times the natural one: a function of r.

    The waiver costs ``waiver_cost`` a customer-year while the customer stays; the gain is the
    lifetime value under the lower hazard minus the natural one (same random numbers).
    """
    base = proj.run(models, {"n": NATURAL}, rows, seed=seed)["n"]["clv"].sum()

    def net(r):
        sc = {"w": Scenario(hazard=lambda h, st, lp: -np.expm1(r * np.log1p(-h)))}
        res = proj.run(models, sc, rows, seed=seed)["w"]
        return res["clv"].sum() - base - a.waiver_cost / 12.0 * res["dmonths"].sum()

    return net


def _waiver_break_even(net, *, tol: float = 0.002, max_iter: int = 8) -> tuple[float, float]:
    """Hazard ratio at which the waiver pays for itself, and the slope of the net value there
    (for the replicates' one-step updates); NaN when even a ratio of 0.02 does not pay.

    The net value is smooth and nearly linear in the ratio: regula falsi (Illinois variant) on
    (0.02, 1) needs a handful of projections.
    """
    lo, hi = 0.02, 1.0
    f_lo, f_hi = net(lo), net(hi)
    if f_lo <= 0:
        return float("nan"), float("nan")
    if f_hi > 0:  # pays even without any effect (cannot happen with a positive cost)
        return 1.0, float("nan")
    side = 0
    r = hi
    for _ in range(max_iter):
        r_new = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        done = abs(r_new - r) < tol
        r = r_new
        f = net(r)
        if f > 0:
            lo, f_lo = r, f
            if side == 1:
                f_hi /= 2
            side = 1
        else:
            hi, f_hi = r, f
            if side == -1:
                f_lo /= 2
            side = -1
        if done:
            break
    return r, (f_hi - f_lo) / (hi - lo) if hi > lo else float("nan")


def _expand(point: np.ndarray, rep: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """A replicate's per-customer values over every customer from a replicate projected on a
    uniform subsample ``rows`` only: the subsample's deviations from the point projection,
    scaled by (customers / subsample), stand for everyone's (group means and totals then move
    as the subsample's do); the others keep their point values."""
    if rows is None:
        return rep
    out = point.copy()
    out[rows] = point[rows] + (rep - point[rows]) * (len(point) / len(rows))
    return out


def _project_all(proj: Projector, a: Assumptions, frame: pd.DataFrame, *,
                 branches: bool = False) -> dict:
    """Point projections and bootstrap replicates of the natural course and the scenarios.

    On a book of more than ``config.VALUE_BOOT_CUSTOMERS`` customers the replicates project a
    seeded uniform subsample of that many (every model is still refitted): the intervals carry
    the models' uncertainty at a cost that does not grow with the book. ``branches``: also the
    fee waiver's break-even of each branch's tier 4-5 customers (``waiver_hr_branch``), for the
    branch reports that slice a large book's bank projection
    (:mod:`analysis.studies.value.book_projection`).
    """
    cap = float(proj.pm["a"].max())
    tier_now = frame["tier"].to_numpy()
    n = len(frame)
    targets = np.flatnonzero((tier_now >= 3) & (proj.money["a0"] == 1))
    waived = np.flatnonzero(np.isin(tier_now, a.waiver_tiers))
    rng = np.random.default_rng(a.seed)
    sub = None
    if n > config.VALUE_BOOT_CUSTOMERS:
        sub = np.sort(np.random.default_rng([a.seed, 7]).choice(
            n, config.VALUE_BOOT_CUSTOMERS, replace=False))

    def within(rows):  # the rows of ``rows`` inside the subsample (positions and members)
        if sub is None:
            return None, rows
        keep = np.isin(rows, sub)
        return np.flatnonzero(keep), rows[keep]

    def one(models, seed, light=False, rows=None):
        rules = _scenario_rules(models, proj.fitter, a, cap)
        res = proj.run(models, {"natural": NATURAL, "outflow_cut": rules["outflow_cut"]},
                       rows, seed=seed, light=light)
        out = {"natural": res["natural"], "outflow_cut": res["outflow_cut"]}
        t_pos, t_rows = within(targets) if rows is not None else (None, targets)
        if t_rows.size:
            t = proj.run(models, {"natural": NATURAL, "one_more": rules["one_more"]}, t_rows,
                         seed=seed + 1, light=light)
            out["one_more"] = {k: t["one_more"][k] - t["natural"][k] for k in ("months", "clv")}
            out["one_more_pos"] = t_pos
        return out

    point = one(proj.models, a.seed)
    r_hat, slope = float("nan"), float("nan")
    if waived.size:
        r_hat, slope = _waiver_break_even(_waiver_net(proj, proj.models, waived, a,
                                                      seed=a.seed + 2))
    point["waiver_hr"] = r_hat
    per_branch = {}  # branch -> (its waived rows, break-even, slope)
    if branches and waived.size:
        of = frame["branch"].astype(str).to_numpy()
        for name in sorted(set(of[waived])):
            rows = waived[of[waived] == name]
            per_branch[name] = (rows, *_waiver_break_even(_waiver_net(
                proj, proj.models, rows, a, seed=a.seed + 2)))
        point["waiver_hr_branch"] = {g: v[1] for g, v in per_branch.items()}

    def step(models, rows, r, slope):
        # one Newton step from the point estimate (the net value is smooth in r); on a
        # subsample the net value is scaled up to the whole group
        _, in_sub = within(rows)
        if not (np.isfinite(r) and np.isfinite(slope) and slope != 0 and in_sub.size):
            return float("nan")
        scale = rows.size / in_sub.size
        return r - scale * _waiver_net(proj, models, in_sub, a, seed=a.seed + 2)(r) / slope
    reps = []
    for b in range(int(a.n_boot)):
        models = proj.refit(rng)
        # replicates simulate two paths per customer: their extra Monte Carlo noise widens
        # the intervals a little (conservative) at a fraction of the cost
        rep = one(models, a.seed + 10 * (b + 1), light=True, rows=sub)
        for key in ("natural", "outflow_cut"):
            rep[key] = {q: _expand(point[key][q], v, sub) for q, v in rep[key].items()
                        if q != "curve"}
        if "one_more" in rep and rep["one_more_pos"] is not None:
            pos = rep["one_more_pos"]
            rep["one_more"] = {q: _expand(point["one_more"][q], v, pos)
                               for q, v in rep["one_more"].items()}
        rep["waiver_hr"] = step(models, waived, r_hat, slope)
        if per_branch:
            rep["waiver_hr_branch"] = {g: step(models, *v) for g, v in per_branch.items()}
        reps.append(rep)
    return {"point": point, "reps": reps, "targets": targets, "waived": waived, "sub": sub,
            "boot_customers": None if sub is None else int(sub.size)}


def _scenario_summary(sims: dict, frame: pd.DataFrame, a: Assumptions) -> dict:
    """Per-scenario gains with intervals."""
    point, reps = sims["point"], sims["reps"]
    out: dict = {}
    if sims["targets"].size:
        for q, name in (("months", "months_gained"), ("clv", "profit_gained")):
            est = point["one_more"][q].mean()
            out.setdefault("one_more_product", {})[name] = _bootstrap_ci(
                est, [r["one_more"][q].mean() for r in reps])
        total = point["one_more"]["clv"].sum()
        out["one_more_product"]["profit_gained_total"] = _bootstrap_ci(
            total, [r["one_more"]["clv"].sum() for r in reps])
        out["one_more_product"]["targets"] = int(sims["targets"].size)
    else:
        out["one_more_product"] = {"note": "no tier 3+ customer holds exactly one product"}
    for q, name in (("months", "months_gained"), ("clv", "profit_gained_total"),
                    ("lost12", "value_at_risk_12m_change")):
        gain = point["outflow_cut"][q].sum() - point["natural"][q].sum()
        out.setdefault("outflow_cut", {})[name] = _bootstrap_ci(
            gain, [r["outflow_cut"][q].sum() - r["natural"][q].sum() for r in reps])
    out["outflow_cut"]["cut"] = a.outflow_cut
    hr = [r["waiver_hr"] for r in reps if np.isfinite(r["waiver_hr"])]
    out["fee_waiver"] = {"tiers": list(a.waiver_tiers), "customers": int(sims["waived"].size),
                         "cost_per_year": a.waiver_cost,
                         "break_even_hr": _bootstrap_ci(point["waiver_hr"], hr)
                         if np.isfinite(point["waiver_hr"]) else None}
    return out


def _truth(study: Study, a: Assumptions) -> dict | None:
    """The generator's true values for this scope, when the as-of month and the assumptions
    match the truth's (it is simulated from the window's last month)."""
    truth = getattr(study.portfolio, "truth", None) or {}
    tv = truth.get("value") if isinstance(truth, dict) else None
    if not tv:
        return None
    ta = tv.get("assumptions", {})
    as_of = study.as_of or study.portfolio.window_end
    if (int(ta.get("horizon_months", -1)) != a.horizon
            or abs(float(ta.get("discount_rate", -1)) - a.discount_rate) > 1e-12
            or str(ta.get("as_of", ""))[:10] != f"{pd.Timestamp(as_of):%Y-%m-%d}"):
        return None
    cells = pd.DataFrame(tv["cells"])
    branch = study.params.get("branch")
    if branch is not None:
        cells = cells[cells["branch"].astype(str) == str(branch)]
    return {"cells": cells, "assumptions": ta}


def book_projection(study: Study, a: Assumptions) -> tuple[pd.DataFrame, dict, dict, dict]:
    """``(frame, sims, sizes, margin)`` of a large book's study: every customer on book
    projected with the bank-wide monthly models (fitted on the bank's model sample), built once
    per render (:func:`analysis.studies.whole_book.kept_for_render`) and, for a branch, its
    customers' rows (:mod:`analysis.studies.value.book_projection`): a branch report's numbers
    are the bank report's rows of that branch.
    """
    from analysis.data.large_book import book_customers
    from analysis.studies.population import prepare_study
    from analysis.studies.whole_book import kept_for_render

    par, sample = study.params, study.sample
    branch = par.get("branch")
    draw = int(sample.draw or sample.customers)

    def build():
        bank = study if branch is None else prepare_study(
            par["data"], attrition=par["attrition"], k=par["k"], as_of=par["as_of"],
            high_value_tier=par["high_value_tier"], sample=draw)
        bp = bank.portfolio
        proj = Projector(study.book.panel, book_customers(study.book), bank.as_of or bp.window_end,
                         a, attrition=par["attrition"], k=par["k"], fit_on=(bp.panel, bp.customers))
        frame = _frame(proj.state, proj.money)
        sims = _project_all(proj, a, frame, branches=True)
        return pack(frame, sims, QUANTITIES, margin=proj.margin, sizes={
            "fit_customers": proj.fit_size, "fit_sample": proj.sampled})

    tables = kept_for_render(study.book, ["value", par["attrition"], int(par["k"]),
                                          par["as_of"], a.as_dict(), draw, int(sample.seed)],
                             build)
    return unpack(tables, QUANTITIES, branch)


def customer_value(study: Study, *, assumptions: Assumptions | None = None) -> CustomerValue:
    """Lifetime value, value at risk, economics and scenarios of the customers on book.

    Parameters
    ----------
    study : Study
        From :func:`analysis.studies.population.prepare_study` (closure attrition).
    assumptions : Assumptions
        Horizon, discount rate, costs and simulation sizes.
    """
    a = assumptions or Assumptions()
    if not study.has_panel:
        from analysis.studies.value.snapshot import snapshot_value

        return snapshot_value(study, a)
    p = study.portfolio
    as_of = study.as_of or p.window_end
    cv = CustomerValue(study=study, as_of=as_of, assumptions=a, customers=Attempt())
    if study.book is not None and study.sample is not None:
        # a large book: the bank's projection of every customer, once per render; a branch
        # report reads its customers' rows of it
        got = attempt(book_projection, study, a)
        if not got.ok:
            cv.customers = Attempt(note=got.note)
            return cv
        frame, sims, cv.sizes, cv.margin = got.value
    else:
        built = attempt(Projector, p.panel, p.customers, as_of, a,
                        attrition=study.params["attrition"], k=study.params["k"])
        if not built.ok:
            cv.customers = Attempt(note=built.note)
            return cv
        proj = built.value
        frame = _frame(proj.state, proj.money)
        sims = _project_all(proj, a, frame)
        cv.margin = proj.margin
        cv.sizes = {"customers": int(len(frame)), "fit_customers": proj.fit_size,
                    "fit_sample": proj.sampled, "boot_customers": sims["boot_customers"],
                    "models": "scope"}
    point = sims["point"]["natural"]
    reps = [r["natural"] for r in sims["reps"]]
    cust = frame.assign(**{q: point[q] for q in QUANTITIES})
    cv.customers = Attempt(value=cust)
    for by in [*GROUPINGS, ("tier", "segment"), ()]:
        key = "_".join(by) if isinstance(by, tuple) else by
        if isinstance(by, str) and frame[by].nunique() < 2 and by == "branch":
            continue
        cv.groups[key or "all"] = group_table(frame, by, point, reps)
    cv.groups["var_branch"] = group_table(frame, "branch", point, reps, "lost12", mean=False)
    cv.groups["var_tier"] = group_table(frame, "tier", point, reps, "lost12", mean=False)
    cv.groups["var_all"] = group_table(frame, (), point, reps, "lost12", mean=False)
    cv.groups["departs_all"] = group_table(frame, (), point, reps, "departs12", mean=False)
    cv.groups["departs_tier"] = group_table(frame, "tier", point, reps, "departs12", mean=False)
    cv.scenarios = Attempt(value=_scenario_summary(sims, frame, a))
    by_tier = cv.groups["tier"].merge(
        cv.groups["departs_tier"][["tier", "estimate"]].rename(columns={"estimate": "departs12"}),
        on="tier")
    econ = economics_table(by_tier, contact_cost=a.contact_cost, offer_cost=a.offer_cost,
                           success_rate=a.success_rate)
    dep = float(cv.groups["departs_all"]["estimate"].iloc[0])
    cv.economics = Attempt(value={"by_tier": econ, "replacement": replacement(
        dep, acquisition_cost=a.acquisition_cost, contact_cost=a.contact_cost,
        offer_cost=a.offer_cost, success_rate=a.success_rate)})
    cv.truth = _truth(study, a)
    cv.migration = tier_migration(study)
    # the held-out check validates the models of the whole book; a branch report points there
    cv.holdout = (attempt(holdout_comparison, study, a) if study.params.get("branch") is None
                  else Attempt(note=HOLDOUT_BANK_ONLY))
    return cv


def top_share_at_risk(cv: CustomerValue, top: float = 0.2) -> float:
    """Share of the 12-month value at risk held by the top ``top`` of customers by annual profit."""
    f = cv.customers.value.sort_values("annual_profit", ascending=False)
    k = int(np.ceil(top * len(f)))
    total = f["lost12"].sum()
    return float(f["lost12"].iloc[:k].sum() / total) if total > 0 else float("nan")
