"""Non-parametric survival statistics on a customer's tenure: tidy frames in, tidy frames out.

Every function takes ``data`` (one row per customer) plus keyword-only column names:

``duration``
    Tenure (months on book, float) at which the customer left or was censored.
``event``
    1 if the customer left (attrition) at ``duration``, 0 if still active (censored).
``entry``
    Optional. Tenure at which the customer entered observation (customers already on the book
    when the observation window opened). This is *left truncation* and it is honoured in every
    risk set: a customer is at risk at tenure ``t`` when ``entry < t <= duration`` (the counting
    process convention of R's ``Surv(entry, duration, event)`` and of statsmodels). Without
    ``entry`` a customer is at risk at ``t`` when ``t <= duration``.
``group``
    Optional grouping column; when None the whole data is one group labelled ``"all"``.

Inputs are validated up front (:class:`ValueError` naming the column and the offending rows).
Sections with too little data raise :class:`InsufficientDataError` (a :class:`ValueError`)
whose message is written for a report reader, so that a report can catch it and print it.

No plotting here: see :mod:`analysis.plots`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "InsufficientDataError",
    "LogrankResult",
    "km_table",
    "numbers_at_risk",
    "survival_at",
    "median_survival",
    "logrank",
    "rmst",
    "rmst_difference",
    "hazard_by_tenure",
    "attrition_rates",
]

ALL_LABEL = "all"


class InsufficientDataError(ValueError):
    """Raised when a section has too little data for the requested statistic.

    The message is plain language (for example "no customer left in this data, so survival
    curves cannot be compared") so that a report can catch the error and print it.
    """


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


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


def _prepare(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    entry: str | None,
    group: str | None,
) -> pd.DataFrame:
    """Validate the input contract and return a frame with columns group, t, e, entry."""
    _check_columns(data, [duration, event, entry, group])
    if len(data) == 0:
        raise InsufficientDataError("there are no customers in this data (0 rows)")
    idx = data.index

    t = _numeric(data, duration)
    bad = ~np.isfinite(t)
    if bad.any():
        raise ValueError(
            f"column {duration!r} (duration) has missing or infinite values in rows "
            f"{_rows(idx, bad)}"
        )
    bad = t < 0
    if bad.any():
        raise ValueError(
            f"column {duration!r} (duration) has negative values in rows {_rows(idx, bad)}"
        )

    e = _numeric(data, event)
    bad = ~np.isin(e, (0.0, 1.0))  # NaN is not in {0, 1}
    if bad.any():
        raise ValueError(
            f"column {event!r} (event) must be 0 or 1; offending rows {_rows(idx, bad)}"
        )

    out = pd.DataFrame({"t": t, "e": e.astype(np.int64)}, index=idx)

    if entry is not None:
        x = _numeric(data, entry)
        bad = ~np.isfinite(x)
        if bad.any():
            raise ValueError(
                f"column {entry!r} (entry) has missing or infinite values in rows "
                f"{_rows(idx, bad)}"
            )
        bad = x < 0
        if bad.any():
            raise ValueError(
                f"column {entry!r} (entry) has negative values in rows {_rows(idx, bad)}"
            )
        bad = t <= x
        if bad.any():
            raise ValueError(
                f"column {duration!r} must be greater than {entry!r} (a customer must be "
                f"observed for some time after entering); offending rows {_rows(idx, bad)}"
            )
        out["entry"] = x

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
    """Yield (label, sub-frame) in a stable order (sorted, or category order); empty skipped."""
    for label, sub in prepared.groupby("group", sort=True, observed=True):
        if len(sub):
            yield label, sub


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


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


def _km_arrays(t: np.ndarray, e: np.ndarray, entry: np.ndarray | None, z: float) -> dict:
    """Kaplan-Meier estimate for one group, as arrays (first element: the origin row)."""
    t_sorted = np.sort(t)
    if entry is None:
        times = np.unique(t)
        n = len(t) - np.searchsorted(t_sorted, times, side="left")  # #(t >= time)
        x = np.zeros(len(times), dtype=np.int64)
        start = 0.0
        origin_n = len(t)
        origin_entered = len(t)
    else:
        times = np.unique(np.concatenate([t, entry]))
        e_sorted = np.sort(entry)
        # #(entry < time <= t)
        n = np.searchsorted(e_sorted, times, side="left") - np.searchsorted(
            t_sorted, times, side="left"
        )
        x = np.bincount(np.searchsorted(times, entry), minlength=len(times))
        start = float(times[0])  # == min(entry): durations are > entries
        origin_n = int(x[0])  # entering at the start = at risk just after it
        origin_entered = int(x[0])
        times, n, x = times[1:], n[1:], x[1:]
    pos = np.searchsorted(times, t)
    d = np.bincount(pos, weights=e, minlength=len(times)).astype(np.int64)
    c = np.bincount(pos, weights=1 - e, minlength=len(times)).astype(np.int64)

    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(d > 0, 1.0 - d / np.where(n > 0, n, 1), 1.0)
        surv = np.cumprod(factor)
        gw_terms = np.where(d > 0, d / (n.astype(float) * (n - d)), 0.0)  # inf when n == d
    gw = np.cumsum(gw_terms)

    times = np.concatenate([[start], times])
    n = np.concatenate([[origin_n], n])
    d = np.concatenate([[0], d])
    c = np.concatenate([[0], c])
    x = np.concatenate([[origin_entered], x])
    surv = np.concatenate([[1.0], surv])
    gw = np.concatenate([[0.0], gw])

    with np.errstate(divide="ignore", invalid="ignore"):
        se = surv * np.sqrt(gw)
        se = np.where(surv > 0, se, np.nan)
        v = np.log(surv)
        half = z * np.sqrt(gw) / v  # v < 0 inside (0, 1)
        lo = np.exp(-np.exp(np.log(-v) - half))
        hi = np.exp(-np.exp(np.log(-v) + half))
    inside = (surv > 0) & (surv < 1)
    lo = np.where(inside, lo, np.where(surv >= 1, 1.0, np.nan))
    hi = np.where(inside, hi, np.where(surv >= 1, 1.0, np.nan))
    return {
        "time": times,
        "at_risk": n.astype(np.int64),
        "events": d,
        "censored": c,
        "entered": x.astype(np.int64),
        "survival": surv,
        "se": se,
        "ci_low": lo,
        "ci_high": hi,
        "gw": gw,
    }


_KM_COLUMNS = [
    "group",
    "time",
    "at_risk",
    "events",
    "censored",
    "entered",
    "survival",
    "se",
    "ci_low",
    "ci_high",
]


def _km_frame(prepared: pd.DataFrame, z: float, keep_gw: bool = False) -> pd.DataFrame:
    has_entry = "entry" in prepared.columns
    parts = []
    for label, sub in _groups(prepared):
        arr = _km_arrays(
            sub["t"].to_numpy(),
            sub["e"].to_numpy(),
            sub["entry"].to_numpy() if has_entry else None,
            z,
        )
        if not keep_gw:
            arr.pop("gw")
        part = pd.DataFrame(arr)
        part.insert(0, "group", label)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    if isinstance(prepared["group"].dtype, pd.CategoricalDtype):
        out["group"] = pd.Categorical(
            out["group"], categories=prepared["group"].cat.categories, ordered=True
        )
    return out


def km_table(
    data: pd.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    group: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Kaplan-Meier survival table, one row per group and distinct time.

    Parameters
    ----------
    data : DataFrame
        One row per customer.
    duration, event, entry, group : str
        Column names (see the module docstring). ``entry`` (left truncation) is honoured: the
        risk set at ``t`` is ``#(entry < t <= duration)``.
    alpha : float
        1 - confidence level of the pointwise intervals.

    Returns
    -------
    DataFrame
        Columns ``group, time, at_risk, events, censored, entered, survival, se, ci_low,
        ci_high``. The first row of each group is the origin (time 0, or the first entry time
        under left truncation) with survival 1; its ``at_risk`` is the number under observation
        just after the origin (everyone without truncation, those entering at the origin with
        it). Other rows are the distinct durations and entry times; ``at_risk`` is the risk set
        used by the estimator at that time, ``entered`` the customers whose entry equals the
        time. Between consecutive rows the risk set is constant, so the number at risk at any
        time ``t`` is ``at_risk`` of the first row with ``time >= t`` (see
        :func:`numbers_at_risk`). Without truncation, durations equal to 0 give a second row at
        time 0 (the curve drops at 0).

        ``se`` is Greenwood's standard error of the survival probability,
        ``S(t) * sqrt(sum d / (n (n - d)))``. ``ci_low``/``ci_high`` are the log(-log)
        ("exponential Greenwood") pointwise intervals, as lifelines and R's
        ``conf.type = "log-log"``: ``exp(-exp(log(-log S) -/+ z sqrt(V) / log S))``. Where the
        survival is 1 the interval is [1, 1]; where it has dropped to 0 (possible with a tiny
        risk set) ``se`` and the interval are NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    >>> km_table(df)[["time", "at_risk", "events", "censored", "survival"]]
       time  at_risk  events  censored  survival
    0   0.0        5       0         0       1.0
    1   1.0        5       1         0       0.8
    2   2.0        4       1         1       0.6
    3   3.0        2       1         0       0.3
    4   4.0        1       0         1       0.3
    """
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group)
    return _km_frame(prepared, _z(alpha))[_KM_COLUMNS]


def numbers_at_risk(km: pd.DataFrame, times: Sequence[float] | float) -> pd.DataFrame:
    """Numbers at risk at given times, read from a :func:`km_table` frame.

    The risk set is constant between consecutive rows of the table, so the number at risk at
    ``t`` is ``at_risk`` of the first row with ``time >= t`` (R's ``summary.survfit``
    convention), and 0 after the last row. It therefore honours left truncation whenever the
    table did.

    Parameters
    ----------
    km : DataFrame
        Output of :func:`km_table` (columns ``group, time, at_risk``).
    times : float or list of float

    Returns
    -------
    DataFrame
        Columns ``group, time, at_risk``.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    >>> numbers_at_risk(km_table(df), [0, 2, 2.5, 5])["at_risk"].tolist()
    [5, 4, 2, 0]
    """
    _check_columns(km, ["group", "time", "at_risk"])
    ts = np.atleast_1d(np.asarray(times, dtype=float))
    rows = []
    for label, sub in km.groupby("group", sort=False, observed=True):
        tt = sub["time"].to_numpy(dtype=float)
        nn = sub["at_risk"].to_numpy()
        pos = np.searchsorted(tt, ts, side="left")
        vals = np.where(pos < len(tt), nn[np.minimum(pos, len(tt) - 1)], 0)
        rows.append(pd.DataFrame({"group": label, "time": ts, "at_risk": vals.astype(np.int64)}))
    return pd.concat(rows, ignore_index=True)


def survival_at(
    data: pd.DataFrame,
    times: Sequence[float] | float,
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    group: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Kaplan-Meier survival probability at given tenures (e.g. 12, 24, 36 months).

    Parameters
    ----------
    data : DataFrame
    times : float or list of float
        Tenures at which to read the (right-continuous) step function.
    duration, event, entry, group : str
        Column names, as in :func:`km_table`.
    alpha : float
        1 - confidence level (log(-log) pointwise intervals, as :func:`km_table`).

    Returns
    -------
    DataFrame
        Columns ``group, time, survival, ci_low, ci_high, at_risk, note``. ``at_risk`` is the
        number at risk at ``time`` (see :func:`numbers_at_risk`). Beyond a group's last
        follow-up the survival is not estimable and is NaN with a ``note`` (unless the curve
        already dropped to 0, then it stays 0). Before the first entry time (left truncation)
        it is NaN with a note too. ``note`` is ``""`` otherwise.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    >>> survival_at(df, [2, 3.5, 10])[["time", "survival", "at_risk"]]
       time  survival  at_risk
    0   2.0       0.6        4
    1   3.5       0.3        1
    2  10.0       NaN        0
    """
    ts = _as_float_list(times, "times")
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group)
    km = _km_frame(prepared, _z(alpha))
    risk = numbers_at_risk(km, ts)
    out = []
    for label, sub in km.groupby("group", sort=False, observed=True):
        tt = sub["time"].to_numpy(dtype=float)
        last = tt[-1]
        s_last = sub["survival"].iloc[-1]
        for t in ts:
            i = np.searchsorted(tt, t, side="right") - 1
            note = ""
            if i < 0:
                s = lo = hi = np.nan
                note = f"before the first entry time ({tt[0]:g})"
            else:
                s, lo, hi = sub[["survival", "ci_low", "ci_high"]].iloc[i]
                if t > last and s_last > 0:
                    s = lo = hi = np.nan
                    note = f"beyond last follow-up ({last:g})"
            out.append(
                {"group": label, "time": t, "survival": s, "ci_low": lo, "ci_high": hi,
                 "note": note}
            )
    res = pd.DataFrame(out)
    res["at_risk"] = risk["at_risk"].to_numpy()
    if isinstance(km["group"].dtype, pd.CategoricalDtype):
        res["group"] = pd.Categorical(res["group"], categories=km["group"].cat.categories,
                                      ordered=True)
    return res[["group", "time", "survival", "ci_low", "ci_high", "at_risk", "note"]]


def _first_crossing(time: np.ndarray, values: np.ndarray, level: float = 0.5) -> float:
    hit = np.flatnonzero(values <= level)  # NaN never hits
    return float(time[hit[0]]) if hit.size else np.nan


def median_survival(
    data: pd.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    group: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Median tenure to attrition with its confidence interval, per group.

    The median is the first time at which the Kaplan-Meier curve is at or below 0.5
    (lifelines' convention; R takes the midpoint when the curve is exactly 0.5 on a flat
    stretch). The interval is read where the pointwise log(-log) bands of :func:`km_table`
    cross 0.5 (lower limit: the lower band, upper limit: the upper band), the
    Brookmeyer-Crowley-type inversion used by R and lifelines. NaN means "not reached": the
    curve (or band) never fell to 0.5 within follow-up. It is kept NaN, never replaced by the
    last follow-up time.

    Returns
    -------
    DataFrame
        Columns ``group, median, ci_low, ci_high``.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    >>> float(median_survival(df)["median"].iloc[0])
    3.0
    """
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group)
    km = _km_frame(prepared, _z(alpha))
    out = []
    for label, sub in km.groupby("group", sort=False, observed=True):
        tt = sub["time"].to_numpy(dtype=float)
        out.append(
            {
                "group": label,
                "median": _first_crossing(tt, sub["survival"].to_numpy()),
                "ci_low": _first_crossing(tt, sub["ci_low"].to_numpy()),
                "ci_high": _first_crossing(tt, sub["ci_high"].to_numpy()),
            }
        )
    res = pd.DataFrame(out)
    if isinstance(km["group"].dtype, pd.CategoricalDtype):
        res["group"] = pd.Categorical(res["group"], categories=km["group"].cat.categories,
                                      ordered=True)
    return res


# --------------------------------------------------------------------------------------------
# log-rank
# --------------------------------------------------------------------------------------------


@dataclass
class LogrankResult:
    """Result of :func:`logrank`.

    Attributes
    ----------
    chi2 : float
        Log-rank chi-square statistic.
    df : int
        Degrees of freedom (number of groups - 1).
    p : float
        p-value, chi-square upper tail.
    summary : DataFrame
        One row per group: ``group, n, observed, expected, o_minus_e, variance`` (the diagonal
        of the covariance matrix of O - E).
    """

    chi2: float
    df: int
    p: float
    summary: pd.DataFrame = field(repr=False)
    test_name: str = "log-rank"

    def __str__(self) -> str:
        return (
            f"{self.test_name} test: chi2 = {self.chi2:.3f} on {self.df} df, p = {self.p:.3g}\n"
            + self.summary.to_string(index=False)
        )


def logrank(
    data: pd.DataFrame,
    *,
    group: str,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
) -> LogrankResult:
    """Log-rank test of equal survival across groups (honours left truncation).

    At each distinct event time ``t`` the risk set of group ``g`` is
    ``#(entry < t <= duration)``; the statistic is ``U' V^- U`` with ``U = O - E`` and the
    hypergeometric covariance ``V`` (as R's ``survdiff``, lifelines'
    ``multivariate_logrank_test`` and statsmodels' ``survdiff``), on ``k - 1`` df.

    Raises
    ------
    InsufficientDataError
        When fewer than 2 groups have customers, or nobody left (no events).

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 3, 4, 2, 4, 5, 6],
    ...                    "event": [1, 1, 1, 0, 0, 1, 1, 0],
    ...                    "arm": list("aaaabbbb")})
    >>> res = logrank(df, group="arm")
    >>> round(res.chi2, 4), res.df, round(res.p, 4)
    (2.1904, 1, 0.1389)
    """
    if group is None:
        raise ValueError("logrank needs a group column to compare")
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group)
    parts = list(_groups(prepared))
    if len(parts) < 2:
        only = parts[0][0] if parts else None
        raise InsufficientDataError(
            f"only one group ({only!r}) of {group!r} has customers; "
            "comparing survival needs at least two groups"
        )
    if prepared["e"].sum() == 0:
        raise InsufficientDataError(
            "no customer left (no events) in this data, so survival cannot be compared "
            "between groups"
        )
    has_entry = "entry" in prepared.columns
    event_times = np.unique(prepared.loc[prepared["e"] == 1, "t"].to_numpy())
    G, K = len(parts), len(event_times)
    n_gk = np.zeros((G, K))
    d_gk = np.zeros((G, K))
    labels, sizes = [], []
    for g, (label, sub) in enumerate(parts):
        t = np.sort(sub["t"].to_numpy())
        if has_entry:
            ent = np.sort(sub["entry"].to_numpy())
            n_gk[g] = np.searchsorted(ent, event_times, side="left") - np.searchsorted(
                t, event_times, side="left"
            )
        else:
            n_gk[g] = len(t) - np.searchsorted(t, event_times, side="left")
        te = sub.loc[sub["e"] == 1, "t"].to_numpy()
        d_gk[g] = np.bincount(np.searchsorted(event_times, te), minlength=K)
        labels.append(label)
        sizes.append(len(sub))
    n_k = n_gk.sum(axis=0)
    d_k = d_gk.sum(axis=0)
    r = n_gk / n_k  # n_k >= d_k >= 1 at event times
    observed = d_gk.sum(axis=1)
    expected = (r * d_k).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_k > 1, d_k * (n_k - d_k) / (n_k - 1), 0.0)
    V = np.diag((w * r).sum(axis=1)) - np.einsum("k,gk,hk->gh", w, r, r)
    U = observed - expected
    Vr = V[1:, 1:]
    chi2 = float(U[1:] @ np.linalg.pinv(Vr) @ U[1:])
    df = G - 1
    p = float(stats.chi2.sf(chi2, df))
    summary = pd.DataFrame(
        {
            "group": labels,
            "n": np.asarray(sizes, dtype=np.int64),
            "observed": observed,
            "expected": expected,
            "o_minus_e": U,
            "variance": np.diag(V),
        }
    )
    return LogrankResult(chi2=chi2, df=df, p=p, summary=summary)


# --------------------------------------------------------------------------------------------
# restricted mean survival time
# --------------------------------------------------------------------------------------------


def _rmst_one(km: pd.DataFrame, tau: float) -> tuple[float, float, str]:
    """RMST and its Greenwood-type SE from one group's km rows (with the ``gw`` column)."""
    tt = km["time"].to_numpy(dtype=float)
    s = km["survival"].to_numpy(dtype=float)
    d = km["events"].to_numpy()
    n = km["at_risk"].to_numpy().astype(float)
    if tt[-1] < tau and s[-1] > 0:
        return np.nan, np.nan, f"tau beyond last follow-up ({tt[-1]:g})"
    # S(u) = 1 before the origin, s[k] on [tt[k], tt[k+1]), s[-1] after the last row.
    knots = np.minimum(np.concatenate([tt, [tau]]), tau)
    widths = np.diff(knots)  # >= 0, zero once past tau
    before = min(tt[0], tau)  # conditional on reaching the origin: S = 1 before it
    seg = s * widths
    area = before + seg.sum()
    # A_i = integral of S from tt[i] to tau = sum of later segments
    tail = np.cumsum(seg[::-1])[::-1]
    use = (d > 0) & (tt <= tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = tail**2 * d / (n * (n - d))
    terms = np.where(use & (n > d), terms, 0.0)  # n == d: S = 0 afterwards, A_i = 0
    var = float(terms.sum())
    note = ""
    if tt[0] > 0:
        note = f"conditional on reaching tenure {tt[0]:g} (first entry)"
    return float(area), float(np.sqrt(var)), note


def rmst(
    data: pd.DataFrame,
    tau: float | Sequence[float],
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    group: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Restricted mean survival time (expected months on book within the first ``tau``).

    ``RMST(tau)`` is the area under the Kaplan-Meier curve from 0 to ``tau``. Its standard
    error is that of the *estimate* (Greenwood-type, as R's ``print(survfit(...), rmean=tau)``
    and ``survRM2``)::

        var = sum_{t_i <= tau} A_i^2 d_i / (n_i (n_i - d_i)),   A_i = int_{t_i}^{tau} S(u) du

    with the left-truncated risk sets ``n_i`` when ``entry`` is given (the curve is then
    conditional on reaching the first entry time and is 1 before it). This is *not* lifelines'
    ``restricted_mean_survival_time(return_variance=True)``, which is the variance of
    ``min(T, tau)``. The interval is Wald: ``rmst -/+ z se``.

    Parameters
    ----------
    tau : float or list of float
        Horizon(s) in months.

    Returns
    -------
    DataFrame
        Columns ``group, tau, rmst, se, ci_low, ci_high, note``. When ``tau`` is beyond a
        group's last follow-up (and the curve has not dropped to 0) the RMST is not estimable:
        NaN with a note.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    >>> res = rmst(df, 4)
    >>> round(float(res["rmst"].iloc[0]), 4), round(float(res["se"].iloc[0]), 4)
    (2.7, 0.507)
    """
    taus = _as_float_list(tau, "tau")
    z = _z(alpha)
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group)
    km = _km_frame(prepared, z)
    out = []
    for label, sub in km.groupby("group", sort=False, observed=True):
        for t in taus:
            est, se, note = _rmst_one(sub, t)
            out.append({"group": label, "tau": t, "rmst": est, "se": se,
                        "ci_low": est - z * se, "ci_high": est + z * se, "note": note})
    res = pd.DataFrame(out)
    if isinstance(km["group"].dtype, pd.CategoricalDtype):
        res["group"] = pd.Categorical(res["group"], categories=km["group"].cat.categories,
                                      ordered=True)
    return res


def rmst_difference(
    data: pd.DataFrame,
    tau: float | Sequence[float],
    *,
    group: str,
    reference=None,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Difference in RMST (months) of each group versus a reference group.

    ``difference = RMST(group) - RMST(reference)``; groups are independent so
    ``se = sqrt(se_g^2 + se_ref^2)``; Wald interval and two-sided normal p-value.

    Parameters
    ----------
    reference : optional
        Reference level of ``group``; default the first level (sorted, or category order).

    Returns
    -------
    DataFrame
        Columns ``group, reference, tau, difference, se, ci_low, ci_high, p``, one row per
        non-reference group and tau.

    Raises
    ------
    InsufficientDataError
        When fewer than two groups have customers.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 3, 4, 2, 4, 5, 6],
    ...                    "event": [1, 1, 1, 0, 0, 1, 1, 0],
    ...                    "arm": list("aaaabbbb")})
    >>> res = rmst_difference(df, 4, group="arm")
    >>> res["group"].iloc[0], float(res["difference"].iloc[0])
    ('b', 1.5)
    """
    if group is None:
        raise ValueError("rmst_difference needs a group column")
    z = _z(alpha)
    res = rmst(data, tau, duration=duration, event=event, entry=entry, group=group, alpha=alpha)
    levels = list(pd.unique(res["group"]))
    if len(levels) < 2:
        raise InsufficientDataError(
            f"only one group ({levels[0]!r}) of {group!r} has customers; "
            "an RMST difference needs at least two groups"
        )
    if reference is None:
        reference = levels[0]
    elif reference not in levels:
        raise ValueError(
            f"reference {reference!r} is not a level of {group!r} with customers; "
            f"levels: {levels}"
        )
    ref = res[res["group"] == reference].set_index("tau")
    out = []
    for label in levels:
        if label == reference:
            continue
        sub = res[res["group"] == label].set_index("tau")
        for t in sub.index:
            diff = sub.at[t, "rmst"] - ref.at[t, "rmst"]
            se = float(np.sqrt(sub.at[t, "se"] ** 2 + ref.at[t, "se"] ** 2))
            with np.errstate(divide="ignore", invalid="ignore"):
                p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else np.nan
            out.append({"group": label, "reference": reference, "tau": t, "difference": diff,
                        "se": se, "ci_low": diff - z * se, "ci_high": diff + z * se, "p": p})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------
# hazard by tenure
# --------------------------------------------------------------------------------------------


def _garwood(k, exposure, alpha: float):
    """Exact (Garwood) Poisson interval for a rate k / exposure; k may be non-integer."""
    k = np.asarray(k, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0) / exposure
        hi = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2 / exposure
    bad = ~(exposure > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _sum_min(sorted_a: np.ndarray, csum: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_i min(x, a_i) for each x, with a sorted and csum its cumulative sum."""
    k = np.searchsorted(sorted_a, x, side="right")
    below = np.where(k > 0, csum[np.maximum(k - 1, 0)], 0.0)
    return below + x * (len(sorted_a) - k)


def hazard_by_tenure(
    data: pd.DataFrame,
    *,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    group: str | None = None,
    bandwidth: float = 6,
    width: float = 1.0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Monthly attrition hazard along the tenure, raw and kernel-smoothed, with a CI.

    Method: life-table occurrence/exposure rates. Tenure is cut into intervals
    ``(time - width, time]`` (months by default). For each interval ``events`` counts the
    departures with duration inside it (departures at tenure 0 count in the first interval) and
    ``person_months`` is the exact time at risk inside it, from ``entry`` (left truncation) to
    ``duration``. The raw hazard ``events / person_months`` is the piecewise-constant hazard
    MLE (events per person-month; for whole-month data it equals the Kaplan-Meier discrete
    hazard ``d / n``).

    The smoothed hazard at interval ``j`` is the local-constant Poisson rate
    ``sum_i w_ij d_i / sum_i w_ij E_i`` with Epanechnikov weights
    ``w_ij = 1 - ((t_i - t_j) / bandwidth)^2`` (zero beyond ``bandwidth`` months; the ratio
    renormalises at the edges, so a constant hazard is recovered without boundary bias). Its
    interval is the exact (Garwood) Poisson interval applied to the effective exposure
    ``E* = (sum w E)^2 / sum w^2 E`` and effective events ``hazard_smooth * E*`` (this matches
    the Poisson variance of the weighted estimator and gives a finite upper limit where no
    event was seen). ``bandwidth=0`` gives no smoothing (exact Garwood interval per interval).

    Returns
    -------
    DataFrame
        Columns ``group, time, start, at_risk, person_months, events, hazard, hazard_smooth,
        smooth_ci_low, smooth_ci_high``. ``time`` is the right end of the interval (the tenure
        reached), ``at_risk`` the customers under observation during the interval.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [1, 2, 2, 3], "event": [1, 1, 0, 1]})
    >>> hazard_by_tenure(df, bandwidth=0)[["time", "person_months", "events", "hazard"]]
       time  person_months  events    hazard
    0   1.0            4.0       1  0.250000
    1   2.0            3.0       1  0.333333
    2   3.0            1.0       1  1.000000
    """
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    if not bandwidth >= 0:
        raise ValueError(f"bandwidth must be >= 0, got {bandwidth!r}")
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group)
    has_entry = "entry" in prepared.columns
    start_all = prepared["entry"].min() if has_entry else 0.0
    origin = np.floor(start_all / width + 1e-9) * width
    parts = []
    for label, sub in _groups(prepared):
        t = sub["t"].to_numpy()
        e = sub["e"].to_numpy()
        ent = sub["entry"].to_numpy() if has_entry else np.zeros(len(t))
        J = max(int(np.ceil((t.max() - origin) / width - 1e-9)), 1)
        right = origin + width * np.arange(1, J + 1)
        left = right - width
        edges = np.concatenate([[origin], right])
        ts, es = np.sort(t), np.sort(ent)
        F = _sum_min(ts, np.cumsum(ts), edges) - _sum_min(es, np.cumsum(es), edges)
        pm = np.diff(F)
        pm = np.where(np.abs(pm) < 1e-12, 0.0, pm)
        j = np.clip(np.ceil((t[e == 1] - origin) / width - 1e-9).astype(int), 1, J) - 1
        d = np.bincount(j, minlength=J).astype(np.int64)
        at_risk = np.searchsorted(es, right, side="left") - np.searchsorted(ts, left, side="right")
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = np.where(pm > 0, d / pm, np.nan)
        if bandwidth > 0:
            u = (right[:, None] - right[None, :]) / bandwidth
            W = np.clip(1 - u**2, 0, None)
        else:
            W = np.eye(J)
        sE = W @ pm
        sE2 = (W**2) @ pm
        sD = W @ d
        with np.errstate(divide="ignore", invalid="ignore"):
            smooth = np.where(sE > 0, sD / sE, np.nan)
            e_star = np.where(sE2 > 0, sE**2 / sE2, 0.0)
        lo, hi = _garwood(smooth * e_star, e_star, alpha)
        parts.append(
            pd.DataFrame(
                {"group": label, "time": right, "start": left, "at_risk": at_risk.astype(np.int64),
                 "person_months": pm, "events": d, "hazard": raw, "hazard_smooth": smooth,
                 "smooth_ci_low": lo, "smooth_ci_high": hi}
            )
        )
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------------
# attrition rates
# --------------------------------------------------------------------------------------------


def _wilson(k, n, z):
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def attrition_rates(
    data: pd.DataFrame,
    *,
    by: str | list[str],
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Attrition counts, shares and rates per person-time for each level of ``by``.

    Returns
    -------
    DataFrame
        One row per level of ``by`` (the level column keeps its name): ``n``, ``events``,
        ``share_leaving = events / n`` with the Wilson score interval (``share_ci_low``,
        ``share_ci_high``), ``person_months = sum(duration - entry)`` (``entry`` 0 when not
        given), ``rate_per_100_person_years = 1200 * events / person_months`` with the exact
        Poisson (Garwood) interval (``rate_ci_low``, ``rate_ci_high``). The share ignores how
        long customers were observed; compare groups on the rate.

    Examples
    --------
    >>> df = pd.DataFrame({"duration": [6, 12, 12, 24], "event": [1, 0, 1, 0],
    ...                    "tier": [1, 1, 2, 2]})
    >>> attrition_rates(df, by="tier")[["tier", "n", "events", "share_leaving",
    ...                                 "person_months", "rate_per_100_person_years"]]
       tier  n  events  share_leaving  person_months  rate_per_100_person_years
    0     1  2       1            0.5           18.0                  66.666667
    1     2  2       1            0.5           36.0                  33.333333
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise ValueError("by must name at least one column")
    _check_columns(data, by_cols)
    for col in by_cols:
        _check_labels(data, col)
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=None)
    z = _z(alpha)
    exposure = prepared["t"] - (prepared["entry"] if entry is not None else 0.0)
    frame = pd.DataFrame({"_e": prepared["e"], "_pm": exposure}, index=data.index)
    for col in by_cols:
        frame[col] = data[col]
    agg = frame.groupby(by_cols, sort=True, observed=True).agg(
        n=("_e", "size"), events=("_e", "sum"), person_months=("_pm", "sum")
    ).reset_index()
    agg["share_leaving"] = agg["events"] / agg["n"]
    agg["share_ci_low"], agg["share_ci_high"] = _wilson(agg["events"], agg["n"], z)
    py = agg["person_months"].to_numpy(dtype=float) / 12.0
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["rate_per_100_person_years"] = np.where(py > 0, 100 * agg["events"] / py, np.nan)
    lo, hi = _garwood(agg["events"], py, alpha)
    agg["rate_ci_low"], agg["rate_ci_high"] = 100 * lo, 100 * hi
    return agg[by_cols + ["n", "events", "share_leaving", "share_ci_low", "share_ci_high",
                          "person_months", "rate_per_100_person_years", "rate_ci_low",
                          "rate_ci_high"]]
