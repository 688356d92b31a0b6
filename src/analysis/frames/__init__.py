"""Panel -> survival data, in SQL so the same code scales to millions of customers.

Time is tenure in months. A panel row at tenure ``t`` stands for the month ``(t, t+1]``: a customer
whose relationship ends in that month has an event at ``t + 1``. A customer first seen at tenure
``t0 > 0`` entered observation late (left truncation): ``entry = t0``.

Attrition definitions (the ``attrition`` parameter):

``closure``
    The relationship ends (the panel's ``closed`` flag on the customer's last month).
``value``
    A high-value customer (tier >= ``high_value_tier`` in their first observed month) falls below
    that tier and stays below for ``k`` consecutive months, or closes. The event is dated at the
    first month below. A drop still shorter than ``k`` months when observation ends cannot be
    confirmed: the customer is censored just before it. Customers below the tier at entry are not
    in the high-value book; they are listed as exclusions, never dropped silently.

Inputs are pandas DataFrames or paths to Parquet files (or folders of Parquet parts). The SQL runs
on DuckDB (default) or Apache Spark: every function takes ``engine`` (see
:mod:`analysis.frames.engines`).
"""

from __future__ import annotations

import contextlib

import pandas as pd

from analysis.config import HIGH_VALUE_TIER
from analysis.frames.engines import connect

__all__ = [
    "ATTRITION_DEFINITIONS",
    "TIME_VARYING",
    "attrition_panel",
    "survival_frame",
    "counting_process",
    "exposure_cells",
    "survival_counts",
    "COUNT_COLUMNS",
    "CELL_COVARIATES",
]

ATTRITION_DEFINITIONS = ("closure", "value")
# Covariates that change month by month and go into counting-process intervals.
TIME_VARYING = ("n_products", "tier", "segment", "outflow_3m")


@contextlib.contextmanager
def _engine(engine):
    """The engine of one call: ``engine`` when it is an engine object (left open), else a new
    one (closed afterwards)."""
    eng = connect(engine)
    try:
        yield eng
    finally:
        if eng is not engine:
            eng.close()


def _ns_dates(df: pd.DataFrame) -> pd.DataFrame:
    """Same datetime resolution whatever the input (DataFrame or Parquet)."""
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            df[col] = df[col].astype("datetime64[ns]")
    return df


# The panel columns the transforms read.
_PANEL_COLUMNS = ("customer_id", "month", "tenure_months", "aum", "deposit_balance", "loan_balance",
                  "n_products", "tier", "segment", "profit", "outflow", "closed")


def _check_params(attrition: str, k: int, lag: int = 0) -> None:
    if attrition not in ATTRITION_DEFINITIONS:
        raise ValueError(
            f"attrition must be one of {ATTRITION_DEFINITIONS}, got {attrition!r}"
        )
    if int(k) < 1:
        raise ValueError(f"k (months below the tier for value attrition) must be >= 1, got {k}")
    if int(lag) < 0:
        raise ValueError(f"lag must be >= 0 months, got {lag}")


def _attrition_sql(
    panel_sql: str, attrition: str, k: int, high_value_tier: int, as_of, lag: int, windows: bool = True
) -> str:
    """SQL of the at-risk panel: rows kept while at risk, ``event`` on the event month.

    Adds ``rn`` (row number within customer), ``outflow_3m`` (a large outflow in the previous
    three months) and ``lag_<col>`` for every time-varying covariate: products ``lag`` months
    earlier (NULL where the history does not reach back), the others unlagged.
    """
    where = f"WHERE month <= TIMESTAMP '{pd.Timestamp(as_of):%Y-%m-%d}'" if as_of is not None else ""
    # Only products are lagged (the guard against products closed on the way out); tier,
    # segment and the outflow flag (already "previous 3 months") are the month's own values.
    # No fallback at entry: the first ``lag`` months of a customer have no lagged value (NULL)
    # and are left out of the counting-process intervals (at-risk time starts after the lag).
    lags = ",\n".join(
        [f"LAG(n_products, {lag}) OVER w AS lag_n_products" if lag > 0
         else "n_products AS lag_n_products"]
        + [f"{c} AS lag_{c}" for c in ("tier", "segment", "outflow_3m")])
    base = f"""
    p0 AS (
        SELECT {", ".join(_PANEL_COLUMNS)}
        FROM {panel_sql} {where}
    ),
    p1a AS (
        SELECT *,
            ROW_NUMBER() OVER w AS rn,
            COUNT(*) OVER (PARTITION BY customer_id) AS nrows,
            COALESCE(MAX(CAST(outflow AS INTEGER)) OVER (PARTITION BY customer_id ORDER BY month
                ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING), 0) AS outflow_3m
        FROM p0
        WINDOW w AS (PARTITION BY customer_id ORDER BY month)
    ),
    p1 AS (
        SELECT *, {lags}
        FROM p1a
        WINDOW w AS (PARTITION BY customer_id ORDER BY month)
    )"""
    if attrition == "closure" and not windows:
        # One row per customer needs no window functions for closure: much faster at scale.
        return base.split("p1a AS")[0].rstrip().rstrip(",") + """,
    ap AS (SELECT *, closed AS event FROM p0)"""
    if attrition == "closure":
        return base + """,
    ap AS (SELECT *, closed AS event FROM p1)"""
    return base + f""",
    p2 AS (
        SELECT *, SUM(CASE WHEN tier < {high_value_tier} THEN 0 ELSE 1 END) OVER w AS grp
        FROM p1 WINDOW w AS (PARTITION BY customer_id ORDER BY month)
    ),
    runs AS (
        SELECT customer_id, grp, MIN(rn) AS run_start, COUNT(*) AS run_len,
               MAX(rn) AS run_end, MAX(nrows) AS nrows, BOOL_OR(closed) AS run_closed
        FROM p2 WHERE tier < {high_value_tier} GROUP BY customer_id, grp
    ),
    cut AS (
        SELECT customer_id,
            MIN(CASE WHEN run_len >= {k} OR run_closed THEN run_start END) AS ev_rn,
            MIN(CASE WHEN run_len < {k} AND NOT run_closed AND run_end = nrows
                     THEN run_start END) AS cens_rn
        FROM runs GROUP BY customer_id
    ),
    firsts AS (
        SELECT customer_id, tier AS tier0,
               MAX(CASE WHEN closed THEN rn END) OVER (PARTITION BY customer_id) AS close_rn,
               rn
        FROM p1
    ),
    bounds AS (
        SELECT f.customer_id, f.tier0,
            LEAST(c.ev_rn, f.close_rn) AS event_rn, c.cens_rn
        FROM firsts f LEFT JOIN cut c USING (customer_id)
        WHERE f.rn = 1
    ),
    ap AS (
        SELECT p1.*, COALESCE(p1.rn = b.event_rn, FALSE) AS event
        FROM p1 JOIN bounds b USING (customer_id)
        WHERE b.tier0 >= {high_value_tier}
          AND p1.rn <= COALESCE(b.event_rn, b.cens_rn - 1, p1.nrows)
    )"""


def _exclusions(eng, panel_sql: str, attrition: str, high_value_tier: int, as_of) -> pd.DataFrame:
    if attrition != "value":
        return pd.DataFrame({"customer_id": pd.Series(dtype=str), "reason": pd.Series(dtype=str)})
    where = f"AND month <= TIMESTAMP '{pd.Timestamp(as_of):%Y-%m-%d}'" if as_of is not None else ""
    df = eng.df(
        f"""
        SELECT customer_id FROM (
            SELECT customer_id, arg_min(tier, month) AS tier0 FROM {panel_sql}
            WHERE TRUE {where} GROUP BY customer_id)
        WHERE tier0 < {high_value_tier} ORDER BY customer_id
        """
    )
    df["reason"] = f"below tier {high_value_tier} when first observed: not in the high-value book"
    return df


def attrition_panel(panel, *, attrition: str = "closure", k: int = 3,
                    high_value_tier: int = HIGH_VALUE_TIER, as_of=None, engine=None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply an attrition definition to a panel.

    Returns
    -------
    at_risk : DataFrame
        The panel rows during which each customer is at risk, with ``event`` (bool) true on the
        month of attrition, plus ``outflow_3m``.
    exclusions : DataFrame
        ``customer_id``, ``reason`` for customers outside the population at risk.
    """
    _check_params(attrition, k)
    with _engine(engine) as eng:
        src = eng.relation(panel, "panel_in")
        sql = "WITH " + _attrition_sql(src, attrition, k, high_value_tier, as_of, 0) + f"""
        SELECT {", ".join(_PANEL_COLUMNS)}, outflow_3m, event
        FROM ap ORDER BY customer_id, month"""
        at_risk = eng.df(sql)
        return at_risk, _exclusions(eng, src, attrition, high_value_tier, as_of)


def _customer_columns(customers, eng) -> tuple[str, str]:
    src = eng.relation(customers, "customers_in")
    cols = eng.columns(src)
    wanted = [c for c in ("branch", "open_date", "age_at_open", "gender", "engagement") if c in cols]
    return src, ", ".join(f"c.{c}" for c in wanted)


def _per_customer_sql(src: str, csrc: str, ccols: str, attrition: str, k: int,
                      high_value_tier: int, as_of, order: bool = True) -> str:
    """The SQL of :func:`survival_frame`'s rows: one per customer (by customer with ``order``)."""
    return "WITH " + _attrition_sql(src, attrition, k, high_value_tier, as_of, 0, windows=False) + f""",
        per AS (
            SELECT customer_id,
                MIN(tenure_months) AS entry,
                MAX(tenure_months) + 1 AS duration,
                CAST(BOOL_OR(event) AS INTEGER) AS event,
                arg_min(n_products, month) AS n_products_entry,
                arg_max(n_products, month) AS n_products_last,
                arg_min(tier, month) AS tier_entry,
                arg_max(tier, month) AS tier_last,
                arg_min(segment, month) AS segment,
                arg_min(aum, month) AS aum_entry,
                arg_max(aum, month) AS aum_last,
                arg_min(deposit_balance, month) AS deposit_entry,
                arg_min(loan_balance, month) AS loan_entry,
                AVG(profit) AS profit_monthly,
                BOOL_OR(outflow) AS outflow_any,
                -- months are consecutive (validated): the last outflow within the last 3 rows
                COALESCE(MAX(CASE WHEN outflow THEN tenure_months END)
                         >= MAX(tenure_months) - 2, FALSE) AS outflow_recent,
                MIN(month) AS first_month,
                MAX(month) AS last_month
            FROM ap
            GROUP BY customer_id
        )
        SELECT per.*, {ccols}
        FROM per JOIN {csrc} c USING (customer_id)""" + ("\n        ORDER BY customer_id" if order else "")


def survival_frame(
    panel,
    customers,
    *,
    attrition: str = "closure",
    k: int = 3,
    high_value_tier: int = HIGH_VALUE_TIER,
    as_of=None,
    engine=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per customer: entry, duration and event on the tenure scale, plus covariates.

    Parameters
    ----------
    panel, customers : DataFrame or path
        The validated monthly panel and customers table (or Parquet paths).
    attrition : {"closure", "value"}
        Attrition definition (see module docstring).
    k : int
        Consecutive months below the tier that confirm value attrition.
    high_value_tier : int
        Tier that defines the high-value book for value attrition.
    as_of : date-like, optional
        Observation ends at this month (later months are ignored: censoring).
    engine : {"duckdb", "spark"} or engine object, optional
        Where the SQL runs (:mod:`analysis.frames.engines`); default ``ANALYSIS_ENGINE`` or
        DuckDB. Every function of this module takes it.

    Returns
    -------
    frame : DataFrame
        ``customer_id``, ``entry`` (tenure when first observed), ``duration`` (tenure at event or
        censoring), ``event`` (0/1), covariates at entry (``*_entry``) and latest (``*_last``),
        ``profit_monthly`` (mean monthly profit observed), ``outflow_any``, ``outflow_recent``
        (a large outflow in the last 3 observed months), customer attributes and ``age_entry``.
    exclusions : DataFrame
        Customers outside the population at risk, with the reason.

    Examples
    --------
    >>> from analysis.data import generate_portfolio
    >>> p = generate_portfolio(300, months=12, seed=3)
    >>> frame, excluded = survival_frame(p.panel, p.customers)
    >>> bool((frame["duration"] > frame["entry"]).all())
    True
    """
    _check_params(attrition, k)
    with _engine(engine) as eng:
        src = eng.relation(panel, "panel_in")
        csrc, ccols = _customer_columns(customers, eng)
        sql = _per_customer_sql(src, csrc, ccols, attrition, k, high_value_tier, as_of)
        frame = eng.df(sql)
        frame = _ns_dates(frame)
        frame["entry"] = frame["entry"].astype(float)
        frame["duration"] = frame["duration"].astype(float)
        if "age_at_open" in frame:
            frame["age_entry"] = frame["age_at_open"] + frame["entry"] / 12.0
        if "reason" in eng.columns(src):
            # The departure reason of the event month (null when censored or none was recorded).
            reasons = _ns_dates(eng.df(
                f"SELECT customer_id, month AS last_month, CAST(reason AS VARCHAR) AS reason "
                f"FROM {src} WHERE reason IS NOT NULL"))
            frame = frame.merge(reasons, on=["customer_id", "last_month"], how="left")
            keep = frame["reason"].notna() & (frame["event"] == 1)
            frame["reason"] = frame["reason"].astype(object).where(keep, None)
        return frame, _exclusions(eng, src, attrition, high_value_tier, as_of)

#: The columns :func:`survival_counts` groups customers by (those the data have).
COUNT_COLUMNS = ("branch", "tier_entry", "segment", "n_products_entry")


def survival_counts(panel, customers, *, by=COUNT_COLUMNS, attrition: str = "closure",
                    k: int = 3, high_value_tier: int = HIGH_VALUE_TIER, as_of=None,
                    engine=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`survival_frame` aggregated in SQL: how many customers share each entry, duration,
    event and level of the ``by`` columns, and each customer's value alone.

    Monthly tenures take few distinct values, so the counts grow with the number of groups and
    months, not with the book: Kaplan-Meier, log-rank, RMST, rates and the hazard along the
    tenure read them exactly (the ``counts`` argument of :mod:`analysis.stats`). The
    per-customer rows are built once in the engine and read twice.

    Returns
    -------
    counts : DataFrame
        The ``by`` columns present, ``entry``, ``duration`` (floats), ``event``, ``customers``
        (how many) and ``profit_annual`` (the sum of their annual profit: 12 x mean monthly).
    values : DataFrame
        One row per customer: ``profit_annual`` (and ``branch`` when the data name one), by
        branch and value; for the concentration of value, which needs every customer's.
    exclusions : DataFrame
        As :func:`survival_frame`.
    """
    _check_params(attrition, k)
    with _engine(engine) as eng:
        src = eng.relation(panel, "panel_in")
        csrc, ccols = _customer_columns(customers, eng)
        rows = eng.materialize("per_customer", _per_customer_sql(
            src, csrc, ccols, attrition, k, high_value_tier, as_of, order=False))
        present = set(eng.columns(rows))
        keys = ", ".join([c for c in by if c in present] + ["entry", "duration", "event"])
        counts = eng.df(f"""SELECT {keys}, COUNT(*) AS customers,
                                   12 * SUM(profit_monthly) AS profit_annual
                            FROM {rows} GROUP BY {keys} ORDER BY {keys}""")
        branch = "branch" if "branch" in present else ""
        values = eng.df(f"""SELECT 12 * profit_monthly AS profit_annual{", " * bool(branch)}{branch}
                            FROM {rows} ORDER BY {branch}{", " * bool(branch)}profit_annual""")
        for col in ("entry", "duration"):
            counts[col] = counts[col].astype(float)
        counts["event"] = counts["event"].astype("int64")
        counts["customers"] = counts["customers"].astype("int64")
        return counts, values, _exclusions(eng, src, attrition, high_value_tier, as_of)


def counting_process(panel, customers, *, attrition: str = "closure", k: int = 3,
                     high_value_tier: int = HIGH_VALUE_TIER, as_of=None, lag: int = 0,
                     collapse: bool = True, engine=None) -> pd.DataFrame:
    """Counting-process (start, stop] intervals with time-varying covariates.

    Parameters
    ----------
    lag : int
        Products of an interval are those recorded ``lag`` months earlier (guards against
        reverse causation: products closed on the way out); tier, segment and ``outflow_3m``
        (a large outflow in the previous three months) are not lagged. A customer's first
        ``lag`` observed months have no lagged products and are not at risk: their first
        interval starts ``lag`` months after their first observed month (delayed entry), never
        with an unlagged value.
    collapse : bool
        Merge consecutive months whose covariates do not change (same estimates, far fewer rows).

    Returns
    -------
    DataFrame
        ``customer_id``, ``start``, ``stop``, ``event`` (0/1) and the time-varying covariates
        ``n_products``, ``tier``, ``segment``, ``outflow_3m`` plus customer attributes. The first
        interval of a left-truncated customer starts at their entry tenure, not at 0.
    """
    _check_params(attrition, k, lag)
    with _engine(engine) as eng:
        src = eng.relation(panel, "panel_in")
        csrc, ccols = _customer_columns(customers, eng)
        tv = ", ".join(f"lag_{c} AS {c}" for c in TIME_VARYING)
        sql = "WITH " + _attrition_sql(src, attrition, k, high_value_tier, as_of, lag) + f""",
        iv AS (
            SELECT customer_id, month, tenure_months AS start, tenure_months + 1 AS stop,
                   CAST(event AS INTEGER) AS event, {tv}
            FROM ap
            WHERE lag_n_products IS NOT NULL
        )"""
        if collapse:
            same = " AND ".join(f"{c} IS NOT DISTINCT FROM LAG({c}) OVER w" for c in TIME_VARYING)
            sql += f""",
        chg AS (
            SELECT *, CASE WHEN {same} THEN 0 ELSE 1 END AS changed
            FROM iv WINDOW w AS (PARTITION BY customer_id ORDER BY start)
        ),
        isl AS (
            SELECT *, SUM(changed) OVER (PARTITION BY customer_id ORDER BY start) AS island FROM chg
        ),
        out AS (
            SELECT customer_id, MIN(start) AS start, MAX(stop) AS stop, MAX(event) AS event,
                   {", ".join(f"ANY_VALUE({c}) AS {c}" for c in TIME_VARYING)}
            FROM isl GROUP BY customer_id, island
        )"""
        else:
            sql += f""",
        out AS (SELECT customer_id, start, stop, event, {", ".join(TIME_VARYING)} FROM iv)"""
        sql += f"""
        SELECT out.*, {ccols}
        FROM out JOIN {csrc} c USING (customer_id)
        ORDER BY customer_id, start"""
        df = _ns_dates(eng.df(sql))
        df["start"] = df["start"].astype(float)
        df["stop"] = df["stop"].astype(float)
        df["outflow_3m"] = df["outflow_3m"].astype(int)
        return df


#: Covariates of :func:`exposure_cells`: those of report 02's time-varying model.
CELL_COVARIATES = ("n_products", "tier", "loan", "outflow_3m", "age10", "entry_years",
                   "log_aum", "engagement")
#: Continuous covariates, cut into quantile bins (each bin carries its customers' mean).
_BINNED = ("age10", "entry_years", "log_aum", "engagement")


def exposure_cells(panel, customers, *, attrition: str = "closure", k: int = 3,
                   high_value_tier: int = HIGH_VALUE_TIER, as_of=None, lag: int = 0,
                   bins: int = 10, strata: tuple[str, ...] = ("branch",),
                   band_months: int = 1, engine=None) -> pd.DataFrame:
    """Customer-months at risk and departures per month (or band of months) of tenure and
    covariate cell (SQL).

    The counts that :func:`analysis.stats.cox.cells.fit_cox_cells` needs: the rows of
    :func:`counting_process` (same attrition, ``as_of`` and ``lag``: products ``lag`` months
    earlier, the first ``lag`` months not at risk) cut into months and grouped, so the result
    grows with the number of distinct covariate patterns, not with the book. Covariates
    (:data:`CELL_COVARIATES`, those present): products, tier, loan segment and the outflow flag
    of the month; age at opening, tenure at entry, log assets at entry and engagement per
    customer, each cut into ``bins`` quantile bins of customers and carried as the bin's mean.
    With ``band_months`` > 1 the months of tenure are grouped into bands of that many months
    (1-6, 7-12, ...): the exposure of a piecewise-exponential model
    (:func:`analysis.stats.cox.cells.fit_piecewise_exponential`), about ``band_months`` times
    fewer cells.

    Returns
    -------
    DataFrame
        ``stop`` (tenure at the end of the month, the event time; with bands, at the end of the
        band), the covariates, the ``strata`` columns present, ``at_risk`` (customer-months)
        and ``events``.
    """
    _check_params(attrition, k, lag)
    if int(bins) < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if int(band_months) < 1:
        raise ValueError(f"band_months must be >= 1, got {band_months}")
    w = int(band_months)
    with _engine(engine) as eng:
        src = eng.relation(panel, "panel_in")
        csrc = eng.relation(customers, "customers_in")
        ccols = set(eng.columns(csrc))
        # DOUBLE arithmetic spelled out: Spark reads a literal 12.0 as a DECIMAL
        per_cust = {"entry_years": "CAST(e.entry AS DOUBLE) / 12",
                    "log_aum": "ln(1 + greatest(e.aum_entry, 0))"}
        if "age_at_open" in ccols:
            per_cust["age10"] = "CAST(c.age_at_open - 45 AS DOUBLE) / 10"
        if "engagement" in ccols and eng.df(
                f"SELECT COUNT(*) FROM {csrc} WHERE engagement IS NULL").iat[0, 0] == 0:
            per_cust["engagement"] = "c.engagement"
        strata = [s for s in strata if s in ccols]
        binned = [c for c in _BINNED if c in per_cust]
        # ties broken by customer: the same bins on every run and engine
        tiles = ",\n".join(f"NTILE({int(bins)}) OVER (ORDER BY {c}, customer_id) AS q_{c}"
                           for c in binned)
        means = ",\n".join(f"AVG({c}) OVER (PARTITION BY q_{c}) AS {c}" for c in binned)
        keys = ", ".join(["stop", "n_products", "tier", "loan", "outflow_3m", *binned, *strata])
        # risk set by risk set (month, then stratum): the order the Cox fit from cells works in
        order = ", ".join(["stop", *strata, "n_products", "tier", "loan", "outflow_3m", *binned])
        sql = "WITH " + _attrition_sql(src, attrition, k, high_value_tier, as_of, lag) + f""",
        ent AS (
            SELECT customer_id, MIN(tenure_months) AS entry, arg_min(aum, month) AS aum_entry
            FROM ap GROUP BY customer_id
        ),
        cust AS (
            SELECT e.customer_id, {", ".join(f"{v} AS {c}" for c, v in per_cust.items())}
                   {"".join(f", c.{s}" for s in strata)}
            FROM ent e JOIN {csrc} c USING (customer_id)
        ),
        tiled AS (SELECT customer_id{"".join(f", {s}" for s in strata)}, {", ".join(binned)},
                         {tiles} FROM cust),
        cb AS (SELECT customer_id{"".join(f", {s}" for s in strata)}, {means} FROM tiled),
        rows AS (
            SELECT (FLOOR(CAST(ap.tenure_months AS DOUBLE) / {w}) + 1) * {w} AS stop,
                   CAST(ap.event AS INTEGER) AS event,
                   CAST(ap.lag_n_products AS DOUBLE) AS n_products,
                   CAST(ap.lag_tier AS DOUBLE) AS tier,
                   CAST(ap.lag_segment = 'loan' AS DOUBLE) AS loan,
                   CAST(ap.lag_outflow_3m AS DOUBLE) AS outflow_3m,
                   {", ".join(f"cb.{c}" for c in binned)}{"".join(f", cb.{s}" for s in strata)}
            FROM ap JOIN cb USING (customer_id)
            WHERE ap.lag_n_products IS NOT NULL
        )
        SELECT {keys}, COUNT(*) AS at_risk, SUM(event) AS events
        FROM rows
        GROUP BY {keys}
        ORDER BY {order}"""
        out = eng.df(sql)
        out["stop"] = out["stop"].astype(float)
        out["events"] = out["events"].astype(float)
        return out


def asof_state(panel, *, as_of, attrition: str = "closure", k: int = 3,
               high_value_tier: int = HIGH_VALUE_TIER, speed: float,
               customers=None, engine=None) -> pd.DataFrame:
    """Each customer's state at ``as_of`` (on book that month and not leaving in it), in SQL.

    The start of a projection (:mod:`analysis.stats.projection`) for a book of any size: one
    row per customer, sorted by ``customer_id``, from the at-risk panel of the attrition
    definition (the rows :func:`attrition_panel` keeps). Columns: ``time`` (months since study
    entry), ``tenure``, ``a`` (products), ``a_hist`` (the exponentially weighted history of
    products since entry, share ``speed`` of the gap closed each month, started at the count at
    entry; :func:`analysis.stats.gformula.exposure_history`), ``out_2``, ``out_1``, ``out_0``
    (a large outflow two months before, one month before and in the as-of month), ``log_aum``
    (``log1p`` of AUM), ``tier``, ``profit0``, ``aum0``, ``loan0``, ``loan_slope`` (least-squares
    slope of the loan balance over the last 12 months), ``segment``; at entry: ``tenure_entry``,
    ``aum_entry``, ``tier_entry``, ``segment_entry``; and, with ``customers``, ``branch``,
    ``engagement`` and ``age_at_open`` where present.
    """
    _check_params(attrition, k)
    with _engine(engine) as eng:
        src = eng.relation(panel, "panel_in")
        s = float(speed)
        day = f"TIMESTAMP '{pd.Timestamp(as_of):%Y-%m-%d}'"
        sql = "WITH " + _attrition_sql(src, attrition, k, high_value_tier, as_of, 0) + f""",
        t AS (
            SELECT *, rn - 1 AS time, MAX(rn) OVER (PARTITION BY customer_id) - 1 AS last_time,
                   YEAR(month) * 12 + MONTH(month) AS mi
            FROM ap
        ),
        last AS (
            SELECT * FROM t WHERE time = last_time AND month = {day} AND NOT event
        ),
        agg AS (
            SELECT customer_id,
                SUM(n_products * CASE WHEN time = 0 THEN POWER(1 - {s}, last_time)
                                      ELSE {s} * POWER(1 - {s}, last_time - time) END) AS a_hist,
                MAX(CASE WHEN time = last_time - 2 THEN CAST(outflow AS INTEGER) ELSE 0 END) AS out_2,
                MAX(CASE WHEN time = last_time - 1 THEN CAST(outflow AS INTEGER) ELSE 0 END) AS out_1,
                MAX(CASE WHEN time = 0 THEN tenure_months END) AS tenure_entry,
                MAX(CASE WHEN time = 0 THEN aum END) AS aum_entry,
                MAX(CASE WHEN time = 0 THEN tier END) AS tier_entry,
                MAX(CASE WHEN time = 0 THEN segment END) AS segment_entry
            FROM t WHERE customer_id IN (SELECT customer_id FROM last) GROUP BY customer_id
        ),
        loan AS (
            SELECT customer_id, COALESCE(REGR_SLOPE(loan_balance, YEAR(month) * 12 + MONTH(month)), 0) AS loan_slope
            FROM p0 WHERE month > {day} - INTERVAL 12 MONTH
              AND customer_id IN (SELECT customer_id FROM last)
            GROUP BY customer_id
        )
        SELECT l.customer_id, l.time, CAST(l.tenure_months AS DOUBLE) AS tenure,
               CAST(l.n_products AS DOUBLE) AS a, g.a_hist,
               CAST(g.out_2 AS DOUBLE) AS out_2, CAST(g.out_1 AS DOUBLE) AS out_1,
               CAST(CAST(l.outflow AS INTEGER) AS DOUBLE) AS out_0,
               LN(1 + GREATEST(l.aum, 0)) AS log_aum, CAST(l.tier AS DOUBLE) AS tier,
               l.profit AS profit0, l.aum AS aum0, l.loan_balance AS loan0,
               COALESCE(n.loan_slope, 0) AS loan_slope, l.segment,
               CAST(g.tenure_entry AS DOUBLE) AS tenure_entry, g.aum_entry,
               CAST(g.tier_entry AS DOUBLE) AS tier_entry, g.segment_entry
        FROM last l JOIN agg g USING (customer_id) LEFT JOIN loan n USING (customer_id)
        ORDER BY l.customer_id"""
        out = eng.df(sql)
        # one month in the window: no slope (REGR_SLOPE gives NaN there, not NULL)
        out["loan_slope"] = out["loan_slope"].astype(float).fillna(0.0)
        if customers is not None:
            csrc = eng.relation(customers, "customers_in")
            cols = eng.columns(csrc)
            keep = [c for c in ("branch", "engagement", "age_at_open") if c in cols]
            if keep:
                extra = eng.df(f"SELECT customer_id, {', '.join(keep)} FROM {csrc}")
                out = out.merge(extra, on="customer_id", how="left")
        return out


def read_sql(sql: str, source, engine=None, **frames) -> pd.DataFrame:
    """Run ``sql`` with ``{src}`` standing for ``source`` (a DataFrame or Parquet file/folder)
    and the DataFrames ``frames`` registered under their names; the result as a DataFrame.

    >>> read_sql("SELECT COUNT(*) AS n FROM {src} JOIN k USING (x)",
    ...          pd.DataFrame({"x": [1, 2, 3]}), k=pd.DataFrame({"x": [2, 3]}))["n"].tolist()
    [2]
    """
    with _engine(engine) as eng:
        for name, df in frames.items():
            eng.relation(df, name)
        return _ns_dates(eng.df(sql.format(src=eng.relation(source, "src_in"))))
