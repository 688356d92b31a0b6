"""Hypothesis tests with one result type: the log-rank test with delayed entry."""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InsufficientDataError
from analysis.stats._validate import _groups, _prepare

__all__ = [
    "LogrankResult",
    "logrank",
]


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
