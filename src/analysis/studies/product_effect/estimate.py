"""The product-count retention effect, estimated several ways, side by side.

Does holding more products keep customers, by how much, how sure are we? A naive comparison is
biased three ways, and each method below answers one or more of them:

- **confounding**: engaged customers buy more products *and* stay longer. Adjusted models
  include the measured engagement score (when the data has it), value tier, segment, age, tenure
  at entry and assets at entry (the loan balance is left out: it duplicates the segment); IPW
  balances them between 2+ and 1 product.
- **immortal time**: classifying customers by products they only acquired later credits the
  survival needed to acquire them to the products. Products are therefore taken *at entry*
  (static models, IPW), *at a landmark* (landmark analysis) or *as they change* (time-varying
  Cox, with a ``lag`` so that products closed on the way out do not count).
- **left truncation**: most of the book was on it before the observation window; those
  customers survived to be seen. Every model uses delayed entry at the tenure when the customer
  was first observed.

The report **leads with** the estimates of an intervention (:mod:`.causal`): the marginal
structural Cox model (hazard ratio per product had everyone held one more product from study
entry) and the parametric g-formula (months retained and 12-month retention had everyone held
exactly k products, or one more than they did). They remain valid when products raise assets
and tier and tier drives product offers (time-varying confounding affected by earlier
products), where the time-varying Cox model below is only the hazard ratio *conditional on
current holdings and covariates*, not the total effect of a product.

:func:`estimate_product_effect` runs everything and never raises on thin data: a step with too
little data (no departures in a level, a single group...) is recorded in ``notes`` as
"Not estimable: reason" and its numbers are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence
import numpy as np
import pandas as pd
from scipy import stats

from analysis.frames import exposure_cells
from analysis.stats.cox.cells import fit_piecewise_exponential
from analysis.stats.cox.episodes import split_intervals
from analysis.stats.cox.fit import fit_cox, fit_cox_time_varying
from analysis.stats.cox.result import CoxResult
from analysis.stats.cox.zph import zph_for
from analysis.stats.hypothesis import wald_test
from analysis.stats.evalue import evalue_hr
from analysis.stats.ipw import IPWResult, iptw_cox
from analysis.stats.landmark import landmark_cox
from analysis.stats.logit import full_rank_columns
from analysis.errors import NOT_ESTIMABLE, InsufficientDataError, Notes
from analysis.studies.product_effect.findings import _words
from analysis.studies.product_effect.frames import (
    ADJUST_LANDMARK,
    ADJUST_STATIC,
    ADJUST_TIME_VARYING,
    CELL_BAND_MONTHS,
    CELL_BINS,
    DUMMIES,
    NO_PANEL,
    PRODUCT_LEVELS,
    add_product_columns,
    prepare_product_frames,
    snapshot_product_frame,
)
from analysis.studies.product_effect.causal import NO_MONTHLY_PANEL, estimate_causal
from analysis.studies.product_effect.headline import _headline
from analysis.studies.product_effect.terms import LABELS
from analysis.studies.product_effect.truth import _causal_truth, _summary, _truth_values
from analysis.studies.whole_book import book_cells
from analysis.stats.rates import attrition_rates
from analysis.stats.km import km_table, numbers_at_risk
from analysis.stats.hypothesis import logrank
from analysis.stats.rmst import rmst_difference

__all__ = [
    "ProductEffect",
    "estimate_product_effect",
]


# Besides thin data and numerical failures (errors.attempt), a ValueError of a step means
# degenerate data here (e.g. a propensity design patsy cannot build on a tiny branch).
_EXPECTED = (ValueError,)


@dataclass
class ProductEffect:
    """Everything :func:`estimate_product_effect` computed.

    Attributes
    ----------
    summary : DataFrame
        All hazard-ratio estimates side by side: ``method, contrast, hr, ci_low, ci_high, p,
        n, events, truth, recommended, note``.
    tables : dict of DataFrame
        Per section (``attrition``, ``km``, ``logrank``, ``cox_unadjusted``, ``cox_adjusted``,
        ``cox_time_varying``, ``shape``, ``monotonicity``, ``landmark``, ``ipw_balance``,
        ``ipw_km``, ``rmst``, ``ph_test``, ``ph_bands``, ``evalue``).
    fits : dict of CoxResult
    ipw : IPWResult or None
    notes : dict of str
        Section -> plain-language note (``"Not estimable: ..."`` when a step failed).
    headline : dict
        The ``product_effect`` payload for :func:`analysis.report.headline.publish`.
    truth : dict or None
        The generator's true values that the estimates can be compared with (synthetic data).
    """

    n: int
    events: int
    settings: dict
    summary: pd.DataFrame
    tables: dict = field(default_factory=dict, repr=False)
    fits: dict = field(default_factory=dict, repr=False)
    ipw: IPWResult | None = field(default=None, repr=False)
    notes: dict = field(default_factory=dict)
    causal: dict | None = field(default=None, repr=False)
    headline: dict = field(default_factory=dict, repr=False)
    truth: dict | None = None
    conclusion: str = ""
    findings: list = field(default_factory=list)

    def findings_markdown(self) -> str:
        """Key findings in plain words, as Markdown bullet points."""
        return "\n".join(f"- {f}" for f in self.findings)

    def truth_table(self) -> pd.DataFrame | None:
        """Estimates with a known true value of *their own* estimand (synthetic data).

        Naive and at-entry rows have no truth here (they estimate associations, not an
        intervention the generator can replay); the conditional time-varying Cox is compared
        with the generator's conditional coefficient only in the default scenario, where the
        model is the generator's; MSM and g-formula with their interventional truths.
        """
        if self.truth is None:
            return None
        t = self.summary[self.summary["truth"].notna()].copy()
        if t.empty:
            return None
        t["covers_truth"] = (t["ci_low"] <= t["truth"]) & (t["truth"] <= t["ci_high"])
        t["bias_log"] = np.log(t["hr"]) - np.log(t["truth"])
        out = t[["method", "contrast", "estimand", "hr", "ci_low", "ci_high", "truth",
                 "covers_truth", "bias_log"]].rename(columns={"hr": "estimate"})
        g = self.tables.get("gformula")
        if g is not None and g["truth"].notna().any():
            g = g[g["truth"].notna()].copy()
            g["covers_truth"] = (g["ci_low"] <= g["truth"]) & (g["truth"] <= g["ci_high"])
            g["bias_log"] = np.nan
            out = pd.concat([out, g.assign(method="g-formula", contrast=g["intervention"],
                                           estimand=g["quantity"])[out.columns]],
                            ignore_index=True)
        return out.reset_index(drop=True)


def _usable(df: pd.DataFrame, covs: Sequence[str], event: str = "event") -> tuple[list, list]:
    """Covariates that vary (and, for 0/1 ones, have events on both sides); the rest dropped."""
    keep, drop = [], []
    ev = df[event].to_numpy(dtype=float)
    for c in covs:
        if c not in df.columns:
            drop.append(c)
            continue
        x = df[c].to_numpy(dtype=float)
        if np.ptp(x) == 0:
            drop.append(c)
            continue
        if set(np.unique(x)) <= {0.0, 1.0} and (ev[x == 1].sum() == 0 or ev[x == 0].sum() == 0):
            drop.append(c)
            continue
        keep.append(c)
    return keep, drop


def _strata(df: pd.DataFrame) -> list[str] | None:
    return ["branch"] if "branch" in df.columns and df["branch"].nunique() > 1 else None


def _model_table(fit: CoxResult | None) -> pd.DataFrame:
    if fit is None:
        return pd.DataFrame(columns=["term", "label", "hr", "ci_low", "ci_high", "p"])
    t = fit.summary.copy()
    t.insert(1, "label", [LABELS.get(x, x) for x in t["term"]])
    return t[["term", "label", "hr", "ci_low", "ci_high", "p", "coef", "se"]]


def _ipw_population(frame: pd.DataFrame, min_share: float) -> tuple[pd.DataFrame, list, str]:
    """Keep segments where both exposure groups hold at least ``min_share`` of customers."""
    keep, dropped = [], []
    for seg, sub in frame.groupby("segment"):
        share = min(sub["two_plus"].mean(), 1 - sub["two_plus"].mean())
        (keep if share >= min_share else dropped).append((seg, share, len(sub)))
    note = ""
    if dropped:
        note = "; ".join(
            f"{seg}-reliant customers left out: only {share:.1%} of {n} are in the smaller "
            "group (no fair comparison group: positivity)" for seg, share, n in dropped
        )
    segs = [s for s, _, _ in keep]
    return frame[frame["segment"].isin(segs)].reset_index(drop=True), segs, note


def _ps_design(df: pd.DataFrame, has_engagement: bool) -> tuple[pd.DataFrame, list[str]]:
    """Propensity-model terms: splines of engagement and tenure at entry when the data allows."""
    from patsy import dmatrix

    d = df.copy()
    d["log_entry"] = np.log1p(d["entry"])
    flexible = len(d) >= 1500
    parts = []
    if has_engagement:
        parts.append("cr(engagement, df=4, constraints='center')" if flexible else "engagement")
    spline_entry = flexible and d["log_entry"].nunique() > 8
    parts.append("cr(log_entry, df=4, constraints='center')" if spline_entry else "log_entry")
    if has_engagement:
        parts.append("engagement:log_entry")
    parts += ["age10", "log_aum", "tier_entry"]
    if d["segment"].nunique() > 1:
        parts.append("loan")
        parts.append("loan:log_entry")
    if d["branch"].nunique() > 1:
        parts.append("C(branch)")
    X = dmatrix(" + ".join(parts), d, return_type="dataframe")
    # full rank with the intercept the propensity model adds: aliased columns are dropped
    keep = full_rank_columns(X.to_numpy())
    dropped = [c for i, c in enumerate(X.columns) if i not in keep]
    X = X.iloc[:, keep].drop(columns="Intercept")
    X.columns = [f"ps_{i}" for i in range(X.shape[1])]
    X.attrs["dropped"] = dropped
    return pd.concat([d, X], axis=1), list(X.columns)


def estimate_product_effect(
    portfolio,
    *,
    attrition: str = "closure",
    k: int = 3,
    as_of=None,
    horizons: Sequence[float] = (12, 24, 36),
    lag: int = 1,
    landmarks: Sequence[float] = (6, 12, 24),
    branch: str | None = None,
    trim: tuple[float, float] | None = (1, 99),
    ipw_min_share: float = 0.05,
    n_boot: int = 20,
    mc_size: int = 2000,
    causal_seed: int = 0,
    ph_cuts: Sequence[float] = (12, 36),
    min_events: int = 10,
    alpha: float = 0.05,
    frames: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> ProductEffect:
    """Estimate the product-count retention effect (sections 1-11 of the report).

    Parameters
    ----------
    portfolio : Portfolio
        The book (already restricted to a branch if wanted; ``branch`` only labels it and
        picks the branch's true values on synthetic data).
    attrition, k, as_of, lag :
        As :func:`analysis.frames.survival_frame` / :func:`analysis.frames.counting_process`.
    horizons : list of float
        Tenures (months) for RMST differences.
    landmarks : list of float
        Tenures (months) for the landmark analysis.
    trim : (low, high) or None
        Percentiles at which IPW (and MSM) weights are trimmed in the *sensitivity* rows; the
        headline estimates are untrimmed.
    n_boot, mc_size, causal_seed :
        g-formula replicates, simulated customers per replicate and seed
        (:func:`analysis.studies.product_effect.causal.estimate_causal`).
    ipw_min_share : float
        Segments where fewer than this share of customers are in one exposure group are left
        out of the IPW comparison (positivity), with a note.
    ph_cuts : list of float
        Tenure cut points for the band-specific hazard ratios (PH check).
    min_events : int
        Fewer departures than this: every model is "not estimable" (descriptive sections still
        run).
    frames : (frame, intervals), optional
        :func:`analysis.frames.survival_frame` and :func:`analysis.frames.counting_process`
        outputs for this portfolio (built here when not given); the model columns are added
        with :func:`add_product_columns` when missing.

    Returns
    -------
    ProductEffect
    """
    settings = dict(attrition=attrition, k=k, as_of=None if as_of is None else str(as_of),
                    horizons=[float(h) for h in horizons], lag=lag,
                    landmarks=[float(x) for x in landmarks], branch=branch, trim=trim,
                    alpha=alpha, n_boot=n_boot, mc_size=mc_size, causal_seed=causal_seed,
                    lagged=["products"] if lag else [])
    panel = getattr(portfolio, "panel", None)
    settings["full_window"] = bool(
        as_of is None or panel is None or len(panel) == 0
        or pd.Timestamp(as_of) >= pd.Timestamp(panel["month"].max()))
    notes = Notes(expected=_EXPECTED)
    tables: dict = {}
    fits: dict = {}
    snapshot = getattr(portfolio, "kind", "panel") == "snapshot"
    snapshot_covs: list[str] = []
    if snapshot:
        if attrition != "closure":
            raise ValueError(f"attrition={attrition!r} needs monthly histories; "
                             "a one-row-per-customer snapshot only has its churn flag")
        frame, snapshot_covs = snapshot_product_frame(portfolio, branch)
        iv = pd.DataFrame()
    elif frames is None:
        frame, iv, _ = prepare_product_frames(portfolio, attrition=attrition, k=k, as_of=as_of,
                                              lag=lag)
    else:
        frame, iv = frames
        if "two_plus" not in frame.columns:
            frame, iv = add_product_columns(frame, iv)
    n, events = len(frame), int(frame["event"].sum()) if len(frame) else 0
    has_eng = "engagement" in frame.columns and frame["engagement"].notna().all()
    settings["has_engagement"] = bool(has_eng)
    strata = _strata(frame)
    descriptive = notes.attempt
    if events < min_events:
        thin = (f"{NOT_ESTIMABLE}: only {events} departure{'s' if events != 1 else ''} in this "
                f"data; models need at least {min_events}")

        def model_attempt(key, *args, **kwargs):
            notes.setdefault(key, thin)
            return None
    else:
        model_attempt = notes.attempt

    # 1. descriptive ----------------------------------------------------------------------------
    if n == 0:
        notes["data"] = f"{NOT_ESTIMABLE}: no customers in this data"
    tables["attrition"] = notes.attempt(
        "attrition", attrition_rates, frame, by="product_group", entry="entry")
    tables["km"] = notes.attempt("km", km_table, frame, group="product_group", entry="entry",
                                 alpha=alpha)
    lr = notes.attempt("logrank", logrank, frame, group="product_group", entry="entry")
    tables["logrank"] = lr.summary if lr is not None else None
    if tables["km"] is not None:
        tables["at_risk"] = numbers_at_risk(tables["km"], [0] + list(horizons))

    # 2. unadjusted Cox at entry ----------------------------------------------------------------
    fits["unadjusted_linear"] = model_attempt(
        "cox_unadjusted_linear", fit_cox, frame, ["n_products_entry"], alpha=alpha)
    cat_levels, cat_note = _categorical_levels(frame, "event")
    if cat_note:
        notes["cox_unadjusted_categorical"] = cat_note
    cat_frame = frame[frame["product_group"].isin(["1"] + cat_levels)]
    fits["unadjusted_categorical"] = (
        model_attempt("cox_unadjusted_categorical", fit_cox, cat_frame,
                      [DUMMIES[lv] for lv in cat_levels], alpha=alpha)
        if cat_levels else None)
    tables["cox_unadjusted"] = pd.concat(
        [_model_table(fits["unadjusted_linear"]), _model_table(fits["unadjusted_categorical"])],
        ignore_index=True)

    # 3. adjusted Cox at entry ------------------------------------------------------------------
    adj = list(snapshot_covs) if snapshot else list(ADJUST_STATIC)
    if has_eng and not snapshot:
        adj.append("engagement")
    adj_use, adj_drop = _usable(frame, adj) if n else ([], adj)
    if adj_drop:
        notes["cox_adjusted_covariates"] = (
            "left out because they take one value (or no departures on one side) here: "
            + ", ".join(LABELS.get(c, c) for c in adj_drop))
    fits["adjusted_linear"] = model_attempt(
        "cox_adjusted", fit_cox, frame, ["n_products_entry"] + adj_use, strata=strata,
        alpha=alpha)
    tables["cox_adjusted"] = _model_table(fits["adjusted_linear"])

    # 4. time-varying Cox (recommended) ---------------------------------------------------------
    tv = list(ADJUST_TIME_VARYING)
    if has_eng:
        tv.append("engagement")
    tv_use, tv_drop = _usable(iv, tv) if len(iv) else ([], [] if snapshot else tv)
    if tv_drop:
        notes["cox_time_varying_covariates"] = (
            "left out because they take one value (or no departures on one side) here: "
            + ", ".join(LABELS.get(c, c) for c in tv_drop))
    if snapshot:
        for key in ("cox_time_varying", "landmark", "ph_bands"):
            notes[key] = NO_PANEL
        notes.pop("cox_time_varying_covariates", None)
    fits["time_varying"] = None if snapshot else model_attempt(
        "cox_time_varying", fit_cox_time_varying, iv, ["n_products"] + tv_use, strata=strata,
        alpha=alpha)
    tables["cox_time_varying"] = _model_table(fits["time_varying"])
    # the same model from counts per band of tenure and covariate cell (the large-book engine,
    # piecewise exponential; on a large book from every customer's months), shown
    # next to the row fit so that the two can be compared on every book where both run
    # a large book: the model from counts covers every customer, not only the sample
    sample = getattr(portfolio, "sample", None)
    whole = sample is not None and sample.book is not None
    settings["from_counts"] = {"customers": int(sample.of) if whole else int(n),
                               "whole_book": bool(whole)}
    fits["time_varying_cells"] = (
        None if snapshot or fits["time_varying"] is None else notes.attempt(
            "cox_time_varying_cells", _cells_fit, portfolio, fits["time_varying"],
            sample if whole else None, attrition=attrition, k=k, as_of=as_of, lag=lag,
            strata=strata, alpha=alpha))
    tv_levels, tv_cat_note = ([], "") if snapshot else _categorical_levels(iv, "event")
    if tv_cat_note:
        notes["cox_time_varying_categorical"] = tv_cat_note
    iv_cat = iv if snapshot else iv[iv["product_group"].isin(["1"] + tv_levels)]
    fits["time_varying_categorical"] = (
        model_attempt("cox_time_varying_categorical", fit_cox_time_varying, iv_cat,
                      [DUMMIES[lv] for lv in tv_levels] + _usable(iv_cat, tv_use)[0],
                      strata=strata, alpha=alpha)
        if tv_levels else None)

    # 5. landmarks ------------------------------------------------------------------------------
    lm_cov = list(ADJUST_LANDMARK) + (["engagement"] if has_eng else [])
    lm = None if snapshot else model_attempt(
        "landmark", landmark_cox, iv, list(landmarks), covariates=lm_cov, strata=strata,
        alpha=alpha)
    if lm is not None:
        tables["landmark"], lm_fits = lm
        fits.update({f"landmark_{L:g}": f for L, f in lm_fits.items()})

    # 6. IPW ------------------------------------------------------------------------------------
    ipw = None
    if snapshot:
        ipw_frame, ipw_segments, ipw_pop_note = frame, [], ""
    else:
        ipw_frame, ipw_segments, ipw_pop_note = (
            _ipw_population(frame, ipw_min_share) if n else (frame, [], ""))
    if ipw_pop_note:
        notes["iptw_population"] = ipw_pop_note
    if len(ipw_frame):
        if snapshot:  # propensity from the mapped covariates
            design = (ipw_frame, _usable(ipw_frame, snapshot_covs)[0])
        else:
            design = model_attempt("iptw", _ps_design, ipw_frame, has_eng)
        if design is not None:
            ipw_df, ps_terms = design
            bal = list(ps_terms) if snapshot else [
                c for c in ("engagement", "loan", "age10", "entry_years", "log_aum", "tier_entry")
                if c in ipw_df.columns and (c != "engagement" or has_eng)]
            ipw = model_attempt("iptw", iptw_cox, ipw_df, treatment="two_plus", covariates=ps_terms,
                                balance_covariates=bal, trim=None, alpha=alpha)
            if trim is not None:  # sensitivity only: trimming changes the estimand
                trimmed = model_attempt("iptw_trimmed", iptw_cox, ipw_df, treatment="two_plus",
                                        covariates=ps_terms, balance_covariates=bal, trim=trim,
                                        alpha=alpha)
                if trimmed is not None:
                    tables["ipw_trimmed_balance"] = trimmed.balance
                    fits["iptw_trimmed"] = trimmed.cox
    elif "iptw" not in notes:
        notes["iptw"] = f"{NOT_ESTIMABLE}: no segment has customers in both exposure groups"
    if ipw is not None:
        tables["ipw_balance"] = ipw.balance
        tables["ipw_km"] = ipw.km
        smd = ipw.diagnostics["max_abs_smd_after"]
        if smd > 0.1:
            notes["iptw_balance"] = (
                f"after weighting the largest standardised difference is {smd:.2f} (above "
                "0.1): the groups are not fully comparable, read the IPW estimate with care")

    # 6b. the effect of an intervention: MSM and g-formula -------------------------------------
    causal = None
    if snapshot:
        notes["causal"] = NO_MONTHLY_PANEL
    else:
        causal = model_attempt("causal", estimate_causal, portfolio, n_boot=n_boot,
                               mc_size=mc_size, seed=causal_seed, attrition=attrition, k=k,
                               as_of=as_of, horizons=[int(h) for h in horizons], truncate=trim,
                               alpha=alpha)
    if causal is not None:
        ct = _truth_values(getattr(portfolio, "truth", None), settings, None).get("causal")
        tables["gformula"] = _causal_truth(_gformula_table(causal["gformula"]), ct)
        tables["gformula_curves"] = causal["curves"]

    # 7. RMST -----------------------------------------------------------------------------------
    rm = descriptive("rmst", rmst_difference, frame, list(horizons), group="product_group",
                       reference="1", entry="entry", alpha=alpha)
    frame_bin = frame.assign(exposure=np.where(frame["two_plus"] == 1, "2+", "1"))
    rm2 = descriptive("rmst_2plus", rmst_difference, frame_bin, list(horizons),
                        group="exposure", reference="1", entry="entry", alpha=alpha)
    tables["rmst"] = pd.concat([x for x in (rm2, rm) if x is not None], ignore_index=True) \
        if (rm is not None or rm2 is not None) else None

    # 8. shape ----------------------------------------------------------------------------------
    if fits.get("time_varying_categorical") is None and cat_levels:  # fall back on entry counts
        fits["adjusted_categorical"] = model_attempt(
            "cox_adjusted_categorical", fit_cox, cat_frame,
            [DUMMIES[lv] for lv in cat_levels] + _usable(cat_frame, adj_use)[0],
            strata=strata, alpha=alpha)
    shape_fit = fits.get("time_varying_categorical") or fits.get("adjusted_categorical")
    tv_shape = fits.get("time_varying_categorical") is not None
    lin_fit = fits.get("time_varying") if tv_shape else fits.get("adjusted_linear")
    shape = model_attempt("shape", _shape, shape_fit, lin_fit,
                          "n_products" if tv_shape else "n_products_entry")
    if shape is not None:
        tables["shape"], tables["monotonicity"], shape_info = shape
        if "linearity_lr" in shape_info:  # categories vs one HR per added product
            tables["linearity"] = pd.DataFrame([shape_info["linearity_lr"]])
    else:
        shape_info = {}

    # 9. PH check: R's cox.zph (score test), km and rank time transforms -----------------------
    ph = []
    for name, term in (("time_varying", "n_products"), ("adjusted_linear", "n_products_entry")):
        f = fits.get(name)
        if f is None:
            continue
        for tr in ("km",):  # R's cox.zph default transform: one test per term
            res = model_attempt(f"ph_test_{name}", _zph_row, f, term, tr)
            if res is not None:
                table, resid = res
                table.insert(0, "model", name)
                ph.append(table)
                if tr == "km":
                    tables[f"schoenfeld_{name}"] = resid
    tables["ph_test"] = pd.concat(ph, ignore_index=True) if ph else None
    bands = None if snapshot else model_attempt(
        "ph_bands", _band_hrs, iv, tv_use, strata, list(ph_cuts), alpha)
    if bands is not None:
        tables["ph_bands"], band_test = bands
    else:
        band_test = None

    # 10. E-value -------------------------------------------------------------------------------
    main_key = "time_varying" if fits.get("time_varying") is not None else "adjusted_linear"
    # (the E-value assesses the conditional time-varying model: the MSM has no simple one)
    main_term = "n_products" if main_key == "time_varying" else "n_products_entry"
    ev = None
    if fits.get(main_key) is not None:
        share = events / n if n else np.nan
        est = fits[main_key].term(main_term)
        ev = model_attempt("evalue", evalue_hr, est["hr"], est["ci_low"], est["ci_high"],
                           outcome_share=share)
        if ev is not None:
            ev["estimate"] = "cox_time_varying" if main_key == "time_varying" else "cox_adjusted"
            ev["outcome_share"] = share
            tables["evalue"] = pd.DataFrame([ev])
    else:
        notes.setdefault("evalue", f"{NOT_ESTIMABLE}: no adjusted estimate to assess")

    # 11. summary -------------------------------------------------------------------------------
    tv_truth = _truth_values(getattr(portfolio, "truth", None), settings, ipw_segments)
    summary = _summary(fits, ipw, tables.get("landmark"), tv_truth, ipw_segments, n, events,
                       main_key, causal, settings["from_counts"])
    pe = ProductEffect(n=n, events=events, settings=settings, summary=summary, tables=tables,
                       fits=fits, ipw=ipw, notes=dict(notes), causal=causal,
                       truth=None if getattr(portfolio, "truth", None) is None else tv_truth)
    pe.headline = _headline(pe, lr, ev, main_key, ipw_segments)
    # a large book: every estimate but the model from counts comes from this seeded sample
    sample = getattr(portfolio, "sample", None)
    pe.headline["model_sample"] = None if sample is None else sample.to_dict()
    pe.findings, pe.conclusion = _words(pe, lr, ev, main_key, shape_info, band_test, ipw_segments)
    return pe


def _cells_fit(portfolio, rows_fit: CoxResult, sample, *, attrition, k, as_of, lag, strata,
               alpha):
    """The time-varying model of ``rows_fit`` as a piecewise-exponential model from counts per
    band of tenure and covariate cell (:func:`analysis.frames.exposure_cells`); with a large
    book's model ``sample``, from the whole book's counts (:func:`book_cells`)."""
    if sample is not None:
        cells = book_cells(sample.book, branch=sample.branch, attrition=attrition, k=k,
                           as_of=as_of, lag=lag, bins=CELL_BINS, band_months=CELL_BAND_MONTHS)
        strata = (["branch"] if strata and "branch" in cells.columns
                  and cells["branch"].nunique() > 1 else None)
    else:
        cells = exposure_cells(portfolio.panel, portfolio.customers, attrition=attrition, k=k,
                               as_of=as_of, lag=lag, bins=CELL_BINS, band_months=CELL_BAND_MONTHS)
    return fit_piecewise_exponential(cells, rows_fit.covariates, strata=strata, alpha=alpha)


def _categorical_levels(df: pd.DataFrame, event: str) -> tuple[list[str], str]:
    """Product levels (beyond 1) usable in a categorical model, and a note on those left out."""
    if not len(df):
        return [], f"{NOT_ESTIMABLE}: no customers"
    counts = df.groupby("product_group", observed=False)[event].agg(["size", "sum"])
    if counts.loc["1", "size"] == 0 or counts.loc["1", "sum"] == 0:
        return [], (f"{NOT_ESTIMABLE}: no departures among customers with 1 product (the reference "
                    "level), so no level can be compared with it")
    levels, out = [], []
    for lv in PRODUCT_LEVELS[1:]:
        if counts.loc[lv, "size"] == 0:
            out.append(f"no customer with {lv} products")
        elif counts.loc[lv, "sum"] == 0:
            out.append(f"{lv} products: not estimable, none of its {int(counts.loc[lv, 'size'])} "
                       "customers left")
        else:
            levels.append(lv)
    return levels, "; ".join(out)


def _shape(cat: CoxResult, lin: CoxResult | None, lin_term: str):
    """Dose-response by product level, adjacent steps, and a linearity test."""
    if cat is None:
        raise InsufficientDataError("the categorical model could not be fitted")
    rows = [{"level": "1", "products": 1.0, "hr": 1.0, "ci_low": 1.0, "ci_high": 1.0,
             "linear_hr": 1.0}]
    lin_coef = lin.term(lin_term)["coef"] if lin is not None else np.nan
    present = [lv for lv in PRODUCT_LEVELS[1:] if DUMMIES[lv] in cat.covariates]
    for lv in present:
        t = cat.term(DUMMIES[lv])
        k = {"2": 2.0, "3": 3.0, "4+": 4.0}[lv]
        rows.append({"level": lv, "products": k, "hr": t["hr"], "ci_low": t["ci_low"],
                     "ci_high": t["ci_high"], "linear_hr": math.exp(lin_coef * (k - 1))})
    shape = pd.DataFrame(rows)
    # adjacent steps: log HR(level) - log HR(previous level)
    steps = []
    names = ["1"] + present
    V = cat.variance
    z = float(stats.norm.ppf(1 - cat.alpha / 2))
    for a, b in zip(names[:-1], names[1:]):
        cb = cat.term(DUMMIES[b])["coef"]
        ca = 0.0 if a == "1" else cat.term(DUMMIES[a])["coef"]
        var = V.loc[DUMMIES[b], DUMMIES[b]]
        if a != "1":
            var += V.loc[DUMMIES[a], DUMMIES[a]] - 2 * V.loc[DUMMIES[a], DUMMIES[b]]
        se = math.sqrt(var)
        d = cb - ca
        steps.append({"step": f"{a} -> {b}", "hr": math.exp(d), "ci_low": math.exp(d - z * se),
                      "ci_high": math.exp(d + z * se), "p": 2 * stats.norm.sf(abs(d) / se)})
    mono = pd.DataFrame(steps)
    info = {"monotone": bool((mono["hr"] < 1).all()) if len(mono) else None,
            "rising_steps": mono.loc[mono["hr"] > 1, "step"].tolist() if len(mono) else [],
            "rising_significant": mono.loc[(mono["hr"] > 1) & (mono["ci_low"] > 1), "step"].tolist()
            if len(mono) else []}
    # likelihood-ratio test of nested models: one HR per step of min(n, 4) (the levels coded
    # 1, 2, 3, 4) against one HR per level, same rows and covariates; df = levels - 2
    if len(present) >= 2:
        others = [c for c in cat.covariates if c not in DUMMIES.values()]
        d = cat.data.copy()
        d["_level"] = 1.0 + sum(float(k) * d[DUMMIES[lv]] for k, lv in
                                ((1, "2"), (2, "3"), (3, "4+")) if DUMMIES[lv] in d)
        spec = cat.spec
        kw = dict(duration=spec["duration"], event=spec["event"], entry=spec["entry"],
                  strata=spec["strata"], alpha=cat.alpha)
        nested = fit_cox(d, ["_level"] + others, **kw)
        lr = max(2 * (cat.log_likelihood - nested.log_likelihood), 0.0)  # >= 0 when nested
        dfree = len(present) - 1
        info["linearity_lr"] = {"test": "levels 1/2/3/4+ vs linear in min(products, 4)",
                                "chi2": lr, "df": dfree, "p": float(stats.chi2.sf(lr, dfree))}
    return shape, mono, info


def _gformula_table(g: dict) -> pd.DataFrame:
    """The g-formula leaves as a table: ``intervention, quantity, estimate, ci_low, ci_high,
    se`` (truth added by :func:`analysis.studies.product_effect.truth._causal_truth`)."""
    rows = []
    for k, block in g["static"].items():
        rows += [dict(intervention=f"everyone {k} product{'s' if k != '1' else ''}",
                      section="static", key=k, quantity=q, **v) for q, v in block.items()]
    for sec, name in (("natural_course", "as observed (natural course)"),
                      ("one_more_product", "one more product than observed")):
        rows += [dict(intervention=name, section=sec, key=None, quantity=q, **v)
                 for q, v in g[sec].items()]
    return pd.DataFrame(rows)


def _zph_row(fit: CoxResult, term: str, transform: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """R's ``cox.zph`` (survival >= 3, score test) for ``term`` of a fit, and its scaled
    Schoenfeld residuals (``time``, transformed time ``g``, the term's beta(t) estimates)."""
    res = zph_for(fit, transform=transform)
    row = res.table.loc[term]
    table = pd.DataFrame([{"term": term, "transform": transform, "statistic": float(row["chisq"]),
                           "df": int(row["df"]), "p": float(row["p"])}])
    resid = res.residuals.rename(columns={"gtime": "g"})[["time", "g", term]]
    return table, resid


def _band_hrs(iv: pd.DataFrame, covs: list[str], strata, cuts: list[float], alpha: float):
    """HR per product within tenure bands (time interaction), and a test of equal HRs."""
    sp = split_intervals(iv, cuts)
    edges = [0.0] + list(cuts) + [np.inf]
    names = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        name = f"products_t{lo:g}_{'' if np.isinf(hi) else f'{hi:g}'}"
        inside = (sp["stop"] > lo) & (sp["stop"] <= hi)
        if sp.loc[inside, "event"].sum() == 0:
            continue
        sp[name] = sp["n_products"] * inside
        names.append((name, lo, hi))
    if len(names) < 2:
        raise InsufficientDataError("departures fall in fewer than two tenure bands")
    fit = fit_cox_time_varying(sp, [n for n, _, _ in names] + covs, strata=strata, alpha=alpha)
    rows = []
    for name, lo, hi in names:
        t = fit.term(name)
        band = f"{lo:g}-{hi:g} months" if not np.isinf(hi) else f"{lo:g}+ months"
        inside = (sp["stop"] > lo) & (sp["stop"] <= hi)
        rows.append({"band": band, "hr": t["hr"], "ci_low": t["ci_low"], "ci_high": t["ci_high"],
                     "p": t["p"], "events": int(sp.loc[inside, "event"].sum())})
    C = np.zeros((len(names) - 1, len(fit.covariates)))
    for i in range(len(names) - 1):
        C[i, i], C[i, i + 1] = 1, -1
    return pd.DataFrame(rows), wald_test(fit.params, fit.variance, C)
