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
# # What drives attrition
#
# Which characteristics go with customers leaving, each adjusted for the others; whether the model's assumptions hold; how accurately it tells who will leave; and, where the data record it, why customers leave. Numbers come with 95% confidence intervals.

# %% tags=["parameters"]
data = "synthetic"  # "synthetic" (embedded default) or a data folder / mapping file
branch = None  # None = whole bank, or a branch name
as_of = None  # "YYYY-MM-DD"; None = last month of the data
attrition = "closure"  # "closure" or "value"
k = 3  # months below tier 3 that confirm value attrition
horizons = [12, 24, 36]  # months: accuracy horizons after entry; tenures for reasons
test_size = 0.3  # share of customers held out to measure accuracy
seed = 1  # seed of the held-out split
show_ids = False  # this report never lists customers; kept for a common interface
min_events = 10  # fewer departures than this: the report says so at the top
frailty = None  # outflow warning for a given customer (gamma frailty): None = bank-wide report only
lang = "en"  # report language: "en" or "zh" (Chinese)

# %% tags=["remove-output"]
import matplotlib.pyplot as plt

from analysis.studies.drivers.estimate import attrition_drivers, partial_effect
from analysis.studies.drivers.headline import headline
from analysis.studies.drivers.findings import counts_note, key_findings
from analysis.studies.drivers.ph import schoenfeld_panels
from analysis.studies.overview.estimate import portfolio_summary
from analysis.report.display import Markdown, display, note, note_words, show  # escaped: data may hold HTML
from analysis.report.kpi import kpi_strip
from analysis.report.glossary import glossary
from analysis.report.headline import publish
from analysis.studies.population import events_note, prepare_study
from analysis.data.large_book import model_sample_size
from analysis.studies.whole_book import sample_note
from analysis import plots
from analysis.i18n import set_language, tr, tr_value

set_language(lang)
plots.set_style()
# A large book: the models are fitted on a seeded sample of customers (stated below).
study = prepare_study(data, branch=branch, attrition=attrition, k=k, as_of=as_of,
                      sample=model_sample_size())
dr = attrition_drivers(study, horizons=horizons, test_size=test_size, seed=seed,
                      frailty=branch is None if frailty is None else bool(frailty))
publish(headline(dr))

# %%
display(kpi_strip("drivers", headline(dr)["drivers"]))

# %% [markdown]
# ## Key findings

# %%
if events_note(study, min_events):
    note(events_note(study, min_events))
if study.sample is not None:
    note(sample_note(study.sample))
display(Markdown(key_findings(dr)))

# %% [markdown]
# ## The book studied

# %%
show(portfolio_summary(study))

# %% [markdown]
# ## The model
#
# A Cox proportional-hazards model on tenure (months on book). Customers already on the book when observation started enter the risk sets at their tenure then (left truncation); tied departure months are handled with Efron's method. Covariates are measured when the customer entered observation. Categorical covariates are compared with a reference level; numeric ones are in natural units (age per 10 years, tenure at entry per year, products per product); a covariate whose effect is not a straight line on the log-hazard scale gets a natural cubic spline.

# %%
if dr.design.ok:
    show(dr.design.value.describe(), caption=tr('Covariates and how they are coded'))
    for text in dr.design.value.notes:
        note(text)
else:
    note(dr.design.note)

# %% [markdown]
# ### Is a straight line right?
#
# Each continuous covariate is replaced in turn by a natural cubic spline (4 knots) and compared with the linear model by a likelihood-ratio test; a spline is kept where the p-value is below 0.05 divided by the number of covariates tested.

# %%
show(dr.linearity.value.drop(columns='term') if dr.linearity.ok else dr.linearity, digits=4,
     caption=tr('Likelihood-ratio tests of linearity'))
if dr.model.ok:
    for term in dr.design.value.terms:
        if term.kind == 'spline':
            curve = partial_effect(term, dr.model.value.params, dr.model.value.variance)
            ax = plots.partial_effect_plot(curve, xlabel=term.words)
            _ = ax.set_title(tr('Risk of leaving by {covariate} (spline)', covariate=term.words))
            plt.show()

# %% [markdown]
# ### Hazard ratios
#
# A hazard ratio above 1 means a higher rate of leaving, holding the other covariates fixed; below 1, a lower one. The last column is the proportional-hazards test of the covariate (next section).

# %%
if dr.effects.ok:
    eff = dr.effects.value
    show(eff[['label', 'hr', 'ci_low', 'ci_high', 'p', 'ph_test_p']], digits=3,
         rename={'label': 'effect', 'hr': 'HR', 'ci_low': '95% CI low', 'ci_high': '95% CI high',
                 'ph_test_p': 'PH test p'})
    ax = plots.forest_plot(eff, label='label')
    _ = ax.set_title(tr('Hazard ratios of leaving (95% CI)'))
    _ = ax.set_xlabel(tr('Hazard ratio (log scale)'))
    plt.show()
else:
    note(dr.effects.note)

# %% [markdown]
# ## Does each effect stay constant over the tenure?
#
# The Cox model assumes each hazard ratio is the same at every tenure (proportional hazards). The test (R's `cox.zph`: a score test on the scaled Schoenfeld residuals, one per covariate and a global one) uses the Kaplan-Meier time scale (R's default transform) and honours left truncation. A covariate fails where p is below 0.05 divided by the number of covariates. In the plots a flat smoothed line means a constant effect.

# %%
if dr.ph.ok:
    display(Markdown(tr('Time transform: **{transform}**.', transform=tr(dr.transform))))
    show(dr.ph.value[0].reset_index(drop=True), digits=4,
         rename={'threshold': 'fails below', 'flagged': 'fails'})
    panels = schoenfeld_panels(dr)
    if panels:
        fig, axes = plots.grid(len(panels))
        for ax, (col, title, beta) in zip(axes, panels):
            plots.schoenfeld_plot(dr.ph.value[1].residuals, col, beta=beta, ax=ax, transform=dr.transform)
            _ = ax.set_ylabel(tr('beta(t) (log hazard ratio)'))
            _ = ax.set_title(title, fontsize='small')
        fig.tight_layout()
        plt.show()
else:
    note(dr.ph.note)

# %% [markdown]
# ### Remedy where an effect changes with tenure
#
# The worst failing covariate is remedied and the model refitted and tested again, until none fails: a categorical covariate becomes a stratum (its own baseline hazard per level), a numeric one gets a separate hazard ratio in each tenure band.

# %%
if not dr.remedy.ok:
    note(dr.remedy.note)
elif dr.remedy.value is None:
    display(Markdown(tr('No covariate fails the test: the model is kept as it is.')))
else:
    r = dr.remedy.value
    display(Markdown('\n'.join(f'- {a}' for a in r.actions)))
    show(r.steps, digits=4, caption=tr('Covariates remedied, in order (test before the remedy)'))
    show(r.compare.drop(columns='key'), digits=3, caption=tr('Hazard ratios and PH tests before and after'),
         rename={'label': 'effect', 'hr_before': 'HR before', 'ci_low_before': '95% CI low before',
                 'ci_high_before': '95% CI high before', 'ph_test_p_before': 'PH test p before',
                 'hr_after': 'HR after', 'ci_low_after': '95% CI low after',
                 'ci_high_after': '95% CI high after', 'ph_test_p_after': 'PH test p after'})
    if len(r.bands):
        show(r.bands, digits=3, caption=tr('Hazard ratios by tenure band'))
    show(r.ph_after.reset_index(drop=True), digits=4, caption=tr('PH test after the remedy'),
         rename={'threshold': 'fails below', 'flagged': 'fails'})

# %% [markdown]
# ## Products now and recent outflows (time-varying model)
#
# With monthly histories the model can use what a customer holds *this month* and whether a large fund outflow happened in the last 3 months, instead of values at entry (counting-process Cox model, same other covariates, linear terms).

# %%
if dr.time_varying.ok:
    tv = dr.time_varying.value.effects
    show(tv[['label', 'hr', 'ci_low', 'ci_high', 'p']], digits=3,
         rename={'label': 'effect', 'hr': 'HR', 'ci_low': '95% CI low', 'ci_high': '95% CI high'})
else:
    note(dr.time_varying.note)
if dr.from_counts.ok:  # the large-book engine: every customer of a large book
    display(Markdown(counts_note(dr.from_counts.value)))
    show(dr.from_counts.value.table.drop(columns='key'), digits=3,
         rename={'label': 'effect', 'hr': 'HR from counts', 'ci_low': '95% CI low',
                 'ci_high': '95% CI high', 'hr_rows': 'HR, row-by-row fit',
                 'ci_low_rows': '95% CI low, rows', 'ci_high_rows': '95% CI high, rows'})
elif dr.time_varying.ok:
    note(dr.from_counts.note)

# %% [markdown]
# ### The outflow warning for a given customer
#
# Customers differ in ways the data do not record. The ratio above compares customers across the book: after a large outflow the customers most prone to leave go first, so those still on book a month or two later are the steadier ones, and a ratio measured across customers is smaller than the ratio for a given customer. The table refits the model with a *frailty*: an unrecorded propensity to leave that multiplies a customer's hazard (gamma distributed, mean 1). Its variance is estimated from the data and, as a sensitivity analysis, fixed at stated values (0.25: a customer at the 90th percentile of that propensity leaves about 4 times as fast as one at the 10th; 1: about 20 times as fast). With one departure per customer the data can hardly tell such differences apart from the shape of the hazard over tenure, so the estimated variance is weak evidence: read the assumed rows as "if customers differ this much". The months before a customer's first observed month are taken to have that month's characteristics and no recent outflow.

# %%
if dr.frailty.ok:
    if dr.frailty.value.sampled:
        note(tr('The frailty models are fitted on a seeded sample of {n} customers.',
                n=f'{dr.frailty.value.n_customers:,}'))
    show(dr.frailty.value.table.drop(columns='kind'), digits=3,
         rename={'assumption': 'frailty', 'variance': 'frailty variance',
                 'hr': 'HR of a recent large outflow', 'ci_low': '95% CI low',
                 'ci_high': '95% CI high'})
else:
    note(dr.frailty.note)

# %% [markdown]
# ## A parametric alternative: accelerated failure time models
#
# Weibull, log-normal and log-logistic models of the time to leaving (with the same covariates and left truncation), compared by AIC (lower is better; a difference above 10 is decisive). Their effects are **time ratios**: above 1 a customer stays longer (the time to leaving is stretched by that factor), below 1 leaves sooner. (The Cox partial likelihood is not comparable by AIC with these full likelihoods.)

# %%
if dr.aft.ok:
    a = dr.aft.value
    show(a.comparison, digits=1, caption=tr('Model comparison'))
    show(a.time_ratios[['label', 'tr', 'ci_low', 'ci_high', 'p']], digits=3,
         caption=tr('Time ratios of the best model ({model})', model=tr_value(a.best)),
         rename={'label': 'effect', 'tr': 'time ratio', 'ci_low': '95% CI low', 'ci_high': '95% CI high'})
    ax = plots.forest_plot(a.time_ratios, estimate='tr', label='label')
    _ = ax.set_title(tr('Time ratios ({model} model, 95% CI)', model=tr_value(a.best)))
    _ = ax.set_xlabel(tr('Time ratio (log scale; above 1 = stays longer)'))
    plt.show()
else:
    note(dr.aft.note)

# %% [markdown]
# ## How accurate is it?
#
# The model is refitted on a random share of customers and tested on the others (held out). It predicts each held-out customer's risk of leaving within each horizon after entering observation. **Concordance** (Harrell's, and Uno's which corrects for censoring): the share of pairs of customers whose order of leaving the model gets right (0.5 = coin toss, 1 = perfect). **AUC** at a horizon: how well the risk separates those who left by then from those still here. **Brier score**: mean squared error of the predicted probability (lower is better), next to that of a model without covariates. **Calibration**: predicted vs observed risk in groups of customers ranked by risk; the ICI is the average gap between predicted and (smoothed) observed risk.

# %%
if dr.held_out.ok:
    h = dr.held_out.value
    a = h.accuracy
    display(Markdown(tr(
        "Fitted on {train} customers, tested on {test} ({left} left). Harrell's C **{harrell}**, "
        "Uno's C **{uno}** (up to {h} months).", train=f'{a.n_train:,}', test=f'{a.n_test:,}',
        left=f'{a.events_test:,}', harrell=f'{a.c_harrell:.3f}', uno=f'{a.c_uno:.3f}',
        h=f'{a.horizons[-1]:g}')))
    for text in h.notes:
        note(text)
    show(a.table, digits=3, rename={'auc': 'AUC', 'brier': 'Brier', 'brier_null': 'Brier without covariates',
                                    'ipa': 'improvement over no covariates'})
    ax = plots.accuracy_plot(a.table)
    _ = ax.set_title(tr('Discrimination and error by horizon (held-out customers)'))
    plt.show()
    ok = [(hz, c.value) for hz, c in h.calibration.items() if c.ok]
    for hz, c in h.calibration.items():
        if not c.ok:
            note(tr('{h} months: {note}', h=f'{hz:g}', note=note_words(c.note)))
    if ok:
        fig, axes = plots.grid(len(ok), ncols=3, size=(4.2, 4.0))
        for ax, (hz, c) in zip(axes, ok):
            plots.calibration_plot(c.groups, c.curve, ax=ax)
            _ = ax.set_title(tr('Within {h} months: ICI {ici}', h=f'{hz:g}', ici=f'{c.ici:.3f}'),
                             fontsize='small')
        fig.tight_layout()
        plt.show()
else:
    note(dr.held_out.note)

# %% [markdown]
# ## Why customers leave
#
# Where the data record a reason for each departure: the **cumulative incidence** of each reason (Aalen-Johansen; the share of customers who have left *for that reason* by each tenure, allowing for the other reasons: one minus a Kaplan-Meier curve would overstate it) and **cause-specific hazard ratios**: how the main drivers change the rate of leaving for each reason.

# %%
if dr.reasons.ok:
    r = dr.reasons.value
    show(r.counts, digits=3, caption=tr('Departures by reason'))
    ax = plots.cif_plot(r.cif, max_time=120)
    _ = ax.set_title(tr('Cumulative incidence of leaving, by reason'))
    plt.show()
    show(r.cif_at, digits=3, caption=tr('Cumulative incidence at the horizons (tenure, months)'))
    if r.cause_hr.ok:
        t = r.cause_hr.value
        show(t[['cause', 'driver', 'events', 'hr', 'ci_low', 'ci_high', 'p']], digits=3,
             caption=tr('Cause-specific hazard ratios'))
        ax = plots.cause_forest_plot(t)
        _ = ax.set_title(tr('Cause-specific hazard ratios (95% CI)'))
        plt.show()
    else:
        note(r.cause_hr.note)
    for text in r.notes:
        note(text)
else:
    note(dr.reasons.note)

# %% [markdown]
# ## Estimates against the known truth (synthetic data)
#
# On the synthetic book the true hazard ratios are known. *comparable* says whether a model estimates that quantity: a model of characteristics at entry cannot recover effects that act through changes after entry (products adopted later, outflows).

# %%
shown = False
for words, att in ((tr('Model of characteristics at entry'), dr.truth_static),
                   (tr('Time-varying model'), dr.truth_tv)):
    if att.ok:
        show(att.value.drop(columns='key'), digits=3, caption=words,
             rename={'hr': 'estimate', 'true_hr': 'true HR', 'covered': 'CI covers truth'})
        shown = True
if dr.truth_frailty.ok:
    show(dr.truth_frailty.value, digits=3,
         caption=tr('Recent large outflow for a given customer, at the generator\'s frailty variance'),
         rename={'variance': 'frailty variance', 'hr': 'estimate', 'true_hr': 'true HR',
                 'covered': 'CI covers truth'})
if not shown:
    note(tr('These data have no known truth (not synthetic).'))

# %% [markdown]
# ## Methods
#
# - Cox model: Efron ties, delayed entry at the tenure when observation starts; Wald 95% CIs. Levels of a categorical covariate with fewer than 5 departures are merged; numeric covariates almost collinear with the others (VIF above 10) are left out.
# - Proportional hazards: R `cox.zph` (survival 3.x) score tests per term and global, computed with left-truncated risk sets (lifelines' test refuses left-truncated fits); checked against lifelines on non-truncated data and against an episode-split model.
# - AFT: Weibull, log-normal and log-logistic regression with entry times, maximum likelihood by Newton's method (equal to lifelines' fitters run to convergence).
# - Accuracy: scikit-survival's concordance (Harrell, Uno), cumulative/dynamic AUC and Brier score on time since entry, censoring weights from the training data; calibration by risk group and ICI (Austin, Harrell & van Klaveren 2020).
# - Reasons: Aalen-Johansen estimator with delayed entry (equal to lifelines'); cause-specific Cox models, other reasons censored.
# - Hazard ratios describe associations adjusted for the other covariates, not the effect of changing a characteristic.

# %% [markdown]
# ## Glossary

# %%
display(glossary("HR", "CI", "p-value", "PH", "Schoenfeld residuals", "AFT", "C-index", "AUC",
                 "Brier score", "Kaplan-Meier", "Left truncation", "Tenure"))

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
h = headline(dr)['drivers']
# a small branch may have no held-out check or no model: say so instead of failing
acc = [round(h[k], 3) if k in h else "not estimable" for k in ("c_index_harrell", "c_index_uno")]
print(h['n'], h['events'], *acc)
print({k: round(v['hr'], 3) for k, v in h.get('covariates', {}).items()
       if k in ('segment=loan', 'age_entry', 'n_products_entry')})
print(h.get('ph_flagged', 'not estimable'), h.get('aft', {}).get('distribution', 'not estimable'),
      sorted(h.get('reasons', {})))
