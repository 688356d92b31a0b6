"""The product effect as an intervention: marginal structural Cox model and parametric g-formula.

Time origin: the customer's first month observed in the study window (study entry); follow-up
up to ``max(horizons)`` months; population: every customer in the panel at study entry;
interventions start at entry. Estimands (the names of the generator's truth,
``ground_truth(cfg)["causal"]``):

- ``marginal_hr_per_product`` (MSM): the hazard ratio the population would show, on the time
  since entry, had everyone held ``k + 1`` rather than ``k`` products from entry (one number
  for all ``k``: log-linear in products). Estimated twice: by the MSM (weights), and from the
  g-formula's simulated "always k" arms, k = 1..4, by the Cox model that defines it
  (``gformula_hr``; :mod:`analysis.stats.pooled_cox`).
- ``static[k]`` (g-formula): RMST at 12/24/36 months and 12-month retention had everyone held
  exactly ``k`` products from entry; ``natural_course``: the same with products as they come;
  ``one_more_product``: one more product than the natural course every month (at most the
  largest count seen), with its gains over the natural course.

Products enter these models in the month they are held (the intervention's own definition; no
lag). The other covariates are last month's (balance, tier), the previous three months'
(large outflow) or fixed at entry. On a one-row-per-customer snapshot nothing here is
estimable: product holdings and confounders have no monthly history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import AGE_CENTRE
from analysis.errors import InsufficientDataError
from analysis.frames import attrition_panel
from analysis.stats.gformula import BOOT_STEPS, POOLED, gformula, shift, static
from analysis.stats.msm import MSMBootstrap, bootstrap_interval, fit_msm_cox

__all__ = ["NO_MONTHLY_PANEL", "person_months", "estimate_causal", "STATIC_LEVELS"]

MSM_ESTIMAND = ("hazard ratio per additional product held every month from entry, for the "
                "whole population (marginal); stabilised time-varying weights and censoring "
                "weights")

GFORMULA_HR_ESTIMAND = ("hazard ratio per additional product held every month from entry, for "
                        "the whole population (marginal), as the MSM's: a Cox model on the "
                        "g-formula's simulated arms \"everyone holds exactly k products\", "
                        "k = 1-4, follow-up to the longest horizon")

#: The "always k products" interventions reported.
STATIC_LEVELS = (1, 2, 3, 4)

NO_MONTHLY_PANEL = ("Not estimable on a snapshot: the marginal structural model and the "
                    "g-formula need each customer's monthly history of products and of what "
                    "drives them; this dataset has one row per customer")


def person_months(portfolio, *, attrition: str = "closure", k: int = 3, as_of=None,
                  max_months: int = 36) -> tuple[pd.DataFrame, list[str]]:
    """One row per customer and month since study entry while at risk, with model columns.

    Returns ``(pm, baseline)``: ``pm`` has ``customer_id, time`` (months since entry),
    ``event, tenure, a`` (products this month), ``a_prev`` (last month's; NaN at entry),
    ``log_aum`` and ``log_aum_prev`` (log1p of AUM this and last month; the entry value at
    entry), ``tier_prev``, ``out`` (a large outflow this month), ``recent`` (one in the
    previous three months, within the window), ``new`` (opened inside the window) and the
    baseline columns listed in ``baseline``: ``engagement`` (standardised) and its square when
    the data has it, ``age10``, ``loan`` (segment at entry), ``log_entry`` (log1p tenure at
    entry), ``log_aum0``, ``tier0`` and branch indicators; ``month`` is the calendar month.
    """
    panel = getattr(portfolio, "panel", None)
    if getattr(portfolio, "kind", "panel") == "snapshot" or panel is None or not len(panel):
        raise InsufficientDataError(NO_MONTHLY_PANEL.split(": ", 1)[1])
    ap, _ = attrition_panel(panel, attrition=attrition, k=k, as_of=as_of)
    ap = ap.sort_values(["customer_id", "month"], kind="stable").reset_index(drop=True)
    g = ap.groupby("customer_id", sort=False)
    pm = pd.DataFrame({"customer_id": ap["customer_id"].to_numpy(),
                       "time": g.cumcount().to_numpy(),
                       "event": ap["event"].astype(int).to_numpy(),
                       "tenure": ap["tenure_months"].to_numpy(dtype=float),
                       "a": ap["n_products"].to_numpy(dtype=float),
                       "month": ap["month"].to_numpy()})
    pm["a_prev"] = g["n_products"].shift(1).to_numpy(dtype=float)
    la = np.log1p(ap["aum"].clip(lower=0).to_numpy(dtype=float))
    pm["log_aum"] = la
    prev = g["aum"].shift(1).to_numpy(dtype=float)
    pm["log_aum_prev"] = np.where(np.isnan(prev), la, np.log1p(np.clip(prev, 0, None)))
    tier = ap["tier"].to_numpy(dtype=float)
    tprev = g["tier"].shift(1).to_numpy(dtype=float)
    pm["tier_prev"] = np.where(np.isnan(tprev), tier, tprev)
    pm["out"] = ap["outflow"].astype(float).to_numpy()
    pm["recent"] = ap["outflow_3m"].astype(float).to_numpy()
    pm = pm[pm["time"] < max_months].reset_index(drop=True)
    entry = pm[pm["time"] == 0].set_index("customer_id")
    seg0 = ap.groupby("customer_id", sort=False)["segment"].first()
    cust = portfolio.customers.set_index("customer_id")
    base = pd.DataFrame(index=entry.index)
    baseline = []
    if "engagement" in cust and cust["engagement"].notna().all():
        e = cust["engagement"].reindex(base.index).astype(float)
        base["engagement"] = (e - e.mean()) / e.std()
        base["engagement_sq"] = base["engagement"] ** 2
        baseline += ["engagement", "engagement_sq"]
    if "age_at_open" in cust:
        base["age10"] = (cust["age_at_open"].reindex(base.index).astype(float) - AGE_CENTRE) / 10
        baseline.append("age10")
    base["loan"] = (seg0.reindex(base.index) == "loan").astype(float)
    base["log_entry"] = np.log1p(entry["tenure"])
    base["new"] = (entry["tenure"] == 0).astype(float)
    base["log_aum0"] = entry["log_aum"]
    base["tier0"] = entry["tier_prev"]
    baseline += ["loan", "log_entry", "new", "log_aum0", "tier0"]
    if "branch" in cust and cust["branch"].reindex(base.index).nunique() > 1:
        br = cust["branch"].reindex(base.index).astype(str)
        for lv in sorted(br.unique())[1:]:
            base[f"branch_{lv}"] = (br == lv).astype(float)
            baseline.append(f"branch_{lv}")
    baseline = [c for c in baseline if base[c].nunique() > 1]
    pm = pm.join(base, on="customer_id")
    return pm, baseline


def _tier_thresholds(pm: pd.DataFrame) -> tuple[np.ndarray, float] | None:
    """Balance thresholds of the tiers as seen in the data, if the tier is a step of the balance."""
    aum = np.expm1(pm["log_aum"].to_numpy())
    tier = pm["tier_prev"].shift(-1).where(pm["time"].shift(-1) > 0)  # this month's tier
    ok = tier.notna().to_numpy()
    aum, tier = aum[ok], tier.to_numpy()[ok]
    levels = np.unique(tier)
    if len(levels) < 2:
        return None
    thr = np.array([aum[tier >= lv].min() for lv in levels[1:]])
    fitted = levels[0] + np.searchsorted(thr, aum, side="right")
    if np.mean(fitted == tier) < 0.99:  # the tier is not a step function of the balance
        return None
    return thr, float(levels[0])


def _ci(est: dict, *, estimate: str = "hr", se: str = "se_log_hr") -> dict:
    return {"estimate": float(est[estimate]), "ci_low": float(est["ci_low"]),
            "ci_high": float(est["ci_high"]), "se": float(est[se])}


def estimate_causal(book_or_study, *, n_boot: int = 20, mc_size: int = 3000, seed: int = 0,
                    attrition: str = "closure", k: int = 3, as_of=None,
                    horizons=(12, 24, 36), truncate: tuple[float, float] | None = (1, 99),
                    ipcw: bool = True, alpha: float = 0.05, frames=None) -> dict:
    """MSM hazard ratio per product and g-formula RMST/retention under the interventions.

    Parameters
    ----------
    book_or_study : Portfolio or StudyPopulation
        A monthly panel (a study's ``portfolio`` is used).
    n_boot, mc_size, seed :
        g-formula bootstrap replicates, simulated customers per replicate, seed.
    truncate : (low, high) percentiles or None
        Truncation of the MSM weights for the sensitivity row ``msm_truncated``.
    ipcw : bool
        Multiply the MSM weights by inverse-probability-of-censoring weights (new and existing
        customers separately: the window end cuts the follow-up of customers who opened inside
        it), so the estimand is that of full follow-up.
    frames : (pm, baseline), optional
        :func:`person_months` output (built here when not given).

    Returns
    -------
    dict
        Leaves ``{estimate, ci_low, ci_high, se}`` at the paths of the truth
        (``ground_truth(cfg)["causal"]``): ``msm.hr_per_product`` (HR; ``se`` of the log HR),
        ``msm_truncated.hr_per_product`` (sensitivity, no truth), ``gformula.static["1".."4"]``,
        ``gformula.natural_course`` (``rmst_<tau>`` per horizon, ``retention_12``) and
        ``gformula.one_more_product`` (also ``rmst_<max tau>_gain``, ``retention_12_gain``);
        ``gformula_hr.hr_per_product`` (the marginal HR per product from the g-formula's
        static arms 1..4, censored at ``max(horizons)``; ``se`` of the log HR);
        ``details`` (estimands, weight summaries, bootstrap and Monte Carlo sizes),
        ``curves`` (g-formula survival curves, a DataFrame) and ``msm_rows`` (the MSM's
        person-month rows ``customer_id, time, event, a, w`` with their weights).
    """
    portfolio = getattr(book_or_study, "portfolio", book_or_study)
    horizons = [int(h) for h in horizons]
    pm, baseline = frames if frames is not None else person_months(
        portfolio, attrition=attrition, k=k, as_of=as_of, max_months=max(horizons))
    if pm["event"].sum() == 0:
        raise InsufficientDataError("no customer left during follow-up")
    # MSM ------------------------------------------------------------------------------------
    # Marginal: the numerators hold past counts and time only, the MSM the current count only,
    # as the estimand (the HR of the pooled "always k" arms). Stabilising with baseline terms
    # (segment, new/existing, tenure at entry) gives tighter weights but a conditional HR,
    # which differs from the marginal one (non-collapsibility, and a misspecified
    # tenure-at-entry term): -0.05 on the log scale over seeds of either scenario.
    den = ["a_prev", "a_prev_sq", *baseline, "log_aum_prev", "tier_prev", "recent", "t12"]
    num = ["a_prev", "a_prev_sq", "t12"]
    pmw = pm.assign(a_prev_sq=pm["a_prev"] ** 2, t12=pm["time"] / 12.0)
    boot = MSMBootstrap(pmw, treatment="a", previous="a_prev", numerator=num, denominator=den,
                        entry_numerator=(), entry_denominator=baseline,
                        ipcw_group="new" if ipcw else None, truncate=truncate,
                        steps=BOOT_STEPS)
    w = boot.weights()
    out: dict = {}
    fit = fit_msm_cox(pm, w, treatment="a", alpha=alpha)
    # the weighted rows, for audits (tests/fixtures/r/report02_reference.R refits them in R)
    out["msm_rows"] = pd.DataFrame({"customer_id": pm["customer_id"].to_numpy(),
                                    "time": pm["time"].to_numpy(),
                                    "event": pm["event"].to_numpy(),
                                    "a": pm["a"].to_numpy(), "w": fit.weights})
    details = {"msm": {"estimand": MSM_ESTIMAND, "weights": fit.diagnostics,
                       "numerator": num, "ipcw": ipcw,
                       "sandwich_se_log_hr": float(fit.effect["se_log_hr"])}}
    ft = None
    if truncate is not None:
        ft = fit_msm_cox(pm, w, treatment="a", truncate=truncate, alpha=alpha)
        details["msm_truncated"] = {
            "weights": ft.diagnostics,
            "estimand": (f"sensitivity: weights truncated at the {truncate[0]:g}th/"
                         f"{truncate[1]:g}th percentiles (a different, unnamed estimand; no "
                         "truth)")}
    # g-formula ------------------------------------------------------------------------------
    cap = float(pm["a"].max())
    rules = {"natural_course": lambda a, t: a, "one_more_product": shift(1, cap)}
    rules.update({f"static_{lv}": static(lv) for lv in STATIC_LEVELS})
    gf = gformula(pm, rules, baseline=baseline, horizons=horizons,
                  contrasts={"one_more_product": "natural_course"}, n_boot=n_boot,
                  mc_size=mc_size, seed=seed, alpha=alpha,
                  tier_thresholds=_tier_thresholds(pm),
                  pooled_hr={f"static_{lv}": lv for lv in STATIC_LEVELS})
    qty = [f"rmst_{h}" for h in horizons] + ["retention_12"]

    def block(label, extra=()):
        return {q: _ci(gf.value(label, q), estimate="estimate", se="se") for q in [*qty, *extra]}

    gains = [f"rmst_{max(horizons)}_gain", "retention_12_gain"]
    # MSM intervals: the same customer resamples, every weight model refitted (the sandwich
    # treats the weights as known and was too narrow, docs/coverage.md); the sandwich is kept
    # only when there are too few replicates
    b_hat = float(np.log(fit.effect["hr"]))
    reps, failed = [], 0
    for counts in gf.resamples:
        try:
            reps.append(boot.replicate(counts, init=b_hat))
        except InsufficientDataError:  # e.g. no departure among the drawn customers
            failed += 1
    if len(reps) >= 2:
        out["msm"] = {"hr_per_product": _ci(bootstrap_interval(
            b_hat, [r["log_hr"] for r in reps], alpha, log=True))}
        ci_msm = "customer bootstrap"
    else:
        out["msm"] = {"hr_per_product": _ci(fit.effect)}
        ci_msm = "sandwich (weights treated as known)"
    details["msm"].update(ci=ci_msm, n_boot=len(reps), failed_replicates=failed)
    if ft is not None:
        bt = float(np.log(ft.effect["hr"]))
        out["msm_truncated"] = {"hr_per_product": _ci(bootstrap_interval(
            bt, [r["log_hr_truncated"] for r in reps], alpha, log=True)
            if len(reps) >= 2 else ft.effect)}
    # the MSM's estimand from the g-formula's static arms (a Cox model on the pooled simulated
    # arms, as the truth is defined), with the g-formula's bootstrap
    lh = gf.value(POOLED, "log_hr")
    out["gformula_hr"] = {"hr_per_product": {
        "estimate": float(np.exp(lh["estimate"])), "ci_low": float(np.exp(lh["ci_low"])),
        "ci_high": float(np.exp(lh["ci_high"])), "se": lh["se"]}}
    out["gformula"] = {
        "static": {str(lv): block(f"static_{lv}") for lv in STATIC_LEVELS},
        "natural_course": block("natural_course"),
        "one_more_product": block("one_more_product", gains),
    }
    details["gformula"] = {"n_boot": gf.settings["n_boot"], "mc_size": mc_size, "seed": seed,
                           "horizons": horizons, "one_more_cap": cap, "ci": gf.settings["ci"],
                           "history_halflife": gf.settings["history_halflife"],
                           "baseline": list(baseline)}
    details["gformula_hr"] = {"estimand": GFORMULA_HR_ESTIMAND, "arms": list(STATIC_LEVELS),
                              "horizon_months": max(horizons)}
    out["details"] = details
    out["curves"] = gf.curves
    return out
