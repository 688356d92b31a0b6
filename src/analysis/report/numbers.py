"""Numbers as a manager reads them: p-values, counts, estimates and shares in report tables.

One place decides how a number looks in a table, so that no report prints ``p = 0.000``,
``1.82e-25``, ``12.000`` months or ``-0.0``:

- **p-values** (a column named ``p`` or ending in ``_p`` / `` p``): ``< 0.001`` below 0.001,
  three decimals below 0.01, two otherwise;
- **whole numbers** (integer columns, and floats that are whole in every row, e.g. months or
  landmarks): no decimals, thousands separated;
- **other floats**: ``digits`` decimals, thousands separated, never a negative zero;
- **shares** (a column whose name starts with ``share``): percentages with one decimal (the
  header gains ``(%)``);
- missing values: an en dash.

:func:`format_table` returns the table as strings (the Styler in
:mod:`analysis.report.display` escapes them); the scalar helpers are used in sentences too.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["MISSING", "format_p", "format_number", "format_table", "is_p_column",
           "value_at"]

#: How a missing value is shown.
MISSING = "–"


def _missing(x) -> bool:
    try:
        return x is None or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def value_at(d, *path) -> float | None:
    """The number at ``path`` in nested dicts (a headline payload), None when missing or NaN.

    >>> value_at({"rate": {"estimate": 11.4}}, "rate", "estimate"), value_at({}, "rate")
    (11.4, None)
    """
    for key in path:
        if not isinstance(d, dict) or d.get(key) is None:
            return None
        d = d[key]
    try:
        v = float(d)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def format_p(p) -> str:
    """A p-value as text.

    >>> [format_p(v) for v in (0.46, 0.0312, 0.004, 1.8e-25, 1.0, None)]
    ['0.46', '0.03', '0.004', '< 0.001', '1.00', '–']
    """
    if _missing(p):
        return MISSING
    p = float(p)
    if p < 0.001:
        return "< 0.001"
    if p < 0.01:
        return f"{p:.3f}"
    return f"{p:.2f}"


def format_number(x, digits: int = 2) -> str:
    """A number with thousands separators; whole numbers without decimals; no ``-0``.

    >>> [format_number(v) for v in (12.0, 64526.0, 0.7999, -0.001, 1234.5678, float("nan"))]
    ['12', '64,526', '0.80', '0.00', '1,234.57', '–']
    >>> format_number(-0.04, 1), format_number(3, 3), format_number(True)
    ('0.0', '3', 'yes')
    """
    if _missing(x):
        return MISSING
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return _fixed(x, digits)


def _fixed(x: float, digits: int) -> str:
    """``digits`` decimals, thousands separated, no negative zero (``-0.001`` -> ``0.00``)."""
    if _missing(x):
        return MISSING
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    text = f"{x:,.{digits}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    return text


def is_p_column(name) -> bool:
    """Whether a column holds p-values (``p``, ``*_p``, ``* p``, ``p_value``).

    >>> [is_p_column(c) for c in ("p", "ph_test_p", "lr p", "p_value", "pop", "share")]
    [True, True, True, True, False, False]
    """
    n = str(name).strip().lower()
    return n in ("p", "p_value", "p-value", "p value") or n.endswith(("_p", " p"))


def format_table(df: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Every cell of ``df`` as display text (see the module docstring); headers unchanged
    except share columns, which gain `` (%)``.

    >>> t = pd.DataFrame({"landmark": [6.0, 12.0], "hr": [0.8123, 1.0], "p": [0.0001, 0.5],
    ...                   "share_top": [0.8, 0.25], "n": [64526, 3]})
    >>> format_table(t).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'landmark': ['6', '12'], 'hr': ['0.81', '1.00'], 'p': ['< 0.001', '0.50'],
     'share_top (%)': ['80.0', '25.0'], 'n': ['64,526', '3']}
    """
    out = {}
    for col in df.columns:
        s = df[col]
        if is_p_column(col) and pd.api.types.is_numeric_dtype(s):
            out[col] = [format_p(v) for v in s]
        elif str(col).startswith("share") and pd.api.types.is_float_dtype(s):
            out[f"{col} (%)"] = [MISSING if _missing(v) else f"{100 * v:.1f}" for v in s]
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            vals = s.to_numpy()
            finite = [float(v) for v in vals if not _missing(v)]
            # a float column keeps its decimals unless every value is whole (months, counts)
            whole = bool(finite) and all(v == int(v) for v in finite if math.isfinite(v))
            if pd.api.types.is_float_dtype(s) and not whole:
                out[col] = [_fixed(v, digits) for v in vals]  # one number of decimals
            else:
                out[col] = [format_number(v, digits) for v in vals]
        else:
            out[col] = [MISSING if _missing(v) else str(v) for v in s]
    return pd.DataFrame(out, index=df.index)
