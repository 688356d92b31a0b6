"""Write notebooks/03_attrition_drivers.ipynb (clean, no outputs). Run once after editing, then
store the checked outputs: .venv/bin/python tools/store_checked_outputs.py notebooks/03_attrition_drivers.ipynb
"""
from nbformat.v4 import new_code_cell as code, new_markdown_cell as md

from notebook_writer import write_notebook

cells = [
    md("# What drives attrition\n\n"
       "Which characteristics go with customers leaving, each adjusted for the others; whether "
       "the model's assumptions hold; how accurately it tells who will leave; and, where the "
       "data record it, why customers leave. Numbers come with 95% confidence intervals."),
    code('data = "synthetic"  # "synthetic" (embedded default) or a data folder / mapping file\n'
         'branch = None  # None = whole bank, or a branch name\n'
         'as_of = None  # "YYYY-MM-DD"; None = last month of the data\n'
         'attrition = "closure"  # "closure" or "value"\n'
         'k = 3  # months below tier 3 that confirm value attrition\n'
         'horizons = [12, 24, 36]  # months: accuracy horizons after entry; tenures for reasons\n'
         'test_size = 0.3  # share of customers held out to measure accuracy\n'
         'seed = 1  # seed of the held-out split\n'
         'show_ids = False  # this report never lists customers; kept for a common interface',
         metadata={"tags": ["parameters"]}),
    code("from IPython.display import Markdown, display\n\n"
         "from analysis import driver_plots as dp\n"
         "from analysis import plots\n"
         "from analysis.drivers import (attrition_drivers, headline, key_findings, partial_effect,\n"
         "                              schoenfeld_panels)\n"
         "from analysis.overview import portfolio_summary\n"
         "from analysis.report.display import note, show\n"
         "from analysis.report.headline import publish\n"
         "from analysis.study import prepare_study\n\n"
         "plots.set_style()\n"
         "study = prepare_study(data, branch=branch, attrition=attrition, k=k, as_of=as_of)\n"
         "dr = attrition_drivers(study, horizons=horizons, test_size=test_size, seed=seed)\n"
         "publish(headline(dr))",
         metadata={"tags": ["remove-output"]}),
    md("## Key findings"),
    code("display(Markdown(key_findings(dr)))"),
    md("## The book studied"),
    code("show(portfolio_summary(study))"),
    md("## The model\n\n"
       "A Cox proportional-hazards model on tenure (months on book). Customers already on the "
       "book when observation started enter the risk sets at their tenure then (left "
       "truncation); tied departure months are handled with Efron's method. Covariates are "
       "measured when the customer entered observation. Categorical covariates are compared "
       "with a reference level; numeric ones are in natural units (age per 10 years, tenure at "
       "entry per year, products per product); a covariate whose effect is not a straight line "
       "on the log-hazard scale gets a natural cubic spline."),
    code("if dr.design.ok:\n"
         "    show(dr.design.value.describe(), caption='Covariates and how they are coded')\n"
         "    for text in dr.design.value.notes:\n"
         "        note(text)\n"
         "else:\n"
         "    note(dr.design.note)"),
    md("### Is a straight line right?\n\n"
       "Each continuous covariate is replaced in turn by a natural cubic spline (4 knots) and "
       "compared with the linear model by a likelihood-ratio test; a spline is kept where the "
       "p-value is below 0.05 divided by the number of covariates tested."),
    code("show(dr.linearity, digits=4, caption='Likelihood-ratio tests of linearity')\n"
         "if dr.model.ok:\n"
         "    for term in dr.design.value.terms:\n"
         "        if term.kind == 'spline':\n"
         "            curve = partial_effect(term, dr.model.value.params_, dr.model.value.variance_matrix_)\n"
         "            ax = dp.partial_effect_plot(curve, xlabel=term.words)\n"
         "            _ = ax.set_title(f'Risk of leaving by {term.words} (spline)')\n"
         "            plots.plt.show()"),
    md("### Hazard ratios\n\n"
       "A hazard ratio above 1 means a higher rate of leaving, holding the other covariates "
       "fixed; below 1, a lower one. The last column is the proportional-hazards test of the "
       "covariate (next section)."),
    code("if dr.effects.ok:\n"
         "    eff = dr.effects.value\n"
         "    show(eff[['label', 'hr', 'ci_low', 'ci_high', 'p', 'ph_test_p']], digits=3,\n"
         "         rename={'label': 'effect', 'hr': 'HR', 'ci_low': '95% CI low', 'ci_high': '95% CI high',\n"
         "                 'ph_test_p': 'PH test p'})\n"
         "    ax = plots.forest_plot(eff, label='label')\n"
         "    _ = ax.set_title('Hazard ratios of leaving (95% CI)')\n"
         "    _ = ax.set_xlabel('Hazard ratio (log scale)')\n"
         "    plots.plt.show()\n"
         "else:\n"
         "    note(dr.effects.note)"),
    md("## Does each effect stay constant over the tenure?\n\n"
       "The Cox model assumes each hazard ratio is the same at every tenure (proportional "
       "hazards). The test (R's `cox.zph`: a score test on the scaled Schoenfeld residuals, one "
       "per covariate and a global one) uses the Kaplan-Meier time scale (R's default "
       "transform) and honours left truncation. A covariate fails where p is below 0.05 divided "
       "by the number of covariates. In the plots a flat smoothed line means a constant effect."),
    code("if dr.ph.ok:\n"
         "    display(Markdown(f'Time transform: **{dr.transform}**.'))\n"
         "    show(dr.ph.value[0].reset_index(drop=True), digits=4,\n"
         "         rename={'threshold': 'fails below', 'flagged': 'fails'})\n"
         "    panels = schoenfeld_panels(dr)\n"
         "    if panels:\n"
         "        fig, axes = dp.grid(len(panels))\n"
         "        for ax, (col, title, beta) in zip(axes, panels):\n"
         "            dp.schoenfeld_plot(dr.ph.value[1].residuals, col, beta=beta, ax=ax, transform=dr.transform)\n"
         "            _ = ax.set_title(title, fontsize='small')\n"
         "        fig.tight_layout()\n"
         "        plots.plt.show()\n"
         "else:\n"
         "    note(dr.ph.note)"),
    md("### Remedy where an effect changes with tenure\n\n"
       "The worst failing covariate is remedied and the model refitted and tested again, until "
       "none fails: a categorical covariate becomes a stratum (its own baseline hazard per "
       "level), a numeric one gets a separate hazard ratio in each tenure band."),
    code("if not dr.remedy.ok:\n"
         "    note(dr.remedy.note)\n"
         "elif dr.remedy.value is None:\n"
         "    display(Markdown('No covariate fails the test: the model is kept as it is.'))\n"
         "else:\n"
         "    r = dr.remedy.value\n"
         "    display(Markdown('\\n'.join(f'- {a}' for a in r.actions)))\n"
         "    show(r.steps, digits=4, caption='Covariates remedied, in order (test before the remedy)')\n"
         "    show(r.compare, digits=3, caption='Hazard ratios and PH tests before and after')\n"
         "    if len(r.bands):\n"
         "        show(r.bands, digits=3, caption='Hazard ratios by tenure band')\n"
         "    show(r.ph_after.reset_index(drop=True), digits=4, caption='PH test after the remedy',\n"
         "         rename={'threshold': 'fails below', 'flagged': 'fails'})"),
    md("## Products now and recent outflows (time-varying model)\n\n"
       "With monthly histories the model can use what a customer holds *this month* and whether "
       "a large fund outflow happened in the last 3 months, instead of values at entry "
       "(counting-process Cox model, same other covariates, linear terms)."),
    code("if dr.time_varying.ok:\n"
         "    tv = dr.time_varying.value.effects\n"
         "    show(tv[['label', 'hr', 'ci_low', 'ci_high', 'p']], digits=3,\n"
         "         rename={'label': 'effect', 'hr': 'HR', 'ci_low': '95% CI low', 'ci_high': '95% CI high'})\n"
         "else:\n"
         "    note(dr.time_varying.note)"),
    md("## A parametric alternative: accelerated failure time models\n\n"
       "Weibull, log-normal and log-logistic models of the time to leaving (with the same "
       "covariates and left truncation), compared by AIC (lower is better; a difference above "
       "10 is decisive). Their effects are **time ratios**: above 1 a customer stays longer "
       "(the time to leaving is stretched by that factor), below 1 leaves sooner. (The Cox "
       "partial likelihood is not comparable by AIC with these full likelihoods.)"),
    code("if dr.aft.ok:\n"
         "    a = dr.aft.value\n"
         "    show(a.comparison, digits=1, caption='Model comparison')\n"
         "    show(a.time_ratios[['label', 'tr', 'ci_low', 'ci_high', 'p']], digits=3,\n"
         "         caption=f'Time ratios of the best model ({a.best})',\n"
         "         rename={'label': 'effect', 'tr': 'time ratio', 'ci_low': '95% CI low', 'ci_high': '95% CI high'})\n"
         "    ax = plots.forest_plot(a.time_ratios, estimate='tr', label='label')\n"
         "    _ = ax.set_title(f'Time ratios ({a.best} model, 95% CI)')\n"
         "    _ = ax.set_xlabel('Time ratio (log scale; above 1 = stays longer)')\n"
         "    plots.plt.show()\n"
         "else:\n"
         "    note(dr.aft.note)"),
    md("## How accurate is it?\n\n"
       "The model is refitted on a random share of customers and tested on the others (held "
       "out). It predicts each held-out customer's risk of leaving within each horizon after "
       "entering observation. **Concordance** (Harrell's, and Uno's which corrects for "
       "censoring): the share of pairs of customers whose order of leaving the model gets right "
       "(0.5 = coin toss, 1 = perfect). **AUC** at a horizon: how well the risk separates those "
       "who left by then from those still here. **Brier score**: mean squared error of the "
       "predicted probability (lower is better), next to that of a model without covariates. "
       "**Calibration**: predicted vs observed risk in groups of customers ranked by risk; the "
       "ICI is the average gap between predicted and (smoothed) observed risk."),
    code("if dr.held_out.ok:\n"
         "    h = dr.held_out.value\n"
         "    a = h.accuracy\n"
         "    display(Markdown(\n"
         "        f'Fitted on {a.n_train:,} customers, tested on {a.n_test:,} ({a.events_test:,} left). '\n"
         "        f\"Harrell's C **{a.c_harrell:.3f}**, Uno's C **{a.c_uno:.3f}** (up to {a.horizons[-1]:g} months).\"))\n"
         "    for text in h.notes:\n"
         "        note(text)\n"
         "    show(a.table, digits=3, rename={'auc': 'AUC', 'brier': 'Brier', 'brier_null': 'Brier without covariates',\n"
         "                                    'ipa': 'improvement over no covariates'})\n"
         "    ax = dp.accuracy_plot(a.table)\n"
         "    _ = ax.set_title('Discrimination and error by horizon (held-out customers)')\n"
         "    plots.plt.show()\n"
         "    ok = [(hz, c.value) for hz, c in h.calibration.items() if c.ok]\n"
         "    for hz, c in h.calibration.items():\n"
         "        if not c.ok:\n"
         "            note(f'{hz:g} months: {c.note}')\n"
         "    if ok:\n"
         "        fig, axes = dp.grid(len(ok), ncols=3, size=(4.2, 4.0))\n"
         "        for ax, (hz, c) in zip(axes, ok):\n"
         "            dp.calibration_plot(c.groups, c.curve, ax=ax)\n"
         "            _ = ax.set_title(f'Within {hz:g} months: ICI {c.ici:.3f}', fontsize='small')\n"
         "        fig.tight_layout()\n"
         "        plots.plt.show()\n"
         "else:\n"
         "    note(dr.held_out.note)"),
    md("## Why customers leave\n\n"
       "Where the data record a reason for each departure: the **cumulative incidence** of each "
       "reason (Aalen-Johansen; the share of customers who have left *for that reason* by each "
       "tenure, allowing for the other reasons: one minus a Kaplan-Meier curve would overstate "
       "it) and **cause-specific hazard ratios**: how the main drivers change the rate of leaving "
       "for each reason."),
    code("if dr.reasons.ok:\n"
         "    r = dr.reasons.value\n"
         "    show(r.counts, digits=3, caption='Departures by reason')\n"
         "    ax = dp.cif_plot(r.cif, max_time=120)\n"
         "    _ = ax.set_title('Cumulative incidence of leaving, by reason')\n"
         "    plots.plt.show()\n"
         "    show(r.cif_at, digits=3, caption='Cumulative incidence at the horizons (tenure, months)')\n"
         "    if r.cause_hr.ok:\n"
         "        t = r.cause_hr.value\n"
         "        show(t[['cause', 'driver', 'events', 'hr', 'ci_low', 'ci_high', 'p']], digits=3,\n"
         "             caption='Cause-specific hazard ratios')\n"
         "        ax = dp.cause_forest_plot(t)\n"
         "        _ = ax.set_title('Cause-specific hazard ratios (95% CI)')\n"
         "        plots.plt.show()\n"
         "    else:\n"
         "        note(r.cause_hr.note)\n"
         "    for text in r.notes:\n"
         "        note(text)\n"
         "else:\n"
         "    note(dr.reasons.note)"),
    md("## Estimates against the known truth (synthetic data)\n\n"
       "On the synthetic book the true hazard ratios are known. *comparable* says whether a "
       "model estimates that quantity: a model of characteristics at entry cannot recover "
       "effects that act through changes after entry (products adopted later, outflows)."),
    code("shown = False\n"
         "for words, att in (('Model of characteristics at entry', dr.truth_static),\n"
         "                   ('Time-varying model', dr.truth_tv)):\n"
         "    if att.ok:\n"
         "        show(att.value.drop(columns='key'), digits=3, caption=words,\n"
         "             rename={'hr': 'estimate', 'true_hr': 'true HR', 'covered': 'CI covers truth'})\n"
         "        shown = True\n"
         "if not shown:\n"
         "    note('These data have no known truth (not synthetic).')"),
    md("## Methods\n\n"
       "- Cox model: Efron ties, delayed entry at the tenure when observation starts; Wald "
       "95% CIs. Levels of a categorical covariate with fewer than 5 departures are merged; "
       "numeric covariates almost collinear with the others (VIF above 10) are left out.\n"
       "- Proportional hazards: R `cox.zph` (survival 3.x) score tests per term and global, "
       "computed with left-truncated risk sets (lifelines' test refuses left-truncated fits); checked "
       "against lifelines on non-truncated data and against an episode-split model.\n"
       "- AFT: lifelines Weibull, log-normal and log-logistic regression with entry times.\n"
       "- Accuracy: scikit-survival's concordance (Harrell, Uno), cumulative/dynamic AUC and "
       "Brier score on time since entry, censoring weights from the training data; "
       "calibration by risk group and ICI (Austin, Harrell & van Klaveren 2020).\n"
       "- Reasons: lifelines' Aalen-Johansen estimator with delayed entry; cause-specific Cox "
       "models, other reasons censored.\n"
       "- Hazard ratios describe associations adjusted for the other covariates, not the effect "
       "of changing a characteristic."),
    code("# NBVAL_CHECK_OUTPUT\n"
         "h = headline(dr)['drivers']\n"
         "print(h['n'], h['events'], round(h['c_index_harrell'], 3), round(h['c_index_uno'], 3))\n"
         "print({k: round(v['hr'], 3) for k, v in h['covariates'].items()\n"
         "       if k in ('segment=loan', 'age_entry', 'n_products_entry')})\n"
         "print(h['ph_flagged'], h['aft']['distribution'], sorted(h.get('reasons', {})))",
         metadata={"tags": ["remove-cell"]}),
]
write_notebook(cells, "notebooks/03_attrition_drivers.ipynb")
