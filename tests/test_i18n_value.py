"""Report 05 (customer value) in Chinese: the catalogue (``locale/zh/value.po``) holds every
message, table label and Markdown cell of the report, the key findings keep their hedging in
Chinese words, and the rendered Chinese page shows no English prose."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import assert_translated, rendered_text, tr_literals
from analysis.config import NOTEBOOKS_DIR
from analysis.errors import Attempt
from analysis.i18n import catalogue, english_words, tr
from analysis.report.display import column_words, note_words
from analysis.studies.value import estimate, findings, migration, snapshot, tables
from analysis.studies.value.estimate import Assumptions

NB = NOTEBOOKS_DIR / "05_customer_value.ipynb"
STUDY = Path(findings.__file__).parent
FILES = [*sorted(STUDY.glob("*.py")), NB.with_suffix(".py")]

#: Column labels the report's tables show: RENAME's values, the held-out summary's columns,
#: the notebook's ``rename=`` values and the columns shown unrenamed (through ``column_words``;
#: share columns are named by ``display.COLUMN_WORDS``).
LABELS = {*tables.RENAME.values(), "model", "Brier score", "retention error (points)",
          "profit error", "from tier", "left", "products held a year ago", "reached tier 4+",
          "share reaching tier 4+", "left first", "share who left first",
          "predicted share staying", "observed share staying", "predicted profit",
          "observed profit", "value tier"}
#: The held-out tables' model names (data values, shown through ``tr_value``).
MODELS = {"projection", "sBG"}
#: Notes shown as text: whole, or the reason after "Not estimable: " (see ``note_words``).
NOTES = [estimate.HOLDOUT_BANK_ONLY, snapshot.NEEDS_HISTORY,
         "Not estimable: the extract has no value column (map one as 'value' to put money on "
         "attrition)",
         "Not estimable: no departure to estimate the churn chance from",
         "Not estimable: tier migration needs monthly histories; this dataset has one row per "
         "customer",
         "Not estimable: the data have no value tier",
         "Not estimable: no customer left during the data's months: the risk of leaving cannot "
         "be estimated",
         "no tier 3+ customer holds exactly one product"]
#: Texts the code passes to ``tr`` from variables.
PASSED = {"One more product for every tier 3+ customer who holds one"}
#: Words of the glossary of ``src/analysis/report/glossary.py`` (``GLOSSARY_ZH``, not this
#: report's catalogue) that its Chinese entries for CLV and sBG show: the abbreviations after
#: their Chinese names, and the authors' names of the sBG model.

WORDS = "未来60个月，按年折现率8%折现"


def _messages() -> set[str]:
    out = {msg for path in FILES for _, msg in tr_literals(path)}
    return out | PASSED | {column_words(c) for c in LABELS} | MODELS


def test_every_message_and_markdown_cell_of_report_05_is_translated():
    assert_translated(_messages(), NB, 60)


def test_notes_are_shown_in_chinese(zh):
    cat = catalogue("zh")
    for text in NOTES:
        shown = note_words(text)
        assert shown != text and english_words(shown.replace("`value`", "")) == [], shown
    assert note_words(snapshot.NEEDS_HISTORY) == ("无法估计：情景分析、星级迁移和留出期比较需要每位"
                                                  "客户的月度历史数据；本数据每位客户只有一行")
    assert note_words(estimate.HOLDOUT_BANK_ONLY) == "模型的留出期检验按全行进行：请参阅全行报告。"
    assert cat["Customers on book"] == "在册客户数"
    assert tr("tier {t}", t=4) == "4星级"


def test_findings_in_chinese_keep_their_hedging(zh):
    words = findings.assumption_words(Assumptions(horizon=60, discount_rate=0.08))
    assert words == WORDS
    what = "One more product for every tier 3+ customer who holds one"
    gains = findings.gain_sentence(what, (2.4, 1.4, 3.4), (12_460, 4_490, 20_430), words)
    assert gains == ("为每位只持有一个产品的3星级及以上客户多配置一个产品：每位客户的价值**增加**1.2万元"
                     "（95% CI 0.4万元至2.0万元；" + WORDS + "），并使其多留存2.4个月（95% CI 1.4至3.4）。")
    unclear = findings.gain_sentence(what, (0.4, -1.0, 1.8), (1_000, -3_000, 5_000), words)
    assert "无明显收益" in unclear and "增加" not in unclear and "减少" not in unclear
    assert "**减少**" in findings.gain_sentence(what, (-0.4, -1.0, -0.1), (-1e4, -3e4, -5e3), words)
    most = findings.tier_sentence([1, 5], [3_000, 90_000], [2_500, 80_000], [3_500, 100_000], words)
    assert most == ("5星级客户的价值**最高**：9.0万元（95% CI 8.0万元至10.0万元；" + WORDS
                    + "），是1星级客户（0.3万元）的30倍。")
    wide = findings.tier_sentence([1, 5], [3_000, 90_000], [2_500, 2_000], [3_500, 200_000], words)
    assert "最高" not in wide and wide.endswith("区间过宽，无法排出高低。")
    waiver = findings.waiver_sentence(0.72, 0.68, 0.77, 600, [4, 5])
    assert waiver == ("为4-5星级客户减免费用（每客户年成本600元），只有使其流失风险至少降低28%"
                      "（风险比0.72，95% CI 0.68至0.77），才能收回成本。数据中没有费用减免的历史记录，"
                      "因此减免能否达到这一效果尚不可知：全面推行前应先试点检验。")
    never = findings.waiver_sentence(None, None, None, 600, [4, 5])
    assert "无法收回成本" in never
    risk = findings.risk_sentence(446.3, 386_000, 338_000, 434_000, 0.72, tr("profit"))
    assert risk == ("预计未来12个月约有446名客户流失，在这些月份中带走**38.6万元**的利润"
                    "（95% CI 33.8万元至43.4万元；不折现）；按利润排名前20%的客户占其中的72%。")
    texts = [words, gains, unclear, most, wide, waiver, never, risk,
             findings.contact_sentence([1, 5], [0.04, 0.0003], 0.3, 50, 200),
             findings.replacement_sentence({"departures": 446.3, "replace_cost": 669000.0,
                                            "retain_cost": 164000.0, "acquisition_cost": 1500.0,
                                            "cost_per_kept": 366.7})]
    for t in texts:
        assert english_words(t) == [], t


def test_key_findings_of_a_failed_or_snapshot_study_in_chinese(zh):
    failed = SimpleNamespace(customers=Attempt(
        note="Not estimable: no customer left during the data's months: the risk of leaving "
             "cannot be estimated"))
    assert findings.key_findings(failed) == "- 无法估计：数据期间内没有客户流失：无法估计流失风险"
    snap = tr("This is a one-row-per-customer snapshot: lifetime values come from the "
              "shifted-beta-geometric model by products held, with {what} held constant as an "
              "annual amount; scenarios, tier migration and the held-out check need monthly "
              "histories.", what=tr("profit"))
    assert snap.startswith("本数据为每位客户一行的快照") and english_words(snap) == []
    assert note_words(migration.tier_migration(SimpleNamespace(has_panel=False)).note) == (
        "无法估计：星级迁移需要每位客户的月度历史数据；本数据每位客户只有一行")


@pytest.mark.slow
def test_the_chinese_report_shows_no_english_prose(tmp_path):
    text = rendered_text(NB, tmp_path, lang="zh", n_boot=2, paths=2)
    assert "主要发现" in text and "客户终身价值" in text and "星级迁移：潜在高价值客户" in text
    assert "预期流失利润" in text and "情景分析" in text
    assert english_words(text) == []
