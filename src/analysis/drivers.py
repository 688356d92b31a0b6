"""What drives attrition (report 03): a multivariable model, checked, with its accuracy and the
reasons people leave.

:func:`attrition_drivers` computes every table of the report from a :class:`~analysis.study.Study`;
:func:`key_findings` turns them into plain sentences and :func:`headline` into the JSON numbers.
Each section that the data cannot support carries a note instead of a table.

The model
    A Cox model on the tenure time scale with delayed entry (customers already on the book when
    observation starts enter the risk sets at their tenure then), Efron's ties, over the
    covariates measured at entry: the study's groupings (dummy-coded, the first level the
    reference; products enter as a count, not as groups) and numeric covariates in natural units
    (age per 10 years, tenure at entry per year, balances per 10-fold, products per product;
    unknown numeric columns per standard deviation). A natural (restricted cubic) spline replaces
    a linear term when a likelihood-ratio test rejects linearity (Bonferroni over the covariates
    tested).
Checks
    Proportional hazards for every term by R's ``cox.zph`` (score test, ``km`` time transform by
    default; :mod:`analysis.zph`); a term that fails is stratified on (categorical) or given
    tenure-band-specific effects (numeric), and the check is repeated.
Alternatives
    Weibull, log-normal and log-logistic accelerated failure time models (lifelines, delayed
    entry) compared by AIC; time ratios.
Accuracy
    On a seeded held-out split (:mod:`analysis.metrics`), on time since entry.
Time-varying check
    With monthly histories: products held *now* and a large outflow in the last 3 months as
    time-varying covariates (counting process), the quantities the synthetic truth is about.
Reasons
    Aalen-Johansen cumulative incidence by departure reason and cause-specific hazard ratios
    (:mod:`analysis.competing`) when the data record reasons.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis import competing, metrics
from analysis.coxfit import cox_fit
from analysis.study import Attempt, Study, attempt
from analysis.survival import InsufficientDataError
from analysis.zph import ZphResult, zph_for

__all__ = [
    "Term",
    "Design",
    "Drivers",
    "build_design",
    "fit_cox",
    "effects_table",
    "spline_checks",
    "ph_check",
    "ph_remedy",
    "aft_models",
    "held_out_accuracy",
    "time_varying_model",
    "departure_reasons",
    "truth_comparison",
    "attrition_drivers",
    "partial_effect",
    "schoenfeld_panels",
    "key_findings",
    "headline",
]

ENTRY, DURATION, EVENT = "entry", "duration", "event"

#: Natural units of the covariates the study knows: column -> (divide by, unit words).
UNITS: dict[str, tuple[float, str]] = {
    "n_products_entry": (1.0, "per product"),
    "age_entry": (10.0, "per 10 years"),
    "entry": (12.0, "per year"),
    "log_aum_entry": (float(np.log(10.0)), "per 10-fold AUM"),
    "log_loan_entry": (float(np.log(10.0)), "per 10-fold loan balance"),
    "engagement": (1.0, "per point of the score"),
}
#: Covariates never modelled directly (product groups: products enter as a count).
EXCLUDE = ("product_group",)
#: Priority when covariates are redundant: value tiers are AUM bands, so log AUM is left out
#: when the tier is in the model.
REDUNDANT = {"log_aum_entry": "tier_group"}


# ------------------------------------------------------------------------------------------------
# design
# ------------------------------------------------------------------------------------------------


@dataclass
class Term:
    """One covariate of the model and how it is coded.

    ``kind``: ``"categorical"`` (dummies against ``reference``), ``"numeric"`` (one column,
    the covariate divided by ``scale``), ``"spline"`` (natural cubic spline columns, knots at
    ``knots`` on the natural scale).
    """

    name: str
    words: str
    kind: str
    columns: list
    reference: str | None = None
    levels: list = field(default_factory=list)
    scale: float = 1.0
    unit: str = ""
    knots: np.ndarray | None = None
    quartiles: tuple | None = None
    median: float | None = None
    span: tuple | None = None

    @property
    def coding(self) -> str:
        if self.kind == "categorical":
            return f"dummies, reference level '{self.reference}'"
        if self.kind == "spline":
            return (f"natural cubic spline, knots at {', '.join(f'{k:.3g}' for k in self.knots)}; "
                    f"effect shown for {self.quartiles[1]:.3g} vs {self.quartiles[0]:.3g} "
                    "(75th vs 25th percentile)")
        return f"linear, {self.unit}" + (" (standardised)" if self.unit.startswith("per SD") else "")


@dataclass
class Design:
    """Model data: ``data`` holds ``customer_id`` (when known), entry, duration, event, the
    design columns and each categorical covariate's (merged) levels."""

    data: pd.DataFrame
    terms: list
    notes: list = field(default_factory=list)
    dropped: list = field(default_factory=list)

    @property
    def columns(self) -> list:
        return [c for t in self.terms for c in t.columns]

    @property
    def term_columns(self) -> dict:
        return {t.name: list(t.columns) for t in self.terms}

    def term(self, name: str) -> Term:
        for t in self.terms:
            if t.name == name:
                return t
        raise KeyError(name)

    def describe(self) -> pd.DataFrame:
        """Covariate, kind, coding (reference level, unit), for readers."""
        return pd.DataFrame(
            [(t.words, t.kind, t.coding) for t in self.terms], columns=["covariate", "type", "coding"]
        )


def _spline_basis(x, knots) -> np.ndarray:
    return metrics.restricted_cubic_basis(x, knots)


def _knots(x: np.ndarray, k: int = 4) -> np.ndarray | None:
    probs = {3: [0.1, 0.5, 0.9], 4: [0.05, 0.35, 0.65, 0.95], 5: [0.05, 0.275, 0.5, 0.725, 0.95]}[k]
    kn = np.unique(np.quantile(x, probs))
    return kn if kn.size == k else None


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().unique())
        return [c for c in s.cat.categories if c in present]
    return sorted(s.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))


def _merge_sparse(s: pd.Series, event: pd.Series, min_events: int) -> tuple[pd.Series, list, list]:
    """Merge levels with fewer than ``min_events`` departures.

    Ordered levels (an ordered categorical, value tiers) merge with the neighbouring level
    (the one below when there is one); unordered levels are pooled into one "other" level.
    Returns the relabelled series, the levels in order and notes.
    """
    order = _levels(s)
    ordered = (isinstance(s.dtype, pd.CategoricalDtype) and s.dtype.ordered) or all(
        str(v).startswith("Tier ") for v in order)
    labels = {v: str(v) for v in order}
    notes = []
    obj = s.astype(object)
    while True:
        current = list(dict.fromkeys(labels[v] for v in order))
        ev = event.groupby(obj.map(labels).to_numpy()).sum()
        sparse = [lv for lv in current if ev.get(lv, 0) < min_events]
        if not sparse or len(current) <= 1:
            break
        if ordered:
            i = current.index(sparse[-1])
            j = i - 1 if i > 0 else i + 1
            a, b = (current[j], current[i]) if j < i else (current[i], current[j])
            merged = _merged_name(a, b)
            notes.append(f"levels '{a}' and '{b}' merged into '{merged}' (fewer than "
                         f"{min_events} departures in one of them)")
            for v in order:
                if labels[v] in (a, b):
                    labels[v] = merged
        else:
            pool = list(dict.fromkeys(sparse + [lv for lv in current if lv.endswith("other levels")]))
            name = "other levels"
            if len(pool) == 1 and pool[0].endswith("other levels"):  # the pool is still too small
                big = max((lv for lv in current if lv not in pool), key=lambda lv: ev.get(lv, 0))
                pool.append(big)
                name = f"{big} / other levels"
            notes.append(f"levels {', '.join(repr(x) for x in pool)} pooled into '{name}' "
                         f"(fewer than {min_events} departures each)")
            for v in order:
                if labels[v] in pool:
                    labels[v] = name
    return obj.map(labels), list(dict.fromkeys(labels[v] for v in order)), notes


def _merged_name(a: str, b: str) -> str:
    if a.startswith("Tier ") and b.startswith("Tier "):
        lo = a.split("-")[0].replace("Tier ", "")
        hi = b.split("-")[-1].replace("Tier ", "")
        return f"Tier {lo}-{hi}"
    return f"{a} / {b}"


def _vif(X: pd.DataFrame) -> pd.Series:
    Z = (X - X.mean()) / X.std(ddof=0).replace(0, np.nan)
    Z = Z.dropna(axis=1)
    corr = np.corrcoef(Z.to_numpy(), rowvar=False)
    try:
        inv = np.linalg.pinv(corr)
    except np.linalg.LinAlgError:
        return pd.Series(np.inf, index=Z.columns)
    return pd.Series(np.diag(inv), index=Z.columns)


def _design_name(col: str) -> str:
    """Design column of a numeric covariate (tenure at entry must not clash with ``entry``)."""
    if col == ENTRY:
        return "tenure_entry"
    return f"{col}_x" if col in (DURATION, EVENT, "customer_id") else col


def build_design(
    study: Study,
    *,
    splines: Sequence[str] = (),
    exclude: Sequence[str] = EXCLUDE,
    min_level_events: int = 5,
    max_vif: float = 10.0,
) -> Design:
    """Choose and code the covariates of the model from a study.

    Parameters
    ----------
    study : Study
        Its ``groupings`` (categorical) and ``numeric`` covariates are candidates.
    splines : sequence of str
        Numeric covariates to model with a natural cubic spline (4 knots at the 5/35/65/95th
        percentiles).
    exclude : sequence of str
        Covariates left out (default: the product groups; products enter as a count).
    min_level_events : int
        Levels of a categorical covariate with fewer departures are merged with a neighbour.
    max_vif : float
        Numeric covariates almost collinear with the others (variance inflation factor above
        this) are left out, largest first.

    Raises
    ------
    InsufficientDataError
        Fewer than 10 departures or no usable covariate.
    """
    f = study.frame
    n_events = int(f[EVENT].sum())
    if n_events < 10:
        raise InsufficientDataError(
            f"only {n_events} customers left in these data: too few for a multivariable model "
            "(at least 10 needed)"
        )
    notes: list[str] = []
    dropped: list[str] = []
    cats = [c for c in study.groupings if c not in exclude and c in f]
    nums = [c for c in study.numeric if c not in exclude and c in f]
    for col, over in REDUNDANT.items():
        if col in nums and over in cats and f[over].nunique() > 1:
            nums.remove(col)
            notes.append(f"{study.numeric[col]} is left out: {study.groupings[over]} already "
                         "carries it (tiers are AUM bands)")
    # missing values
    for col in list(cats) + list(nums):
        miss = f[col].isna().mean()
        if miss > 0.2:
            (cats if col in cats else nums).remove(col)
            notes.append(f"{col} is left out: {miss:.0%} of values missing")
    use = cats + nums
    complete = f[use].notna().all(axis=1) if use else pd.Series(True, index=f.index)
    if (~complete).any():
        notes.append(f"{int((~complete).sum()):,} customers with missing covariate values are "
                     "left out of the model")
    f = f[complete]
    base_cols = [c for c in ("customer_id", ENTRY, DURATION, EVENT) if c in f]
    data = f[base_cols].copy().reset_index(drop=True)
    if ENTRY not in data:
        data[ENTRY] = 0.0
    data[EVENT] = data[EVENT].astype(int)
    event = data[EVENT]
    terms: list[Term] = []
    for col in cats:
        s, levels, merge_notes = _merge_sparse(f[col].reset_index(drop=True), event,
                                               min_level_events)
        words = study.groupings[col]
        if len(levels) < 2:
            only = levels[0] if levels else "none"
            notes.append(f"{words} is left out: only one level ('{only}') in these data"
                         + (" after pooling levels with few departures" if merge_notes else ""))
            dropped.append(col)
            continue
        notes.extend(f"{words}: {m}" for m in merge_notes)
        data[f"{col}__level"] = s.to_numpy()
        columns = []
        for lv in levels[1:]:
            name = f"{col}={lv}"
            data[name] = (s == lv).astype(float).to_numpy()
            columns.append(name)
        terms.append(Term(name=col, words=words, kind="categorical", columns=columns,
                          reference=str(levels[0]), levels=[str(v) for v in levels[1:]]))
    for col in nums:
        x = pd.to_numeric(f[col], errors="coerce").astype(float).reset_index(drop=True)
        words = study.numeric[col]
        if x.nunique() < 2:
            notes.append(f"{words} is left out: the same value for every customer")
            dropped.append(col)
            continue
        if col in UNITS:
            scale, unit = UNITS[col]
        else:
            scale = float(x.std())
            unit = f"per SD ({scale:.3g})"
        q = tuple(float(v) for v in np.quantile(x, [0.25, 0.75]))
        med = float(np.median(x))
        span = tuple(float(v) for v in np.quantile(x, [0.05, 0.95]))
        cname = _design_name(col)
        if col in splines:
            knots = _knots(x.to_numpy())
            if knots is not None:
                basis = _spline_basis(x.to_numpy() / scale, knots / scale)
                columns = [cname] + [f"{cname}__s{j}" for j in range(1, basis.shape[1])]
                for j, name in enumerate(columns):
                    data[name] = basis[:, j]
                terms.append(Term(name=col, words=words, kind="spline", columns=columns,
                                  scale=scale, unit=unit, knots=knots, quartiles=q, median=med,
                                  span=span))
                continue
        data[cname] = x.to_numpy() / scale
        terms.append(Term(name=col, words=words, kind="numeric", columns=[cname], scale=scale,
                          unit=unit, quartiles=q, median=med, span=span))
    if not terms:
        raise InsufficientDataError("no covariate varies in these data: nothing to model")
    # collinearity: drop numeric terms with a huge variance inflation factor
    while True:
        cols = [c for t in terms for c in t.columns]
        if len(cols) < 2:
            break
        vif = _vif(data[cols])
        numeric_terms = [t for t in terms if t.kind == "numeric"]
        worst = max(numeric_terms, key=lambda t: vif.get(t.columns[0], 0), default=None)
        if worst is None or vif.get(worst.columns[0], 0) <= max_vif:
            break
        terms.remove(worst)
        data = data.drop(columns=worst.columns)
        notes.append(f"{worst.words} is left out: almost collinear with the other covariates "
                     f"(variance inflation factor {vif[worst.columns[0]]:.0f})")
        dropped.append(worst.name)
    p = sum(len(t.columns) for t in terms)
    if n_events < 10 * p:
        notes.append(f"{n_events} departures for {p} coefficients (fewer than 10 per "
                     "coefficient): estimates are imprecise")
    return Design(data=data, terms=terms, notes=notes, dropped=dropped)


# ------------------------------------------------------------------------------------------------
# fitting
# ------------------------------------------------------------------------------------------------


def fit_cox(data: pd.DataFrame, columns: Sequence[str], *, strata: Sequence[str] | None = None,
            entry: str = ENTRY, duration: str = DURATION, event: str = EVENT, init=None):
    """Cox model (Efron ties) with delayed entry at ``entry`` (:func:`analysis.coxfit.cox_fit`,
    checked against lifelines' ``CoxPHFitter`` in the tests).

    Raises :class:`InsufficientDataError` when the model cannot be fitted (e.g. no event in a
    level, perfect separation).
    """
    return cox_fit(data, columns, duration=duration, event=event, entry=entry, strata=strata,
                   init=init)


def _wald_term(params: pd.Series, cov: pd.DataFrame, cols: list) -> tuple[float, int, float]:
    b = params[cols].to_numpy()
    V = cov.loc[cols, cols].to_numpy()
    chi = float(b @ np.linalg.solve(V, b))
    return chi, len(cols), float(stats.chi2.sf(chi, len(cols)))


def _contrast(term: Term, params: pd.Series, cov: pd.DataFrame) -> tuple[float, float]:
    """log-HR and its SE of the 75th vs 25th percentile for a spline term."""
    lo, hi = term.quartiles
    a = (_spline_basis(np.array([hi / term.scale]), term.knots / term.scale)
         - _spline_basis(np.array([lo / term.scale]), term.knots / term.scale)).ravel()
    b = params[term.columns].to_numpy()
    V = cov.loc[term.columns, term.columns].to_numpy()
    return float(a @ b), float(np.sqrt(a @ V @ a))


def effects_table(params: pd.Series, cov: pd.DataFrame, terms: Sequence[Term],
                  ph: pd.DataFrame | None = None, *, ratio: str = "hr") -> pd.DataFrame:
    """One row per effect: ``key, term, label, hr (or tr), ci_low, ci_high, p, ph_test_p, chisq``.

    Numeric terms: per unit of the design column; categorical: each level vs the reference;
    spline terms: 75th vs 25th percentile with the joint Wald p-value of the term. ``chisq`` is
    the term's joint Wald statistic (used to rank drivers).
    """
    z = stats.norm.ppf(0.975)
    rows = []
    for t in terms:
        chi, df, p_term = _wald_term(params, cov, t.columns)
        ph_p = float(ph.loc[t.name, "p"]) if ph is not None and t.name in ph.index else np.nan
        if t.kind == "spline":
            est, se = _contrast(t, params, cov)
            lo, hi = t.quartiles
            rows.append(dict(key=f"{t.name} (p75 vs p25)", term=t.name,
                             label=f"{t.words}, 75th vs 25th percentile ({hi:.3g} vs {lo:.3g})",
                             est=est, se=se, p=p_term,
                             ph_test_p=ph_p, chisq=chi, df=df))
            continue
        for c, lv in zip(t.columns, t.levels if t.kind == "categorical" else [None]):
            est, se = float(params[c]), float(np.sqrt(cov.loc[c, c]))
            label = (f"{t.words}: {lv} vs {t.reference}" if t.kind == "categorical"
                     else f"{t.words}, {t.unit}")
            p = float(2 * stats.norm.sf(abs(est / se)))
            rows.append(dict(key=c, term=t.name, label=label, est=est, se=se, p=p,
                             ph_test_p=ph_p, chisq=chi, df=df))
    out = pd.DataFrame(rows)
    out[ratio] = np.exp(out["est"])
    out["ci_low"] = np.exp(out["est"] - z * out["se"])
    out["ci_high"] = np.exp(out["est"] + z * out["se"])
    return out[["key", "term", "label", ratio, "ci_low", "ci_high", "p", "ph_test_p", "chisq",
                "df", "est", "se"]]


def spline_checks(design_linear: Design, study: Study, *, alpha: float = 0.05,
                  min_distinct: int = 20) -> pd.DataFrame:
    """Likelihood-ratio test of linearity for each continuous covariate.

    Each covariate with at least ``min_distinct`` values is replaced in turn by a natural cubic
    spline (4 knots, 2 extra df); LR test against the linear model; ``use_spline`` where
    p < alpha / (number tested) (Bonferroni).
    """
    base = fit_cox(design_linear.data, design_linear.columns)
    ll0 = base.log_likelihood_
    cands = [t for t in design_linear.terms if t.kind == "numeric"
             and design_linear.data[t.columns[0]].nunique() >= min_distinct]
    rows = []
    for t in cands:
        d = build_design(study, splines=[t.name])
        if d.term(t.name).kind != "spline" or [x.name for x in d.terms] != [
                x.name for x in design_linear.terms]:
            continue
        fit = fit_cox(d.data, d.columns)
        lr = 2 * (fit.log_likelihood_ - ll0)
        df = len(d.term(t.name).columns) - 1
        rows.append(dict(term=t.name, covariate=t.words, lr_chisq=max(lr, 0.0), df=df,
                         p=float(stats.chi2.sf(max(lr, 0.0), df))))
    out = pd.DataFrame(rows, columns=["term", "covariate", "lr_chisq", "df", "p"])
    m = max(len(out), 1)
    out["threshold"] = alpha / m
    out["use_spline"] = out["p"] < out["threshold"]
    return out


def partial_effect(term: Term, params: pd.Series, cov: pd.DataFrame, n: int = 60) -> pd.DataFrame:
    """Hazard ratio along a numeric or spline covariate vs its median, with a 95% band.

    Over the 5th to 95th percentile; columns ``x`` (natural units), ``hr``, ``ci_low``,
    ``ci_high``.
    """
    if term.kind not in ("numeric", "spline"):
        raise ValueError(f"{term.name} is {term.kind}: no curve to draw")
    x = np.linspace(term.span[0], term.span[1], n)
    if term.kind == "spline":
        B = _spline_basis(x / term.scale, term.knots / term.scale)
        B0 = _spline_basis(np.array([term.median / term.scale]), term.knots / term.scale)
    else:
        B = (x / term.scale)[:, None]
        B0 = np.array([[term.median / term.scale]])
    A = B - B0
    b = params[term.columns].to_numpy()
    V = cov.loc[term.columns, term.columns].to_numpy()
    est = A @ b
    se = np.sqrt(np.einsum("ij,jk,ik->i", A, V, A))
    z = stats.norm.ppf(0.975)
    return pd.DataFrame({"x": x, "hr": np.exp(est), "ci_low": np.exp(est - z * se),
                         "ci_high": np.exp(est + z * se)})


# ------------------------------------------------------------------------------------------------
# proportional hazards
# ------------------------------------------------------------------------------------------------


def ph_check(cph, data: pd.DataFrame, terms: Sequence[Term], *, transform: str = "km",
             alpha: float = 0.05) -> tuple[pd.DataFrame, ZphResult]:
    """Scaled Schoenfeld (R ``cox.zph``) test per term and global; ``flagged`` where p is below
    ``alpha`` / number of terms (Bonferroni)."""
    present = [t for t in terms if all(c in cph.params_.index for c in t.columns)]
    zph = zph_for(cph, data, terms={t.name: t.columns for t in present}, transform=transform)
    tab = zph.table.copy()
    words = {t.name: t.words for t in present}
    tab.insert(0, "covariate", [words.get(i, "all covariates (global test)") for i in tab.index])
    tab["threshold"] = alpha / max(len(present), 1)
    tab["flagged"] = (tab["p"] < tab["threshold"]) & (tab.index != "GLOBAL")
    return tab, zph


def _bands(event_times: np.ndarray) -> list[float]:
    """Tenure cut points for band-specific effects: event-time tertiles rounded to whole years
    (to 6 months below two years)."""
    qs = np.quantile(event_times, [1 / 3, 2 / 3])
    cuts = []
    for q in qs:
        step = 12.0 if q >= 24 else 6.0
        c = max(step, np.round(q / step) * step)
        if c < event_times.max() and c not in cuts:
            cuts.append(float(c))
    return cuts


def split_at(data: pd.DataFrame, cuts: Sequence[float], *, entry: str = ENTRY,
             duration: str = DURATION, event: str = EVENT) -> pd.DataFrame:
    """Split each row's (entry, duration] at the tenure ``cuts`` (episode splitting);
    ``band`` numbers the pieces 0..len(cuts), the event stays on the last piece."""
    edges = np.r_[-np.inf, np.asarray(cuts, dtype=float), np.inf]
    parts = []
    for b in range(len(edges) - 1):
        lo, hi = edges[b], edges[b + 1]
        s = np.maximum(data[entry].to_numpy(), lo)
        e = np.minimum(data[duration].to_numpy(), hi)
        keep = s < e
        piece = data.loc[keep].copy()
        piece[entry] = s[keep]
        ended = data[duration].to_numpy()[keep] <= hi
        piece[event] = np.where(ended, data[event].to_numpy()[keep], 0)
        piece[duration] = e[keep]
        piece["band"] = b
        parts.append(piece)
    return pd.concat(parts, ignore_index=True)


@dataclass
class Remedy:
    """What was done about non-proportional hazards and what it changed.

    ``steps``: the terms remedied in order (each the worst failing term of the model refitted
    after the previous remedies) with their test before the remedy; ``ph_after``: the test of
    the final model; ``compare``: effects before and after; ``bands``: tenure-band hazard ratios
    of numeric terms given band-specific effects.
    """

    actions: list
    remedied: list
    strata: list
    banded: list
    cuts: list
    model: object
    data: pd.DataFrame
    columns: list
    steps: pd.DataFrame
    ph_after: pd.DataFrame
    zph_after: ZphResult
    compare: pd.DataFrame
    bands: pd.DataFrame


def _band_label(cuts, b) -> str:
    edges = [0.0, *cuts]
    if b < len(cuts):
        return f"tenure {edges[b]:g}-{cuts[b]:g} months"
    return f"tenure over {edges[b]:g} months"


def _refit_remedied(design: Design, remedied: Sequence[str], transform: str, threshold: float):
    terms = {t.name: t for t in design.terms}
    strata = [n for n in remedied if terms[n].kind == "categorical"]
    banded = [n for n in remedied if terms[n].kind != "categorical"]
    data = design.data
    columns = [c for t in design.terms if t.name not in strata for c in t.columns]
    new_terms = [t for t in design.terms if t.name not in strata]
    cuts: list = []
    if banded:
        cuts = _bands(data.loc[data[EVENT] == 1, DURATION].to_numpy())
        if cuts:
            data = split_at(data, cuts)
            for n in banded:
                t = terms[n]
                new_cols = []
                for c in t.columns:
                    for b in range(len(cuts) + 1):
                        name = f"{c}@band{b}"
                        data[name] = data[c] * (data["band"] == b)
                        new_cols.append(name)
                    columns.remove(c)
                columns.extend(new_cols)
                new_terms = [x for x in new_terms if x.name != n] + [
                    Term(name=n, words=t.words, kind="banded", columns=new_cols, unit=t.unit,
                         scale=t.scale)]
        else:
            banded = []
    model = fit_cox(data, columns, strata=[f"{n}__level" for n in strata] or None)
    tab, zph = ph_check(model, data, new_terms, transform=transform)
    tab["threshold"] = threshold
    tab["flagged"] = (tab["p"] < threshold) & (tab.index != "GLOBAL")
    return model, data, columns, new_terms, strata, banded, cuts, tab, zph


def ph_remedy(design: Design, cph, ph: pd.DataFrame, effects: pd.DataFrame, *,
              transform: str = "km") -> Remedy | None:
    """Remedy non-proportional hazards step by step; None when no term fails the test.

    The worst failing term (smallest p below the Bonferroni threshold of the first test) is
    remedied, the model refitted and tested again, until no term fails: a term correlated with a
    non-proportional one can inherit part of its trend and pass once that one is remedied.
    Categorical terms: stratify on the covariate (its own baseline hazard per level; no HR for it
    any more). Numeric terms: a separate HR in each tenure band (cut at event-time tertiles), a
    step-function time interaction.
    """
    threshold = float(ph["threshold"].iloc[0])
    if not ph["flagged"].any():
        return None
    remedied: list = []
    steps = []
    tab = ph
    fitted = None
    words = {t.name: t.words for t in design.terms}
    while True:
        cand = tab[(tab.index != "GLOBAL") & (tab["p"] < threshold)
                   & ~tab.index.isin(remedied)]
        if cand.empty or len(remedied) >= len(design.terms):
            break
        worst = cand.sort_values(["p", "chisq"], ascending=[True, False]).index[0]
        steps.append(dict(step=len(remedied) + 1, covariate=words[worst],
                          chisq=float(cand.loc[worst, "chisq"]), df=int(cand.loc[worst, "df"]),
                          p=float(cand.loc[worst, "p"])))
        remedied.append(worst)
        fitted = _refit_remedied(design, remedied, transform, threshold)
        tab = fitted[7]
    model, data, columns, new_terms, strata, banded, cuts, ph_after, zph_after = fitted
    actions = []
    for n in strata:
        actions.append(f"stratified on {words[n]}: each level gets its own baseline hazard, so "
                       "the model no longer assumes a constant hazard ratio for it (and no "
                       "longer estimates one)")
    for n in banded:
        actions.append(f"{words[n]}: a separate hazard ratio in each tenure band "
                       f"({', '.join(_band_label(cuts, b) for b in range(len(cuts) + 1))})")
    after = effects_table(model.params_, model.variance_matrix_,
                          [t for t in new_terms if t.kind != "banded"], ph_after)
    compare = effects[["key", "label", "hr", "ci_low", "ci_high", "ph_test_p"]].merge(
        after[["key", "hr", "ci_low", "ci_high", "ph_test_p"]], on="key", how="left",
        suffixes=("_before", "_after"))
    compare["note"] = ""
    for n in strata:
        compare.loc[effects["term"].to_numpy() == n, "note"] = "stratified on (no HR)"
    for n in banded:
        compare.loc[effects["term"].to_numpy() == n, "note"] = "tenure-band HRs below"
    band_rows = []
    z = stats.norm.ppf(0.975)
    terms = {t.name: t for t in design.terms}
    for n in banded:
        t = terms[n]
        for c in t.columns:
            for b in range(len(cuts) + 1):
                name = f"{c}@band{b}"
                est = float(model.params_[name])
                se = float(np.sqrt(model.variance_matrix_.loc[name, name]))
                band_rows.append(dict(covariate=t.words if len(t.columns) == 1 else c,
                                      band=_band_label(cuts, b), hr=np.exp(est),
                                      ci_low=np.exp(est - z * se), ci_high=np.exp(est + z * se),
                                      p=float(2 * stats.norm.sf(abs(est / se)))))
    return Remedy(actions=actions, remedied=remedied, strata=strata, banded=banded, cuts=cuts,
                  model=model, data=data, columns=columns, steps=pd.DataFrame(steps),
                  ph_after=ph_after, zph_after=zph_after, compare=compare,
                  bands=pd.DataFrame(band_rows))


# ------------------------------------------------------------------------------------------------
# parametric alternative
# ------------------------------------------------------------------------------------------------

AFT_MODELS = {"Weibull": ("WeibullAFTFitter", "lambda_"),
              "log-normal": ("LogNormalAFTFitter", "mu_"),
              "log-logistic": ("LogLogisticAFTFitter", "alpha_")}


@dataclass
class AFT:
    """Accelerated failure time models compared by AIC; time ratios of the best."""

    comparison: pd.DataFrame
    best: str
    time_ratios: pd.DataFrame
    model: object


def aft_models(design: Design) -> AFT:
    """Weibull / log-normal / log-logistic AFT (lifelines, delayed entry) on the model's design.

    ``comparison``: distribution, log-likelihood, parameters, AIC (lower is better), delta AIC.
    ``time_ratios``: per effect of the best model, exp(coefficient) of the log-time location
    with 95% CI: above 1 = customers stay longer (time to leaving stretched), below 1 = leave
    sooner.
    """
    import lifelines
    from lifelines.exceptions import ConvergenceError

    cols = design.columns
    df = design.data[cols + [ENTRY, DURATION, EVENT]]
    fits, rows = {}, []
    for name, (cls, _) in AFT_MODELS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = getattr(lifelines, cls)().fit(df, DURATION, EVENT, entry_col=ENTRY)
        except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
            rows.append(dict(distribution=name, log_likelihood=np.nan, parameters=np.nan,
                             aic=np.nan, note=f"not fitted: {str(exc)[:120]}"))
            continue
        fits[name] = m
        k = len(m.params_)
        rows.append(dict(distribution=name, log_likelihood=m.log_likelihood_, parameters=k,
                         aic=m.AIC_, note=""))
    comp = pd.DataFrame(rows)
    if not fits:
        raise InsufficientDataError("no parametric model could be fitted to these data")
    comp["delta_aic"] = comp["aic"] - comp["aic"].min()
    comp = comp.sort_values("aic", na_position="last").reset_index(drop=True)
    best = comp["distribution"].iloc[0]
    m = fits[best]
    loc = AFT_MODELS[best][1]
    params = m.params_.loc[loc]
    cov = m.variance_matrix_.loc[loc, loc]
    params = params.drop("Intercept")
    cov = cov.drop(index="Intercept", columns="Intercept")
    tr = effects_table(params, cov, design.terms, ratio="tr")
    return AFT(comparison=comp, best=best, time_ratios=tr, model=m)


# ------------------------------------------------------------------------------------------------
# accuracy
# ------------------------------------------------------------------------------------------------


@dataclass
class HeldOut:
    accuracy: metrics.Accuracy
    calibration: dict
    horizons_requested: list
    notes: list
    risk: np.ndarray
    test: pd.DataFrame


def held_out_accuracy(design: Design, horizons: Sequence[float], *, test_size: float = 0.3,
                      seed: int = 1, groups: int = 10) -> HeldOut:
    """Fit the model on a seeded random ``1 - test_size`` share, measure it on the rest.

    Predictions: risk of leaving within each horizon after entry into observation, given on the
    book at entry (``metrics.conditional_risk``, baseline hazard with delayed entry). Metrics on
    time since entry (see :mod:`analysis.metrics`).
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    data = design.data
    n = len(data)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_test = int(round(n * test_size))
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    train, test = data.iloc[train_idx], data.iloc[test_idx]
    if train[EVENT].sum() < 10 or test[EVENT].sum() < 5:
        raise InsufficientDataError(
            f"too few departures to split into training ({int(train[EVENT].sum())}) and held-out "
            f"({int(test[EVENT].sum())}) customers"
        )
    cols = design.columns
    cph = fit_cox(train, cols)
    beta = cph.params_[cols].to_numpy()
    H0 = cph.baseline_cumhaz_  # Efron increments, delayed entry (analysis.zph.baseline_cumhaz)
    fu_train = (train[DURATION] - train[ENTRY]).to_numpy()
    fu_test = (test[DURATION] - test[ENTRY]).to_numpy()
    hs, notes = metrics.clip_horizons(horizons, fu_test, fu_train)
    notes = list(notes)
    notes.append(
        "scikit-survival's metrics take no entry times: they are measured on time since entry "
        "into observation (no truncation on that scale), with predictions conditional on being "
        "on the book at entry; censoring weights from the training customers' Kaplan-Meier of "
        "censoring"
    )
    # Follow-up is censored just after the last horizon: every metric then refers to the
    # horizons, and the censoring distribution stays positive where it is used.
    fu_train, ev_train = metrics.censor_after(fu_train, train[EVENT].to_numpy(), max(hs))
    fu_test, ev_test = metrics.censor_after(fu_test, test[EVENT].to_numpy(), max(hs))
    lp = test[cols].to_numpy() @ beta
    risk = metrics.conditional_risk(H0, lp, test[ENTRY].to_numpy(), hs)
    acc = metrics.accuracy(fu_train, ev_train, fu_test, ev_test, risk, hs)
    cal = {}
    for j, h in enumerate(hs):
        cal[h] = attempt(metrics.calibration, fu_test, ev_test, risk[:, j], h, groups=groups)
    tdf = test[[ENTRY, DURATION]].assign(followup=fu_test, event=ev_test)
    return HeldOut(accuracy=acc, calibration=cal, horizons_requested=list(horizons), notes=notes,
                   risk=risk, test=tdf)


# ------------------------------------------------------------------------------------------------
# time-varying check (monthly histories)
# ------------------------------------------------------------------------------------------------


@dataclass
class TimeVarying:
    effects: pd.DataFrame
    data: pd.DataFrame
    columns: list
    terms: list
    model: object


TV_TERMS = {
    "n_products": Term(name="n_products", words="products held now", kind="numeric",
                       columns=["n_products"], unit="per product"),
    "outflow_3m": Term(name="outflow_3m", words="large outflow in the last 3 months",
                       kind="categorical", columns=["outflow_3m"], reference="no",
                       levels=["yes"]),
}


def time_varying_model(study: Study, design: Design) -> TimeVarying:
    """Cox model with products held now and a recent large outflow as time-varying covariates.

    Counting-process rows (one per stretch of months with unchanged covariates) from the panel;
    the other covariates as in the main model (measured at entry), products at entry replaced by
    products now. Needs monthly histories.
    """
    from analysis.frames import counting_process

    if not study.has_panel:
        raise InsufficientDataError(
            "the data hold one row per customer (no monthly history): products held over time "
            "and recent outflows cannot be modelled"
        )
    p = study.portfolio
    params = study.params
    cp = counting_process(p.panel, p.customers, attrition=params["attrition"], k=params["k"],
                          high_value_tier=params.get("high_value_tier") or 3,
                          as_of=study.as_of)
    static = [t for t in design.terms if t.name != "n_products_entry"]
    static_cols = [c for t in static for c in t.columns]
    keep = design.data[["customer_id", *static_cols]]
    d = cp[["customer_id", "start", "stop", "event", "n_products", "outflow_3m"]].merge(
        keep, on="customer_id", how="inner")
    d = d.rename(columns={"start": ENTRY, "stop": DURATION})
    d["n_products"] = d["n_products"].astype(float)
    d["outflow_3m"] = d["outflow_3m"].astype(float)
    terms = [TV_TERMS["n_products"], TV_TERMS["outflow_3m"], *static]
    cols = [c for t in terms for c in t.columns]
    if d.loc[d[EVENT] == 1, "outflow_3m"].nunique() < 2 and d["outflow_3m"].sum() == 0:
        terms = [t for t in terms if t.name != "outflow_3m"]
        cols.remove("outflow_3m")
    cph = fit_cox(d, cols)
    eff = effects_table(cph.params_, cph.variance_matrix_, terms)
    return TimeVarying(effects=eff, data=d, columns=cols, terms=terms, model=cph)


# ------------------------------------------------------------------------------------------------
# departure reasons
# ------------------------------------------------------------------------------------------------


@dataclass
class Reasons:
    counts: pd.DataFrame
    cif: pd.DataFrame
    cif_at: pd.DataFrame
    cause_hr: Attempt
    drivers: dict
    notes: list


def _driver_columns(study: Study, terms: Sequence[Term], effects: pd.DataFrame | None,
                    data: pd.DataFrame, tv: bool) -> dict:
    """Compact set of main drivers for the cause-specific models: column -> words.

    The value tier as "tier 4-5 at entry" (the watched high-value customers), a recent large
    outflow (with monthly histories), then the strongest other single-column effects of the
    model (by Wald chi-square), up to 6 in all.
    """
    out = {}
    f = study.frame
    if "tier_entry" in f:
        out["high_value"] = "value tier 4-5 at entry"
    if tv and "outflow_3m" in data:
        out["outflow_3m"] = "large outflow in the last 3 months"
    by_name = {t.name: t for t in terms}
    if effects is not None:
        ranked = effects.drop_duplicates("term").sort_values("chisq", ascending=False)
        for _, r in ranked.iterrows():
            t = by_name.get(r["term"])
            if t is None or t.name in ("branch", "entry", "tier_group", "outflow_3m"):
                continue
            if len(out) >= 6:
                break
            if t.kind == "numeric":
                out[t.columns[0]] = f"{t.words}, {t.unit}"
            elif t.kind == "categorical" and len(t.columns) == 1:
                out[t.columns[0]] = f"{t.words}: {t.levels[0]} vs {t.reference}"
    return out


def departure_reasons(study: Study, design: Design, *, effects: pd.DataFrame | None = None,
                      tv: TimeVarying | None = None, horizons: Sequence[float] = (12, 24, 36),
                      min_events: int = 10) -> Reasons:
    """Cumulative incidence by departure reason (Aalen-Johansen) and cause-specific Cox models.

    Raises :class:`InsufficientDataError` when the data record no reasons.
    """
    f = study.frame
    if "reason" not in f or not f["reason"].notna().any():
        raise InsufficientDataError(
            "the data record no departure reasons, so why customers leave cannot be broken down"
        )
    attrition = study.params.get("attrition", "closure")
    cause = competing.event_types(f, attrition=attrition)
    counts = cause.value_counts().rename_axis("reason").reset_index(name="departures")
    counts["share"] = counts["departures"] / counts["departures"].sum()
    causes = counts["reason"].tolist()
    cdf = pd.DataFrame({DURATION: f[DURATION].to_numpy(), "cause": cause.to_numpy(),
                        ENTRY: f[ENTRY].to_numpy() if ENTRY in f else 0.0})
    cif = competing.cumulative_incidence(cdf, causes=causes)
    last = float(f[DURATION].max())
    cif_at = competing.incidence_at(cif, [h for h in horizons if h <= last])
    notes = []
    # cause-specific models
    use_tv = tv is not None
    if use_tv:
        data = tv.data.copy()
        reason_by_id = pd.Series(cause.to_numpy(), index=f["customer_id"].to_numpy())
        data["cause"] = np.where(data[EVENT] == 1, data["customer_id"].map(reason_by_id), None)
    else:
        data = design.data.copy()
        by_id = pd.Series(cause.to_numpy(), index=f.index)
        if "customer_id" in data and "customer_id" in f:
            by_id = pd.Series(cause.to_numpy(), index=f["customer_id"].to_numpy())
            data["cause"] = data["customer_id"].map(by_id)
        else:
            data["cause"] = by_id.reindex(range(len(data))).to_numpy()
    if "tier_entry" in f:
        tier_by_id = pd.Series((f["tier_entry"] >= 4).astype(float).to_numpy(),
                               index=f["customer_id"].to_numpy())
        data["high_value"] = data["customer_id"].map(tier_by_id)
    terms = tv.terms if use_tv else design.terms
    drivers = _driver_columns(study, terms, tv.effects if use_tv else effects, data, use_tv)
    drivers = {c: w for c, w in drivers.items() if c in data and data[c].nunique() > 1}
    cs = attempt(_cause_table, data, drivers, causes, min_events, notes)
    return Reasons(counts=counts, cif=cif, cif_at=cif_at, cause_hr=cs, drivers=drivers,
                   notes=notes)


def _cause_table(data, drivers, causes, min_events, notes):
    if not drivers:
        raise InsufficientDataError("no covariate to relate to the reasons")
    table, n = competing.cause_specific_cox(data, list(drivers), causes=causes,
                                            min_events=min_events)
    for text in n:
        for col, words in drivers.items():
            text = text.replace(f": {col} left out", f": {words} left out")
        notes.append(text)
    if table.empty:
        raise InsufficientDataError("too few departures per reason for cause-specific models")
    table.insert(2, "driver", table["column"].map(drivers))
    return table


# ------------------------------------------------------------------------------------------------
# truth (synthetic data)
# ------------------------------------------------------------------------------------------------


def _truth_map(truth: dict, design_terms: Sequence[Term], model: str) -> dict:
    """key -> (true HR, comparable words) for the effects the generator defines."""
    lh = truth.get("log_hr", {})
    out = {}
    names = {t.name: t for t in design_terms}
    np_on = bool(truth.get("non_proportional", {}).get("segment_loan_time_interaction"))
    if "engagement" in names and names["engagement"].kind == "numeric":
        out["engagement"] = (np.exp(lh["engagement"]),
                             "yes" if model == "time-varying" else
                             "no: at entry it also carries engagement's effect through products "
                             "adopted and outflows after entry")
    if "age_entry" in names and names["age_entry"].kind == "numeric":
        out["age_entry"] = (np.exp(lh["age_per_10y"]), "yes")
        if "entry" in names and names["entry"].kind == "numeric":
            # age at entry = age at opening + tenure/12: the generator's age effect implies
            # -log_hr(age per 10y)/10 per year of tenure at entry
            out["tenure_entry"] = (np.exp(-lh["age_per_10y"] / 10.0),
                            "yes (implied by the age effect: age at entry = age at opening + "
                            "tenure)")
    if "segment" in names:
        out["segment=loan"] = (np.exp(lh["segment_loan"]),
                               "no: made non-proportional by the generator" if np_on else "yes")
    if "n_products_entry" in names:
        out["n_products_entry"] = (np.exp(lh["n_products"]),
                                   "no: products change after entry (count at entry only)")
    if model == "time-varying":
        out["n_products"] = (np.exp(lh["n_products"]), "yes")
        out["outflow_3m"] = (np.exp(lh["outflow_3m"]),
                             "yes (outflows before the window are not seen: slight attenuation)")
    bhr = truth.get("branch_hr") or {}
    if "branch" in names and bhr:
        ref = names["branch"].reference
        for lv in names["branch"].levels:
            if lv in bhr and ref in bhr:
                out[f"branch={lv}"] = (bhr[lv] / bhr[ref], "yes")
    if "tier_group" in names:
        for lv in names["tier_group"].levels:
            out[f"tier_group={lv}"] = (1.0, "no: no direct effect in the generator, but the "
                                            "tier at entry also reflects outflows just before")
    return out


def truth_comparison(effects: pd.DataFrame, truth: dict | None, terms: Sequence[Term],
                     model: str = "static") -> pd.DataFrame:
    """Estimates next to the generator's true hazard ratios (synthetic data only).

    ``comparable`` says whether the estimate targets the true value in this model; ``covered``
    whether the 95% CI contains it.
    """
    if not truth or truth.get("generator") != "analysis.data.synthetic":
        raise InsufficientDataError("these data have no known truth (not synthetic)")
    tm = _truth_map(truth, terms, model)
    rows = []
    for _, r in effects.iterrows():
        if r["key"] not in tm:
            continue
        true, comp = tm[r["key"]]
        rows.append(dict(key=r["key"], label=r["label"], hr=r["hr"], ci_low=r["ci_low"],
                         ci_high=r["ci_high"], true_hr=true,
                         covered=bool(r["ci_low"] <= true <= r["ci_high"]), comparable=comp))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------------


@dataclass
class Drivers:
    """All tables of the drivers report (each an :class:`~analysis.study.Attempt`)."""

    study: Study
    horizons: list
    transform: str
    design: Attempt
    linearity: Attempt
    model: Attempt
    effects: Attempt
    ph: Attempt
    remedy: Attempt
    aft: Attempt
    held_out: Attempt
    time_varying: Attempt
    reasons: Attempt
    truth_static: Attempt
    truth_tv: Attempt
    seconds: dict = field(default_factory=dict)


def _final_design(study: Study, spline_alpha: float) -> tuple[Design, pd.DataFrame, Design]:
    lin = build_design(study)
    checks = spline_checks(lin, study, alpha=spline_alpha)
    use = checks.loc[checks["use_spline"], "term"].tolist()
    return (build_design(study, splines=use) if use else lin), checks, lin


def attrition_drivers(study: Study, *, horizons=(12, 24, 36), test_size: float = 0.3,
                      seed: int = 1, transform: str = "km", alpha: float = 0.05) -> Drivers:
    """Compute every table of the drivers report.

    Parameters
    ----------
    study : Study
        From :func:`analysis.study.prepare_study`.
    horizons : sequence of int
        Months: accuracy is measured at these horizons after entry; cumulative incidence by
        reason is read at these tenures.
    test_size, seed : float, int
        Held-out share and seed of the split.
    transform : str
        Time transform of the proportional-hazards test (R's default ``"km"``).
    alpha : float
        Significance level (Bonferroni-adjusted over covariates for the linearity and PH checks).
    """
    import time

    clock = {}
    t0 = time.perf_counter()
    horizons = [int(h) for h in horizons]
    designs = attempt(_final_design, study, alpha)
    design = Attempt(value=designs.value[0]) if designs.ok else Attempt(note=designs.note)
    linearity = Attempt(value=designs.value[1]) if designs.ok else Attempt(note=designs.note)
    clock["design"] = time.perf_counter() - t0
    none = Attempt(note=design.note)
    if not design.ok:
        return Drivers(study, horizons, transform, design, linearity, none, none, none, none, none,
                       none, none, none, none, none, clock)
    d = design.value
    t0 = time.perf_counter()
    model = attempt(fit_cox, d.data, d.columns)
    ph = attempt(lambda: ph_check(model.value, d.data, d.terms, transform=transform,
                                  alpha=alpha)) if model.ok else Attempt(note=model.note)
    effects = (attempt(effects_table, model.value.params_, model.value.variance_matrix_, d.terms,
                       ph.value[0] if ph.ok else None) if model.ok else Attempt(note=model.note))
    remedy = (attempt(ph_remedy, d, model.value, ph.value[0], effects.value, transform=transform)
              if ph.ok and effects.ok else Attempt(note=ph.note or effects.note))
    clock["cox+ph"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    aft = attempt(aft_models, d)
    clock["aft"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    held = attempt(held_out_accuracy, d, horizons, test_size=test_size, seed=seed)
    clock["accuracy"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tv = attempt(time_varying_model, study, designs.value[2])  # linear terms, as the generator
    clock["time-varying"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    reasons = attempt(departure_reasons, study, designs.value[2],
                      effects=effects.value if effects.ok else None,
                      tv=tv.value if tv.ok else None, horizons=horizons)
    clock["reasons"] = time.perf_counter() - t0
    truth = study.portfolio.truth
    truth_static = (attempt(truth_comparison, effects.value, truth, d.terms, "static")
                    if effects.ok else Attempt(note=effects.note))
    truth_tv = (attempt(truth_comparison, tv.value.effects, truth, tv.value.terms, "time-varying")
                if tv.ok else Attempt(note=tv.note))
    return Drivers(study=study, horizons=horizons, transform=transform, design=design,
                   linearity=linearity, model=model, effects=effects, ph=ph, remedy=remedy,
                   aft=aft, held_out=held, time_varying=tv, reasons=reasons,
                   truth_static=truth_static, truth_tv=truth_tv, seconds=clock)


def schoenfeld_panels(dr: "Drivers", max_panels: int = 10) -> list[tuple[str, str, float]]:
    """Columns to draw scaled Schoenfeld residuals for: (column, title, coefficient).

    Terms that fail the test first, then the terms with the smallest p-values; one panel per
    column (a categorical covariate has one per level), at most ``max_panels``.
    """
    if not dr.ph.ok or not dr.model.ok:
        return []
    tab, zph = dr.ph.value
    tab = tab.drop(index="GLOBAL").sort_values("p")
    effects = dr.effects.value if dr.effects.ok else None
    labels = dict(zip(effects["key"], effects["label"])) if effects is not None else {}
    out = []
    for name in tab.index:
        t = dr.design.value.term(name)
        for c in t.columns[:1]:  # one panel per covariate (a categorical one: its first level)
            title = labels.get(c, f"{t.words}" + (" (linear part)" if t.kind == "spline" else ""))
            title = f"{title}\nPH test p = {tab.loc[name, 'p']:.3g}"
            out.append((c, title, float(zph.beta[c])))
            if len(out) >= max_panels:
                return out
    return out


# ------------------------------------------------------------------------------------------------
# words and numbers
# ------------------------------------------------------------------------------------------------


def _ci(r, col="hr") -> str:
    return f"{r[col]:.2f} (95% CI {r['ci_low']:.2f} to {r['ci_high']:.2f})"


def _change(hr: float) -> str:
    if hr >= 1:
        return f"{hr - 1:.0%} higher"
    return f"{1 - hr:.0%} lower"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def key_findings(dr: Drivers) -> str:
    """The report's key findings in plain words (Markdown), computed from the tables."""
    s = dr.study
    f = s.frame
    lines = []
    if not dr.design.ok:
        return f"- {dr.design.note}"
    period = f" {s.period_words}" if s.has_panel else ""
    lines.append(
        f"**{len(f):,} customers** of {s.scope}{period}, **{int(f[EVENT].sum()):,} left** "
        f"({s.attrition_words}). The model relates leaving to "
        f"{len(dr.design.value.terms)} characteristics at entry, each adjusted for the others."
    )
    if dr.effects.ok:
        eff = dr.effects.value
        sig = eff[eff["p"] < 0.05].copy()
        sig["strength"] = np.abs(np.log(sig["hr"]))
        top = sig[~sig["term"].isin(["branch"])].sort_values("chisq", ascending=False)
        top = top.drop_duplicates("term").head(3)
        if len(top):
            parts = [f"{r['label']}: risk {_change(r['hr'])} (HR {_ci(r)})"
                     for _, r in top.iterrows()]
            lines.append("Strongest drivers, holding the others fixed: " + "; ".join(parts) + ".")
        else:
            lines.append("No characteristic at entry is clearly related to leaving (all p >= 0.05).")
        hv = eff[eff["key"].str.startswith("tier_group=")]
        if len(hv):
            r = hv.iloc[-1]
            verdict = ("leave at a clearly different rate" if r["p"] < 0.05 else
                       "do not leave at a clearly different rate")
            lines.append(
                f"High-value customers ({r['label'].split(': ')[1]}) {verdict} after adjustment: "
                f"HR {_ci(r)}, {_p(r['p'])}."
            )
    else:
        lines.append(dr.effects.note)
    if dr.time_varying.ok:
        tv = dr.time_varying.value.effects
        out = tv[tv["key"] == "outflow_3m"]
        if len(out):
            r = out.iloc[0]
            lines.append(
                f"**Early warning:** a large fund outflow in the last 3 months multiplies the risk "
                f"of leaving by **{r['hr']:.1f}** (95% CI {r['ci_low']:.1f} to {r['ci_high']:.1f})."
            )
        prod = tv[tv["key"] == "n_products"]
        if len(prod):
            r = prod.iloc[0]
            lines.append(f"Each product held (counted month by month): risk {_change(r['hr'])} "
                         f"(HR {_ci(r)}); adjusted, but not a causal estimate.")
    if dr.ph.ok:
        tab = dr.ph.value[0]
        fl = tab[tab["flagged"]]
        if len(fl):
            what = ", ".join(f"{r['covariate']} ({_p(r['p'])})" for _, r in fl.iterrows())
            line = (f"The proportional-hazards check finds effects that change with tenure: {what}.")
            if dr.remedy.ok and dr.remedy.value is not None:
                rem = dr.remedy.value
                words = {t.name: t.words for t in dr.design.value.terms}
                done = []
                if rem.strata:
                    done.append("stratified on " + ", ".join(words[n] for n in rem.strata))
                if rem.banded:
                    done.append("separate hazard ratios by tenure band for "
                                + ", ".join(words[n] for n in rem.banded))
                still = rem.ph_after[rem.ph_after["flagged"]]
                after = ("after which no covariate fails" if still.empty else
                         f"{', '.join(still['covariate'])} still fail(s)")
                line += f" Remedied step by step ({'; '.join(done)}), {after}."
            lines.append(line)
        else:
            lines.append("The proportional-hazards check finds no covariate whose effect changes "
                         f"with tenure (global {_p(tab.loc['GLOBAL', 'p'])}).")
    if dr.held_out.ok:
        a = dr.held_out.value.accuracy
        t = a.table
        first = t.iloc[0]
        ici = [c.value.ici for c in dr.held_out.value.calibration.values() if c.ok]
        cal = (f"; predicted and observed risks differ by {np.mean(ici):.1%} on average (ICI)"
               if ici else "")
        lines.append(
            f"On {a.n_test:,} customers held out of the fit, the model ranks who leaves first "
            f"correctly for {a.c_harrell:.0%} of comparable pairs (Harrell's C; Uno's "
            f"{a.c_uno:.2f}); AUC {first['auc']:.2f} for leaving within {first['horizon']:g} "
            f"months, Brier score {first['brier']:.3f} vs {first['brier_null']:.3f} without "
            f"covariates{cal}."
        )
    else:
        lines.append(f"Accuracy: {dr.held_out.note}")
    if dr.reasons.ok:
        r = dr.reasons.value
        top = r.counts.iloc[0]
        lines.append(f"Most frequent reason for leaving: **{top['reason']}** "
                     f"({top['share']:.0%} of {int(r.counts['departures'].sum()):,} departures).")
        if r.cause_hr.ok:
            t = r.cause_hr.value
            for col in ("high_value", "outflow_3m"):
                sub = t[t["column"] == col]
                if len(sub) >= 2:
                    hi = sub.loc[sub["hr"].idxmax()]
                    lines.append(
                        f"{hi['driver'].capitalize()}: raises leaving for **{hi['cause']}** the "
                        f"most (cause-specific HR {_ci(hi)})."
                    )
    elif s.has_panel:
        lines.append(dr.reasons.note)
    if dr.aft.ok:
        a = dr.aft.value
        lines.append(f"Parametric check: the {a.best} time-to-leaving model fits best by AIC "
                     f"(AIC difference to the next {a.comparison['delta_aic'].iloc[1]:.0f}).")
    lines.append("Hazard ratios describe association, adjusted for the other covariates; they are "
                 "not the effect of changing a characteristic.")
    return "\n".join(f"- {line}" for line in lines)


def _effect_dict(eff: pd.DataFrame, ratio: str = "hr") -> dict:
    return {r["key"]: {"label": r["label"], ratio: r[ratio], "ci_low": r["ci_low"],
                       "ci_high": r["ci_high"], "p": r["p"],
                       **({"ph_test_p": r["ph_test_p"]} if ratio == "hr" else {})}
            for _, r in eff.iterrows()}


def headline(dr: Drivers) -> dict:
    """Machine-readable headline numbers (the JSON next to the HTML), under ``drivers``."""
    s = dr.study
    f = s.frame
    out: dict = {
        "scope": s.params.get("branch") or "bank",
        "attrition": s.params.get("attrition"),
        "as_of": s.params.get("as_of"),
        "n": int(len(f)),
        "events": int(f[EVENT].sum()),
        "ph_transform": dr.transform,
    }
    if dr.design.ok:
        out["model_terms"] = {t.name: t.coding for t in dr.design.value.terms}
    if dr.effects.ok:
        out["covariates"] = _effect_dict(dr.effects.value)
    if dr.ph.ok:
        out["ph_global_p"] = float(dr.ph.value[0].loc["GLOBAL", "p"])
        out["ph_flagged"] = dr.ph.value[0].index[dr.ph.value[0]["flagged"]].tolist()
    if dr.remedy.ok and dr.remedy.value is not None:
        out["ph_remedy"] = dr.remedy.value.actions
    if dr.held_out.ok:
        h = dr.held_out.value
        a = h.accuracy
        out["c_index_harrell"] = a.c_harrell
        out["c_index_uno"] = a.c_uno
        out["horizons_measured"] = a.horizons
        out["auc"] = {f"{r['horizon']:g}": r["auc"] for _, r in a.table.iterrows()}
        out["brier"] = {f"{r['horizon']:g}": r["brier"] for _, r in a.table.iterrows()}
        out["brier_null"] = {f"{r['horizon']:g}": r["brier_null"] for _, r in a.table.iterrows()}
        out["calibration_ici"] = {f"{k:g}": (c.value.ici if c.ok else None)
                                  for k, c in h.calibration.items()}
    if dr.aft.ok:
        a = dr.aft.value
        out["aft"] = {"distribution": a.best, "aic": float(a.comparison["aic"].iloc[0]),
                      "aic_all": dict(zip(a.comparison["distribution"], a.comparison["aic"])),
                      "time_ratios": _effect_dict(a.time_ratios, "tr")}
    if dr.time_varying.ok:
        out["time_varying"] = _effect_dict(dr.time_varying.value.effects)
    if dr.reasons.ok:
        r = dr.reasons.value
        out["reasons"] = {row["reason"]: {"departures": int(row["departures"]),
                                          "share": row["share"]}
                          for _, row in r.counts.iterrows()}
        out["cumulative_incidence"] = {
            cause: {f"{t:g}": v for t, v in zip(sub["time"], sub["cif"])}
            for cause, sub in r.cif_at.groupby("cause", sort=False)}
        if r.cause_hr.ok:
            out["cause_specific_hr"] = {
                cause: {row["column"]: {"hr": row["hr"], "ci_low": row["ci_low"],
                                        "ci_high": row["ci_high"], "p": row["p"]}
                        for _, row in sub.iterrows()}
                for cause, sub in r.cause_hr.value.groupby("cause", sort=False)}
    truth = s.portfolio.truth
    if truth and truth.get("generator") == "analysis.data.synthetic":
        t: dict = {}
        for name, att in (("static", dr.truth_static), ("time_varying", dr.truth_tv)):
            if att.ok:
                t[name] = {r["key"]: {"true_hr": r["true_hr"], "comparable": r["comparable"],
                                      "covered": r["covered"]}
                           for _, r in att.value.iterrows()}
        t["log_hr"] = truth.get("log_hr")
        if truth.get("reasons"):
            t["reasons_cause_specific_hr"] = truth["reasons"].get("cause_specific_hr")
        t["segment_loan_time_interaction"] = (truth.get("non_proportional") or {}).get(
            "segment_loan_time_interaction", 0.0)
        out["truth"] = t
    return {"drivers": out}
