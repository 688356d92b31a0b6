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
# # What attrition costs and what keeping a customer is worth
#
# A bank earns most of its profit from a minority of its customers, and acquiring a new customer costs several times more than keeping one. This report puts money on it: what each customer is expected to bring over the next years if the relationship runs its natural course (the **lifetime value**), how much profit is expected to leave with the customers who go in the next 12 months (the **value at risk**), what a branch can afford to spend to keep a customer, and what three retention actions would be worth. Every amount states its unit, horizon and discount rate, and comes with its 95% confidence interval (CI).

# %% tags=["parameters"]
data = "synthetic"  # "synthetic" (embedded default), a data folder or a mapping YAML
branch = None  # a branch name; None for the whole bank
as_of = None  # "YYYY-MM-DD"; None for the last month of the data
horizon = 60  # months of future profit in the lifetime value
discount_rate = 0.08  # annual discount rate of future profit
contact_cost = 50.0  # cost of one retention contact
offer_cost = 200.0  # cost of the retention offer (paid to whoever accepts it)
success_rate = 0.3  # share of contacted would-be leavers who accept and stay
acquisition_ratio = 6.0  # acquiring a customer costs this many times a contact and offer
waiver_cost = 600.0  # cost of a fee waiver per customer-year (tier 4-5 scenario)
outflow_cut = 0.5  # share of the outflow-driven risk of leaving a scenario removes
n_boot = 10  # bootstrap replicates of the intervals (more: steadier intervals, slower)
paths = 2  # simulated future paths per customer (the top tenth by profit gets 8x, the top 1% 32x)
seed = 0  # seed of the simulation and the bootstrap
show_ids = False  # this report never lists customers; kept for a common interface
lang = "en"  # report language: "en" or "zh" (Chinese)

# %% tags=["remove-output"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from analysis import plots
from analysis.i18n import set_language, tr
from analysis.report.display import note, show
from analysis.report.glossary import glossary
from analysis.report.headline import publish
from analysis.report.kpi import kpi_strip
from analysis.studies.population import prepare_study
from analysis.data.large_book import model_sample_size
from analysis.studies.whole_book import sample_note
from analysis.studies.value import tables
from analysis.studies.value.estimate import Assumptions, customer_value
from analysis.studies.value.findings import assumption_words, key_findings
from analysis.studies.value.headline import headline
from analysis.studies.value.migration import transition_table

set_language(lang)
plots.set_style()
# A large book: every customer is projected (SQL); the monthly models use a seeded sample.
study = prepare_study(data, branch=branch, as_of=as_of, sample=model_sample_size())
cv = customer_value(study, assumptions=Assumptions(
    horizon=horizon, discount_rate=discount_rate, contact_cost=contact_cost, offer_cost=offer_cost,
    success_rate=success_rate, acquisition_ratio=acquisition_ratio, waiver_cost=waiver_cost,
    outflow_cut=outflow_cut, n_boot=n_boot, paths=paths, paths_top=8 * paths, seed=seed))
publish(headline(cv))

# %%
display(kpi_strip("value", headline(cv)["value"]))

# %% [markdown]
# ## Key findings

# %%
if study.sample is not None:
    note(sample_note(study.sample))
display(Markdown(key_findings(cv)))

# %% [markdown]
# ## What a customer is worth
#
# The **lifetime value** of a customer on book today is the profit they are expected to bring each month, for as long as they are expected to stay, over the horizon, discounted to today: the chance of still being a customer in each coming month x the expected profit that month. The chance comes from the monthly models of report 02 (products, large outflows, balances and the risk of leaving, each customer simulated forward from their own situation); the profit moves with the customer's balances and products. On the synthetic book the last column is the true value from the generator.

# %%
if cv.customers.ok:
    display(Markdown(tr('Lifetime value per customer ({words}).', words=assumption_words(cv.assumptions))))
    for key in ('tier_segment', 'product_group', 'branch'):
        if key in cv.groups:
            show(tables.clv_table(cv, key), digits=0, rename=tables.RENAME, money=tables.MONEY)
    t = tables.clv_table(cv, 'tier').assign(label=lambda d: [tr('tier {t}', t=v) for v in d['tier']])
    plots.forest_plot(t, estimate='lifetime_value', label='label', ref=None,
                      title=tr('Lifetime value per customer ({words})', words=assumption_words(cv.assumptions)))
    plt.show()
else:
    note(cv.customers.note)

# %% [markdown]
# ## Value at risk: the profit expected to leave in the next 12 months
#
# For every customer, the profit of each of the next 12 months they would bring if they stayed, times the chance that they have left by then; summed by branch and tier (undiscounted).

# %%
if cv.customers.ok:
    display(Markdown(tr('Profit of the next 12 months, undiscounted.')))
    for key in ('branch', 'tier'):
        if f'var_{key}' in cv.groups:
            show(tables.risk_table(cv, key), digits=0, rename=tables.RENAME, money=tables.MONEY)

# %% [markdown]
# ## Retention economics
#
# What a kept customer is worth by tier (their lifetime value), and so the most a branch can spend to keep one who would otherwise leave; the lowest success rate at which a retention contact pays for itself (contact cost / (lifetime value - offer cost)). Costs are parameters of the report.

# %%
if cv.economics.ok:
    a = cv.assumptions
    display(Markdown(tr('Contact {contact}, offer {offer}, assumed success rate {rate}, acquisition {acq} a customer ({ratio} x a contact and offer); values {words}.',
                        contact=f'{a.contact_cost:,.0f}', offer=f'{a.offer_cost:,.0f}', rate=f'{a.success_rate:.0%}',
                        acq=f'{a.acquisition_cost:,.0f}', ratio=f'{a.acquisition_ratio:g}', words=assumption_words(a))))
    show(tables.economics_display(cv), digits=0, rename=tables.RENAME, money=tables.MONEY)

# %% [markdown]
# ## Scenarios
#
# Each scenario changes the simulated future and is compared with the natural course on the same random numbers: **one more product** for every tier 3+ customer who holds only one (from next month on, on top of what they would hold); **outflow-driven attrition cut**: the extra risk of leaving after a large outflow reduced by the share set in the parameters (say, by calling every customer with a large outflow); a **fee waiver** for tier 4-5 customers: the data hold no waiver history, so the report gives the effect a waiver would need to pay for itself.

# %%
if cv.scenarios.ok:
    display(Markdown(tr('Profit gained {words}.', words=assumption_words(cv.assumptions))))
    show(tables.scenario_table(cv), digits=1, rename=tables.RENAME, money=tables.MONEY)

# %% [markdown]
# ## Tier migration: potential high-value customers
#
# How customers move between value tiers from one month to the next, and to departure (rates over the last 12 months), and how many tier 2-3 customers reached tier 4 or above within a year, by the products they held a year ago. The chained monthly rates (a Markov model, which assumes that only this month's tier matters) give a cross-check of the direct count. The chain overstates the climb when tiers are read off balances that move up and down: a customer just above a threshold often falls back the next month, which the chain forgets; the direct count is the one to use.

# %%
if cv.migration.ok:
    mg = cv.migration.value
    show(transition_table(mg['transitions']), digits=3, rename={'from_tier': 'from tier', 'departed': 'left'})
    show(mg['reach'].drop(columns='incomplete', errors='ignore'), digits=3, rename={'group': 'products held a year ago', 'reached': 'reached tier 4+',
                                         'departed_first': 'left first'})
    display(Markdown(tr('Reaching tier 4+ within a year from tier 2-3: {direct} counted directly, {markov} from the chained monthly rates.',
                        direct=f"{mg['direct']:.1%}", markov=f"{mg['markov']:.1%}")))
else:
    note(cv.migration.note)

# %% [markdown]
# ## Which model predicts better: held-out months
#
# The models were fitted again on the data up to 12 months before the as-of month and asked to predict who would still be a customer 12 months later and the profit they would bring; the last 12 months of data tell what happened. The baseline is the shifted-beta-geometric model of contractual retention (Fader & Hardie 2007), fitted per tier, with each customer's profit held at its last value. The Brier score is the mean squared error of the predicted chance of staying (lower is better).

# %%
if cv.holdout.ok:
    show(cv.holdout.value['table'], digits=3, money=('predicted_profit', 'observed_profit'),
         rename={'predicted_retention': 'predicted share staying', 'observed_retention': 'observed share staying',
                 'predicted_profit': 'predicted profit', 'observed_profit': 'observed profit', 'tier': 'value tier'})
    show(tables.holdout_summary(cv), digits=3)
else:
    note(cv.holdout.note)

# %% [markdown]
# ## Methods
#
# - Lifetime value of customer *i*: the sum over the next *H* months (parameter `horizon`) of the chance of still being a customer in month *m* x the expected profit of month *m* x (1 + discount rate)^(-m/12). A customer who leaves in a month still brings that month's profit, as in the data.
# - The chance of staying comes from the monthly models of the parametric g-formula of report 02 (product changes, large outflows, balance, the risk of leaving as a pooled logistic model of the products held now and their history, balance, tier, a recent outflow, customer characteristics and tenure), fitted on every customer-month up to the as-of month and simulated forward from each customer's own situation then (`paths` paths each, more for the customers with the largest profit; survival as the product of the monthly chances of staying, so no departure is drawn). Time since the start of the data is held at its last value; tenure moves on.
# - The profit of a simulated month: the customer's profit in the as-of month plus what their balance, products and loan balance add since, at the rates of a regression of monthly profit within customers (customer fixed effects); loan balances run down along each customer's own trend of the last 12 months.
# - Intervals: `n_boot` bootstrap replicates refit every monthly model on a resample of customers and simulate the same customers again; the interval is the estimate plus or minus the SD over replicates x Student's t quantile with `n_boot` - 1 df. They cover the uncertainty of the models and the simulation for the customers on book now; the profit regression is held fixed (its standard errors are tiny).
# - Value at risk: for each of the next 12 months, the chance the customer has left by then x the profit they would have brought that month; undiscounted.
# - Scenarios change the products held or the risk of leaving in the same simulation, on the same random numbers as the natural course. The fee waiver's break-even: the hazard ratio at which the lifetime value gained equals the waiver's discounted cost while the customer stays (regula falsi; the bootstrap replicates take one Newton step from it).
# - Economics: break-even success rate = contact cost / (lifetime value - offer cost); cost per customer kept = contact cost / success rate + offer cost; acquisition cost = `acquisition_ratio` x (contact + offer cost).
# - Tier migration: pairs of consecutive months of the same customer in the last 12 months; departure is a state; Wilson intervals. The direct count follows every tier 2-3 customer on book 12 months before the as-of month.
# - Baseline: shifted-beta-geometric model (Fader & Hardie 2007), maximum likelihood with delayed entry (customers seen from their tenure at the start of the data).
# - Balances are projected as a random walk with each customer's own drift: the monthly change of the balance depends on the change of products and of their history, an outflow and the customer's characteristics, not on the level of products held, so a growth that products build and that levels off is not carried on beyond the months the data hold.

# %% [markdown]
# ## Glossary

# %%
display(glossary("CI", "CLV", "AUM", "sBG", "Tenure"))

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
h = headline(cv)['value']
print(h['scope'], h['as_of'], h['customers'], round(h['clv_mean']['estimate'], -1), round(h['clv_mean']['truth'] or 0, -1))
print({k: round(v['estimate'], -1) for k, v in h['clv_by_tier'].items()})
print(round(h['value_at_risk_12m'][h['scope'] if h['scope'] == 'bank' else 'branch']['estimate'], -3), round(h['departures_12m']['estimate']))
