"""Design of the drivers model: terms, coding, sparse levels, splines, redundancy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence
import re

import numpy as np
import pandas as pd

from analysis.i18n import language, tr, tr_value
from analysis.stats.splines import restricted_cubic_basis
from analysis.studies.population import Study
from analysis.errors import InsufficientDataError

__all__ = [
    "Term",
    "Design",
    "build_design",
    "level_words",
]


ENTRY, DURATION, EVENT = "entry", "duration", "event"


#: Natural units of the covariates the study knows: column -> (divide by, unit words in English;
#: shown through :func:`analysis.i18n.tr`).
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
    standardised: bool = False

    @property
    def coding(self) -> str:
        """How the term is coded, in the report's language."""
        if self.kind == "categorical":
            return tr("dummies, reference level '{reference}'",
                      reference=level_words(self.reference))
        if self.kind == "spline":
            return tr("natural cubic spline, knots at {knots}; effect shown for {hi} vs {lo} "
                      "(75th vs 25th percentile)",
                      knots=", ".join(f"{k:.3g}" for k in self.knots),
                      hi=f"{self.quartiles[1]:.3g}", lo=f"{self.quartiles[0]:.3g}")
        if self.standardised:
            return tr("linear, {unit} (standardised)", unit=self.unit)
        return tr("linear, {unit}", unit=self.unit)


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
            [(t.words, tr(t.kind), t.coding) for t in self.terms],
            columns=["covariate", "type", "coding"])


def level_words(level) -> str:
    """A level of a categorical covariate as shown: a known label in the report's language
    (:func:`analysis.i18n.tr_value`), merged tiers (``"Tier 4-5"``) and pooled levels
    (``"a / b"``, ``"other levels"``) word by word; English unchanged.

    >>> from analysis.i18n import set_language
    >>> _ = set_language("zh"); level_words("Tier 4-5"), level_words("loan"); _ = set_language("en")
    ('四星级至五星级', '贷款倚重型')
    """
    text = str(level)
    if language() == "en":
        return text
    m = re.fullmatch(r"Tier (\d+)-(\d+)", text)
    if m:
        return tr("{start} to {end}", start=tr_value(f"Tier {m[1]}"), end=tr_value(f"Tier {m[2]}"))
    if " / " in text:
        return " / ".join(level_words(part) for part in text.split(" / "))
    if text == "other levels":
        return tr("other levels")
    return str(tr_value(text))


#: The spline columns of a ``"spline"`` term (:func:`analysis.stats.splines.restricted_cubic_basis`,
#: on the covariate divided by its scale); the name is kept for the model and effect curves.
_spline_basis = restricted_cubic_basis


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
            notes.append(tr("levels '{a}' and '{b}' merged into '{merged}' (fewer than {n} "
                            "departures in one of them)", a=level_words(a), b=level_words(b),
                            merged=level_words(merged), n=min_events))
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
            notes.append(tr("levels {levels} pooled into '{name}' (fewer than {n} departures "
                            "each)", levels=", ".join(f"'{level_words(x)}'" for x in pool),
                            name=level_words(name), n=min_events))
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
        raise InsufficientDataError(tr(
            "only {n} customers left in these data: too few for a multivariable model "
            "(at least 10 needed)", n=n_events))
    notes: list[str] = []
    dropped: list[str] = []
    cats = [c for c in study.groupings if c not in exclude and c in f]
    nums = [c for c in study.numeric if c not in exclude and c in f]
    for col, over in REDUNDANT.items():
        if col in nums and over in cats and f[over].nunique() > 1:
            nums.remove(col)
            notes.append(tr("{covariate} is left out: {other} already carries it (tiers are "
                            "AUM bands)", covariate=study.numeric[col],
                            other=study.groupings[over]))
    # missing values
    for col in list(cats) + list(nums):
        miss = f[col].isna().mean()
        if miss > 0.2:
            (cats if col in cats else nums).remove(col)
            notes.append(tr("{covariate} is left out: {share} of values missing",
                            covariate=col, share=f"{miss:.0%}"))
    use = cats + nums
    complete = f[use].notna().all(axis=1) if use else pd.Series(True, index=f.index)
    if (~complete).any():
        notes.append(tr("{n} customers with missing covariate values are left out of the model",
                        n=f"{int((~complete).sum()):,}"))
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
            only = level_words(levels[0]) if levels else tr("none")
            notes.append(tr("{covariate} is left out: only one level ('{level}') in these data "
                            "after pooling levels with few departures", covariate=words, level=only)
                         if merge_notes else
                         tr("{covariate} is left out: only one level ('{level}') in these data",
                            covariate=words, level=only))
            dropped.append(col)
            continue
        notes.extend(tr("{covariate}: {note}", covariate=words, note=m) for m in merge_notes)
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
            notes.append(tr("{covariate} is left out: the same value for every customer",
                            covariate=words))
            dropped.append(col)
            continue
        if col in UNITS:
            scale, unit = UNITS[col]
            unit = tr(unit)
        else:
            scale = float(x.std())
            unit = tr("per SD ({sd})", sd=f"{scale:.3g}")
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
                                  span=span, standardised=col not in UNITS))
                continue
        data[cname] = x.to_numpy() / scale
        terms.append(Term(name=col, words=words, kind="numeric", columns=[cname], scale=scale,
                          unit=unit, quartiles=q, median=med, span=span,
                          standardised=col not in UNITS))
    if not terms:
        raise InsufficientDataError(tr("no covariate varies in these data: nothing to model"))
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
        notes.append(tr("{covariate} is left out: almost collinear with the other covariates "
                        "(variance inflation factor {vif})", covariate=worst.words,
                        vif=f"{vif[worst.columns[0]]:.0f}"))
        dropped.append(worst.name)
    p = sum(len(t.columns) for t in terms)
    if n_events < 10 * p:
        notes.append(tr("{n} departures for {p} coefficients (fewer than 10 per coefficient): "
                        "estimates are imprecise", n=n_events, p=p))
    return Design(data=data, terms=terms, notes=notes, dropped=dropped)
