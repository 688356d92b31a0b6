# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Does holding more products keep customers?
#
# The field's belief is that customers who hold more of the bank's products stay longer. This report
# measures that effect honestly: **by how much** one more product lowers the risk of leaving, and
# **how sure** we can be. A plain comparison overstates it, because engaged customers both buy more
# products and stay longer, and because customers who were already on the book when observation
# started are survivors. The methods below correct for this in different ways; where they agree
# the answer is robust. Every number comes with its 95% confidence interval (CI). A hazard ratio
# (HR) below 1 means a lower monthly risk of leaving: HR 0.80 is 20% lower.

# %% tags=["parameters"]
data = "synthetic"  # "synthetic" (embedded default), a data folder or a mapping YAML
branch = None  # a branch name; None for the whole bank
as_of = None  # "YYYY-MM-DD"; None for the last month of the data
attrition = "closure"  # "closure" or "value"
k = 3  # months below tier 3 that confirm value attrition
horizons = [12, 24, 36]  # tenure horizons for the months gained (RMST), months
lag = 1  # months by which product holdings are lagged in the time-varying model
landmarks = [6, 12, 24]  # tenures (months) of the landmark analysis
n_boot = 20  # g-formula replicates for its intervals (more: steadier intervals, slower)
mc_size = 2000  # customers simulated per g-formula replicate
show_ids = False  # this report never lists customers; kept for a common interface
lang = "en"  # report language: "en" or "zh" (Chinese)

# %% tags=["remove-output"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from analysis.data.large_book import load_for_models, model_sample_size
from analysis.studies.whole_book import sample_note
from analysis.frames import ATTRITION_DEFINITIONS
from analysis.studies.product_effect.estimate import estimate_product_effect
from analysis.studies.product_effect.words import cell_words, cells_note, note_words, shown
from analysis.report.display import note, show
from analysis.report.kpi import kpi_strip
from analysis.report.glossary import glossary
from analysis.report.headline import publish
from analysis import plots
from analysis.i18n import set_language, tr

if attrition not in ATTRITION_DEFINITIONS:
    raise ValueError(f"attrition must be one of {ATTRITION_DEFINITIONS}, got {attrition!r}")
if int(lag) < 0 or not horizons or not landmarks:
    raise ValueError("lag must be >= 0; horizons and landmarks must not be empty")
if int(n_boot) < 2 or int(mc_size) < 100:
    raise ValueError("n_boot must be >= 2 and mc_size >= 100")

set_language(lang)
plots.set_style()
# A large book: every estimate comes from a seeded sample of customers (stated below).
portfolio = load_for_models(data, branch, sample=model_sample_size())
# Panels give survival frames and monthly intervals; snapshots (mapping files) one row each.
pe = estimate_product_effect(portfolio, attrition=attrition, k=k, as_of=as_of,
                             horizons=horizons, lag=lag, landmarks=landmarks, branch=branch,
                             n_boot=int(n_boot), mc_size=int(mc_size))
publish({"product_effect": pe.headline})


def notes_for(*keys):
    for key in keys:
        for k in (key, f"{key}_caution"):  # a step's note, then any warning it raised
            if k in pe.notes:
                note(note_words(pe.notes[k]))


# %%
display(kpi_strip("product_effect", pe.headline))

# %% [markdown]
# ## Key findings

# %%
if portfolio.sample is not None:
    note(sample_note(portfolio.sample, everything=True))
display(Markdown(pe.findings_markdown()))

# %% [markdown]
# ## The effect of holding more products (what would happen under an intervention)
#
# These are the estimates the report leads with, first the g-formula's months and 12-month
# retention gained by one more product (an effect in months and customers kept), then the hazard
# ratio of one more product, from the g-formula and from the MSM. Both follow every customer from
# the month they were first observed (study entry) for up to 36 months and ask what would have
# happened had product holdings been set by the bank.
# They remain valid when products raise assets and tier and tier in turn drives product offers,
# which breaks the models of sections 2-4.
#
# - **Marginal structural Cox model (MSM)**: each customer-month is weighted by how unusual its
#   product holding was given the customer's history (last month's assets and tier, recent large
#   outflows, engagement where measured, segment, tenure), so that in the weighted book products
#   are unrelated to that history. The hazard ratio is then the effect of everyone holding one
#   more product from entry. Weights are not truncated; a truncated version is shown only as a
#   sensitivity (truncation changes who the estimate is about). Its interval comes from the
#   g-formula's customer replicates, with the weights refitted in each: the usual formula treats
#   the weights as known and is too narrow. Even so, a few customers with very unusual histories
#   carry large weights, so this interval is less reliable than the g-formula's.
# - **g-formula**: monthly models of products, assets, outflows and leaving are fitted (leaving
#   depends on the products held now and on those held over the past year, since products can
#   act with a delay through the assets they build), and the book is re-simulated month by month under "everyone holds exactly k products", "one more
#   product than observed" and no intervention: months retained within 12/24/36 months (RMST)
#   and the share still a customer at 12 months. The hazard ratio per product is read off the
#   simulated customers of the "exactly 1, 2, 3, 4 products" runs by a Cox model, the same
#   definition as the MSM's. Its intervals come from replicates of the simulation (sizes stated
#   below); on simulated books they kept their stated coverage, the MSM's did not.
#
# Both assume that the history used holds everything that drives both product holding and
# leaving (no unmeasured confounding) and that the fitted models are right.

# %%
notes_for("causal")
if pe.causal is not None:
    show(shown(pe.summary[pe.summary["method"].str.startswith(("g-formula", "Marginal"))][
        ["method", "contrast", "hr", "ci_low", "ci_high", "estimand", "note"]]), digits=3)
    show(shown(pe.tables["gformula"][["intervention", "quantity", "estimate", "ci_low",
                                      "ci_high"]]),
         digits=3, caption=tr("g-formula: months retained (RMST) and 12-month retention"))
    gs = pe.headline["gformula"]["settings"]
    note(tr("g-formula and MSM: {n_boot} replicates, {mc_size} simulated customers each, "
            "seed {seed} (parameters n_boot, mc_size); intervals {ci}; product history in the "
            "leaving model: half-life {halflife} months.", n_boot=gs["n_boot"], mc_size=gs["mc_size"],
            seed=gs["seed"], ci=cell_words(gs["ci"]), halflife=f"{gs['history_halflife']:g}"))

# %% [markdown]
# ## 1. Who leaves, by number of products
#
# Products are counted when the customer is first observed. Rates are departures per 100
# customer-years of observation (exact Poisson 95% CI). The curves show the share of customers
# still with the bank by months of tenure; customers already on the book when observation started
# join the curves at their tenure then (left truncation), so the curves are not distorted by
# survivors. The log-rank test asks whether the curves differ at all.

# %%
notes_for("attrition", "km", "logrank")
if pe.tables.get("attrition") is not None:
    show(pe.tables["attrition"], caption=tr("Attrition by products held at entry"))
if pe.tables.get("km") is not None:
    ax = plots.km_plot(pe.tables["km"], at_risk_times=[0] + list(horizons), censor_marks=False)
    _ = ax.set_title(tr("Share still a customer, by products held at entry"))
    plt.show()
lr = pe.headline["logrank"]
if lr.get("chi2") is not None:
    display(Markdown(tr("Log-rank test: chi-square {chi2} on {df} df, p = {p}.",
                        chi2=f"{lr['chi2']:.1f}", df=lr["df"], p=f"{lr['p']:.2g}")))

# %% [markdown]
# ## 2. The naive comparison (unadjusted Cox model)
#
# Hazard ratios of products held at entry, with nothing else taken into account: per additional
# product, and for 2, 3 and 4+ products against 1. This is what a simple comparison shows; it
# mixes the effect of products with everything that goes with holding them.

# %%
notes_for("cox_unadjusted_linear", "cox_unadjusted_categorical")
if len(pe.tables["cox_unadjusted"]):
    show(shown(pe.tables["cox_unadjusted"][["label", "hr", "ci_low", "ci_high", "p"]]), digits=3)

# %% [markdown]
# ## 3. Adjusted for what goes with holding products
#
# The same comparison, adjusted for value tier, segment, age, tenure at entry, assets and (when
# the data has it) the engagement score; one baseline risk per branch for the whole bank. Products
# are still those held at entry, so later purchases and closures are ignored.

# %%
notes_for("cox_adjusted", "cox_adjusted_covariates")
if len(pe.tables["cox_adjusted"]):
    show(shown(pe.tables["cox_adjusted"][["label", "hr", "ci_low", "ci_high", "p"]]), digits=3)

# %% [markdown]
# ## 4. Products as they change over time (conditional on current holdings)
#
# Customers buy and drop products. Here every month counts with the products held `lag` month(s)
# earlier (only products are lagged, so products closed on the way out do not count as a cause;
# a customer's first `lag` months are not at risk, so no month uses an unlagged count), adjusted
# for the same characteristics, with tier, segment and recent large outflows as they are that
# month. The hazard ratio is **conditional on current holdings and covariates**: when products
# raise assets and tier, adjusting for tier removes part of the effect of a product, so this is
# not the effect of adding a product (see the MSM above for that).

# %%
notes_for("cox_time_varying", "cox_time_varying_covariates", "cox_time_varying_cells")
if len(pe.tables["cox_time_varying"]):
    show(shown(pe.tables["cox_time_varying"][["label", "hr", "ci_low", "ci_high", "p"]]),
         digits=3)
    cells = pe.headline["cox_time_varying"].get("from_counts")
    if cells:
        note(cells_note(cells))

# %% [markdown]
# The large-outflow row of this model is not the early-warning number the other reports quote.
# That number comes from the drivers report's time-varying model (products held now, other
# characteristics at entry), which the overview repeats; this model adjusts for tier and segment
# as they are each month and lags products, so its outflow estimate differs somewhat: the two
# estimate the same warning effect under different adjustments.

# %% [markdown]
# ## 5. Landmark analysis
#
# At a fixed tenure (the landmark), take the customers still on the book and observed then, note
# their products, and follow what happens next. Everyone starts the clock at the same tenure, so
# nobody gets credit for surviving long enough to buy products. Customers first observed after the
# landmark are not in it.

# %%
notes_for("landmark")
if pe.tables.get("landmark") is not None:
    show(shown(pe.tables["landmark"]), digits=3,
         caption=tr("Hazard ratio per additional product held at the landmark (adjusted)"))

# %% [markdown]
# ## 6. Weighting: customers with 2+ products against comparable customers with 1
#
# Inverse probability weighting (IPW): the chance of holding 2+ products at entry is estimated from
# customer characteristics, and customers are weighted so that both groups look alike (stabilised
# weights, not trimmed; trimming at the 1st/99th percentiles is shown only as a sensitivity
# because it changes the population the estimate is about). The balance table checks that they do
# (standardised differences below 0.1 are considered balanced). The result is a comparison of
# groups for the whole book (or the segments where both groups exist), not a per-product figure.

# %%
notes_for("iptw_population", "iptw", "iptw_balance", "iptw_trimmed")
if pe.ipw is not None:
    show(shown(pe.summary[pe.summary["method"].str.startswith("IPW")][
        ["method", "contrast", "hr", "ci_low", "ci_high", "p", "n", "events"]]), digits=3)
    show(shown(pe.ipw.balance), digits=2, caption=tr("Balance before and after weighting"))
    ax = plots.balance_plot(shown(pe.ipw.balance))
    _ = ax.set_title(tr("Standardised differences, 2+ vs 1 product"))
    plt.show()
    ax = plots.km_plot(shown(pe.ipw.km), ci=False, risk_table=False, censor_marks=False)
    _ = ax.set_title(tr("Weighted share still a customer (comparable groups)"))
    plt.show()

# %% [markdown]
# ## 7. Months of relationship gained
#
# Restricted mean survival time (RMST) difference: how many more months, on average, customers
# stay within the first 12, 24 and 36 months of tenure, by products held at entry, against
# customers with 1 product (unadjusted; Greenwood-type standard errors).

# %%
notes_for("rmst", "rmst_2plus")
if pe.tables.get("rmst") is not None:
    show(pe.tables["rmst"][["group", "reference", "tau", "difference", "ci_low", "ci_high", "p"]],
         digits=2, caption=tr("Months gained within each horizon vs 1 product"))

# %% [markdown]
# ## 8. Does every extra product help as much?
#
# Hazard ratios for 2, 3 and 4+ products against 1 from the time-varying model, and each step
# against the previous one. The dashed line is what "the same effect for every added product"
# would give. The effect is monotone when every step lowers the risk. The likelihood-ratio test
# compares nested models: one HR per level against one HR per step of min(products, 4).

# %%
notes_for("shape", "cox_time_varying_categorical")
if pe.tables.get("shape") is not None:
    ax = plots.dose_response_plot(pe.tables["shape"])
    _ = ax.set_title(tr("Risk of leaving by products held (adjusted)"))
    plt.show()
    show(pe.tables["monotonicity"], digits=3, caption=tr("Each step against the previous level"))
if pe.tables.get("linearity") is not None:
    show(shown(pe.tables["linearity"]), digits=3,
         caption=tr("Likelihood-ratio test: levels vs the same HR for every added product"))

# %% [markdown]
# ## 9. Is the effect the same early and late in the relationship?
#
# Proportional-hazards check of the product effect: R's `cox.zph` score test (time transform
# 1 - Kaplan-Meier), one per term, computed over the left-truncated risk sets; and the
# hazard ratio per product within tenure bands. If the effect changes with tenure, read the
# band-specific estimates and the months gained at each horizon (section 7) rather than one HR.

# %%
notes_for("ph_test_time_varying", "ph_test_adjusted_linear", "ph_bands")
if pe.tables.get("ph_test") is not None:
    show(shown(pe.tables["ph_test"]), digits=3)
if pe.tables.get("schoenfeld_time_varying") is not None:
    ax = plots.schoenfeld_plot(pe.tables["schoenfeld_time_varying"], "n_products")
    _ = ax.set_title(tr("Product effect over tenure (scaled Schoenfeld residuals)"))
    plt.show()
if pe.tables.get("ph_bands") is not None:
    show(shown(pe.tables["ph_bands"]), digits=3,
         caption=tr("Hazard ratio per product by tenure band"))

# %% [markdown]
# ## 10. Could something we did not measure explain it away?
#
# The E-value is the minimum strength of association (as a risk ratio) that an unmeasured factor
# would need with both product holding and leaving, beyond the characteristics adjusted for, to
# fully explain away the recommended estimate (and to move its confidence limit to 1).

# %%
notes_for("evalue")
if pe.tables.get("evalue") is not None:
    show(shown(pe.tables["evalue"][["estimate", "evalue", "evalue_ci", "rr", "outcome_share",
                                    "conversion"]]), digits=2)

# %% [markdown]
# ## 11. All estimates side by side
#
# Per-product estimates and group comparisons from every method. Estimates that adjust for
# confounding should agree with each other and differ from the naive one.

# %%
show(shown(pe.summary[["method", "contrast", "hr", "ci_low", "ci_high", "p", "n", "events",
                        "note"]]), digits=3)
if pe.summary["hr"].notna().any():
    ax = plots.estimates_plot(shown(pe.summary))
    _ = ax.set_title(tr("Hazard ratios by method (95% CI)"))
    plt.show()
display(Markdown(tr("**Conclusion.**") + " " + pe.conclusion))
tt = pe.truth_table()
if tt is not None:
    display(Markdown("### " + tr("Truth vs estimate (synthetic data)") + "\n\n"
                     + tr("The synthetic book was generated with known effects. Each estimate is "
                          "compared only with the true value of its own estimand (naive and "
                          "at-entry estimates have none).")))
    show(shown(tt), digits=3)
    if pe.truth and pe.truth.get("iptw_note"):
        note(cell_words(pe.truth["iptw_note"]))

# %% [markdown]
# ## Methods
#
# - Time is tenure (months on book). A customer first seen at tenure *t0* enters the risk sets at
#   *t0* (left truncation); customers still active at the as-of date are censored. Ties (whole
#   months) are handled by Efron's method.
# - Cox models by the package's Efron engine (delayed entry, strata, case weights); robust
#   (Lin-Wei sandwich) standard errors clustered by customer for IPW and the MSM. The same models
#   fitted with lifelines / statsmodels agree to 1e-6 (tested).
# - MSM: continuation-ratio logistic models of products at entry and of the monthly change
#   (numerator: last month's products, segment, new/existing, tenure at entry, time; denominator
#   adds engagement, age, assets and tier at entry and last month, recent outflows, branch), times
#   inverse-probability-of-censoring weights (the window end cuts the follow-up of customers who
#   opened inside it). See `docs/product_effect_methods.md`.
# - Rates are departures per 100 customer-years.
# - IPW: logistic propensity of 2+ products at entry (splines of engagement and tenure at entry,
#   age, assets, tier, segment, branch); segments where almost nobody is in one group are left out
#   (positivity).
# - E-value: VanderWeele & Ding (2017), common-outcome conversion of the HR.

# %% [markdown]
# ## Glossary

# %%
display(glossary("HR", "CI", "MSM", "g-formula", "RMST", "IPW", "E-value", "Kaplan-Meier",
                 "Log-rank test", "PH", "Schoenfeld residuals", "Customer-year", "Left truncation",
                 "Tenure", "p-value"))

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
h = pe.headline
r3 = lambda d: None if d.get("hr") is None else round(d["hr"], 3)  # noqa: E731
print(h["n"], h["events"], r3(h["gformula_hr"]), r3(h["msm"]), r3(h["cox_unadjusted_linear"]),
      r3(h["cox_time_varying"]), r3(h["iptw"]))
