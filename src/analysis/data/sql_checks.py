"""The checks of :func:`analysis.data.load_source`, run as DuckDB queries over a Parquet book.

A large book (:mod:`analysis.data.large_book`) is checked here first: a few aggregate queries
over the Parquet files, fast and in bounded memory, that find whether any check of the schemas
(:mod:`analysis.data.schemas`), of the panel's consistency and of the two tables against each
other would fail. They only say *whether*: when one finds a problem (or a column's type is not
the plain Parquet type the query can judge), the book goes through the pandas checks, which
name the file, column and rows exactly as for a small book.

Each query mirrors one check of the pandas path; ``tests/test_large_book.py`` breaks a book in
each way and checks that both paths agree.
"""

from __future__ import annotations

import re

from analysis.data.privacy import MAX_DISTINCT_SHARE, MIN_ROWS_FOR_SHARE, personal_reason

__all__ = ["sql_findings"]

_INT = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$")
_NUM = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
                  r"FLOAT|DOUBLE|DECIMAL.*)$")
_TIME = re.compile(r"^(DATE|TIMESTAMP.*)$")

# column -> (type pattern, SQL condition that a value breaks the schema; None: nulls only)
_PANEL = {
    "customer_id": (None, None),
    "month": (_TIME, None),
    "tenure_months": (_INT, "{c} < 0"),
    "aum": (_NUM, "{c} < 0 OR isnan({c})"),
    "deposit_balance": (_NUM, "{c} < 0 OR isnan({c})"),
    "loan_balance": (_NUM, "{c} < 0 OR isnan({c})"),
    "n_products": (_INT, "{c} < 0"),
    "tier": (_INT, "{c} NOT IN (1, 2, 3, 4, 5)"),
    "segment": (re.compile("^VARCHAR$"), "{c} NOT IN ('deposit', 'loan')"),
    "profit": (_NUM, "isnan({c})"),
    "outflow": (re.compile("^BOOLEAN$"), None),
    "closed": (re.compile("^BOOLEAN$"), None),
}
_PANEL_OPTIONAL = {"reason": re.compile("^VARCHAR$")}
_CUSTOMERS = {
    "customer_id": (None, None),
    "branch": (re.compile("^VARCHAR$"), None),
    "open_date": (_TIME, None),
    "age_at_open": (_NUM, "{c} < 16 OR {c} > 120 OR isnan({c})"),
}
_CUSTOMERS_OPTIONAL = {"gender": re.compile("^VARCHAR$"), "engagement": _NUM}


def _types(book, table: str) -> dict[str, str]:
    got = book.query(f"DESCRIBE SELECT * FROM {book.sql(table)}")
    return dict(zip(got["column_name"], got["column_type"].astype(str)))


def _schema_findings(book, table: str, required: dict, optional: dict) -> list[str]:
    types = _types(book, table)
    found, bad = [], []
    for col, (pattern, breaks) in required.items():
        if col not in types:
            found.append(f"{table}: column {col} missing")
            continue
        if pattern is not None and not pattern.match(types[col]):
            found.append(f"{table}: column {col} has type {types[col]}")
            continue
        cond = f"{col} IS NULL" + ("" if breaks is None else f" OR {breaks.format(c=col)}")
        bad.append(f"COUNT(*) FILTER (WHERE {cond}) AS \"{col}\"")
    for col, pattern in optional.items():
        if col in types and not pattern.match(types[col]):  # nullable: only the type matters
            found.append(f"{table}: column {col} has type {types[col]}")
    if bad:
        counts = book.query(f"SELECT {', '.join(bad)} FROM {book.sql(table)}").iloc[0]
        found += [f"{table}: column {c}: {int(n)} value(s) break the schema"
                  for c, n in counts.items() if n]
    return found


def sql_findings(book) -> list[str]:
    """What the SQL checks of a book find (short lines; empty when the book is clean).

    An empty list means every check of :func:`analysis.data.load_source` passes; a line means the
    pandas checks must run (they name the rows), or that a column's type needs them.
    """
    found = _schema_findings(book, "customers", _CUSTOMERS, _CUSTOMERS_OPTIONAL)
    found += _schema_findings(book, "panel", _PANEL, _PANEL_OPTIONAL)
    if found:  # the queries below assume the columns and types above
        return found
    c, p = book.sql("customers"), book.sql("panel")
    if personal_reason("branch") is not None:  # pragma: no cover - a fixed name today
        found.append("customers: branch named like a personal field")
    ids = book.query(f"""
        SELECT COUNT(*) - COUNT(DISTINCT CAST(customer_id AS VARCHAR)) AS dup,
               COUNT(branch) AS n, COUNT(DISTINCT branch) AS levels FROM {c}""").iloc[0]
    if ids["dup"]:
        found.append("customers: customer_id not unique")
    if ids["n"] >= MIN_ROWS_FOR_SHARE and ids["levels"] > MAX_DISTINCT_SHARE * ids["n"]:
        found.append("customers: branch has nearly one level per customer")
    # the panel's consistency and the two tables against each other, one pass over the panel
    row = book.query(f"""
        WITH p AS (
            SELECT CAST(customer_id AS VARCHAR) AS id, month, tenure_months, closed,
                   year(month) * 12 + month(month) AS mi
            FROM {p}
        ), s AS (
            SELECT *,
                mi - LAG(mi) OVER w AS step,
                tenure_months - LAG(tenure_months) OVER w AS tstep,
                LEAD(mi) OVER w IS NULL AS last,
                ROW_NUMBER() OVER w AS k
            FROM p WINDOW w AS (PARTITION BY id ORDER BY month)
        ), cu AS (
            SELECT CAST(customer_id AS VARCHAR) AS id,
                   year(open_date) * 12 + month(open_date) AS oi FROM {c}
        )
        SELECT
            (SELECT COUNT(*) - COUNT(DISTINCT (id, month)) FROM p) AS duplicated,
            COUNT(*) FILTER (WHERE step = 0 OR step > 1) AS gaps,
            COUNT(*) FILTER (WHERE step = 1 AND tstep <> 1) AS tenure,
            COUNT(*) FILTER (WHERE closed AND NOT last) AS early_close,
            COUNT(*) FILTER (WHERE cu.id IS NULL) AS unknown,
            COUNT(*) FILTER (WHERE k = 1 AND cu.id IS NOT NULL
                             AND s.mi - cu.oi <> s.tenure_months) AS open_date
        FROM s LEFT JOIN cu ON s.id = cu.id""").iloc[0]
    found += [f"panel: {name}: {int(n)} row(s)" for name, n in row.items() if n]
    return found
