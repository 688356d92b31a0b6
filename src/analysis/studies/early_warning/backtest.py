"""Rolling-origin backtest: at each of the last as-of months, score with what was known then,
list each branch's top customers, and look at who actually left in the next 3 and 6 months.

Methods: the model (its list ranked by value at risk, risk x annual profit; its risk alone
judged by AUC, lift and calibration; refitted every ``refit_every`` months on the history before the refit
month), the rule baselines of :mod:`.rules` and, on the synthetic book, the oracle. The as-of
months are the last ``months`` months whose longest horizon (plus the confirmation delay of
value attrition) is inside the data. Everything per customer is vectorised; the loops run over
as-of months and methods only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.stats.empc import empc
from analysis.stats.ranking import auc, calibration_groups, cluster_bootstrap
from analysis.studies.early_warning.features import PersonMonths
from analysis.studies.early_warning.model import RiskModel, fit_risk_model, score
from analysis.studies.early_warning.oracle import oracle_risk
from analysis.studies.early_warning.rules import RULES, RuleSettings, apply_rules
from analysis.errors import InsufficientDataError
from analysis.i18n import tr

__all__ = ["Economics", "Backtest", "run_backtest", "list_by_branch", "top_weights",
           "METRICS"]

#: Headline metrics per method, in the report's order.
METRICS = ("precision_at_k", "recall_at_k", "lift_at_k", "lift_top_decile", "auc",
           "value_captured", "aum_captured", "median_lead_months", "alerts_per_branch_month",
           "empc", "empc_list_fraction")
TOP_FRACTION = 0.1


@dataclass(frozen=True)
class Economics:
    """The campaign's money: value of keeping a leaver, contact and offer cost, success rate."""

    customer_value: float
    contact_cost: float
    offer_cost: float
    success_rate: float
    concentration: float
    acquisition_cost: float

    @property
    def beta(self) -> tuple[float, float]:
        a = self.success_rate * self.concentration
        return a, self.concentration - a


@dataclass
class Backtest:
    """The backtest's numbers.

    Attributes
    ----------
    months : list of Timestamp
        The as-of months scored.
    table : DataFrame
        One row per method and horizon: :data:`METRICS` plus ``n_scored``, ``departures``.
    intervals : DataFrame
        ``method, horizon, metric, estimate, ci_low, ci_high`` (customers resampled).
    differences : DataFrame
        Model minus each other method: ``method, horizon, metric, diff, ci_low, ci_high``.
    curves : DataFrame
        ``method, horizon, k, precision, value_captured, profit`` by list size per branch.
    calibration : dict
        ``(method, horizon) -> calibration groups``.
    lead : DataFrame
        ``method, horizon, lead, departures`` (first listing to departure, months).
    best_list_size : dict
        ``method -> list size per branch with the highest expected profit`` (main horizon).
    """

    months: list
    table: pd.DataFrame
    intervals: pd.DataFrame
    differences: pd.DataFrame
    curves: pd.DataFrame
    calibration: dict
    lead: pd.DataFrame
    best_list_size: dict
    methods: list
    refits: int = 0
    notes: list = field(default_factory=list)


def top_weights(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Each row's share in the top ``fraction`` of ``scores`` (a cut tie group in proportion)."""
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="stable")
    ss = s[order]
    ends = np.r_[np.flatnonzero(np.diff(ss) != 0), ss.size - 1] + 1
    starts = np.r_[0, ends[:-1]]
    take = np.clip(fraction * s.size - starts, 0, ends - starts) / (ends - starts)
    w = np.empty(s.size)
    w[order] = np.repeat(take, ends - starts)
    return w


def list_by_branch(frame: pd.DataFrame, score_col: str, flag_col: str | None, k: int,
                   group_cols=("m", "branch")) -> tuple[np.ndarray, np.ndarray]:
    """Rank within each branch-month (score, then AUM, higher first); list the top ``k``
    flagged. Returns ``(listed mask, rank from 1)``; unflagged rows get rank 0."""
    flag = np.ones(len(frame), bool) if flag_col is None else frame[flag_col].to_numpy(bool)
    keys = [frame[c].to_numpy() for c in group_cols]
    order = np.lexsort((-frame["aum"].to_numpy(float), -frame[score_col].to_numpy(float),
                        ~flag, *reversed(keys)))
    g = np.zeros(len(frame), dtype=np.int64)
    for key in keys:
        g = g * (len(frame) + 1) + pd.factorize(key)[0]
    go = g[order]
    start = np.r_[True, go[1:] != go[:-1]]
    pos = np.arange(len(frame)) - np.maximum.accumulate(np.where(start, np.arange(len(frame)), 0))
    rank = np.zeros(len(frame), dtype=np.int64)
    rank[order] = pos + 1
    rank[~flag] = 0
    return (rank >= 1) & (rank <= k), rank


def _score_month(pm: PersonMonths, a: int, model: RiskModel, rows: pd.DataFrame, horizons,
                 rule_settings, oracle_args) -> pd.DataFrame:
    out = rows[["customer_id", "branch", "tier", "segment", "aum", "profit", "m",
                "event_gap"]].copy()
    out["value"] = 12 * rows["profit"].to_numpy(float)
    risk = score(model, rows, horizons)
    main = f"risk_{horizons[0]}"
    # risk ranks (AUC, lift, EMPC); the list is ranked by value at risk (risk x annual value)
    out["s_model"], out["f_model"] = risk[main].to_numpy(), True
    out["v_model"] = risk[main].to_numpy() * out["value"].to_numpy()
    for h in horizons:
        out[f"p_model_{h}"] = risk[f"risk_{h}"].to_numpy()
    for name, (flag, sc) in apply_rules(rows, a, rule_settings).items():
        out[f"s_{name}"], out[f"f_{name}"] = sc, flag
    if oracle_args is not None:
        customers, truth, hidden = oracle_args
        o = oracle_risk(rows, customers, truth, horizons=horizons, hidden=hidden)
        out["s_oracle"], out["f_oracle"] = o[main].to_numpy(), True
        out["v_oracle"] = o[main].to_numpy() * out["value"].to_numpy()
        for h in horizons:
            out[f"p_oracle_{h}"] = o[f"risk_{h}"].to_numpy()
    return out


def backtest_months(pm: PersonMonths, end_index: int, months: int, horizon_max: int) -> list[int]:
    """As-of month indices of the backtest (the last ``months`` fully followed up)."""
    last = end_index - horizon_max - pm.delay
    first = max(last - months + 1, 3)
    if last < first:
        raise InsufficientDataError(tr(
            "the data hold {months} months: a backtest needs at least {needed} (some history "
            "to learn from, then {horizon} months to see who left)", months=end_index + 1,
            needed=horizon_max + pm.delay + 4, horizon=horizon_max))
    return list(range(first, last + 1))


def run_backtest(pm: PersonMonths, *, end_index: int, list_size: int, horizons=(3, 6),
                 months: int = 12, refit_every: int = 3, train_months: int = 12,
                 ridge: float = 1.0, rule_settings: RuleSettings = RuleSettings(),
                 economics: Economics, oracle_args=None, n_boot: int = 300,
                 seed: int = 0, alpha: float = 0.05, max_k: int | None = None) -> Backtest:
    """Run the backtest; see the module docstring. ``oracle_args``: ``(customers, truth,
    hidden)`` on the synthetic book, else None."""
    horizons = tuple(int(h) for h in horizons)
    idx = backtest_months(pm, end_index, months, max(horizons))
    f = pm.frame
    model, init, frames, refits = None, None, [], 0
    for i, a in enumerate(idx):
        if model is None or i % refit_every == 0:
            model = fit_risk_model(pm, a, horizon=max(horizons), train_months=train_months,
                                   ridge=ridge, init=init)
            init, refits = model.fit.coef, refits + 1
        rows = f[(f["m"].to_numpy() == a) & f["at_risk"].to_numpy()]
        frames.append(_score_month(pm, a, model, rows, horizons, rule_settings, oracle_args))
    long = pd.concat(frames, ignore_index=True)
    methods = ["model", *RULES] + (["oracle"] if oracle_args is not None else [])
    for h in horizons:
        long[f"y_{h}"] = long["event_gap"].to_numpy() <= h
    for mth in methods:
        key = f"v_{mth}" if f"v_{mth}" in long else f"s_{mth}"
        _, rank = list_by_branch(long, key, f"f_{mth}", max_k or 3 * list_size)
        long[f"rank_{mth}"] = rank
        long[f"l_{mth}"] = (rank >= 1) & (rank <= list_size)
    return _summarise(long, pm, idx, methods, horizons, list_size, economics, n_boot, seed,
                      alpha, refits)


def _per_month(long: pd.DataFrame, mth: str, y: np.ndarray, economics: Economics):
    """AUC, EMPC and the top-decile weights, one as-of month at a time."""
    aucs, empcs, fracs = [], [], []
    w_top = np.zeros(len(long))
    a_, b_ = economics.beta
    for _, ix in long.groupby("m").indices.items():
        s = long[f"s_{mth}"].to_numpy(float)[ix]
        flag = long[f"f_{mth}"].to_numpy(bool)[ix]
        s = np.where(flag, s, np.nanmin(s) - 1.0)  # unflagged: tied below every flagged one
        w_top[ix] = top_weights(s, TOP_FRACTION)
        yy = y[ix]
        if 0 < yy.sum() < yy.size:
            aucs.append(auc(s, yy))
            r = empc(s, yy, clv=economics.customer_value, offer_cost=economics.offer_cost,
                     contact_cost=economics.contact_cost, alpha=a_, beta=b_)
            empcs.append(r.empc)
            fracs.append(r.fraction)
    return (float(np.mean(aucs)) if aucs else np.nan, float(np.mean(empcs)) if empcs else np.nan,
            float(np.mean(fracs)) if fracs else np.nan, w_top)


def _summarise(long, pm, idx, methods, horizons, k, economics, n_boot, seed, alpha, refits):
    cust = pd.factorize(long["customer_id"])[0]
    n_cust = cust.max() + 1
    n_months, n_branches = len(idx), long["branch"].nunique()
    value, aum = long["value"].to_numpy(float), long["aum"].to_numpy(float)
    rows, ints, diffs, curves, lead_rows, cal, best = [], [], [], [], [], {}, {}
    for h in horizons:
        y = long[f"y_{h}"].to_numpy(bool)
        sums = {}
        for mth in methods:
            listed = long[f"l_{mth}"].to_numpy(bool)
            hit = listed & y
            a_u, e_c, e_f, w_top = _per_month(long, mth, y, economics)
            gap = long["event_gap"].to_numpy()
            leads = pd.DataFrame({"c": cust[hit], "d": long["m"].to_numpy()[hit] + gap[hit],
                                  "lead": gap[hit]}).groupby(["c", "d"])["lead"].max()
            lead_rows += [{"method": mth, "horizon": h, "lead": int(v), "departures": int(n)}
                          for v, n in leads.value_counts().sort_index().items()]
            per = lambda x: np.bincount(cust, weights=x.astype(float), minlength=n_cust)  # noqa: E731
            sums[mth] = dict(hit=per(hit), listed=per(listed), y=per(y), hv=per(hit * value),
                             yv=per(y * value), ha=per(hit * aum), ya=per(y * aum),
                             top=per(w_top * y), ytop=per(TOP_FRACTION * y))
            s = {kk: v.sum() for kk, v in sums[mth].items()}
            base = y.mean()
            prec = s["hit"] / s["listed"] if s["listed"] else np.nan
            rows.append({
                "method": mth, "horizon": h, "n_scored": len(long), "departures": int(y.sum()),
                "listed": int(s["listed"]), "precision_at_k": prec,
                "recall_at_k": s["hit"] / s["y"] if s["y"] else np.nan,
                "lift_at_k": prec / base if base else np.nan,
                "lift_top_decile": s["top"] / s["ytop"] if s["ytop"] else np.nan,
                "auc": a_u, "value_captured": s["hv"] / s["yv"] if s["yv"] else np.nan,
                "aum_captured": s["ha"] / s["ya"] if s["ya"] else np.nan,
                "median_lead_months": float(leads.median()) if len(leads) else np.nan,
                "alerts_per_branch_month": s["listed"] / (n_months * n_branches),
                "empc": e_c, "empc_list_fraction": e_f})
            curves.append(_curve(long, mth, y, value, h, n_months, economics))
            if f"p_{mth}_{h}" in long:
                cal[(mth, h)] = calibration_groups(long[f"p_{mth}_{h}"].to_numpy(), y, alpha=alpha)
        for metric, (num, den) in {"precision_at_k": ("hit", "listed"), "recall_at_k": ("hit", "y"),
                                   "value_captured": ("hv", "yv"),
                                   "lift_top_decile": ("top", "ytop")}.items():
            bs = cluster_bootstrap(np.column_stack([sums[m][num] for m in methods]),
                                   np.column_stack([sums[m][den] for m in methods]),
                                   n_boot=n_boot, seed=seed, alpha=alpha)
            for i, mth in enumerate(methods):
                ints.append({"method": mth, "horizon": h, "metric": metric,
                             "estimate": bs["estimate"][i], "ci_low": bs["ci_low"][i],
                             "ci_high": bs["ci_high"][i]})
                if mth != "model":
                    d = bs["draws"][:, 0] - bs["draws"][:, i]
                    lo, hi = np.nanquantile(d, [alpha / 2, 1 - alpha / 2])
                    diffs.append({"method": mth, "horizon": h, "metric": metric,
                                  "diff": bs["estimate"][0] - bs["estimate"][i],
                                  "ci_low": lo, "ci_high": hi})
    curves_df = pd.concat(curves, ignore_index=True)
    main = curves_df[curves_df["horizon"] == horizons[0]]
    for mth, sub in main.groupby("method", sort=False):
        best[mth] = int(sub.loc[sub["profit"].idxmax(), "k"]) if sub["profit"].max() > 0 else 0
    return Backtest(months=[pm.months[a] for a in idx], table=pd.DataFrame(rows),
                    intervals=pd.DataFrame(ints), differences=pd.DataFrame(diffs),
                    curves=curves_df, calibration=cal, lead=pd.DataFrame(lead_rows),
                    best_list_size=best, methods=methods, refits=refits)


def _curve(long, mth, y, value, h, n_months, economics: Economics) -> pd.DataFrame:
    """Precision, value captured and expected monthly profit by list size per branch.

    The profit keeps each customer's own value (``value_years`` of annual profit, through
    ``economics.customer_value / mean value``): a kept leaver is worth what they bring.
    """
    rank = long[f"rank_{mth}"].to_numpy()
    kmax = int(rank.max())
    ok = rank >= 1
    yv = (y * value)[ok]
    hits = np.bincount(rank[ok], weights=y[ok].astype(float), minlength=kmax + 1)[1:]
    n = np.bincount(rank[ok], minlength=kmax + 1)[1:].astype(float)
    val = np.bincount(rank[ok], weights=yv, minlength=kmax + 1)[1:]
    ch, cn, cv = np.cumsum(hits), np.cumsum(n), np.cumsum(val)
    total_v = float((y * value).sum())
    years = economics.customer_value / max(float(np.mean(value)), 1e-9)
    d, f, s = economics.offer_cost, economics.contact_cost, economics.success_rate
    profit = (s * (years * cv - d * ch) - f * cn - d * (cn - ch)) / n_months
    return pd.DataFrame({"method": mth, "horizon": h, "k": np.arange(1, kmax + 1),
                         "precision": np.divide(ch, cn, out=np.full(kmax, np.nan), where=cn > 0),
                         "value_captured": cv / total_v if total_v else np.nan,
                         "profit": profit})
