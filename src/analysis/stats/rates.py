"""Attrition rates per customer-year (exact Poisson CIs) and the hazard along the tenure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._validate import _check_columns, _check_labels, _counts, _groups, _prepare, _z

__all__ = [
    "hazard_by_tenure",
    "attrition_rates",
    "rate_ratio",
]


def _garwood(k, exposure, alpha: float):
    """Exact (Garwood) Poisson interval for a rate k / exposure; k may be non-integer."""
    k = np.asarray(k, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0) / exposure
        hi = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2 / exposure
    bad = ~(exposure > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _sum_min(sorted_a: np.ndarray, csum: np.ndarray, x: np.ndarray,
             cn: np.ndarray | None = None) -> np.ndarray:
    """sum_i n_i min(x, a_i) for each x, with a sorted, csum the cumulative sum of n_i a_i and
    cn that of n_i (None: every n_i is 1)."""
    k = np.searchsorted(sorted_a, x, side="right")
    below = np.where(k > 0, csum[np.maximum(k - 1, 0)], 0.0)
    if cn is None:
        return below + x * (len(sorted_a) - k)
    above = cn[-1] - np.where(k > 0, cn[np.maximum(k - 1, 0)], 0)
    return below + x * above


def _weighted_sorted(a: np.ndarray, n: np.ndarray | None):
    """``a`` sorted, the cumulative sums of ``n a`` and of ``n`` (None without ``n``)."""
    if n is None:
        a = np.sort(a)
        return a, np.cumsum(a), None
    order = np.argsort(a, kind="stable")
    a, n = a[order], n[order]
    return a, np.cumsum(n * a), np.cumsum(n)


def _count_below(sorted_a: np.ndarray, cn: np.ndarray | None, x: np.ndarray, side: str):
    """Customers with a < x (side "left") or a <= x (side "right")."""
    k = np.searchsorted(sorted_a, x, side=side)
    if cn is None:
        return k
    return np.where(k > 0, cn[np.maximum(k - 1, 0)], 0)


def hazard_by_tenure(data: pd.DataFrame, *, duration: str = "duration", event: str = "event",
                     entry: str | None = None, group: str | None = None, bandwidth: float = 6,
                     width: float = 1.0, alpha: float = 0.05,
                     counts: str | None = None) -> pd.DataFrame:
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
    ``counts``: a column of customers per row (aggregated data), as
    :func:`analysis.stats.km.km_table`.

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
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group,
                        counts=counts)
    has_entry = "entry" in prepared.columns
    groups = list(_groups(prepared))
    start_all = min(sub["entry"].min() for _, sub in groups) if has_entry else 0.0
    origin = np.floor(start_all / width + 1e-9) * width
    parts = []
    for label, sub in groups:
        t = sub["t"].to_numpy()
        e = sub["e"].to_numpy()
        n = _counts(sub)
        ent = sub["entry"].to_numpy() if has_entry else np.zeros(len(t))
        J = max(int(np.ceil((t.max() - origin) / width - 1e-9)), 1)
        right = origin + width * np.arange(1, J + 1)
        left = right - width
        edges = np.concatenate([[origin], right])
        ts, cts, cnt = _weighted_sorted(t, n)
        es, ces, cne = _weighted_sorted(ent, n)
        F = _sum_min(ts, cts, edges, cnt) - _sum_min(es, ces, edges, cne)
        pm = np.diff(F)
        pm = np.where(np.abs(pm) < 1e-12, 0.0, pm)
        j = np.clip(np.ceil((t[e == 1] - origin) / width - 1e-9).astype(int), 1, J) - 1
        d = np.bincount(j, None if n is None else n[e == 1], minlength=J).astype(np.int64)
        at_risk = (_count_below(es, cne, right, "left")
                   - _count_below(ts, cnt, left, "right"))
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


def _wilson(k, n, z):
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def attrition_rates(data: pd.DataFrame, *, by: str | list[str], duration: str = "duration",
                    event: str = "event", entry: str | None = None,
                    alpha: float = 0.05, counts: str | None = None) -> pd.DataFrame:
    """Attrition counts, shares and rates per person-time for each level of ``by``.

    Returns
    -------
    DataFrame
        One row per level of ``by`` (the level column keeps its name): ``n``, ``events``,
        ``share_leaving = events / n`` with the Wilson score interval (``share_ci_low``,
        ``share_ci_high``), ``person_months = sum(duration - entry)`` (``entry`` 0 when not
        given), ``rate_per_100_person_years = 1200 * events / person_months`` with the exact
        Poisson (Garwood) interval (``rate_ci_low``, ``rate_ci_high``). The share ignores how
        long customers were observed; compare groups on the rate. With ``counts`` (a column of
        customers per row, aggregated data) every sum counts each row that many times.

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
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=None,
                        counts=counts)
    z = _z(alpha)
    n = prepared["n"] if counts is not None else 1
    exposure = prepared["t"] - (prepared["entry"] if entry is not None else 0.0)
    frame = pd.DataFrame({"_n": n, "_e": prepared["e"] * n, "_pm": exposure * n},
                         index=data.index)
    for col in by_cols:
        frame[col] = data[col]
    agg = frame.groupby(by_cols, sort=True, observed=True).agg(
        n=("_n", "sum"), events=("_e", "sum"), person_months=("_pm", "sum")
    ).reset_index()
    agg = agg[agg["n"] > 0].reset_index(drop=True)  # levels of no customer (aggregated data)
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


def rate_ratio(events1: float, exposure1: float, events0: float, exposure0: float,
               alpha: float = 0.05) -> dict:
    """Ratio of two Poisson rates with its exact conditional interval and test.

    Given both counts' total, ``events1`` is binomial with ``p = r E1 / (r E1 + E0)`` (``r`` the
    rate ratio): the Clopper-Pearson interval of ``p`` gives the interval of ``r``, and the
    two-sided binomial test of ``p`` at ``r = 1`` its p-value (the textbook exact method, e.g.
    Breslow and Day vol. II, 2.4).

    Returns
    -------
    dict
        ``ratio``, ``ci_low``, ``ci_high``, ``p`` (NaN where a rate is undefined).

    Examples
    --------
    >>> r = rate_ratio(30, 100.0, 60, 400.0)
    >>> round(r["ratio"], 3), round(r["ci_low"], 3), round(r["ci_high"], 3)
    (2.0, 1.245, 3.15)
    """
    k1, k0 = float(events1), float(events0)
    e1, e0 = float(exposure1), float(exposure0)
    nan = {"ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
    if not (e1 > 0 and e0 > 0) or k1 + k0 == 0:
        return nan
    n = k1 + k0
    lo_p = stats.beta.ppf(alpha / 2, k1, n - k1 + 1) if k1 > 0 else 0.0
    hi_p = stats.beta.ppf(1 - alpha / 2, k1 + 1, n - k1) if k0 > 0 else 1.0

    def odds(p):
        return np.inf if p >= 1 else p / (1 - p) * e0 / e1

    ratio = (k1 / e1) / (k0 / e0) if k0 > 0 else np.inf
    test = stats.binomtest(int(round(k1)), int(round(n)), e1 / (e1 + e0))
    return {"ratio": float(ratio), "ci_low": float(odds(lo_p)), "ci_high": float(odds(hi_p)),
            "p": float(test.pvalue)}
