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

from typing import Sequence
import numpy as np
import pandas as pd

from analysis.stats.risksets import at_risk, events_at
from analysis.stats._validate import (_as_float_list, _check_columns, _counts, _groups, _numeric,
                                      _prepare, _rows, _z)

__all__ = [
    "km_table",
    "numbers_at_risk",
    "survival_at",
    "median_survival",
]


def _km_arrays(t: np.ndarray, e: np.ndarray, entry: np.ndarray | None, z: float,
               w: np.ndarray | None = None, n_rows: np.ndarray | None = None) -> dict:
    """Kaplan-Meier estimate for one group, as arrays (first element: the origin row).

    With case weights ``w`` every count is a weighted sum and the variance columns are NaN.
    With ``n_rows`` (customers per row, aggregated data) every count is a sum of them and every
    number is that of the data with each row repeated ``n_rows`` times.
    """
    exact = w is None
    if n_rows is not None:
        w = n_rows.astype(float)
    if entry is None:
        times = np.unique(t)
        n = at_risk(np.full(len(t), -np.inf), t, times, w)  # #(t >= time)
        x = np.zeros(len(times), dtype=np.int64 if w is None else float)
        start = 0.0
        origin_n = origin_entered = len(t) if w is None else w.sum()
    else:
        times = np.unique(np.concatenate([t, entry]))
        n = at_risk(entry, t, times, w)  # #(entry < time <= t)
        x = np.bincount(np.searchsorted(times, entry), w, minlength=len(times))
        start = float(times[0])  # == min(entry): durations are > entries
        origin_n = origin_entered = x[0]  # entering at the start = at risk just after it
        times, n, x = times[1:], n[1:], x[1:]
    d = events_at(t, e, times, w)
    c = events_at(t, 1 - e, times, w)

    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(d > 0, 1.0 - d / np.where(n > 0, n, 1), 1.0)
        if w is not None:  # weighted sums carry rounding: when all at risk leave, S is exactly 0
            factor = np.where((d > 0) & (d >= n * (1 - 1e-9)), 0.0, factor)
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
    if not exact:  # Greenwood's formula does not hold for (estimated) case weights
        se = lo = hi = gw = np.full(len(times), np.nan)
    count = np.int64 if exact else float
    if exact and w is not None:  # whole numbers of customers, summed as floats
        d, c = np.rint(d).astype(np.int64), np.rint(c).astype(np.int64)
        n, x = np.rint(n), np.rint(x)
    return {
        "time": times,
        "at_risk": n.astype(count),
        "events": d,
        "censored": c,
        "entered": x.astype(count),
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


def _same_group_order(res: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Give ``res["group"]`` the category order of ``like["group"]`` when that is categorical."""
    if isinstance(like["group"].dtype, pd.CategoricalDtype):
        res["group"] = pd.Categorical(res["group"], categories=like["group"].cat.categories,
                                      ordered=True)
    return res


def _with_weights(prepared: pd.DataFrame, data: pd.DataFrame, weights: str | None) -> pd.DataFrame:
    """Add the case weights (column ``w``) to a prepared frame, checked: finite and >= 0."""
    if weights is None:
        return prepared
    _check_columns(data, [weights])
    w = _numeric(data, weights)
    bad = ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        raise ValueError(f"column {weights!r} (weights) must be finite and >= 0; offending rows "
                         f"{_rows(data.index, bad)}")
    return prepared.assign(w=w)


def _km_frame(prepared: pd.DataFrame, z: float, keep_gw: bool = False) -> pd.DataFrame:
    has_entry = "entry" in prepared.columns
    parts = []
    for label, sub in _groups(prepared):
        arr = _km_arrays(
            sub["t"].to_numpy(),
            sub["e"].to_numpy(),
            sub["entry"].to_numpy() if has_entry else None,
            z,
            sub["w"].to_numpy() if "w" in sub.columns else None,
            _counts(sub),
        )
        if not keep_gw:
            arr.pop("gw")
        part = pd.DataFrame(arr)
        part.insert(0, "group", label)
        parts.append(part)
    return _same_group_order(pd.concat(parts, ignore_index=True), prepared)


def km_table(data: pd.DataFrame, *, duration: str = "duration", event: str = "event",
             entry: str | None = None, group: str | None = None, alpha: float = 0.05,
             weights: str | None = None, counts: str | None = None) -> pd.DataFrame:
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
    weights : str, optional
        Column of case weights (finite, >= 0), e.g. inverse probability weights. The counts
        ``at_risk, events, censored, entered`` are then weighted sums and the survival is
        ``prod (1 - d_w / n_w)`` (lifelines' ``KaplanMeierFitter(weights=...)``). Greenwood's
        variance does not hold for estimated weights: ``se``, ``ci_low`` and ``ci_high`` are
        NaN. Without weights every number is as described below.
    counts : str, optional
        Column of customers per row, for aggregated data (one row per group, entry, duration
        and event with the number of such customers, e.g. from
        :func:`analysis.frames.survival_counts`): every number, Greenwood's included, is then
        that of the data with each row repeated ``counts`` times. Every other function of this
        module, and :mod:`~analysis.stats.rmst`, :mod:`~analysis.stats.hypothesis` (log-rank)
        and :mod:`~analysis.stats.rates`, take it too.

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
    if weights is not None and counts is not None:
        raise ValueError("give case weights or counts of customers per row, not both")
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group,
                        counts=counts)
    return _km_frame(_with_weights(prepared, data, weights), _z(alpha))[_KM_COLUMNS]


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


def survival_at(data: pd.DataFrame, times: Sequence[float] | float, *, duration: str = "duration",
                event: str = "event", entry: str | None = None, group: str | None = None,
                alpha: float = 0.05, counts: str | None = None) -> pd.DataFrame:
    """Kaplan-Meier survival probability at given tenures (e.g. 12, 24, 36 months).

    Parameters
    ----------
    data : DataFrame
    times : float or list of float
        Tenures at which to read the (right-continuous) step function.
    duration, event, entry, group, counts : str
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
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group,
                        counts=counts)
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
    res = _same_group_order(res, km)
    return res[["group", "time", "survival", "ci_low", "ci_high", "at_risk", "note"]]


def _first_crossing(time: np.ndarray, values: np.ndarray, level: float = 0.5) -> float:
    hit = np.flatnonzero(values <= level)  # NaN never hits
    return float(time[hit[0]]) if hit.size else np.nan


def median_survival(data: pd.DataFrame, *, duration: str = "duration", event: str = "event",
                    entry: str | None = None, group: str | None = None,
                    alpha: float = 0.05, counts: str | None = None) -> pd.DataFrame:
    """Median tenure to attrition with its confidence interval, per group (``counts``: as
    :func:`km_table`).

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
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group,
                        counts=counts)
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
    return _same_group_order(pd.DataFrame(out), km)
