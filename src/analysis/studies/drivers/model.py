"""The drivers model: one Cox fit with delayed entry and its table of effects per term."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.i18n import tr
from analysis.stats.hypothesis import wald_test
from analysis.studies.drivers.design import Term, _spline_basis, level_words

__all__ = ["effects_table"]


def _contrast(term: Term, params: pd.Series, cov: pd.DataFrame) -> tuple[float, float]:
    """log-HR and its SE of the 75th vs 25th percentile for a spline term."""
    lo, hi = term.quartiles
    a = (_spline_basis(np.array([hi / term.scale]), term.knots / term.scale)
         - _spline_basis(np.array([lo / term.scale]), term.knots / term.scale)).ravel()
    b = params[term.columns].to_numpy()
    V = cov.loc[term.columns, term.columns].to_numpy()
    return float(a @ b), float(np.sqrt(a @ V @ a))


def effects_table(params: pd.Series, cov: pd.DataFrame, terms: Sequence[Term],
                  ph: pd.DataFrame | None = None, *, ratio: str = "hr",
                  alpha: float = 0.05) -> pd.DataFrame:
    """One row per effect: ``key, term, label, hr (or tr), ci_low, ci_high, p, ph_test_p, chisq``.

    Numeric terms: per unit of the design column; categorical: each level vs the reference;
    spline terms: 75th vs 25th percentile with the joint Wald p-value of the term. ``chisq`` is
    the term's joint Wald statistic (used to rank drivers). Intervals: ``1 - alpha``.
    """
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for t in terms:
        w = wald_test(params, cov, list(t.columns))
        chi, df, p_term = w.chi2, w.df, w.p
        ph_p = float(ph.loc[t.name, "p"]) if ph is not None and t.name in ph.index else np.nan
        if t.kind == "spline":
            est, se = _contrast(t, params, cov)
            lo, hi = t.quartiles
            rows.append(dict(key=f"{t.name} (p75 vs p25)", term=t.name,
                             label=tr("{covariate}, 75th vs 25th percentile ({hi} vs {lo})",
                                      covariate=t.words, hi=f"{hi:.3g}", lo=f"{lo:.3g}"),
                             est=est, se=se, p=p_term,
                             ph_test_p=ph_p, chisq=chi, df=df))
            continue
        for c, lv in zip(t.columns, t.levels if t.kind == "categorical" else [None]):
            est, se = float(params[c]), float(np.sqrt(cov.loc[c, c]))
            label = (tr("{covariate}: {level} vs {reference}", covariate=t.words,
                        level=level_words(lv), reference=level_words(t.reference))
                     if t.kind == "categorical" else
                     tr("{covariate}, {unit}", covariate=t.words, unit=t.unit))
            p = float(2 * stats.norm.sf(abs(est / se)))
            rows.append(dict(key=c, term=t.name, label=label, est=est, se=se, p=p,
                             ph_test_p=ph_p, chisq=chi, df=df))
    out = pd.DataFrame(rows)
    out[ratio] = np.exp(out["est"])
    out["ci_low"] = np.exp(out["est"] - z * out["se"])
    out["ci_high"] = np.exp(out["est"] + z * out["se"])
    return out[["key", "term", "label", ratio, "ci_low", "ci_high", "p", "ph_test_p", "chisq",
                "df", "est", "se"]]
