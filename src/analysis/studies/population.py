"""The population a report studies: data source x branch x attrition definition x as-of date.

Every report notebook starts with :func:`prepare_study`, so they all agree on who is at risk,
when, and who was excluded and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
import numpy as np
import pandas as pd

from analysis.i18n import format_month, language, tr, tr_value
from analysis.config import HIGH_VALUE_TIER, MIN_EVENTS
from analysis.data.loaders import load_source
from analysis.data.portfolio import Portfolio
from analysis.frames import survival_frame

__all__ = [
    "counted_numbers",
    "events_note",
    "product_group",
    "Study",
    "prepare_study",
]


def product_group(n, top: int = 4, *, zero: str = "own") -> pd.Categorical:
    """Group product counts as (0,) 1, 2, ..., ``top``+ (an ordered categorical).

    Parameters
    ----------
    n : array-like
        Products held.
    top : int
        Counts from ``top`` up form one level ``"top+"``.
    zero : {"own", "merge"}
        ``"own"``: zero is its own level ``"0"`` when some customer holds no product (the
        overview and drivers reports). ``"merge"``: zero counts as one product, so the levels
        are always ``1 .. top+`` (the product-effect report, whose reference level is 1).

    Examples
    --------
    >>> product_group([0, 1, 5]).astype(str).tolist()
    ['0', '1', '4+']
    >>> product_group([0, 1, 5], zero="merge").astype(str).tolist()
    ['1', '1', '4+']
    """
    if zero not in ("own", "merge"):
        raise ValueError(f"zero must be 'own' or 'merge', got {zero!r}")
    values = pd.to_numeric(pd.Series(np.asarray(n).ravel())).to_numpy(dtype=float)
    low = 0 if zero == "own" and (values == 0).any() else 1
    labels = [str(i) for i in range(low, top)] + [f"{top}+"]
    clipped = np.clip(values, low, top).astype(int)
    return pd.Categorical([labels[i - low] for i in clipped], categories=labels, ordered=True)


@dataclass
class Study:
    """A prepared study population.

    Attributes
    ----------
    portfolio : Portfolio
        The (branch-filtered) data.
    frame : DataFrame
        One row per customer at risk (see :func:`analysis.frames.survival_frame`) with the report
        groupings added: ``tier_group``, ``product_group``.
    exclusions : DataFrame
        ``customer_id``, ``reason``: customers outside the population and why.
    params : dict
        The parameters that defined it.
    groupings : dict
        Categorical columns of ``frame`` that reports break results down by -> words for readers
        (e.g. ``{"tier_group": "value tier at entry"}``). Depends on the data source.
    numeric : dict
        Numeric covariates of ``frame`` (measured at entry) -> words, for multivariable models.
    has_panel : bool
        True when monthly histories exist (time-varying covariates, landmarks); False for
        one-row-per-customer snapshots.
    value_column : str or None
        Column holding each customer's annual value (profit), if the data have one.
    """

    portfolio: Portfolio
    frame: pd.DataFrame
    exclusions: pd.DataFrame
    params: dict = field(default_factory=dict)
    groupings: dict = field(default_factory=dict)
    numeric: dict = field(default_factory=dict)
    has_panel: bool = True
    value_column: str | None = None
    whole: Portfolio | None = field(default=None, repr=False)  # the data before the branch cut
    # A large book (analysis.data.large_book): ``frame`` and ``portfolio`` hold the models' seeded
    # sample; ``book_counts``, ``book_values`` and ``book_exclusions`` every customer (counted in
    # SQL, analysis.frames.survival_counts); ``sample`` the sample's size and seed; all None for
    # a book loaded whole.
    book_counts: pd.DataFrame | None = field(default=None, repr=False)
    book_values: pd.DataFrame | None = field(default=None, repr=False)
    book_exclusions: pd.DataFrame | None = field(default=None, repr=False)
    sample: Any = None
    book: Any = field(default=None, repr=False)
    _ones: pd.DataFrame | None = field(default=None, init=False, repr=False)

    @property
    def counted_frame(self) -> pd.DataFrame:
        """Every customer, for counts, rates and survival curves: rows with a ``customers``
        column saying how many customers each stands for (the ``counts`` argument of
        :mod:`analysis.stats`). One row per customer of a book loaded whole; a large book's
        counts per group, entry, duration and event, built in SQL."""
        if self.book_counts is not None:
            return self.book_counts
        if self._ones is None or self._ones.index is not self.frame.index:
            self._ones = self.frame.assign(customers=1)
        return self._ones

    @property
    def counted_values(self) -> pd.Series | None:
        """Every customer's value (:attr:`value_column`; None when the data have none)."""
        if self.book_values is not None:
            return self.book_values["profit_annual"]
        return None if self.value_column is None else self.frame[self.value_column]

    @property
    def counted_exclusions(self) -> pd.DataFrame:
        return self.exclusions if self.book_exclusions is None else self.book_exclusions

    @property
    def as_of(self) -> pd.Timestamp | None:
        value = self.params.get("as_of")
        return pd.Timestamp(value) if value else None

    @property
    def value_words(self) -> str:
        """What the value column measures, for readers."""
        if self.value_column in (None, "profit_annual"):
            return tr("profit")
        return tr("value ({column})", column=self.value_column)

    @property
    def period_words(self) -> str:
        """'observed up to December 2025', or words for a snapshot without a date."""
        if self.as_of is None:
            return tr("in the snapshot extract")
        month = (format_month(self.as_of, "zh") if language() == "zh"
                 else f"{self.as_of:%B %Y}")
        return tr("observed up to {month}", month=month)

    @property
    def scope(self) -> str:
        branch = self.params.get("branch")
        if branch is not None:
            return tr("branch {branch}", branch=tr_value(branch))
        return tr("the whole bank") if self.has_panel else tr("the whole extract")

    @property
    def attrition_words(self) -> str:
        if not self.has_panel:
            m = self.portfolio.mapping
            return tr("the churn flag '{column}' of the extract", column=m.event_column)
        if self.params["attrition"] == "value":
            return tr("value attrition: a tier {tier}+ customer falling below tier {tier} for {k} "
                      "consecutive months, or closing", tier=self.params["high_value_tier"],
                      k=self.params["k"])
        return tr("closure: the customer ends the relationship")


def prepare_study(
    data: Any = "synthetic",
    *,
    branch: str | None = None,
    attrition: str = "closure",
    k: int = 3,
    as_of: Any = None,
    high_value_tier: int = HIGH_VALUE_TIER,
    portfolio: Portfolio | None = None,
    sample: int | None = None,
) -> Study:
    """Load a data source and build the one-row-per-customer survival frame of a report.

    Parameters
    ----------
    data : str or Path
        Data source (see :func:`analysis.data.load_source`).
    branch : str, optional
        One branch; None for the whole bank.
    attrition : {"closure", "value"}
        Attrition definition; ``k`` months below ``high_value_tier`` confirm value attrition.
    as_of : date-like, optional
        End of observation; default the last month of the data.
    portfolio : Portfolio, optional
        Already loaded data (skips loading). The study keeps it as ``whole`` (a branch's
        report compares the branch with it without reading the data again).
    sample : int, optional
        For a large Parquet book (more customers in scope than this): fit models on a seeded
        sample of this many customers and count every customer in SQL
        (:mod:`analysis.data.large_book`; ``study.sample`` says so). None: load the whole book.
    """
    if portfolio is None and sample is not None:
        from analysis.data.large_book import open_book

        book = open_book(data)
        if book is not None and book.is_large(sample):
            return _large_study(book, data=data, branch=branch, sample=int(sample),
                                attrition=attrition, k=k, as_of=as_of,
                                high_value_tier=high_value_tier)
    if portfolio is None:
        portfolio = load_source(data)
    whole, portfolio = portfolio, portfolio.for_branch(branch)
    if portfolio.kind == "snapshot":
        study = _snapshot_study(portfolio, data=data, branch=branch, attrition=attrition, k=k)
        study.whole = whole
        return study
    as_of_ts = portfolio.window_end if as_of is None else pd.Timestamp(as_of)
    if as_of_ts < portfolio.window_start:
        raise ValueError(
            f"as_of {as_of_ts:%Y-%m-%d} is before the data window starts "
            f"({portfolio.window_start:%Y-%m-%d})"
        )
    frame, excluded = survival_frame(
        portfolio.panel,
        portfolio.customers,
        attrition=attrition,
        k=k,
        high_value_tier=high_value_tier,
        as_of=as_of_ts,
    )
    exclusions = pd.concat([portfolio.exclusions, excluded], ignore_index=True)
    frame = _report_columns(frame)
    groupings = {  # words in the report's language (set_language runs first)
        "tier_group": tr("value tier at entry"),
        "segment": tr("reliance segment"),
        "product_group": tr("products held at entry"),
    }
    if branch is None:
        groupings["branch"] = tr("branch")
    numeric = {
        "n_products_entry": tr("products held at entry"),
        "age_entry": tr("age at entry (years)"),
        "entry": tr("tenure at entry (months)"),
        "log_aum_entry": tr("log(1 + AUM at entry)"),
        "log_loan_entry": tr("log(1 + loan balance at entry)"),
    }
    if "engagement" in frame and frame["engagement"].notna().all():
        numeric["engagement"] = tr("engagement score")
    params = dict(
        data=str(data),
        branch=branch,
        attrition=attrition,
        k=k,
        as_of=f"{as_of_ts:%Y-%m-%d}",
        high_value_tier=high_value_tier,
    )
    return Study(
        portfolio=portfolio,
        frame=frame,
        exclusions=exclusions,
        params=params,
        groupings=groupings,
        numeric=numeric,
        has_panel=True,
        value_column="profit_annual",
        whole=whole,
    )


def group_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The report's groupings from a survival frame's (or its counts') columns at entry."""
    frame["tier_group"] = pd.Categorical(
        "Tier " + frame["tier_entry"].astype(str), categories=[f"Tier {i}" for i in range(1, 6)]
    ).remove_unused_categories()
    frame["product_group"] = product_group(frame["n_products_entry"])
    frame["product_group"] = frame["product_group"].cat.remove_unused_categories()
    return frame


def _report_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The survival frame with the groupings and transformed covariates the reports use."""
    frame = group_columns(frame)
    frame["log_aum_entry"] = np.log1p(frame["aum_entry"])
    frame["log_loan_entry"] = np.log1p(frame["loan_entry"])
    frame["profit_annual"] = 12 * frame["profit_monthly"]
    return frame


def _large_study(book, *, data, branch, sample: int, attrition: str, k: int, as_of,
                 high_value_tier: int) -> Study:
    """A study of a large Parquet book (:mod:`analysis.data.large_book`): the models' population
    is a seeded sample of customers, ``book_counts`` every customer counted in SQL."""
    from analysis.data.large_book import check_book, load_sample
    from analysis.studies.whole_book import book_counts

    checked = check_book(book)  # the whole book, in chunks (or once per render)
    book.require_branch(branch)
    as_of_ts = book.window()[1] if as_of is None else pd.Timestamp(as_of)
    drawn = load_sample(book, sample, branch=branch)
    study = prepare_study(data, branch=branch, attrition=attrition, k=k, as_of=as_of_ts,
                          high_value_tier=high_value_tier, portfolio=drawn)
    study.whole, study.book, study.sample = None, book, drawn.sample
    if drawn.sample is None:  # every customer of the scope was loaded: nothing is sampled
        return study
    counts, values, excluded = book_counts(book, branch=branch, attrition=attrition, k=k,
                                           high_value_tier=high_value_tier, as_of=as_of_ts)
    if branch is not None and len(checked):
        checked = checked[checked["customer_id"].isin(book.customer_ids(branch))]
    study.book_counts, study.book_values = group_columns(counts), values
    study.book_exclusions = pd.concat([checked, excluded], ignore_index=True)
    return study


def _snapshot_study(portfolio: Portfolio, *, data, branch, attrition: str, k: int) -> Study:
    """A study of a one-row-per-customer extract (see :mod:`analysis.data.mapping`)."""
    if attrition != "closure":
        raise ValueError(
            f"attrition={attrition!r} needs monthly histories, but {portfolio.source} is a "
            "one-row-per-customer snapshot: its event is the mapped churn flag (use 'closure')"
        )
    m = portfolio.mapping
    frame = portfolio.snapshot.copy()
    groupings: dict = {}
    numeric: dict = {}
    if "n_products" in frame:
        frame = frame.rename(columns={"n_products": "n_products_entry"})
        top = int(min(max(frame["n_products_entry"].max(), 1), 6))
        frame["product_group"] = product_group(frame["n_products_entry"], top=top)
        frame["product_group"] = frame["product_group"].cat.remove_unused_categories()
        groupings["product_group"] = tr("products held")
        numeric["n_products_entry"] = tr("products held")
    for col in m.groups:
        groupings[col] = col
    if branch is None and "branch" in frame and frame["branch"].nunique() > 1:
        groupings["branch"] = tr("branch ({column})", column=m.branch)
    for col in m.numeric:
        numeric[col] = col
    params = dict(data=str(data), branch=branch, attrition=attrition, k=k,
                  as_of=m.as_of, high_value_tier=None)
    return Study(
        portfolio=portfolio,
        frame=frame,
        exclusions=portfolio.exclusions,
        params=params,
        groupings=groupings,
        numeric=numeric,
        has_panel=False,
        value_column=m.value,
    )


def counted_numbers(counted: pd.DataFrame) -> dict:
    """Customers, departures, customers already on book when observation started (left
    truncation) and customer-months observed, of a :attr:`Study.counted_frame`.

    >>> counted_numbers(pd.DataFrame({"entry": [0.0, 5], "duration": [3.0, 9], "event": [1, 0],
    ...                               "customers": [2, 3]}))
    {'customers': 5, 'events': 2, 'left_truncated': 3, 'customer_months': 18.0}
    """
    n = counted["customers"].to_numpy() if "customers" in counted else np.ones(len(counted))
    out = {"customers": int(n.sum()),
           "events": int((counted["event"].to_numpy() * n).sum()) if "event" in counted else 0}
    if "entry" in counted and "duration" in counted:
        out["left_truncated"] = int(n[counted["entry"].to_numpy() > 0].sum())
        out["customer_months"] = float(
            ((counted["duration"] - counted["entry"]).to_numpy() * n).sum())
    return out


def events_note(study: Study, minimum: int = MIN_EVENTS) -> str | None:
    """A warning for the top of a report when the study holds too few departures, else None.

    With fewer than ``minimum`` departures, rates, curves and models are too uncertain to
    compare groups; the findings then say so instead of ranking groups or naming a peak.

    >>> import pandas as pd
    >>> s = Study(portfolio=None, frame=pd.DataFrame({"event": [0, 1, 0]}), exclusions=None)
    >>> events_note(s, minimum=10)
    'Only 1 departure among 3 customers: fewer than 10, too few to compare groups or to locate a peak in the risk of leaving. The numbers below are shown with their intervals, but no group is called higher or lower.'
    >>> events_note(s, minimum=1) is None
    True
    """
    numbers = counted_numbers(study.counted_frame)
    n = numbers["events"]
    if n >= minimum:
        return None
    what = (tr("No departure") if n == 0 else tr("Only 1 departure") if n == 1
            else tr("Only {n} departures", n=f"{n:,}"))
    return tr("{what} among {customers} customers: fewer than {minimum}, too few to compare "
              "groups or to locate a peak in the risk of leaving. The numbers below are shown "
              "with their intervals, but no group is called higher or lower.", what=what,
              customers=f"{numbers['customers']:,}", minimum=f"{minimum:,}")
