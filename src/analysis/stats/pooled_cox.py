"""Cox hazard ratio on pooled intervention arms, from the arms' survival curves.

The marginal hazard ratio per product is defined (``docs/causal_truth.md``) as ``exp(beta)`` of
a Cox model, Efron ties, fitted to the pooled arms "everyone holds exactly k products", with
``k`` as a linear term, on the time since entry in whole months. Within an arm customers are
exchangeable, so the partial likelihood needs only each arm's share at risk and share leaving
per month, i.e. its survival curve ``S(t) = P(T > t)``: at month ``s`` a share ``S(s-1)`` is
at risk and ``S(s-1) - S(s)`` leaves. The parametric g-formula gives these curves for each
static intervention (:mod:`analysis.stats.gformula`), so the same hazard ratio can be computed
from them, with the g-formula's bootstrap for its interval.

Arms of equal, large size ``N`` (the curves of a population): Efron's term for ``d`` tied events
at a month, ``sum_{j<d} log(R - j/d D)``, tends to ``d * integral_0^1 log(R - f D) df`` as
``N`` grows (``R``, ``D``: the weighted sums of those at risk and of those leaving), which is
what is used here. The simulated truth (``analysis.data.causal_truth.grouped_efron_hr``, with
200,000 customers per arm and exact Efron sums) is a separate implementation of the same
definition; ``tests/test_pooled_cox.py`` compares the two.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["pooled_cox_log_hr"]


def _efron_limit(R: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``integral_0^1 log(R - f D) df`` elementwise (``0 <= D < R``)."""
    out = np.log(R)
    pos = D > 1e-300
    r, d = R[pos], D[pos]
    out[pos] = (r * np.log(r) - (r - d) * np.log(r - d)) / d - 1.0
    return out


def pooled_cox_log_hr(curves: Mapping[str, Sequence[float]], x: Mapping[str, float],
                      horizon: int | None = None) -> float:
    """Log hazard ratio per unit of ``x`` of a Cox model (Efron ties) on equal-sized arms.

    Parameters
    ----------
    curves : mapping
        Arm label -> survival ``S(0) = 1, S(1), ..., S(H)`` (share still present after each
        whole month since entry).
    x : mapping
        Arm label -> its covariate value (e.g. the number of products the arm holds); only the
        arms named here are pooled.
    horizon : int, optional
        Months of follow-up (censoring after month ``horizon``); default all of the curves.

    Returns
    -------
    float
        The maximum partial likelihood estimate of ``beta`` (log HR per unit of ``x``).

    Examples
    --------
    Two arms with constant monthly hazards 0.02 and 0.01 (a hazard ratio of about 0.5):

    >>> t = np.arange(37)
    >>> s = {"a": (1 - 0.02) ** t, "b": (1 - 0.01) ** t}
    >>> round(float(np.exp(pooled_cox_log_hr(s, {"a": 0.0, "b": 1.0}))), 3)
    0.497
    """
    labels = list(x)
    S = np.array([np.asarray(curves[k], dtype=float) for k in labels])
    H = S.shape[1] - 1 if horizon is None else int(horizon)
    if H < 1 or S.shape[1] < H + 1:
        raise ValueError(f"the curves need months 0..{H}")
    r = S[:, :H]  # at risk at months 1..H
    d = S[:, :H] - S[:, 1:H + 1]  # leaving at months 1..H
    if np.any(d < -1e-12):
        raise ValueError("a survival curve increases")
    d = np.clip(d, 0.0, None)
    xs = np.array([float(x[k]) for k in labels])
    dt = d.sum(axis=0)
    sx = float((d * xs[:, None]).sum())

    def negll(beta):
        e = np.exp(beta * xs)[:, None]
        R, D = (r * e).sum(axis=0), (d * e).sum(axis=0)
        return -(beta * sx - float((dt * _efron_limit(R, D)).sum()))

    res = minimize_scalar(negll, bounds=(-5.0, 5.0), method="bounded", options={"xatol": 1e-10})
    return float(res.x)
