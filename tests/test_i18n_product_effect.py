"""Report 02 (product effect) in Chinese: findings, table cells and notes from the catalogue
(``locale/zh/product_effect.po``), and a Chinese page without English prose."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import rendered_text, tr_literals
from analysis.i18n import catalogue, english_words, placeholders
from analysis.studies.product_effect.words import cell_words, note_words, shown
from tests.test_findings_product_effect import _gf, _msm_summary, _run, _summary, RMST

SRC = Path(__file__).resolve().parents[1] / "src" / "analysis"
OWN = [*sorted((SRC / "studies" / "product_effect").glob("*.py")), SRC / "plots" / "cox.py",
       SRC / "plots" / "ipw.py"]


def test_every_message_of_the_study_and_its_figures_is_translated():
    cat = catalogue("zh")
    ids = [m for p in OWN for _, m in tr_literals(p)]
    assert len(ids) > 40
    missing = [m for m in ids if m not in cat]
    assert missing == []
    for m in ids:
        assert placeholders(m) == placeholders(cat[m]), m
        assert english_words(re.sub(r"\{[^}]*\}", " ", cat[m])) == [], (m, cat[m])


def _real_summary(**kw):
    """The findings tests' summary with the IPW note the study writes."""
    s = _summary(**kw)
    s.loc[s["method"].str.startswith("IPW"), "note"] = ("marginal effect at entry, "
                                                        "deposit-reliant customers")
    return s


def _chinese(texts):
    for text in texts:
        assert english_words(text) == [], text


def test_findings_in_chinese(zh):
    find, conclusion = _run(summary=_real_summary(), branch="North", ev={"evalue": 1.5, "evalue_ci": 1.3},
                            band_test={"p": 0.01})
    assert find[0] == "北区网点共有3,000名客户，其中690名在观察期内流失（流失口径：销户）。"
    lead = [f for f in find if f.startswith("**每多持有一个产品")][0]
    assert lead.startswith("**每多持有一个产品，估计每月流失风险降低18%**（HR 0.82（95% CI 0.75-0.90））")
    assert "调整因素：价值等级、业务倚重类型、近期大额资金流出和网点，产品数随持有变化计入（滞后1个月）" in lead
    assert lead in conclusion and "E值为1.50" not in conclusion
    _chinese(find + [conclusion])


def test_chinese_findings_keep_the_hedging(zh):
    find, conclusion = _run(summary=_real_summary(main=(0.95, 0.85, 1.06)),
                            tables={"rmst": RMST, "gformula": _gf(0.1, -0.2, 0.4)})
    assert any(f.startswith("**每多持有一个产品与每月流失风险无明显关联**") for f in find)
    assert "置信区间包含无效应值（HR 1）" in conclusion
    assert any("留存月数无明显变化" in f for f in find)
    assert "降低5%" in " ".join(find)  # the point estimate is still given, as such
    _chinese(find)
    msm_summary = _msm_summary()
    msm_summary["note"] = msm_summary["note"].where(~msm_summary["method"].str.startswith("IPW"),
                                                    "marginal effect at entry, whole book")
    msm, _ = _run(summary=msm_summary)
    assert any(f.startswith("**如果每位客户自入组起都多持有一个产品，估计每月流失风险将降低15%**")
               for f in msm)
    _chinese(msm)


def test_table_cells_and_notes_in_chinese(zh):
    summary = pd.DataFrame({
        "method": ["Marginal structural Cox (MSM)", "Landmark at 12 months",
                   "IPW (stabilised weights)"],
        "contrast": ["per additional product", "per additional product", "2+ vs 1"],
        "note": ["effect of holding one more product from entry", "",
                 "marginal effect at entry, deposit-reliant customers"],
        "hr": [0.8, 0.9, 0.7]})
    out = shown(summary)
    assert out["method"].tolist() == ["边际结构Cox模型（MSM）", "12个月界标", "逆概率加权（稳定化权重）"]
    assert out["note"].iloc[2] == "入组时的边际效应，存款倚重型客户"
    assert out["hr"].tolist() == [0.8, 0.9, 0.7]
    g = shown(pd.DataFrame({"intervention": ["everyone 2 products"],
                            "quantity": ["rmst_36_gain"]}))
    assert g.iloc[0].tolist() == ["所有客户持有2个产品", "36个月内多留存的月数（RMST）"]
    notes = ["Not estimable: only 3 departures in this data; models need at least 10",
             "loan-reliant customers left out: only 1.7% of 424 are in the smaller group (no "
             "fair comparison group: positivity)",
             "Not estimable: no departures among customers with 1 product (the reference level), "
             "so no level can be compared with it",
             "no customer with 3 products; 4+ products: not estimable, none of its 7 customers "
             "left"]
    shown_notes = [note_words(n) for n in notes]
    assert shown_notes[0] == "无法估计：本数据中仅有3名流失客户；模型至少需要10名。"
    _chinese(shown_notes + [cell_words("0-12 months"), cell_words("36+ months")])


def test_english_is_unchanged():
    df = pd.DataFrame({"method": ["Landmark at 12 months"], "quantity": ["rmst_36"]})
    assert shown(df) is df
    assert note_words("Not estimable: x") == "Not estimable: x"


@pytest.mark.slow
def test_the_chinese_report_has_no_english_prose(tmp_path):
    from analysis.config import NOTEBOOKS_DIR

    text = rendered_text(NOTEBOOKS_DIR / "02_product_retention_effect.ipynb", tmp_path,
                         lang="zh", branch="North", n_boot=5, mc_size=500)
    assert "北区网点共有" in text and "边际结构Cox模型（MSM）" in text
    assert english_words(text) == []
