"""E-values: how strong an unmeasured confounder would have to be to explain an effect away.

VanderWeele & Ding (2017), "Sensitivity analysis in observational research: introducing the
E-value", Annals of Internal Medicine 167:268-274. For a risk ratio ``RR`` (take ``1/RR`` when
``RR < 1``) the E-value is ``RR + sqrt(RR (RR - 1))``: the minimum strength of association, on
the risk-ratio scale, that an unmeasured confounder would need with both the exposure and the
outcome, beyond the measured covariates, to move the estimate to 1. The E-value of a confidence
interval is that of the limit closest to 1 (1 when the interval includes 1).

A hazard ratio must first be put on the risk-ratio scale (their Table 2):

- rare outcome (under 15% by the end of follow-up): ``RR ~ HR``;
- common outcome: ``RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` (``method="vanderweele"``,
  the default; what R's ``EValue::evalues.HR(rare = FALSE)`` does). ``method="sqrt"`` uses
  ``RR ~ sqrt(HR)`` instead, which is the Table 2 rule for an *odds* ratio of a common outcome;
  it is offered because it is often quoted for HRs too. For HRs between 0.5 and 2 the two
  differ little (HR 0.80: 0.857 vs 0.894), and ``sqrt`` gives the smaller E-value.

Customer attrition over a 36-month window is common (about a quarter of the book leaves), so
reports use the common-outcome conversion.
"""

from __future__ import annotations

import math

__all__ = ["hr_to_rr", "evalue_rr", "evalue_hr"]

RARE_THRESHOLD = 0.15


def hr_to_rr(hr: float, *, rare: bool, method: str = "vanderweele") -> float:
    """Approximate risk ratio for a hazard ratio (see the module docstring).

    Examples
    --------
    >>> round(hr_to_rr(0.8, rare=False), 4), round(hr_to_rr(0.8, rare=False, method="sqrt"), 4)
    (0.8568, 0.8944)
    >>> hr_to_rr(0.8, rare=True)
    0.8
    """
    if not (hr > 0 and math.isfinite(hr)):
        raise ValueError(f"a hazard ratio must be positive and finite, got {hr!r}")
    if rare:
        return float(hr)
    if method == "vanderweele":
        return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    if method == "sqrt":
        return math.sqrt(hr)
    raise ValueError(f"method must be 'vanderweele' or 'sqrt', got {method!r}")


def evalue_rr(rr: float) -> float:
    """E-value of a risk ratio: ``RR + sqrt(RR (RR - 1))`` after inverting an RR below 1.

    Examples
    --------
    >>> round(evalue_rr(3.9), 2), round(evalue_rr(1 / 3.9), 2), evalue_rr(1.0)
    (7.26, 7.26, 1.0)
    """
    if not (rr > 0 and math.isfinite(rr)):
        raise ValueError(f"a risk ratio must be positive and finite, got {rr!r}")
    r = 1 / rr if rr < 1 else rr
    return r + math.sqrt(r * (r - 1))


def evalue_hr(
    hr: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
    *,
    outcome_share: float | None = None,
    rare: bool | None = None,
    method: str = "vanderweele",
) -> dict:
    """E-value of a hazard ratio and of the confidence limit closest to 1.

    Parameters
    ----------
    hr, ci_low, ci_high : float
        The estimate and its interval.
    outcome_share : float, optional
        Share of customers with the outcome by the end of follow-up; decides ``rare`` (below
        15%) when ``rare`` is not given.
    rare : bool, optional
        Use the rare-outcome approximation ``RR ~ HR``.
    method : {"vanderweele", "sqrt"}
        Common-outcome conversion (see the module docstring).

    Returns
    -------
    dict
        ``evalue`` (point estimate), ``evalue_ci`` (limit closest to 1; 1 when the interval
        includes 1), ``rr``, ``rr_ci_low``, ``rr_ci_high``, ``rare``, ``conversion`` (in words),
        ``limit`` (which limit was used).

    Examples
    --------
    >>> out = evalue_hr(0.56, 0.46, 0.69, rare=False)
    >>> round(out["evalue"], 2), round(out["evalue_ci"], 3)
    (2.35, 1.908)
    """
    if rare is None:
        if outcome_share is None:
            raise ValueError("give rare=True/False or the outcome_share to decide it")
        rare = outcome_share < RARE_THRESHOLD
    rr = hr_to_rr(hr, rare=rare, method=method)
    lo = hr_to_rr(ci_low, rare=rare, method=method) if ci_low is not None else None
    hi = hr_to_rr(ci_high, rare=rare, method=method) if ci_high is not None else None
    if lo is None or hi is None:
        ev_ci, limit = float("nan"), None
    elif lo <= 1 <= hi:
        ev_ci, limit = 1.0, "interval includes 1"
    elif hi < 1:
        ev_ci, limit = evalue_rr(hi), "upper"
    else:
        ev_ci, limit = evalue_rr(lo), "lower"
    if rare:
        conversion = "rare outcome (<15%): RR taken as the HR"
    elif method == "sqrt":
        conversion = "common outcome: RR ~ sqrt(HR)"
    else:
        conversion = ("common outcome: RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) "
                      "(VanderWeele & Ding)")
    return {
        "evalue": evalue_rr(rr),
        "evalue_ci": ev_ci,
        "rr": rr,
        "rr_ci_low": lo,
        "rr_ci_high": hi,
        "rare": bool(rare),
        "conversion": conversion,
        "limit": limit,
    }
