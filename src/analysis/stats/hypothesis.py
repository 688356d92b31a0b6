"""Hypothesis tests with one result type (:class:`TestResult`): log-rank with delayed entry, Wald."""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InsufficientDataError
from analysis.stats._validate import _counts, _groups, _prepare, _size
from analysis.stats.risksets import at_risk, events_at

__all__ = [
    "TestResult",
    "logrank",
    "wald_test",
]


@dataclass
class TestResult:
    """Result of a chi-square test (:func:`logrank`, :func:`wald_test`).

    Attributes
    ----------
    chi2 : float
        The chi-square statistic.
    df : int
        Degrees of freedom.
    p : float
        p-value, chi-square upper tail.
    summary : DataFrame or None
        The test's table: for the log-rank test one row per group: ``group, n, observed,
        expected, o_minus_e, variance`` (the diagonal of the covariance matrix of O - E).
    test_name : str
    """

    __test__ = False  # not a pytest test class

    chi2: float
    df: int
    p: float
    summary: pd.DataFrame | None = field(default=None, repr=False)
    test_name: str = "log-rank"

    def __getitem__(self, key: str):
        """``result["chi2"]``, ``["df"]``, ``["p"]``: the numbers, as in a JSON payload."""
        if key not in ("chi2", "df", "p"):
            raise KeyError(key)
        return getattr(self, key)

    def to_dict(self) -> dict:
        return {"chi2": self.chi2, "df": self.df, "p": self.p}

    def __str__(self) -> str:
        text = f"{self.test_name} test: chi2 = {self.chi2:.3f} on {self.df} df, p = {self.p:.3g}"
        return text if self.summary is None else text + "\n" + self.summary.to_string(index=False)


def wald_test(params, variance, contrasts=None) -> TestResult:
    """Wald test of ``C beta = 0``.

    Parameters
    ----------
    params : Series
        Coefficients (e.g. ``fit.params`` of a :class:`~analysis.stats.cox.result.CoxResult`).
    variance : DataFrame
        Their covariance (``fit.variance``).
    contrasts : array (q, p) or list of str, optional
        Rows of ``C`` over ``params`` (a linear hypothesis), or the names of coefficients
        tested jointly equal to 0; default all coefficients.

    Examples
    --------
    >>> b = pd.Series({"x1": 0.3, "x2": 0.1})
    >>> V = pd.DataFrame([[0.01, 0.0], [0.0, 0.01]], index=b.index, columns=b.index)
    >>> res = wald_test(b, V, [[1, -1]])
    >>> round(res.chi2, 6), res.df
    (2.0, 1)
    >>> round(wald_test(b, V, ["x1"]).chi2, 6)
    9.0
    """
    names = list(params.index)
    if contrasts is None:
        contrasts = names
    if len(contrasts) and all(isinstance(c, str) for c in contrasts):
        C = np.zeros((len(contrasts), len(names)))
        for i, c in enumerate(contrasts):
            C[i, names.index(c)] = 1.0
    else:
        C = np.atleast_2d(np.asarray(contrasts, dtype=float))
    beta = params.to_numpy(dtype=float)
    V = variance.loc[names, names].to_numpy(dtype=float)
    cb = C @ beta
    chi2 = float(cb @ np.linalg.solve(C @ V @ C.T, cb))
    df = int(C.shape[0])
    return TestResult(chi2=chi2, df=df, p=float(stats.chi2.sf(chi2, df)), test_name="Wald")


def logrank(
    data: pd.DataFrame,
    *,
    group: str,
    duration: str = "duration",
    event: str = "event",
    entry: str | None = None,
    counts: str | None = None,
) -> TestResult:
    """Log-rank test of equal survival across groups (honours left truncation).

    At each distinct event time ``t`` the risk set of group ``g`` is
    ``#(entry < t <= duration)``; the statistic is ``U' V^- U`` with ``U = O - E`` and the
    hypergeometric covariance ``V`` (as R's ``survdiff``, lifelines'
    ``multivariate_logrank_test`` and statsmodels' ``survdiff``), on ``k - 1`` df.
    ``counts``: a column of customers per row (aggregated data), as
    :func:`analysis.stats.km.km_table`.

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
    prepared = _prepare(data, duration=duration, event=event, entry=entry, group=group,
                        counts=counts)
    parts = list(_groups(prepared))
    if len(parts) < 2:
        only = parts[0][0] if parts else None
        raise InsufficientDataError(
            f"only one group ({only!r}) of {group!r} has customers; "
            "comparing survival needs at least two groups"
        )
    if (prepared["e"] * prepared.get("n", 1)).sum() == 0:
        raise InsufficientDataError(
            "no customer left (no events) in this data, so survival cannot be compared "
            "between groups"
        )
    has_entry = "entry" in prepared.columns
    event_times = np.unique(np.concatenate([sub.loc[sub["e"] == 1, "t"].to_numpy()
                                            for _, sub in parts]))
    G, K = len(parts), len(event_times)
    n_gk = np.zeros((G, K))
    d_gk = np.zeros((G, K))
    labels, sizes = [], []
    for g, (label, sub) in enumerate(parts):
        t = sub["t"].to_numpy(dtype=float)
        ent = sub["entry"].to_numpy(dtype=float) if has_entry else np.full(t.size, -np.inf)
        n_gk[g] = at_risk(ent, t, event_times, _counts(sub))
        d_gk[g] = events_at(t, sub["e"].to_numpy(), event_times, _counts(sub))
        labels.append(label)
        sizes.append(_size(sub))
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
    return TestResult(chi2=chi2, df=df, p=p, summary=summary, test_name="log-rank")
