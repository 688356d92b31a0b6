"""Canonical schemas of the data the package reads, and the error users see when data break them.

Three tables: the monthly ``panel``, the ``customers`` table and the one-row-per-customer
``snapshot`` (a survival frame). Every violation is reported with the file, the column, the
problem and example rows, all at once (pandera's lazy validation), so a user fixes a file in one go.

Row numbers in messages are the file's data rows counted from 1, the header line excluded (row 1
is the line under the header), whatever order the loader later sorts the rows in; rows of a
folder of parts print as ``part.parquet:row``. Ids are never printed: a short salted hash stands
in for them (:func:`analysis.data.privacy.mask_id`). Values are shortened, and at most
:data:`~analysis.data.messages.MAX_SHOWN` rows or values and :data:`MAX_PROBLEMS` problems are
listed, then "and K more".
"""

from __future__ import annotations

import warnings

import pandas as pd
import pandera.pandas as pa

from analysis.data.messages import MAX_SHOWN, short, some
from analysis.data.privacy import mask_id

__all__ = [
    "DataValidationError",
    "PANEL_SCHEMA",
    "CUSTOMERS_SCHEMA",
    "SNAPSHOT_SCHEMA",
    "validate",
    "problem",
    "ROWS_NOTE",
]

MAX_EXAMPLES = MAX_SHOWN
MAX_PROBLEMS = 20
ROWS_NOTE = "row numbers count the file's data rows from 1, header line excluded"
_ROWS = " e.g. row(s) "


class DataValidationError(ValueError):
    """Raised when input data break a schema; the message names file, column and rows.

    ``problems`` holds every problem line; the message lists the first :data:`MAX_PROBLEMS`.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        shown = self.problems[:MAX_PROBLEMS]
        lines = "\n".join(f"  - {p}" for p in shown)
        if len(self.problems) > MAX_PROBLEMS:
            lines += f"\n  - and {len(self.problems) - MAX_PROBLEMS} more problem(s)"
        note = f" ({ROWS_NOTE})" if any(_ROWS in p for p in shown) else ""
        super().__init__(f"{source}: {len(self.problems)} problem(s) found{note}:\n{lines}")

    @classmethod
    def combine(cls, source: str, errors: list["DataValidationError"]) -> "DataValidationError":
        """One error for several files: each problem line starts with its file's name."""
        from pathlib import Path

        return cls(source, [f"{Path(e.source).name}: {p}" for e in errors for p in e.problems])


def problem(column: str, what: str, rows, values=None, *, masked: bool = False) -> str:
    """Format one problem: column, description, how many rows and which.

    ``rows`` are 0-based positions in the file (printed from 1, see the module docstring) or
    labels already made (``"part.parquet:3"``). ``values`` are shortened; ``masked`` replaces
    them by salted hashes (for ids).

    >>> problem("aum", "negative values", [3, 7], [-5.0, -1.0])
    "column 'aum': negative values in 2 row(s), e.g. row(s) 4, 8 (values: -5.0, -1.0)"
    >>> problem("x", "bad", range(10))
    "column 'x': bad in 10 row(s), e.g. row(s) 1, 2, 3, 4, 5 and 5 more"
    """
    rows = [r if isinstance(r, str) else int(r) + 1 for r in rows]
    vals = ""
    if values is not None:
        vals = f" ({'ids, masked' if masked else 'values'}: {some(values, fmt=mask_id if masked else short)})"
    return f"column {short(str(column))}: {what} in {len(rows)} row(s),{_ROWS}{some(rows)}{vals}"


_nonneg = pa.Check.ge(0)

PANEL_SCHEMA = pa.DataFrameSchema(
    {
        "customer_id": pa.Column(str, nullable=False),
        "month": pa.Column("datetime64[ns]", nullable=False, coerce=True),
        "tenure_months": pa.Column(int, _nonneg, nullable=False, coerce=True),
        "aum": pa.Column(float, _nonneg, nullable=False, coerce=True),
        "deposit_balance": pa.Column(float, _nonneg, nullable=False, coerce=True),
        "loan_balance": pa.Column(float, _nonneg, nullable=False, coerce=True),
        "n_products": pa.Column(int, _nonneg, nullable=False, coerce=True),
        "tier": pa.Column(int, pa.Check.isin([1, 2, 3, 4, 5]), nullable=False, coerce=True),
        "segment": pa.Column(str, pa.Check.isin(["deposit", "loan"]), nullable=False),
        "profit": pa.Column(float, nullable=False, coerce=True),
        "outflow": pa.Column(bool, nullable=False, coerce=True),
        "closed": pa.Column(bool, nullable=False, coerce=True),
        "reason": pa.Column(str, nullable=True, required=False),  # departure reason, closing month
    },
    name="panel",
    strict=False,
)

CUSTOMERS_SCHEMA = pa.DataFrameSchema(
    {
        "customer_id": pa.Column(str, nullable=False, unique=True),
        "branch": pa.Column(str, nullable=False),
        "open_date": pa.Column("datetime64[ns]", nullable=False, coerce=True),
        "age_at_open": pa.Column(float, pa.Check.in_range(16, 120), nullable=False, coerce=True),
        "gender": pa.Column(str, nullable=True, required=False),
        "engagement": pa.Column(float, nullable=True, required=False, coerce=True),
    },
    name="customers",
    strict=False,
)

SNAPSHOT_SCHEMA = pa.DataFrameSchema(
    {
        "customer_id": pa.Column(str, nullable=False, unique=True),
        "entry": pa.Column(float, _nonneg, nullable=False, coerce=True),
        "duration": pa.Column(float, _nonneg, nullable=False, coerce=True),
        "event": pa.Column(int, pa.Check.isin([0, 1]), nullable=False, coerce=True),
    },
    checks=[
        pa.Check(
            lambda df: df["duration"] >= df["entry"],
            name="duration >= entry",
            error="duration before entry",
        )
    ],
    name="snapshot",
    strict=False,
)

_CHECK_WORDS = {
    "not_nullable": "missing values",
    "field_uniqueness": "duplicate values",
    "greater_than_or_equal_to(0)": "negative values",
    "isin": "values outside the allowed set",
    "in_range": "values out of range",
}
_TYPE_WORDS = {"int64": "whole numbers", "float64": "numbers", "datetime64[ns]": "dates", "bool": "true/false", "str": "text"}
_ID_COLUMNS = {"customer_id"}


def _describe(check: str) -> str:
    for key, words in _CHECK_WORDS.items():
        if check.startswith(key):
            return f"{words} [{check}]" if key in ("isin", "in_range") else words
    return f"failed check {short(check)}"


def _expected(check: str) -> str:
    dtype = check[check.find("(") + 2 : -2] if "(" in check else check
    return _TYPE_WORDS.get(dtype, dtype)


def validate(df: pd.DataFrame, schema: pa.DataFrameSchema, source: str, parts=None) -> pd.DataFrame:
    """Validate ``df`` against ``schema``; raise :class:`DataValidationError` listing all problems.

    One line per column and kind of problem: a column with values of the wrong type gets that
    one line (its other checks ran on unconverted text and are not shown), ids are masked, rows are file rows (``df``
    in file order; ``parts`` an :class:`~analysis.data.extracts.Parts` for a folder of parts).
    Returns the validated (type-coerced) frame.
    """
    try:
        with warnings.catch_warnings():
            # pandera's own concat of failure cases (pandas deprecation inside pandera)
            warnings.filterwarnings("ignore", category=FutureWarning, module="pandera")
            return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    label = parts.labels if parts is not None else (lambda positions: list(positions))
    order = {c: i for i, c in enumerate(schema.columns)}
    found: dict[tuple, list] = {}  # (column, kind) -> [(position or None, failure case)]
    missing: list[str] = []
    for row in cases.itertuples(index=False):
        column, check = str(row.column), str(row.check)
        if check.startswith("column_in_dataframe"):
            missing.append(str(row.failure_case))
            continue
        kind = "type" if check.startswith(("coerce_dtype", "dtype")) else check
        pos = None if pd.isna(row.index) else int(df.index.get_indexer([row.index])[0])
        found.setdefault((column, kind), []).append((pos, row.failure_case, check))
    problems = []
    if missing:
        problems.append(
            f"column(s) {some(missing, fmt=short)}: column is missing "
            f"(columns present: {some(map(str, df.columns), limit=20, fmt=short)})"
        )
    for (column, kind), items in sorted(found.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1] != "type")):
        masked = column in _ID_COLUMNS
        wrong = {p for p, _, _ in found.get((column, "type"), []) if p is not None}
        if kind == "type":
            rows = sorted(((p, v) for p, v, _ in items if p is not None), key=lambda pv: pv[0])
            want = _expected(items[0][2])
            if rows:
                rows = list(dict(rows).items())  # coerce_dtype and dtype flag the same rows
                problems.append(
                    problem(column, f"values of the wrong type (expected {want})", label(p for p, _ in rows),
                            [v for _, v in rows], masked=masked)
                )
            else:
                problems.append(f"column {short(column)}: wrong type {short(items[0][1])} (expected {want})")
            continue
        if wrong:
            # The column was not converted, so its other checks ran on text (pandera's
            # "TypeError ... 0 row(s)" lines, every "3" outside isin([1, ...])): they say nothing.
            continue
        rows = sorted(((p, v) for p, v, _ in items if p is not None), key=lambda pv: pv[0])
        if rows:
            values = None if kind == "not_nullable" else [v for _, v in rows]
            problems.append(problem(column, _describe(kind), label(p for p, _ in rows), values, masked=masked))
        else:
            problems.append(f"column {short(column)}: {_describe(kind)} could not be checked ({short(items[0][1])})")
    raise DataValidationError(source, problems)
