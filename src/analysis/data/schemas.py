"""Canonical schemas of the data the package reads, and the error users see when data break them.

Three tables: the monthly ``panel``, the ``customers`` table and the one-row-per-customer
``snapshot`` (a survival frame). Every violation is reported with the file, the column, the
problem and example rows, all at once (pandera's lazy validation), so a user fixes a file in one go.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

__all__ = [
    "DataValidationError",
    "PANEL_SCHEMA",
    "CUSTOMERS_SCHEMA",
    "SNAPSHOT_SCHEMA",
    "validate",
    "problem",
]

MAX_EXAMPLES = 5


class DataValidationError(ValueError):
    """Raised when input data break a schema; the message names file, column and rows."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) found:\n{lines}")


def problem(column: str, what: str, rows, values=None) -> str:
    """Format one problem: column, description, how many rows and which (0-based file rows)."""
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:MAX_EXAMPLES])
    more = f" and {len(rows) - MAX_EXAMPLES} more" if len(rows) > MAX_EXAMPLES else ""
    vals = ""
    if values is not None:
        vals = " (values: " + ", ".join(repr(v) for v in list(values)[:MAX_EXAMPLES]) + ")"
    return f"column '{column}': {what} in {len(rows)} row(s), e.g. row(s) {shown}{more}{vals}"


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
    "column_in_dataframe": "column is missing",
    "not_nullable": "missing values",
    "field_uniqueness": "duplicate values",
    "greater_than_or_equal_to(0)": "negative values",
    "isin": "values outside the allowed set",
    "in_range": "values out of range",
    "coerce_dtype": "values of the wrong type",
    "dtype": "wrong type",
}


def _describe(check: str) -> str:
    for key, words in _CHECK_WORDS.items():
        if check.startswith(key):
            return f"{words} [{check}]" if key in ("isin", "in_range") else words
    return f"failed check {check}"


def validate(df: pd.DataFrame, schema: pa.DataFrameSchema, source: str) -> pd.DataFrame:
    """Validate ``df`` against ``schema``; raise :class:`DataValidationError` listing all problems.

    Returns the validated (type-coerced) frame.
    """
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.copy()
        problems = []
        for (column, check), grp in cases.groupby(
            [cases["column"].fillna("(table)").astype(str), cases["check"].astype(str)],
            sort=False,
        ):
            if check.startswith("column_in_dataframe"):
                missing = grp["failure_case"].astype(str).tolist()
                problems.append(
                    f"column '{', '.join(missing)}': column is missing "
                    f"(columns present: {', '.join(map(str, df.columns))})"
                )
                continue
            idx = grp["index"].dropna().astype(int).tolist()
            if column == schema.name or column == "(table)":
                column = ", ".join(schema.columns)
            problems.append(problem(column, _describe(check), idx, grp["failure_case"].tolist()))
        raise DataValidationError(source, problems) from None
