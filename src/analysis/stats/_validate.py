"""Input checks shared by the non-parametric statistics (columns, numbers, groups)."""

from __future__ import annotations

from typing import Iterable
import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InsufficientDataError


ALL_LABEL = "all"


def _rows(index: pd.Index, mask: np.ndarray, limit: int = 10) -> str:
    bad = list(index[np.asarray(mask)])
    shown = ", ".join(repr(b) for b in bad[:limit])
    more = f", ... ({len(bad)} rows in all)" if len(bad) > limit else ""
    return f"[{shown}{more}]"


def _numeric(data: pd.DataFrame, col: str) -> np.ndarray:
    s = data[col]
    if s.dtype == bool:
        s = s.astype(float)
    try:
        values = pd.to_numeric(s, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {col!r} must be numeric; got dtype {s.dtype}") from exc
    return values


def _check_columns(data: pd.DataFrame, cols: Iterable[str | None]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    wanted = [c for c in cols if c is not None]
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise ValueError(
            f"column(s) {missing} not found in data; available columns: {list(data.columns)}"
        )


def _check_labels(data: pd.DataFrame, col: str) -> None:
    na = data[col].isna().to_numpy()
    if na.any():
        raise ValueError(f"column {col!r} has missing values in rows {_rows(data.index, na)}")


def _finite_nonnegative(data: pd.DataFrame, col: str, role: str, idx) -> np.ndarray:
    """``col`` as floats, refusing missing, infinite or negative values (naming the rows)."""
    x = _numeric(data, col)
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(
            f"column {col!r} ({role}) has missing or infinite values in rows {_rows(idx, bad)}")
    bad = x < 0
    if bad.any():
        raise ValueError(f"column {col!r} ({role}) has negative values in rows {_rows(idx, bad)}")
    return x


def _prepare(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    entry: str | None,
    group: str | None,
    counts: str | None = None,
) -> pd.DataFrame:
    """Validate the input contract and return a frame with columns group, t, e, entry and,
    with ``counts``, ``n``: how many identical customers each row stands for (whole numbers
    >= 0; aggregated data, e.g. :func:`analysis.frames.survival_counts`)."""
    _check_columns(data, [duration, event, entry, group, counts])
    if len(data) == 0:
        raise InsufficientDataError("there are no customers in this data (0 rows)")
    idx = data.index

    t = _finite_nonnegative(data, duration, "duration", idx)

    e = _numeric(data, event)
    bad = ~np.isin(e, (0.0, 1.0))  # NaN is not in {0, 1}
    if bad.any():
        raise ValueError(
            f"column {event!r} (event) must be 0 or 1; offending rows {_rows(idx, bad)}"
        )

    out = pd.DataFrame({"t": t, "e": e.astype(np.int64)}, index=idx)

    if entry is not None:
        x = _finite_nonnegative(data, entry, "entry", idx)
        bad = t <= x
        if bad.any():
            raise ValueError(
                f"column {duration!r} must be greater than {entry!r} (a customer must be "
                f"observed for some time after entering); offending rows {_rows(idx, bad)}"
            )
        out["entry"] = x

    if counts is not None:
        n = _finite_nonnegative(data, counts, "customers per row", idx)
        bad = n != np.round(n)
        if bad.any():
            raise ValueError(f"column {counts!r} (customers per row) must hold whole numbers; "
                             f"offending rows {_rows(idx, bad)}")
        out["n"] = n.astype(np.int64)
        if out["n"].sum() == 0:
            raise InsufficientDataError("there are no customers in this data (all counts are 0)")

    if group is None:
        out["group"] = ALL_LABEL
    else:
        _check_labels(data, group)
        out["group"] = data[group].to_numpy()
        if isinstance(data[group].dtype, pd.CategoricalDtype):
            out["group"] = pd.Categorical(
                out["group"], categories=data[group].cat.categories, ordered=True
            )
    return out


def _groups(prepared: pd.DataFrame):
    """Yield (label, sub-frame) in a stable order (sorted, or category order); empty skipped
    (with counts: rows of no customer dropped, and groups of none skipped)."""
    if "n" in prepared:
        prepared = prepared[prepared["n"].to_numpy() > 0]
    for label, sub in prepared.groupby("group", sort=True, observed=True):
        if len(sub):
            yield label, sub


def _size(prepared: pd.DataFrame) -> int:
    """Customers in a prepared frame (rows, or the sum of their counts)."""
    return int(prepared["n"].sum()) if "n" in prepared else len(prepared)


def _counts(prepared: pd.DataFrame) -> np.ndarray | None:
    """The customers each row stands for (None: one each)."""
    return prepared["n"].to_numpy() if "n" in prepared else None


def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(stats.norm.ppf(1 - alpha / 2))


def _as_float_list(values, name: str) -> list[float]:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty list of numbers")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {list(arr)}")
    return [float(v) for v in arr]
