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
# # Attrition overview: who leaves, and when
#
# Attrition rates and survival curves by value tier, reliance segment, product count and branch; median time to attrition; where in the tenure the risk peaks; and how concentrated the book's value is. Numbers come with 95% confidence intervals.

# %% tags=["parameters"]
data = "synthetic"  # "synthetic" (embedded default), a data folder or a mapping YAML
branch = None  # a branch name; None for the whole bank
as_of = None  # "YYYY-MM-DD"; None for the last month of the data
attrition = "closure"  # "closure" or "value"
k = 3  # months below tier 3 that confirm value attrition
horizons = [12, 24, 36]  # tenure horizons, months
show_ids = False  # this report never lists customers; kept for a common interface
min_events = 10  # fewer departures than this: the report says so at the top
lang = "en"  # report language: "en" or "zh" (Chinese)

# %% tags=["remove-output"]
import matplotlib.pyplot as plt

from analysis.studies.overview.estimate import attrition_overview
from analysis.studies.overview.headline import headline
from analysis.studies.overview.findings import key_findings
from analysis.report.display import Markdown, display, note, show  # escaped: data may hold HTML
from analysis.report.kpi import kpi_strip
from analysis.report.glossary import glossary
from analysis.report.headline import publish
from analysis.studies.population import events_note, prepare_study
from analysis.data.large_book import model_sample_size
from analysis.studies.whole_book import sample_note
from analysis.studies.words import p_text
from analysis import plots
from analysis.i18n import set_language, tr

set_language(lang)
plots.set_style()
# A large book: counts and curves use every customer, models a seeded sample (stated below).
study = prepare_study(data, branch=branch, attrition=attrition, k=k, as_of=as_of,
                      sample=model_sample_size())
ov = attrition_overview(study, horizons=horizons)
publish(headline(ov))

# %%
display(kpi_strip("overview", headline(ov)["overview"]))

# %% [markdown]
# ## Key findings

# %%
if events_note(study, min_events):
    note(events_note(study, min_events))
if study.sample is not None:
    note(sample_note(study.sample))
display(Markdown(key_findings(ov, min_events=min_events)))

# %% [markdown]
# ## The book studied

# %%
show(ov.summary)
if len(ov.exclusions):
    show(ov.exclusions, caption=tr('Customers outside the population studied, and why'))

# %%
if ov.versus_bank is not None:  # a branch's report: the branch against the bank
    display(Markdown('## ' + tr('This branch against the bank')))
    if ov.versus_bank.ok:
        vb = ov.versus_bank.value
        show(vb.table, digits=3, caption=tr('The branch, the rest of the bank and the whole bank'))
        ax = plots.km_plot(vb.km, at_risk_times=list(range(0, 121, 24)),
                           title=tr('Customers remaining: the branch and the rest of the bank'))
        _ = ax.set_xlim(0, 120)
        plt.show()
    else:
        note(ov.versus_bank.note)

# %% [markdown]
# ## Attrition rates
#
# Customers leaving per 100 customer-years of observation (exact Poisson 95% CI). Rates, unlike raw shares, allow for customers being observed for different lengths of time.

# %%
for col, words in study.groupings.items():
    if col not in ov.rates:
        continue
    rates = ov.rates[col]
    display(Markdown('### ' + tr('By {words}', words=words)))
    if not rates.ok:
        note(rates.note)
        continue
    bank = ov.versus_bank.value.bank_rate if ov.versus_bank is not None and ov.versus_bank.ok else None
    ax = plots.rate_plot(rates.value, x=col, xlabel=words, reference=bank,
                         reference_label=None if bank is None else tr('whole bank {value}', value=f'{bank:.1f}'))
    _ = ax.set_title(tr('Attrition rate by {words}', words=words))
    plt.show()
    show(rates.value, digits=1)

# %% [markdown]
# ## Survival curves
#
# Kaplan-Meier estimates of the share of customers still with the bank by months of tenure, with 95% bands, censoring marks (+) and the number of customers at risk under each plot. Customers already on the book when observation started enter the risk set at their tenure then (left truncation), so long-standing customers do not make early tenure look safer than it is. The log-rank test asks whether the curves differ.

# %%
for col, words in study.groupings.items():
    if col not in ov.km:
        continue
    km, lr = ov.km[col], ov.logrank[col]
    display(Markdown('### ' + tr('By {words}', words=words)))
    if not km.ok:
        note(km.note)
        continue
    title = tr('Customers remaining by {words}', words=words)
    if km.value['group'].nunique() > 5 and ov.km_all.ok:  # small multiples, each against everyone
        plots.km_panels(km.value, reference=ov.km_all.value, reference_label=tr('all customers'),
                        at_risk_times=list(range(0, 121, 24)), xmax=120, title=title)
    else:
        ax = plots.km_plot(km.value, at_risk_times=list(range(0, 121, 24)), title=title)
        _ = ax.set_xlim(0, 120)
    plt.show()
    if lr.ok:
        display(Markdown(tr('Log-rank test: chi-square {chi2} on {df} df, {p}.', chi2=f'{lr.value.chi2:.1f}',
                            df=lr.value.df, p=p_text(lr.value.p))))
    else:
        note(lr.note)

# %% [markdown]
# ## Survival and restricted mean survival time at the horizons
#
# Survival: share still with the bank at each tenure. Restricted mean survival time (RMST): the average number of months a customer stays within the horizon (its standard error is that of the estimate, Greenwood-type).

# %%
show(ov.survival_at, digits=3, caption=tr('Share remaining at each horizon (all customers)'))
show(ov.survival_at_products, digits=3, caption=tr('Share remaining by products held at entry'))
show(ov.rmst, digits=2, caption=tr('Restricted mean months on book within each horizon'))

# %% [markdown]
# ## Median time to attrition
#
# The tenure by which half of customers have left (blank: not reached).

# %%
show(ov.median, digits=1, caption=tr('All customers'))
for col in ov.median_by:
    show(ov.median_by[col], digits=1, caption=tr('By {words}', words=study.groupings[col]))

# %% [markdown]
# ## When in the tenure is the risk highest?
#
# Monthly hazard (share of customers at risk who leave in that month of tenure), smoothed with a 6-month kernel, with a 95% band.

# %%
if ov.hazard.ok:
    ax = plots.hazard_plot(ov.hazard.value[ov.hazard.value['time'] <= 120])
    _ = ax.set_title(tr('Risk of leaving by month of tenure'))
    plt.show()
else:
    note(ov.hazard.note)

# %% [markdown]
# ## How concentrated is the value? (the 80/20 check)
#
# Lorenz curve of annualised profit per customer (or the value column a mapping names): how much of it the top customers bring.

# %%
if ov.lorenz.ok:
    ax = plots.lorenz_plot(ov.lorenz.value)
    _ = ax.set_title(tr('Share of {value} by share of customers', value=study.value_words))
    plt.show()
    display(Markdown(tr('Top 20% of customers: **{share}** of {value}; Gini {gini}.', share=f'{ov.top20_share:.0%}',
                        value=study.value_words, gini=f'{ov.gini:.2f}')))
else:
    note(ov.lorenz.note)

# %% [markdown]
# ## Methods
#
# - Time is tenure (months on book). A customer first seen at tenure *t0* enters the risk sets at *t0* (left truncation); customers still active at the as-of date are censored.
# - Kaplan-Meier with Greenwood variance and log(-log) pointwise intervals; log-rank tests with left-truncated risk sets; RMST with the Greenwood-type standard error of the estimate.
# - Group comparisons here are descriptive, not causal.

# %% [markdown]
# ## Glossary

# %%
display(glossary("CI", "Kaplan-Meier", "Log-rank test", "RMST", "Customer-year", "Censored",
                 "Left truncation", "Tenure"))

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
h = headline(ov)['overview']
print(h['n'], h['events'], round(h['rate_per_100_person_years']['estimate'], 2),
      [round(h['survival_at'][str(t)]['survival'], 3) for t in horizons])
