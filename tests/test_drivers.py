"""Report 03 (what drives attrition) against the synthetic generator's truth.

Which truths a model can recover: a model of characteristics *at entry* recovers the effects of
covariates fixed over time (age, reliance segment, branch); the effects of products and of
engagement also act through changes after entry (products adopted later, outflows), which only
the time-varying model (products now, recent outflow) sees. In a book where nothing changes after
entry (no adoption, no drops, outflows without effect) the static model recovers all of them.
"""

import numpy as np
import pandas as pd
import pytest

from analysis.data import generate_portfolio
from analysis.report.headline import to_jsonable
from analysis.errors import attempt
from analysis.studies.population import prepare_study
from analysis.stats.cox.fit import fit_cox
from analysis.studies.drivers.estimate import (
    attrition_drivers,
    effects_table,
    time_varying_model,
)
from analysis.studies.drivers.design import build_design
from analysis.studies.drivers.reasons import departure_reasons
from analysis.studies.drivers.headline import headline
from analysis.studies.drivers.findings import key_findings
from analysis.studies.drivers.ph import ph_check, ph_remedy, split_at
from analysis.studies.drivers.truth import truth_comparison


def _z(est_hr, lo, hi, true_hr):
    se = (np.log(hi) - np.log(lo)) / (2 * 1.959964)
    return abs(np.log(est_hr) - np.log(true_hr)) / se


@pytest.fixture(scope="module")
def default_study():
    return prepare_study(portfolio=generate_portfolio(6000))  # the default book, in memory


def test_design_codes_covariates_as_stated(default_study):
    d = build_design(default_study)
    terms = {t.name: t for t in d.terms}
    assert "product_group" not in terms and "n_products_entry" in terms
    assert terms["tier_group"].reference == "Tier 1"
    assert terms["segment"].reference == "deposit" and terms["segment"].levels == ["loan"]
    assert terms["branch"].reference == "Central"
    assert terms["age_entry"].unit == "per 10 years"
    assert d.data["tenure_entry"].max() == pytest.approx(default_study.frame["entry"].max() / 12)
    assert "log_aum_entry" not in terms  # tiers are AUM bands
    assert "log_loan_entry" not in terms and any("collinear" in n for n in d.notes)


def test_static_and_time_varying_estimates_cover_the_truth(default_study):
    d = build_design(default_study)
    m = fit_cox(d.data, d.columns)
    eff = effects_table(m.params, m.variance, d.terms)
    static = truth_comparison(eff, default_study.portfolio.truth, d.terms, "static")
    tv = time_varying_model(default_study, d)
    dyn = truth_comparison(tv.effects, default_study.portfolio.truth, tv.terms, "time-varying")
    checked = []
    for table in (static, dyn):
        comp = table[table["comparable"].str.startswith("yes")]
        for _, r in comp.iterrows():
            checked.append((r["key"], r["covered"], _z(r["hr"], r["ci_low"], r["ci_high"], r["true_hr"])))
    keys = {k for k, _, _ in checked}
    assert {"age_entry", "segment=loan", "engagement", "n_products", "outflow_3m",
            "branch=South"} <= keys
    assert max(z for _, _, z in checked) < 3  # no estimate is far from its truth
    assert np.mean([c for _, c, _ in checked]) >= 0.8  # about 95% of 95% CIs cover
    # at entry, engagement also carries its effect through later products and outflows
    row = static.set_index("key").loc["engagement"]
    assert row["comparable"].startswith("no") and row["hr"] < row["true_hr"]


def test_static_model_recovers_everything_when_nothing_changes_after_entry():
    p = generate_portfolio(5000, seed=8, adoption_rate=0.0, drop_rate=0.0, hr_recent_outflow=1.0)
    s = prepare_study(portfolio=p)
    d = build_design(s)
    m = fit_cox(d.data, d.columns)
    eff = effects_table(m.params, m.variance, d.terms).set_index("key")
    truth = p.truth["hr"]
    for key, true in (("engagement", truth["engagement"]), ("n_products_entry", truth["n_products"]),
                      ("age_entry", truth["age_per_10y"]), ("segment=loan", truth["segment_loan"])):
        r = eff.loc[key]
        assert r["ci_low"] <= true <= r["ci_high"], key


@pytest.mark.parametrize("gamma", [0.0, 0.1])
def test_ph_check_flags_the_non_proportional_covariate_only(gamma):
    p = generate_portfolio(5000, seed=3, segment_loan_time_interaction=gamma)
    s = prepare_study(portfolio=p)
    d = build_design(s)
    m = fit_cox(d.data, d.columns)
    tab, zph = ph_check(m, d.data, d.terms)
    eff = effects_table(m.params, m.variance, d.terms, tab)
    remedy = ph_remedy(d, m, tab, eff)
    if gamma == 0:
        assert not tab["flagged"].any() and remedy is None
        return
    worst = tab.drop(index="GLOBAL")["p"].idxmin()
    assert worst == "segment" and tab.loc["segment", "p"] < 1e-6
    assert remedy.remedied == ["segment"] and remedy.strata == ["segment"]
    assert not remedy.ph_after["flagged"].any()  # products at entry shared the loan's trend
    assert "segment=loan" not in remedy.model.params.index
    assert "stratified on (no HR)" in set(remedy.compare["note"])
    assert p.truth["non_proportional"]["segment_loan_time_interaction"] == 0.1


def test_banded_remedy_for_a_numeric_covariate(default_study):
    d = build_design(default_study)
    m = fit_cox(d.data, d.columns)
    tab, _ = ph_check(m, d.data, d.terms)
    eff = effects_table(m.params, m.variance, d.terms, tab)
    forced = tab.copy()
    forced.loc["age_entry", ["p", "flagged"]] = [1e-9, True]
    forced.loc[forced.index != "age_entry", "p"] = 0.9
    r = ph_remedy(d, m, forced, eff)
    assert r.banded == ["age_entry"] and len(r.cuts) >= 1
    assert set(r.bands["covariate"]) == {"age at entry (years)"}
    assert len(r.bands) == len(r.cuts) + 1
    split = split_at(d.data, r.cuts)
    assert split["event"].sum() == d.data["event"].sum()
    assert ((split["duration"] - split["entry"]).sum()
            == pytest.approx((d.data["duration"] - d.data["entry"]).sum()))


def test_report_on_a_small_book_and_its_headline():
    p = generate_portfolio(2500, seed=5)
    s = prepare_study(portfolio=p)
    dr = attrition_drivers(s, horizons=[12, 24, 36], test_size=0.3, seed=1)
    for name in ("design", "model", "effects", "ph", "aft", "held_out", "time_varying", "reasons"):
        assert getattr(dr, name).ok, (name, getattr(dr, name).note)
    h = to_jsonable(headline(dr))["drivers"]
    cov = h["covariates"]["segment=loan"]
    assert set(cov) >= {"hr", "ci_low", "ci_high", "p", "ph_test_p"}
    assert 0.55 < h["c_index_harrell"] < 0.8 and 0.55 < h["c_index_uno"] < 0.8
    assert set(h["auc"]) == set(h["brier"]) == set(h["calibration_ici"]) == {"12", "24", "35"}
    assert all(h["brier"][k] < h["brier_null"][k] for k in h["brier"])
    assert h["aft"]["distribution"] in ("Weibull", "log-normal", "log-logistic")
    assert h["truth"]["log_hr"]["engagement"] == pytest.approx(np.log(0.7))
    assert h["reasons"]["rates elsewhere"]["departures"] > 0
    text = key_findings(dr)
    assert "Early warning" in text and "Harrell" in text


def test_sections_degrade_to_notes():
    p = generate_portfolio(150, months=6, seed=2)
    s = prepare_study(portfolio=p, branch="North")
    dr = attrition_drivers(s)
    assert not dr.design.ok and "too few" in dr.design.note
    assert key_findings(dr).startswith("- Not estimable")
    assert "drivers" in headline(dr)
    # no reasons recorded (older extracts): the reasons section says so, the rest stands
    q = generate_portfolio(1500, seed=4)
    q.panel = q.panel.drop(columns="reason")
    s2 = prepare_study(portfolio=q)
    note = attempt(departure_reasons, s2, build_design(s2))
    assert not note.ok and "no departure reasons" in note.note


def test_one_level_and_sparse_levels_are_handled():
    p = generate_portfolio(1200, seed=9)
    s = prepare_study(portfolio=p, branch="East")
    s.frame["segment"] = "deposit"  # a one-level covariate
    d = build_design(s)
    assert "segment" not in {t.name for t in d.terms}
    assert any("only one level" in n for n in d.notes)
    # 3 departures in tiers 4-5 of this branch: merged down until a level has 5 or more
    ev = s.frame.groupby("tier_group", observed=True)["event"].sum()
    assert ev["Tier 4"] + ev["Tier 5"] < 5
    assert d.term("tier_group").levels == ["Tier 2", "Tier 3-5"]
    assert any("merged into 'Tier 3-5'" in n for n in d.notes)


def test_notebook_parameters_cell_is_the_documented_interface():
    import nbformat

    from analysis.config import NOTEBOOKS_DIR

    nb = nbformat.read(NOTEBOOKS_DIR / "03_attrition_drivers.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    ns: dict = {}
    exec(cell.source, ns)  # noqa: S102 - our own notebook's parameters
    params = {k: v for k, v in ns.items() if not k.startswith("__")}
    assert params == {"data": "synthetic", "branch": None, "as_of": None, "attrition": "closure",
                      "k": 3, "horizons": [12, 24, 36], "test_size": 0.3, "seed": 1,
                      "show_ids": False, "min_events": 10, "frailty": None, "lang": "en"}
    checked = [c for c in nb.cells if c.cell_type == "code" and c.outputs]
    assert all(c.source.startswith("# NBVAL_CHECK_OUTPUT") for c in checked)
    assert all("remove-cell" in c.metadata.get("tags", []) for c in checked)
    assert pd.Index([c.id for c in nb.cells]).is_unique
