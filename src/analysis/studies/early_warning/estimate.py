"""Report 04's numbers: this month's list, the backtest, and the snapshot fallback.

:func:`early_warning` takes a prepared study. On a monthly panel it cuts the data at the as-of
month (nothing after it is read), builds the signals, fits the risk model on the history before
the as-of month, lists each branch's top customers by value at risk, and runs the rolling-origin
backtest of :mod:`.backtest`. On a one-row-per-customer snapshot it ranks the active customers
by a logistic model of the churn flag on the mapped columns (one as-of month, no backtest).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import config
from analysis.errors import Attempt, InsufficientDataError, attempt
from analysis.i18n import tr
from analysis.stats.discrete_hazard import fit_discrete_hazard
from analysis.studies.early_warning.backtest import Economics, list_by_branch, run_backtest
from analysis.studies.early_warning.features import person_months
from analysis.studies.early_warning.model import contributions, fit_risk_model, score
from analysis.studies.early_warning.oracle import oracle_available
from analysis.studies.early_warning.reasons import actions, reasons
from analysis.studies.early_warning.rules import RULES, RuleSettings
from analysis.studies.population import Study

__all__ = ["EarlyWarning", "early_warning", "listed_summary", "backtest_table", "method_labels",
           "score_book"]


@dataclass
class EarlyWarning:
    """Everything report 04 shows.

    ``current`` holds the listed customers WITH their ids (for :mod:`.watchlist` only; the
    report shows :func:`listed_summary`, never the rows).
    """

    study: Study
    as_of: pd.Timestamp | None
    list_size: int
    horizon: int
    horizons: tuple
    economics: Economics
    rule_settings: RuleSettings
    current: Attempt
    scored: int
    backtest: Attempt
    oracle_note: str | None
    snapshot: bool
    model_rows: int = 0
    notes: list = field(default_factory=list)

    @property
    def scope(self) -> str:
        return self.study.params.get("branch") or "bank"

    def rule_words(self) -> dict:
        return {n: r.words(self.rule_settings) for n, r in RULES.items()}


def _economics(value: np.ndarray, customer_value, contact_cost, offer_cost, success_rate,
               concentration) -> Economics:
    if customer_value is None:
        mean = float(np.nanmean(value)) if len(value) else 0.0
        customer_value = config.CUSTOMER_VALUE_YEARS * mean
    customer_value = max(float(customer_value), offer_cost * 1.01 + 1e-9)
    return Economics(customer_value=customer_value, contact_cost=float(contact_cost),
                     offer_cost=float(offer_cost), success_rate=float(success_rate),
                     concentration=float(concentration),
                     acquisition_cost=config.ACQUISITION_TO_RETENTION_COST
                     * (float(contact_cost) + float(offer_cost)))


def early_warning(study: Study, *, contacts_per_rm: int = config.WATCH_CONTACTS_PER_RM,
                  rms_per_branch: int = config.WATCH_RMS_PER_BRANCH,
                  horizon: int = config.WATCH_HORIZON, horizons=(3, 6),
                  backtest_months: int = config.WATCH_BACKTEST_MONTHS,
                  refit_every: int = 3, train_months: int = config.WATCH_TRAIN_MONTHS,
                  rule_settings: RuleSettings | None = None, customer_value: float | None = None,
                  contact_cost: float = config.RETENTION_CONTACT_COST,
                  offer_cost: float = config.RETENTION_OFFER_COST,
                  success_rate: float = config.RETENTION_SUCCESS_RATE,
                  concentration: float = config.RETENTION_SUCCESS_CONCENTRATION,
                  backtest: bool = True, n_boot: int = 300, seed: int = 0) -> EarlyWarning:
    """This month's list and (on a monthly panel) the backtest.

    Parameters
    ----------
    contacts_per_rm, rms_per_branch : int
        A branch's list holds ``contacts_per_rm * rms_per_branch`` customers a month.
    horizon : int
        Months ahead the list's risk looks (one of ``horizons``).
    customer_value : float, optional
        Value of keeping a customer who would have left; default ``CUSTOMER_VALUE_YEARS`` years
        of the mean annual profit of the customers scored.
    backtest : bool
        False: the list only (the ``watchlist`` command).
    """
    horizons = tuple(sorted({int(horizon), *map(int, horizons)}))
    k = int(contacts_per_rm) * int(rms_per_branch)
    if k < 1:
        raise ValueError(f"the list must hold at least one customer, got {k}")
    rs = rule_settings or RuleSettings(seed=seed)
    econ_args = (customer_value, contact_cost, offer_cost, success_rate, concentration)
    if not study.has_panel:
        return _snapshot(study, k, int(horizon), horizons, rs, econ_args)
    p = study.portfolio
    as_of = study.as_of or p.window_end
    panel = p.panel[p.panel["month"] <= as_of]
    pm = person_months(panel, p.customers, attrition=study.params["attrition"],
                       k=study.params["k"], high_value_tier=study.params["high_value_tier"])
    a = len(pm.months) - 1
    f = pm.frame
    rows = f[(f["m"].to_numpy() == a) & f["at_risk"].to_numpy()]
    notes = []
    if study.sample is not None:  # a large book: the model learns from the sample, lists everyone
        rows = _book_rows(study, pm.months[a])
        notes.append(tr("The risk model and the backtest use the seeded sample of {n} customers; "
                        "this month's list scores all {m} customers on book.",
                        n=f"{study.sample.customers:,}", m=f"{len(rows):,}"))
    econ = _economics(12 * rows["profit"].to_numpy(float), *econ_args)
    current = attempt(_current_list, pm, rows, a, k, int(horizon), horizons, train_months)
    hidden = getattr(p, "hidden", None)
    oracle_note = oracle_available(p.truth, hidden)
    bt = Attempt(note=tr("the backtest was not run (list only)"))
    if backtest:
        bt = attempt(run_backtest, pm, end_index=a, list_size=k, horizons=horizons,
                     months=backtest_months, refit_every=refit_every, train_months=train_months,
                     rule_settings=rs, economics=econ, n_boot=n_boot, seed=seed,
                     oracle_args=None if oracle_note else (p.customers, p.truth, hidden))
    return EarlyWarning(study=study, as_of=pm.months[a], list_size=k, horizon=int(horizon),
                        horizons=horizons, economics=econ, rule_settings=rs, current=current,
                        scored=len(rows), backtest=bt, oracle_note=oracle_note, snapshot=False,
                        notes=notes)


# months of history this month's signals look back on (the longest lag of the features)
_SIGNAL_MONTHS = 7


def _book_rows(study: Study, month: pd.Timestamp) -> pd.DataFrame:
    """This month's at-risk rows of every customer of a large book (of the study's branch).

    Closure: built from the last :data:`_SIGNAL_MONTHS` months only (the signals look back 6
    months), so a book of millions is scored without its history in memory. Value attrition
    needs each customer's whole history (who is in the high-value book), so it reads it.
    """
    from analysis.data.large_book import book_customers, book_panel

    prm = study.params
    since = (month - pd.DateOffset(months=_SIGNAL_MONTHS - 1) if prm["attrition"] == "closure"
             else None)
    branch = prm.get("branch")
    panel = book_panel(study.book, branch=branch, since=since, until=month)
    recent = person_months(panel, book_customers(study.book, branch), attrition=prm["attrition"],
                           k=prm["k"], high_value_tier=prm["high_value_tier"])
    f = recent.frame
    return f[(f["m"].to_numpy() == len(recent.months) - 1) & f["at_risk"].to_numpy()]


def _current_list(pm, rows, a, k, horizon, horizons, train_months) -> pd.DataFrame:
    model = fit_risk_model(pm, a, horizon=max(horizons), train_months=train_months)
    risk = score(model, rows, horizons)
    out = rows[["customer_id", "branch", "tier", "segment", "aum", "m"]].copy()
    out["annual_profit"] = 12 * rows["profit"].to_numpy(float)
    for h in horizons:
        out[f"risk_{h}m"] = risk[f"risk_{h}"].to_numpy()
    out["value_at_risk"] = out[f"risk_{horizon}m"] * out["annual_profit"]
    listed, rank = list_by_branch(out, "value_at_risk", None, k)
    out["rank"] = rank
    out = out[listed]
    contrib = contributions(model, rows[listed])
    out["reasons"] = reasons(rows[listed], contrib)
    out["suggested_action"] = actions(out["segment"])
    return out.sort_values(["branch", "rank"]).drop(columns="m").reset_index(drop=True)


def listed_summary(ew: EarlyWarning) -> pd.DataFrame:
    """Customers on this month's list by branch and tier: count, AUM, annual profit, value at
    risk (risk x annual profit). No ids."""
    cur = ew.current.value
    g = cur.groupby(["branch", "tier"], observed=True)
    out = g.agg(customers=("tier", "size"), aum=("aum", "sum"),
                annual_profit=("annual_profit", "sum"), value_at_risk=("value_at_risk", "sum"))
    return out.reset_index()


def _snapshot(study: Study, k, horizon, horizons, rs, econ_args) -> EarlyWarning:
    """Rank the active customers of a snapshot by a logistic model of the churn flag."""
    f = study.frame
    cols, names = [np.ones(len(f))], ["intercept"]
    for c in study.numeric:
        x = pd.to_numeric(f[c], errors="coerce").to_numpy(float)
        sd = np.nanstd(x)
        cols.append(np.nan_to_num((x - np.nanmean(x)) / (sd if sd > 0 else 1.0)))
        names.append(c)
    for c in study.groupings:
        if c == "branch":
            continue
        levels = pd.Series(f[c].astype(str))
        for lev in sorted(levels.unique())[1:]:
            cols.append((levels == lev).to_numpy(float))
            names.append(f"{c}={lev}")
    X = np.column_stack(cols)
    y = f["event"].to_numpy(float)
    value = (f[study.value_column].to_numpy(float) if study.value_column in f
             else np.ones(len(f)))
    econ = _economics(value, *econ_args)

    def fit_and_list():
        if y.sum() < 5:
            raise InsufficientDataError(tr("fewer than 5 customers left in the extract: too "
                                           "few to learn who is at risk"))
        fit = fit_discrete_hazard(X, y, link="logit", ridge=1.0)
        active = y == 0
        out = pd.DataFrame({
            "customer_id": f["customer_id"].to_numpy()[active],
            "branch": (f["branch"].astype(str).to_numpy()[active] if "branch" in f
                       else np.full(int(active.sum()), "all")),
            "tier": np.nan, "segment": "", "aum": np.nan,
            "annual_profit": value[active]})
        out[f"risk_{horizon}m"] = fit.predict(X[active])
        out["value_at_risk"] = out[f"risk_{horizon}m"] * out["annual_profit"]
        out["m"] = 0
        listed, rank = list_by_branch(out.assign(aum=value[active]), "value_at_risk", None, k)
        out["rank"] = rank
        out = out[listed].drop(columns="m")
        out["reasons"] = tr("profile like that of customers who left (snapshot model)")
        out["suggested_action"] = tr("review by the relationship manager")
        return out.sort_values(["branch", "rank"]).reset_index(drop=True)

    note = tr("This is a one-row-per-customer snapshot: the list ranks the active customers by "
              "a model of who had left by the extract date, and it cannot be backtested. A "
              "monthly panel would add the signals that come before a departure (large "
              "outflows, product drops, tier downgrades), a risk for the next 3 and 6 months, "
              "and a backtest that shows how many of those listed actually left.")
    return EarlyWarning(study=study, as_of=study.as_of, list_size=k, horizon=horizon,
                        horizons=horizons, economics=econ, rule_settings=rs,
                        current=attempt(fit_and_list), scored=int((y == 0).sum()),
                        backtest=Attempt(note=note), oracle_note="not synthetic", snapshot=True)


def method_labels(ew: EarlyWarning) -> dict:
    """Method name -> short words for tables and legends."""
    return {"model": tr("risk model"), "rule_tier_outflow": tr("tier + outflow rule"),
            "rule_largest_aum": tr("largest AUM first"),
            "rule_last_outflow": tr("last month's outflow"), "random": tr("random"),
            "oracle": tr("true risk (oracle)")}


def backtest_table(ew: EarlyWarning, horizon: int | None = None) -> pd.DataFrame:
    """The backtest per method at one horizon, readable (shares as shares, value captured with
    its interval)."""
    bt = ew.backtest.value
    h = horizon or ew.horizon
    t = bt.table[bt.table["horizon"] == h].copy()
    iv = bt.intervals[(bt.intervals["horizon"] == h) & (bt.intervals["metric"] == "value_captured")]
    t = t.merge(iv[["method", "ci_low", "ci_high"]], on="method")
    t["method"] = t["method"].map(method_labels(ew))
    return t[["method", "listed", "precision_at_k", "recall_at_k", "lift_top_decile", "auc",
              "value_captured", "ci_low", "ci_high", "aum_captured", "median_lead_months",
              "alerts_per_branch_month", "empc"]]


def score_book(panel: pd.DataFrame, customers: pd.DataFrame, *, as_of=None,
               fit_customers: int = 20_000, horizons=(3, 6),
               train_months: int = config.WATCH_TRAIN_MONTHS) -> pd.DataFrame:
    """Risk of every active customer at one as-of month, for a large book.

    The model learns from a fixed sample of ``fit_customers`` customers (chosen by a hash of
    the id, so the same customers every month); the signals of everybody are built from the 7
    months up to the as-of month only. Returns ``customer_id, branch, risk_<h>``.
    """
    month = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(panel["month"].max())
    panel = panel[panel["month"] <= month]
    ids = pd.Series(panel["customer_id"].unique())
    if len(ids) > fit_customers:
        h = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        ids = ids[h <= np.sort(h)[fit_customers - 1]]
    train = person_months(panel[panel["customer_id"].isin(ids)], customers)
    model = fit_risk_model(train, len(train.months) - 1, horizon=max(horizons),
                           train_months=train_months)
    recent = person_months(panel[panel["month"] >= month - pd.DateOffset(months=6)], customers)
    f = recent.frame
    rows = f[(f["m"].to_numpy() == len(recent.months) - 1) & f["at_risk"].to_numpy()]
    risk = score(model, rows, horizons)
    return pd.concat([rows[["customer_id", "branch"]], risk], axis=1).reset_index(drop=True)
