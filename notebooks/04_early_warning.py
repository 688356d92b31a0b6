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
# # Early warning: who to call this month
#
# Each month every branch gets a list of the customers most worth a call: the ones whose departure in the next months would cost the most, given their risk of leaving and the profit they bring. Below: this month's list (counts and value, no names), and a backtest over the last 12 months of data showing how many of the listed customers actually left, against the rules branches use today.

# %% tags=["parameters"]
data = "synthetic"  # "synthetic" (embedded default) or a data folder / mapping file
branch = None  # None = whole bank, or a branch name
as_of = None  # "YYYY-MM-DD"; None = last month of the data
attrition = "closure"  # "closure" or "value"
k = 3  # months below tier 3 that confirm value attrition
contacts_per_rm = 10  # calls one relationship manager can make a month
rms_per_branch = 2  # relationship managers per branch
horizon = 3  # months ahead the list looks (3 or 6)
customer_value = None  # value of keeping a leaver; None = 3 years of the mean annual profit
contact_cost = 50.0  # cost of one call
offer_cost = 200.0  # cost of the retention offer (paid to whoever accepts it)
success_rate = 0.3  # share of contacted leavers who accept and stay (mean)
outflow_share = 0.3  # rules: an outflow above this share of AUM this month...
outflow_amount = 500000.0  # ...or above this amount
watchlist_dir = None  # a folder: also write the operational list (pseudonymous keys) there
show_ids = False  # this report never shows customers; the list goes to watchlist_dir
seed = 0  # seed of the random list and of the bootstrap
lang = "en"  # report language: "en" or "zh" (Chinese)

# %% tags=["remove-output"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from analysis import plots
from analysis.i18n import set_language, tr
from analysis.report.display import note, show
from analysis.report.kpi import kpi_strip
from analysis.report.glossary import glossary
from analysis.report.headline import publish
from analysis.studies.early_warning.estimate import (backtest_table, early_warning,
                                                     listed_summary, method_labels)
from analysis.studies.early_warning.findings import key_findings
from analysis.studies.early_warning.headline import headline
from analysis.studies.early_warning.rules import RuleSettings
from analysis.studies.early_warning.watchlist import write_watchlist
from analysis.studies.population import prepare_study
from analysis.data.large_book import model_sample_size

set_language(lang)
plots.set_style()
# A large book: the model learns from a seeded sample of customers; the list scores everyone.
study = prepare_study(data, branch=branch, attrition=attrition, k=k, as_of=as_of,
                      sample=model_sample_size())
ew = early_warning(study, contacts_per_rm=contacts_per_rm, rms_per_branch=rms_per_branch,
                   horizon=horizon, customer_value=customer_value, contact_cost=contact_cost,
                   offer_cost=offer_cost, success_rate=success_rate, seed=seed,
                   rule_settings=RuleSettings(outflow_share=outflow_share,
                                              outflow_amount=outflow_amount, seed=seed))
publish(headline(ew))
if watchlist_dir:
    write_watchlist(ew, watchlist_dir)

# %%
display(kpi_strip("early_warning", headline(ew)["early_warning"]))

# %% [markdown]
# ## Key findings

# %%
for text in ew.notes:  # a large book: what the sample is used for
    note(text)
display(Markdown(key_findings(ew)))

# %% [markdown]
# ## This month's list
#
# Customers on the list by branch and value tier: their assets (AUM), annual profit, and the **value at risk**: the annual profit expected to leave with them (risk of leaving x annual profit). Relationship managers get the list itself, with a pseudonymous key, the reasons and a suggested action, from `analysis watchlist`.

# %%
show(ew.current if not ew.current.ok else listed_summary(ew), digits=0,
     rename={'aum': 'AUM', 'annual_profit': 'annual profit', 'value_at_risk': 'value at risk'},
     money=('aum', 'annual_profit', 'value_at_risk'))

# %% [markdown]
# ## How the list is made
#
# At every past month each customer's signals are recorded: large outflows (this month and over 3 months, as a count and as a share of assets), the trend of assets over 6 months, a product dropped or a value tier lost in the last 3 months, products held, assets, tier, segment, age, tenure, branch and (where recorded) engagement. A **discrete-time hazard model** (complementary log-log, the grouped proportional-hazards model of monthly data) learns from the 12 months before the as-of month how these signals raise the chance of leaving in each of the next 6 months, and gives each customer's risk of leaving within 3 and 6 months. Only history before the as-of month is used. Each branch's list holds its customers with the largest value at risk.
#
# The rules it is compared with: a tier 4-5 customer with a large outflow this month; the largest AUM first; the largest outflows last month first; a random pick. On the synthetic book, the **oracle** ranks customers by their true risk (the generator's hazard).

# %% [markdown]
# ## Backtest: did the listed customers leave?
#
# At each of the last 12 as-of months whose next 6 months are in the data, each method listed each branch's customers with what was known then; the table shows who left in the following months. *Listed who left*: precision at the list size; *leavers listed*: recall; *lift (top 10%)*: the share of leavers among the top tenth of the risk ranking over the average share; *AUC*: how well the risk separates leavers from stayers (0.5 = coin toss); *value captured*: the share of the departing customers' annual profit that was on the list (95% CI, customers resampled); *lead*: median months from first listing to leaving; *EMPC*: expected maximum profit per customer of a campaign run from the ranking (Verbraken et al. 2013).

# %%
if ew.backtest.ok:
    for h in ew.horizons:
        show(backtest_table(ew, h), digits=3, caption=tr('Leaving within {h} months', h=h),
             rename={'precision_at_k': 'listed who left', 'recall_at_k': 'leavers listed',
                     'lift_top_decile': 'lift (top 10%)', 'auc': 'AUC', 'value_captured': 'value captured',
                     'ci_low': '95% CI low', 'ci_high': '95% CI high', 'aum_captured': 'AUM captured',
                     'median_lead_months': 'lead (months)',
                     'alerts_per_branch_month': 'listed per branch a month', 'empc': 'EMPC'})
else:
    note(ew.backtest.note)

# %%
if ew.backtest.ok:
    bt, labels = ew.backtest.value, method_labels(ew)
    cur = bt.curves[bt.curves['horizon'] == ew.horizon]
    fig, axes = plots.grid(3, ncols=3, size=(4.6, 3.8))
    for ax, metric in zip(axes, ('precision', 'value_captured', 'profit')):
        plots.list_curve_plot(cur[cur['k'] <= 3 * ew.list_size], metric, labels=labels,
                              list_size=ew.list_size, ax=ax)
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ### Lead time and calibration
#
# How early the list caught the customers who left, and whether the predicted risks match the observed shares (groups of customers ranked by predicted risk; the diagonal is perfect calibration).

# %%
if ew.backtest.ok:
    lead = bt.lead[(bt.lead['horizon'] == ew.horizon) & bt.lead['method'].isin(['model', 'rule_largest_aum'])]
    if len(lead):
        plots.lead_time_plot(lead, labels=labels)
        plt.show()
    cals = [(m, c) for (m, hz), c in bt.calibration.items() if hz == ew.horizon]
    fig, axes = plots.grid(len(cals), ncols=2, size=(4.4, 4.0))
    for ax, (m, c) in zip(axes, cals):
        plots.calibration_plot(c, ax=ax, title=tr('{method}: within {h} months', method=labels[m], h=ew.horizon))
        ax.set_ylabel(tr('Observed share who left'))
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Methods
#
# - Signals at month *t* use the customer's rows up to *t* only; a test cuts the data at the as-of month and gets the same scores.
# - Model: landmark discrete-time hazard, complementary log-log link, one row per customer, landmark month and month ahead (1-6); outflow signals have extra terms for the next 3 months and the next month; tenure as a restricted cubic spline of log tenure; ridge penalty 1 on standardised columns; refitted every 3 months of the backtest on the 12 landmark months before the refit month.
# - Intervals: customers resampled (cluster bootstrap), percentile 95% intervals; the model "beats" a rule only when the interval of the difference excludes zero.
# - EMPC: Verbraken, Verbeke and Baesens (2013), closed form over a Beta distribution of the success rate (mean `success_rate`, Beta(6, 14) at the default), customer value constant; the profit by list size uses each customer's own annual profit.
# - Acquisition cost: 6 x the retention cost (offer + contact) by default (`config.ACQUISITION_TO_RETENTION_COST`), shown in the headline for comparison.

# %% [markdown]
# ## Glossary

# %%
display(glossary("CI", "AUC", "AUM", "Lift", "EMPC", "Tenure"))

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
h = headline(ew)['early_warning']
print(h['scope'], h['as_of'], h['list_size'], h['scored'], h['listed'].get('customers', 'not estimable'))
m = h['backtest'].get('methods', {})
print({k: round(v['value_captured'], 3) for k, v in m.items()})
print({k: round(v['lift_top_decile'], 2) for k, v in m.items()})
