"""What drives attrition (report 03): a multivariable model, checked, with its accuracy and the
reasons people leave.

:func:`attrition_drivers` computes every table of the report from a :class:`~analysis.studies.population.Study`;
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
    default; :mod:`analysis.stats.cox.zph`); a term that fails is stratified on (categorical) or given
    tenure-band-specific effects (numeric), and the check is repeated.
Alternatives
    Weibull, log-normal and log-logistic accelerated failure time models (own maximum
    likelihood, delayed entry) compared by AIC; time ratios.
Accuracy
    On a seeded held-out split (:mod:`analysis.stats.metrics`), on time since entry.
Time-varying check
    With monthly histories: products held *now* and a large outflow in the last 3 months as
    time-varying covariates (counting process), the quantities the synthetic truth is about.
Reasons
    Aalen-Johansen cumulative incidence by departure reason and cause-specific hazard ratios
    (:mod:`analysis.stats.competing`) when the data record reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence
import numpy as np
import pandas as pd
from scipy import stats

from analysis.config import ALPHA
from analysis.stats import metrics
from analysis.stats.aft import fit_aft
from analysis.errors import Attempt, attempt
from analysis.i18n import tr
from analysis.studies.population import Study
from analysis.errors import InsufficientDataError
from analysis.studies.drivers.design import (
    DURATION,
    Design,
    ENTRY,
    EVENT,
    Term,
    _spline_basis,
    build_design,
)
from analysis.stats.cox.fit import fit_cox
from analysis.studies.drivers.model import effects_table
from analysis.studies.drivers.ph import ph_check, ph_remedy
from analysis.studies.drivers.reasons import departure_reasons
from analysis.studies.drivers.truth import truth_comparison

__all__ = [
    "effects_table",
    "spline_checks",
    "partial_effect",
    "aft_models",
    "held_out_accuracy",
    "time_varying_model",
    "outflow_warning",
    "Drivers",
    "attrition_drivers",
]


def spline_checks(design_linear: Design, study: Study, *, alpha: float = 0.05,
                  min_distinct: int = 20) -> pd.DataFrame:
    """Likelihood-ratio test of linearity for each continuous covariate.

    Each covariate with at least ``min_distinct`` values is replaced in turn by a natural cubic
    spline (4 knots, 2 extra df); LR test against the linear model; ``use_spline`` where
    p < alpha / (number tested) (Bonferroni).
    """
    base = fit_cox(design_linear.data, design_linear.columns)
    ll0 = base.log_likelihood
    cands = [t for t in design_linear.terms if t.kind == "numeric"
             and design_linear.data[t.columns[0]].nunique() >= min_distinct]
    rows = []
    for t in cands:
        d = build_design(study, splines=[t.name])
        if d.term(t.name).kind != "spline" or [x.name for x in d.terms] != [
                x.name for x in design_linear.terms]:
            continue
        fit = fit_cox(d.data, d.columns)
        lr = 2 * (fit.log_likelihood - ll0)
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
    z = stats.norm.ppf(1 - ALPHA / 2)
    return pd.DataFrame({"x": x, "hr": np.exp(est), "ci_low": np.exp(est - z * se),
                         "ci_high": np.exp(est + z * se)})


@dataclass
class AFT:
    """Accelerated failure time models compared by AIC; time ratios of the best."""

    comparison: pd.DataFrame
    best: str
    time_ratios: pd.DataFrame
    model: object


def aft_models(design: Design) -> AFT:
    """Weibull / log-normal / log-logistic AFT (:func:`analysis.stats.aft.fit_aft`, delayed
    entry) on the model's design.

    ``comparison``: distribution, log-likelihood, parameters, AIC (lower is better), note,
    delta AIC. ``time_ratios``: per effect of the best model, exp(coefficient) of the log-time
    location with 95% CI: above 1 = customers stay longer (time to leaving stretched), below
    1 = leave sooner.
    """
    fit = fit_aft(design.data, design.columns, duration=DURATION, event=EVENT, entry=ENTRY)
    tr = effects_table(fit.params, fit.variance, design.terms, ratio="tr")
    return AFT(comparison=fit.comparison, best=fit.best, time_ratios=tr, model=fit.model)


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
    time since entry (see :mod:`analysis.stats.metrics`).
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
        raise InsufficientDataError(tr(
            "too few departures to split into training ({train}) and held-out ({test}) customers",
            train=int(train[EVENT].sum()), test=int(test[EVENT].sum())))
    cols = design.columns
    cph = fit_cox(train, cols)
    beta = cph.params[cols].to_numpy()
    H0 = cph.baseline_cumhaz  # Efron increments, delayed entry (analysis.stats.cox.engine)
    fu_train = (train[DURATION] - train[ENTRY]).to_numpy()
    fu_test = (test[DURATION] - test[ENTRY]).to_numpy()
    hs, notes = metrics.clip_horizons(horizons, fu_test, fu_train)
    notes = [_metrics_note(text) for text in notes]
    notes.append(tr(
        "scikit-survival's metrics take no entry times: they are measured on time since entry "
        "into observation (no truncation on that scale), with predictions conditional on being "
        "on the book at entry; censoring weights from the training customers' Kaplan-Meier of "
        "censoring"))
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


#: Notes of :func:`analysis.stats.metrics.clip_horizons` (English, made in the stats layer) as
#: report messages: pattern -> (message, placeholder names).
_METRICS_NOTES = (
    (r"horizon (\S+) months is at or beyond the longest follow-up \((\S+)\); measured at (\S+) "
     r"months instead", "horizon {h} months is at or beyond the longest follow-up ({limit}); "
     "measured at {new} months instead", ("h", "limit", "new")),
    (r"horizon (\S+) is shorter than any follow-up; left out",
     "horizon {h} is shorter than any follow-up; left out", ("h",)),
)


def _metrics_note(text: str) -> str:
    """A note of the accuracy metrics in the report's language (unknown notes unchanged)."""
    for pattern, msgid, names in _METRICS_NOTES:
        m = re.fullmatch(pattern, text)
        if m:
            return tr(msgid, **dict(zip(names, m.groups())))
    return tr(text)


@dataclass
class TimeVarying:
    effects: pd.DataFrame
    data: pd.DataFrame
    columns: list
    terms: list
    model: object


def tv_terms() -> dict:
    """The time-varying terms, their words in the report's language."""
    return {
        "n_products": Term(name="n_products", words=tr("products held now"), kind="numeric",
                           columns=["n_products"], unit=tr("per product")),
        "outflow_3m": Term(name="outflow_3m", words=tr("large outflow in the last 3 months"),
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
        raise InsufficientDataError(tr(
            "the data hold one row per customer (no monthly history): products held over time "
            "and recent outflows cannot be modelled"))
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
    tv = tv_terms()
    terms = [tv["n_products"], tv["outflow_3m"], *static]
    cols = [c for t in terms for c in t.columns]
    if d.loc[d[EVENT] == 1, "outflow_3m"].nunique() < 2 and d["outflow_3m"].sum() == 0:
        terms = [t for t in terms if t.name != "outflow_3m"]
        cols.remove("outflow_3m")
    cph = fit_cox(d, cols)
    eff = effects_table(cph.params, cph.variance, terms)
    return TimeVarying(effects=eff, data=d, columns=cols, terms=terms, model=cph)


def outflow_warning(study: Study) -> pd.Series:
    """The early-warning effect of a recent large outflow: the ``outflow_3m`` row of the drivers
    report's time-varying model (linear terms, as in that report), so that every report quotes
    the same number.

    Raises
    ------
    InsufficientDataError
        Without monthly histories, or when no customer-month has an outflow.
    """
    tv = time_varying_model(study, build_design(study))
    row = tv.effects[tv.effects["key"] == "outflow_3m"]
    if row.empty:
        raise InsufficientDataError(tr("no customer had a large outflow in these data"))
    return row.iloc[0]


@dataclass
class Drivers:
    """All tables of the drivers report (each an :class:`~analysis.errors.Attempt`)."""

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
    #: the outflow warning for a given customer under gamma frailties (:mod:`.frailty`)
    frailty: Attempt = field(default_factory=lambda: Attempt(note=tr("not run")))
    truth_frailty: Attempt = field(default_factory=lambda: Attempt(note=tr("not run")))
    #: the time-varying effects from counts, on every customer of a large book (:mod:`.counts`)
    from_counts: Attempt = field(default_factory=lambda: Attempt(note=tr("not run")))


def _final_design(study: Study, spline_alpha: float) -> tuple[Design, pd.DataFrame, Design]:
    lin = build_design(study)
    checks = spline_checks(lin, study, alpha=spline_alpha)
    use = checks.loc[checks["use_spline"], "term"].tolist()
    return (build_design(study, splines=use) if use else lin), checks, lin


def attrition_drivers(study: Study, *, horizons=(12, 24, 36), test_size: float = 0.3,
                      seed: int = 1, transform: str = "km", alpha: float = 0.05,
                      frailty: bool = True) -> Drivers:
    """Compute every table of the drivers report.

    Parameters
    ----------
    study : Study
        From :func:`analysis.studies.population.prepare_study`.
    horizons : sequence of int
        Months: accuracy is measured at these horizons after entry; cumulative incidence by
        reason is read at these tenures.
    test_size, seed : float, int
        Held-out share and seed of the split.
    transform : str
        Time transform of the proportional-hazards test (R's default ``"km"``).
    alpha : float
        Significance level (Bonferroni-adjusted over covariates for the linearity and PH checks).
    frailty : bool
        Refit the time-varying model with gamma frailties (the outflow warning for a given
        customer, :func:`~analysis.studies.drivers.frailty.outflow_given_customer`).
    """
    import time

    from analysis.studies.drivers.counts import effects_from_counts
    from analysis.studies.drivers.frailty import outflow_given_customer
    from analysis.studies.drivers.truth import frailty_truth

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
    effects = (attempt(effects_table, model.value.params, model.value.variance, d.terms,
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
    counted = (attempt(effects_from_counts, study, tv.value, alpha=alpha) if tv.ok
               else Attempt(note=tv.note))
    clock["from counts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if not frailty:
        ofr = Attempt(note=tr("shown in the bank-wide report"))
    else:
        ofr = attempt(outflow_given_customer, tv.value) if tv.ok else Attempt(note=tv.note)
    clock["frailty"] = time.perf_counter() - t0
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
    truth_fr = (attempt(frailty_truth, ofr.value, truth) if ofr.ok
                else Attempt(note=ofr.note))
    return Drivers(study=study, horizons=horizons, transform=transform, design=design,
                   linearity=linearity, model=model, effects=effects, ph=ph, remedy=remedy,
                   aft=aft, held_out=held, time_varying=tv, reasons=reasons,
                   truth_static=truth_static, truth_tv=truth_tv, seconds=clock, frailty=ofr,
                   truth_frailty=truth_fr, from_counts=counted)
