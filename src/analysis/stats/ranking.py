"""How well a ranking finds the cases: lift, AUC, precision and recall in a list, calibration,
and a cluster bootstrap for ratios of sums.

Ties are handled without randomness: customers with the same score are taken together, and a
tie group cut by the edge of the top fraction counts in proportion (the expected value over a
random order within the tie). :func:`auc` counts a tied pair as one half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

__all__ = ["auc", "top_fraction_lift", "list_top", "calibration_groups", "cluster_bootstrap"]


def auc(scores, labels) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count one half); NaN without both classes.

    >>> auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])
    0.875
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def top_fraction_lift(scores, labels, fraction: float = 0.1) -> float:
    """Share of cases among the top ``fraction`` of scores divided by the overall share.

    A tie group cut by the edge counts in proportion. NaN when there is no case.

    >>> top_fraction_lift([3, 2, 1, 0], [1, 0, 0, 1], fraction=0.25)
    2.0
    >>> top_fraction_lift([1, 1, 1, 1], [1, 0, 0, 1], fraction=0.25)  # all tied: no lift
    1.0
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    if y.sum() == 0 or s.size == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    n_top = fraction * s.size
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1] + 1  # cumulative count per tie
    starts = np.r_[0, ends[:-1]]
    pos = np.add.reduceat(y, starts)
    take = np.clip(n_top - starts, 0, ends - starts) / (ends - starts)
    hits = float(np.sum(take * pos))
    return (hits / n_top) / float(y.mean())


def list_top(scores, k: int, *, eligible=None, tiebreak=None) -> np.ndarray:
    """Boolean mask of the ``k`` highest scores among the ``eligible`` (fewer if fewer qualify).

    Ties are broken by ``tiebreak`` (higher first), then by position.

    >>> list_top([0.2, 0.9, 0.5, 0.9], 2, tiebreak=[0, 1, 0, 2]).tolist()
    [False, True, False, True]
    """
    s = np.asarray(scores, dtype=float)
    ok = np.ones(s.size, bool) if eligible is None else np.asarray(eligible, dtype=bool)
    tb = np.zeros(s.size) if tiebreak is None else np.asarray(tiebreak, dtype=float)
    order = np.lexsort((np.arange(s.size), -tb, -s))
    order = order[ok[order]][: max(int(k), 0)]
    out = np.zeros(s.size, dtype=bool)
    out[order] = True
    return out


def calibration_groups(predicted, labels, *, groups: int = 10, alpha: float = 0.05) -> pd.DataFrame:
    """Predicted vs observed share by groups of predicted risk (equal-sized, ranked).

    Observed shares carry Wilson intervals of level ``1 - alpha``.

    Returns
    -------
    DataFrame
        ``group, n, predicted, observed, ci_low, ci_high``.
    """
    p = np.asarray(predicted, dtype=float)
    y = np.asarray(labels, dtype=float)
    g = np.minimum((rankdata(p, method="ordinal") - 1) * groups // p.size, groups - 1).astype(int)
    df = pd.DataFrame({"group": g + 1, "p": p, "y": y}).groupby("group")
    out = pd.DataFrame({"n": df.size(), "predicted": df["p"].mean(), "observed": df["y"].mean()})
    z = norm.ppf(1 - alpha / 2)
    n, o = out["n"].to_numpy(float), out["observed"].to_numpy(float)
    centre = (o + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(o * (1 - o) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    out["ci_low"], out["ci_high"] = centre - half, centre + half
    return out.reset_index()


def cluster_bootstrap(numerators, denominators, *, n_boot: int = 400, seed: int = 0,
                      alpha: float = 0.05) -> dict:
    """Percentile intervals of ratios of sums, resampling clusters (e.g. customers).

    Parameters
    ----------
    numerators : array (n_clusters, n_methods)
        Each cluster's contribution to each method's numerator (hits, value captured...).
    denominators : array (n_clusters,) or (n_clusters, n_methods)
        Contributions to the denominators.

    Returns
    -------
    dict
        ``estimate`` (n_methods,), ``ci_low``, ``ci_high`` and ``draws`` (n_boot, n_methods):
        the same resampled clusters for every method, so differences between methods can be
        read off the draws.
    """
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if den.ndim == 1:
        den = den[:, None]
    rng = np.random.default_rng(seed)
    n = num.shape[0]
    draws = np.empty((n_boot, num.shape[1]))
    for b in range(n_boot):  # one multinomial resample of clusters per draw
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws[b] = (w @ num) / (w @ den)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = num.sum(axis=0) / den.sum(axis=0)
    lo, hi = np.nanquantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    return {"estimate": est, "ci_low": lo, "ci_high": hi, "draws": draws}
