"""Write notebooks/01_attrition_overview.ipynb (clean, no outputs). Run once after editing."""
from nbformat.v4 import new_code_cell as code, new_markdown_cell as md

from notebook_writer import write_notebook

cells = [
    md("# Attrition overview: who leaves, and when\n\n"
       "Attrition rates and survival curves by value tier, reliance segment, product count and "
       "branch; median time to attrition; where in the tenure the risk peaks; and how concentrated "
       "the book's value is. Numbers come with 95% confidence intervals."),
    code('data = "synthetic"  # "synthetic" (embedded default), a data folder or a mapping YAML\n'
         'branch = None  # a branch name; None for the whole bank\n'
         'as_of = None  # "YYYY-MM-DD"; None for the last month of the data\n'
         'attrition = "closure"  # "closure" or "value"\n'
         'k = 3  # months below tier 3 that confirm value attrition\n'
         'horizons = [12, 24, 36]  # tenure horizons, months\n'
         'show_ids = False  # this report never lists customers; kept for a common interface',
         metadata={"tags": ["parameters"]}),
    code("from IPython.display import Markdown, display\n\n"
         "from analysis import plots\n"
         "from analysis.overview import attrition_overview, headline, key_findings\n"
         "from analysis.report.display import note, show\n"
         "from analysis.report.headline import publish\n"
         "from analysis.study import prepare_study\n\n"
         "plots.set_style()\n"
         "study = prepare_study(data, branch=branch, attrition=attrition, k=k, as_of=as_of)\n"
         "ov = attrition_overview(study, horizons=horizons)\n"
         "publish(headline(ov))",
         metadata={"tags": ["remove-output"]}),
    md("## Key findings"),
    code("display(Markdown(key_findings(ov)))"),
    md("## The book studied"),
    code("show(ov.summary)\n"
         "if len(ov.exclusions):\n"
         "    show(ov.exclusions, caption='Customers outside the population studied, and why')"),
    md("## Attrition rates\n\n"
       "Customers leaving per 100 customer-years of observation (exact Poisson 95% CI). Rates, "
       "unlike raw shares, allow for customers being observed for different lengths of time."),
    code("for col, words in study.groupings.items():\n"
         "    if col not in ov.rates:\n"
         "        continue\n"
         "    rates = ov.rates[col]\n"
         "    display(Markdown(f'### By {words}'))\n"
         "    if not rates.ok:\n"
         "        note(rates.note)\n"
         "        continue\n"
         "    ax = plots.rate_plot(rates.value, x=col)\n"
         "    _ = ax.set_title(f'Attrition rate by {words}')\n"
         "    plots.plt.show()\n"
         "    show(rates.value, digits=1)"),
    md("## Survival curves\n\n"
       "Kaplan-Meier estimates of the share of customers still with the bank by months of tenure, "
       "with 95% bands, censoring marks (+) and the number of customers at risk under each plot. "
       "Customers already on the book when observation started enter the risk set at their "
       "tenure then (left truncation), so long-standing customers do not make early tenure look "
       "safer than it is. The log-rank test asks whether the curves differ."),
    code("for col, words in study.groupings.items():\n"
         "    if col not in ov.km:\n"
         "        continue\n"
         "    km, lr = ov.km[col], ov.logrank[col]\n"
         "    display(Markdown(f'### By {words}'))\n"
         "    if not km.ok:\n"
         "        note(km.note)\n"
         "        continue\n"
         "    ax = plots.km_plot(km.value, at_risk_times=list(range(0, 121, 24)), title=f'Customers remaining by {words}')\n"
         "    _ = ax.set_xlim(0, 120)\n"
         "    plots.plt.show()\n"
         "    if lr.ok:\n"
         "        display(Markdown(f'Log-rank test: chi-square {lr.value.chi2:.1f} on {lr.value.df} df, '\n"
         "                         f'p = {lr.value.p:.3g}.'))\n"
         "    else:\n"
         "        note(lr.note)"),
    md("## Survival and restricted mean survival time at the horizons\n\n"
       "Survival: share still with the bank at each tenure. Restricted mean survival time (RMST): "
       "the average number of months a customer stays within the horizon (its standard error is "
       "that of the estimate, Greenwood-type)."),
    code("show(ov.survival_at, digits=3, caption='Share remaining at each horizon (all customers)')\n"
         "show(ov.survival_at_products, digits=3, caption='Share remaining by products held at entry')\n"
         "show(ov.rmst, digits=2, caption='Restricted mean months on book within each horizon')"),
    md("## Median time to attrition\n\nThe tenure by which half of customers have left (blank: not reached)."),
    code("show(ov.median, digits=1, caption='All customers')\n"
         "for col in ov.median_by:\n"
         "    show(ov.median_by[col], digits=1, caption=f'By {study.groupings[col]}')"),
    md("## When in the tenure is the risk highest?\n\n"
       "Monthly hazard (share of customers at risk who leave in that month of tenure), smoothed "
       "with a 6-month kernel, with a 95% band."),
    code("if ov.hazard.ok:\n"
         "    ax = plots.hazard_plot(ov.hazard.value[ov.hazard.value['time'] <= 120])\n"
         "    _ = ax.set_title('Risk of leaving by month of tenure')\n"
         "    plots.plt.show()\n"
         "else:\n"
         "    note(ov.hazard.note)"),
    md("## How concentrated is the value? (the 80/20 check)\n\n"
       "Lorenz curve of annualised profit per customer (or the value column a mapping names): how much of it the top customers bring."),
    code("if ov.lorenz.ok:\n"
         "    ax = plots.lorenz_plot(ov.lorenz.value)\n"
         "    _ = ax.set_title(f'Share of {study.value_words} by share of customers')\n"
         "    plots.plt.show()\n"
         "    display(Markdown(f'Top 20% of customers: **{ov.top20_share:.0%}** of {study.value_words}; Gini {ov.gini:.2f}.'))\n"
         "else:\n"
         "    note(ov.lorenz.note)"),
    md("## Methods\n\n"
       "- Time is tenure (months on book). A customer first seen at tenure *t0* enters the risk "
       "sets at *t0* (left truncation); customers still active at the as-of date are censored.\n"
       "- Kaplan-Meier with Greenwood variance and log(-log) pointwise intervals; log-rank tests "
       "with left-truncated risk sets; RMST with the Greenwood-type standard error of the estimate.\n"
       "- Group comparisons here are descriptive, not causal."),
    code("# NBVAL_CHECK_OUTPUT\n"
         "h = headline(ov)['overview']\n"
         "print(h['n'], h['events'], round(h['rate_per_100_person_years']['estimate'], 2),\n"
         "      [round(h['survival_at'][str(t)]['survival'], 3) for t in horizons])",
         metadata={"tags": ["remove-cell"]}),
]
write_notebook(cells, "notebooks/01_attrition_overview.ipynb")
