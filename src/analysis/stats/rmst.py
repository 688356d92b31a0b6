"""Restricted mean survival time and its differences (Greenwood-type standard errors)."""

from __future__ import annotations

from typing import Sequence
import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InsufficientDataError
from analysis.stats._validate import _as_float_list, _prepare, _z
from analysis.stats.km import _km_frame, _same_group_order

__all__ = [
    "rmst",
    "rmst_difference",
]


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


def rmst(data: pd.DataFrame, tau: float | Sequence[float], *, duration: str = "duration",
         event: str = "event", entry: str | None = None, group: str | None = None,
         alpha: float = 0.05, counts: str | None = None) -> pd.DataFrame:
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
    counts : str, optional
        Column of customers per row (aggregated data), as :func:`analysis.stats.km.km_table`.

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
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group,
                        counts=counts)
    km = _km_frame(prepared, z)
    out = []
    for label, sub in km.groupby("group", sort=False, observed=True):
        for t in taus:
            est, se, note = _rmst_one(sub, t)
            out.append({"group": label, "tau": t, "rmst": est, "se": se,
                        "ci_low": est - z * se, "ci_high": est + z * se, "note": note})
    return _same_group_order(pd.DataFrame(out), km)


def rmst_difference(data: pd.DataFrame, tau: float | Sequence[float], *, group: str,
                    reference=None, duration: str = "duration", event: str = "event",
                    entry: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
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
