"""A branch against the bank (report 01 on a branch): rates, retention and curves side by side.

A branch head's first question is whether the branch loses customers faster than the bank.
The comparison is with the **rest of the bank** (the other branches), so that the branch is not
compared partly with itself; the whole bank is shown as the reference the landing page uses.
The rate ratio has an exact conditional interval (:func:`analysis.stats.rates.rate_ratio`), and
the curves are tested with the left-truncated log-rank test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.i18n import tr
from analysis.stats.hypothesis import TestResult, logrank
from analysis.stats.km import km_table, survival_at
from analysis.stats.rates import attrition_rates, rate_ratio
from analysis.studies.population import Study, prepare_study

__all__ = ["VersusBank", "versus_bank", "versus_bank_words"]

SURV = dict(duration="duration", event="event", entry="entry", counts="customers")


@dataclass
class VersusBank:
    """The comparison of one branch with the rest of the bank.

    Attributes
    ----------
    table : DataFrame
        ``scope`` (this branch, rest of the bank, whole bank), ``n``, ``events``,
        ``rate_per_100_person_years`` with ``rate_ci_low``/``rate_ci_high`` and the share still
        a customer at 12 months (``share_staying_12`` with ``share_staying_12_ci_low``/``_high``).
    ratio : dict
        Rate ratio branch / rest of the bank: ``ratio``, ``ci_low``, ``ci_high``, ``p``.
    km : DataFrame
        Kaplan-Meier table of the branch and the rest of the bank (``group``: the scope words).
    logrank : TestResult or None
        Branch vs rest of the bank.
    bank_rate : float
        The whole bank's rate per 100 customer-years (reference line of the branch's charts).
    branch : str
        The branch's words (``Branch North`` / ``北区网点``).
    """

    table: pd.DataFrame
    ratio: dict
    km: pd.DataFrame
    logrank: TestResult | None
    bank_rate: float
    branch: str


def _book_bank_counts(study: Study) -> pd.DataFrame:
    """Every customer of a large book (all branches), counted in SQL with the study's
    definition."""
    from analysis.studies.whole_book import book_counts

    p = study.params
    counts, _, _ = book_counts(study.book, attrition=p["attrition"], k=p["k"], as_of=p["as_of"],
                               high_value_tier=p.get("high_value_tier"))
    return counts


def versus_bank(study: Study, bank: Study | None = None) -> VersusBank:
    """Compare the branch of ``study`` with the rest of the bank.

    Parameters
    ----------
    study : Study
        A branch's study (``study.params["branch"]`` set).
    bank : Study, optional
        The whole bank's study with the same data, attrition definition and as-of date; read
        with :func:`prepare_study` when not given.

    Raises
    ------
    InsufficientDataError
        For a bank-wide study, or when the rest of the bank is empty.
    """
    branch = study.params.get("branch")
    if branch is None:
        raise InsufficientDataError("the report covers the whole bank: no branch to compare")
    if bank is None and study.book is not None:  # a large book: every customer, from SQL
        f = _book_bank_counts(study)
    elif bank is None:
        p = study.params
        bank = prepare_study(p["data"], attrition=p["attrition"], k=p["k"], as_of=p["as_of"],
                             portfolio=study.whole,  # already read: no second load
                             **({"high_value_tier": p["high_value_tier"]}
                                if p.get("high_value_tier") else {}))
    if bank is not None:
        f = bank.counted_frame
    if "branch" not in f:
        raise InsufficientDataError("the data name no branch of each customer")
    here = f["branch"].astype(str) == str(branch)
    if here.all() or not here.any():
        raise InsufficientDataError("the rest of the bank holds no customer to compare with")
    words = {True: study.scope[:1].upper() + study.scope[1:], False: tr("Rest of the bank")}
    f = f.assign(scope=np.where(here, words[True], words[False]))
    f["scope"] = pd.Categorical(f["scope"], categories=[words[True], words[False]])
    rates = attrition_rates(f, by="scope", **SURV)
    total = attrition_rates(f.assign(scope=tr("Whole bank")), by="scope", **SURV)
    table = pd.concat([rates, total], ignore_index=True)
    table["scope"] = table["scope"].astype(str)
    surv = [survival_at(f, 12, group="scope", **SURV),
            survival_at(f.assign(scope=tr("Whole bank")), 12, group="scope", **SURV)]
    s12 = pd.concat(surv, ignore_index=True).rename(columns={"group": "scope"})
    s12["scope"] = s12["scope"].astype(str)
    table = table.merge(s12[["scope", "survival", "ci_low", "ci_high"]].rename(columns={
        "survival": "share_staying_12", "ci_low": "share_staying_12_ci_low",
        "ci_high": "share_staying_12_ci_high"}), on="scope", how="left")
    table = table[["scope", "n", "events", "rate_per_100_person_years", "rate_ci_low",
                   "rate_ci_high", "share_staying_12", "share_staying_12_ci_low",
                   "share_staying_12_ci_high"]]
    b, r = rates.iloc[0], rates.iloc[1]
    ratio = rate_ratio(b["events"], b["person_months"], r["events"], r["person_months"])
    km = km_table(f, group="scope", **SURV)
    try:
        lr = logrank(f, group="scope", **SURV)
    except InsufficientDataError:
        lr = None
    return VersusBank(table=table, ratio=ratio, km=km, logrank=lr,
                      bank_rate=float(total["rate_per_100_person_years"].iloc[0]),
                      branch=words[True])


def versus_bank_words(vb: VersusBank) -> str:
    """One finding: the branch's rate against the rest of the bank, worded by the interval.

    "higher"/"lower" only when the rate ratio's interval excludes 1; otherwise "no clear
    difference".
    """
    own, bank = vb.table.iloc[0], vb.table.iloc[2]  # the branch, ..., the whole bank
    r = vb.ratio
    if not np.isfinite(r["ratio"]):
        how = tr("cannot be compared with the rest of the bank (no departures there)")
    elif r["ci_low"] > 1:
        how = tr("higher than the rest of the bank")
    elif r["ci_high"] < 1:
        how = tr("lower than the rest of the bank")
    else:
        how = tr("no clear difference from the rest of the bank")
    return tr("{branch}: **{rate} per 100 customer-years** against {bank_rate} for the whole "
              "bank; {how} (rate ratio {ratio}, 95% CI {low} to {high}).",
              branch=vb.branch, rate=f"{own['rate_per_100_person_years']:.1f}",
              bank_rate=f"{bank['rate_per_100_person_years']:.1f}", how=how,
              ratio=f"{r['ratio']:.2f}", low=f"{r['ci_low']:.2f}", high=f"{r['ci_high']:.2f}")
