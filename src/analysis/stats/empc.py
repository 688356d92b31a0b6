"""The expected maximum profit measure for customer churn (EMPC; Verbraken, Verbeke and Baesens
2013, IEEE TKDE 25(5): 961-973).

A retention campaign contacts the customers a model ranks highest. Per contacted customer
(Neslin et al. 2006): a would-be leaver accepts the offer with probability ``gamma`` and stays
(the bank keeps ``clv`` and pays the offer ``d``), otherwise leaves; a customer who would have
stayed takes the offer anyway; every contact costs ``f``. As a share of the book, contacting the
fraction of leavers ``F0`` and of stayers ``F1`` earns::

    P(gamma) = clv * [(gamma * (1 - delta) - phi) * pi0 * F0 - (delta + phi) * pi1 * F1]

with ``delta = d / clv``, ``phi = f / clv`` and ``pi0`` the share of leavers. The best list for a
given ``gamma`` is a vertex of the ROC convex hull; ``gamma`` is unknown and follows a
Beta(``alpha``, ``beta``) distribution (the paper's default Beta(6, 14): mean 0.3). EMPC is the
expected value over ``gamma`` of the maximum profit, computed in closed form with the regularised
incomplete beta function (the paper's eq. 13; R's ``EMP::empChurn`` does the same), and the
fraction of the book the best list then holds. Money is per customer of the book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull
from scipy.special import betainc

__all__ = ["EMPCResult", "roc_points", "roc_hull", "empc", "campaign_profit", "beta_from_mean"]


def beta_from_mean(mean: float, concentration: float) -> tuple[float, float]:
    """Beta parameters with the given mean and ``alpha + beta = concentration``.

    >>> beta_from_mean(0.3, 20)
    (6.0, 14.0)
    """
    if not 0 < mean < 1 or concentration <= 0:
        raise ValueError(f"need 0 < mean < 1 and concentration > 0, got {mean}, {concentration}")
    return float(mean * concentration), float((1 - mean) * concentration)


def roc_points(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """ROC points (share of stayers ``F1``, share of leavers ``F0`` listed) from the top down.

    Tied scores enter the list together. Starts at (0, 0) and ends at (1, 1). ``labels``: 1 for
    a leaver.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    n1, n0 = float(y.sum()), float((1 - y).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("ROC needs both leavers and stayers")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # end of each tie group
    tp, fp = np.cumsum(y)[last], np.cumsum(1 - y)[last]
    return np.r_[0.0, fp / n0], np.r_[0.0, tp / n1]


def roc_hull(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the upper convex hull of the ROC curve, from (0, 0) to (1, 1).

    The hull of the ROC points and the corner (1, 0) (qhull), less that corner: the points on
    a chord between two vertices are not vertices.

    >>> roc_hull([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])
    (array([0. , 0. , 0.5, 1. ]), array([0. , 0.5, 1. , 1. ]))
    """
    x, y = roc_points(scores, labels)
    pts = np.column_stack([np.r_[x, 1.0], np.r_[y, 0.0]])
    keep = np.unique(ConvexHull(pts).vertices)
    keep = keep[keep < x.size]  # drop the corner (1, 0)
    hx, hy = x[keep], y[keep]
    order = np.lexsort((hy, hx))
    return hx[order], hy[order]


@dataclass(frozen=True)
class EMPCResult:
    """EMPC and the list it implies.

    Attributes
    ----------
    empc : float
        Expected maximum profit per customer of the book (money units of ``clv``).
    fraction : float
        Expected share of the book on the profit-maximising list.
    mp : float
        Maximum profit at the mean success rate (the MPC of the paper), per customer.
    mp_fraction : float
        Share of the book on that list.
    """

    empc: float
    fraction: float
    mp: float
    mp_fraction: float


def empc(scores, labels, *, clv: float, offer_cost: float, contact_cost: float,
         alpha: float = 6.0, beta: float = 14.0) -> EMPCResult:
    """Expected maximum profit of a churn model's ranking (Verbraken et al. 2013).

    Parameters
    ----------
    scores : array
        Higher = more likely to leave.
    labels : array
        1 for a customer who left, 0 otherwise.
    clv : float
        Value of keeping a customer who would have left.
    offer_cost, contact_cost : float
        Cost ``d`` of the retention offer (paid by whoever accepts it) and ``f`` of one contact.
    alpha, beta : float
        Beta distribution of the share of contacted leavers who accept the offer and stay.

    Examples
    --------
    A perfect ranking of 2 leavers among 10: contact exactly them; at gamma the profit per
    customer is ``0.2 * (gamma * (200 - 10) - 1)``, so EMPC = ``0.2 * (0.3 * 190 - 1)``:

    >>> r = empc([0.9, 0.8] + [0.1] * 8, [1, 1] + [0] * 8, clv=200, offer_cost=10, contact_cost=1)
    >>> round(r.empc, 6), round(r.fraction, 6)
    (11.2, 0.2)
    """
    if clv <= 0 or offer_cost < 0 or contact_cost < 0 or offer_cost >= clv:
        raise ValueError("need clv > 0, 0 <= offer_cost < clv and contact_cost >= 0")
    y = np.asarray(labels, dtype=float)
    pi0 = float(y.mean())
    pi1 = 1.0 - pi0
    delta, phi = offer_cost / clv, contact_cost / clv
    f1, f0 = roc_hull(scores, y)
    d1, d0 = np.diff(f1), np.diff(f0)
    # gamma above which moving from vertex k to k+1 pays; increasing along the hull
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (pi1 * (delta + phi) * d1 + pi0 * phi * d0) / (pi0 * (1 - delta) * d0)
    g = np.where(d0 > 0, g, np.inf)
    bounds = np.r_[0.0, np.minimum(g, 1.0), 1.0]
    lo, hi = bounds[:-1], bounds[1:]  # vertex k is optimal for gamma in [lo_k, hi_k]
    mass = betainc(alpha, beta, hi) - betainc(alpha, beta, lo)
    mass1 = betainc(alpha + 1, beta, hi) - betainc(alpha + 1, beta, lo)
    mean = alpha / (alpha + beta)
    gain = clv * (1 - delta) * pi0 * f0 * mean * mass1
    cost = clv * (phi * pi0 * f0 + (delta + phi) * pi1 * f1) * mass
    listed = pi0 * f0 + pi1 * f1
    k = int(np.searchsorted(hi, mean, side="left"))  # vertex optimal at the mean
    k = min(k, f0.size - 1)
    mp = clv * ((mean * (1 - delta) - phi) * pi0 * f0[k] - (delta + phi) * pi1 * f1[k])
    return EMPCResult(empc=float(np.sum(gain - cost)), fraction=float(np.sum(listed * mass)),
                      mp=float(mp), mp_fraction=float(listed[k]))


def campaign_profit(leavers_listed, stayers_listed, *, clv: float, offer_cost: float,
                    contact_cost: float, success_rate: float):
    """Expected profit of contacting a given list (same model as :func:`empc`, total money).

    The profit is linear in the success rate, so its expectation uses the mean rate only.

    >>> campaign_profit(2, 8, clv=200, offer_cost=10, contact_cost=1, success_rate=0.3)
    24.0
    """
    tp = np.asarray(leavers_listed, dtype=float)
    fp = np.asarray(stayers_listed, dtype=float)
    out = tp * (success_rate * (clv - offer_cost) - contact_cost) - fp * (offer_cost + contact_cost)
    return float(out) if out.ndim == 0 else out
