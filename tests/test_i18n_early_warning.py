"""Report 04 (early warning) in Chinese: the catalogue holds every message of the report, the
key findings keep their hedging in Chinese words, and the rendered Chinese page shows no
English prose."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.conftest import assert_translated, rendered_text, tr_literals
from analysis.config import NOTEBOOKS_DIR
from analysis.errors import Attempt
from analysis.i18n import (english_words,
                           tr)
from analysis.studies.early_warning import findings, reasons, rules
from analysis.studies.early_warning.estimate import method_labels

NB = NOTEBOOKS_DIR / "04_early_warning.ipynb"
STUDY = Path(findings.__file__).parent
FILES = [*sorted(STUDY.glob("*.py")), STUDY.parents[1] / "plots" / "ranking.py",
         NB.with_suffix(".py")]


def _tr_messages() -> set[str]:
    """The constant first argument of every ``tr(...)`` of the report's code, and the texts
    its code passes to ``tr`` from tables of words."""
    out = {msg for path in FILES for _, msg in tr_literals(path)}
    from analysis.plots.ranking import _LABELS

    return (out | set(findings.METHOD_WORDS.values()) | set(reasons.ACTIONS.values())
            | set(_LABELS.values()) | {"departing profit"})


def test_every_message_and_markdown_cell_of_report_04_is_translated():
    assert_translated(_tr_messages(), NB, 50)


def test_findings_in_chinese_keep_their_hedging(zh):
    beats = findings.compare_sentence("随机名单", 0.10, 0.01, 0.2)
    assert beats == ("风险模型**优于**随机名单：其名单覆盖的流失客户利润占比高出10个百分点"
                     "（95% CI 1至20）。")
    unclear = findings.compare_sentence("随机名单", 0.10, -0.01, 0.2)
    assert "优于" not in unclear and unclear.endswith("：无明显优劣。")
    assert "**不如**" in findings.compare_sentence("随机名单", -0.1, -0.2, -0.02)
    assert findings.oracle_sentence(2.6, 3.0).endswith("模型比最优排序低13%。")
    assert findings.list_size_sentence(7, 20) == ("每个网点每月名单为**7名客户**时预期利润最高"
                                                  "（目前名单为20名）。")
    assert findings.recommendation({"model": 0.3, "a": 0.4}, {"a": (-0.1, -0.2, 0.05)},
                                   names={"a": "AUM最大者优先"}) == (
        "名单“AUM最大者优先”覆盖的流失客户利润最多；风险模型并不明显优于它。")
    assert findings.recommendation({"model": 0.5, "a": 0.45}, {"a": (0.05, -0.02, 0.1)}) == (
        "风险模型的名单覆盖的流失客户利润最多，但并不明显多于每一条规则。")
    s = findings.list_sentence(pd.Timestamp("2025-06-01"), 3, 20, 12_345_678, 500_000, 26_000, 6)
    assert s == ("2025年6月的名单共有**3名客户**（每个网点最多20名），AUM合计1,234.6万元，"
                 "年利润合计50.0万元；预计6个月内随这些客户流失的利润为2.6万元。")


def test_key_findings_notes_rules_and_reasons_in_chinese(zh):
    ew = SimpleNamespace(current=Attempt(note="Not estimable: " + tr(
                             "only {n} departures before {month}: too few to learn who is at "
                             "risk (at least 5 needed)", n=3, month="2025年6月")),
                         as_of=None, list_size=20, horizon=3, study=SimpleNamespace(as_of=None),
                         backtest=Attempt(note=tr("the backtest was not run (list only)")))
    text = findings.key_findings(ew)
    assert text == ("- 无法估计：2025年6月之前仅有3名客户流失，不足以判断哪些客户有流失风险"
                    "（至少需要5名）\n- 未运行回测（仅生成名单）")
    words = {n: r.words(rules.RuleSettings()) for n, r in rules.RULES.items()}
    assert words["rule_tier_outflow"] == "本月转出资产超过30%（或金额超过500,000）的4-5星级客户"
    labels = method_labels(SimpleNamespace())
    rows = pd.DataFrame({"share_out_1m": [0.45, 0.0], "share_out_3m": [0.45, 0.0],
                         "out_3m": [1, 0], "aum_trend_6m": [-0.6, 0.0], "n_products": [2, 1],
                         "tenure_months": [40, 5]})
    c = pd.DataFrame({"out_1m": [1.0, 0], "share_out_1m": [0.2, 0], "out_3m": [0.3, 0],
                      "share_out_3m": [0.0, 0], "aum_trend_6m": [0.05, 0], "prod_drop_3m": [0, 0],
                      "tier_down_3m": [0, 0]})
    why = reasons.reasons(rows, c).tolist()
    assert why == ["上月转出45%的资产；近3个月转出45%的资产", "客户特征：持有1个产品，开户5个月"]
    todo = reasons.actions(pd.Series(["deposit", "loan", "other"])).tolist()
    assert todo == ["由理财经理进行理财回顾并推荐产品", "由客户经理进行贷款回顾", "由客户经理复核跟进"]
    for t in [text, *words.values(), *labels.values(), *why, *todo]:
        assert english_words(t) == [], t


@pytest.mark.slow
def test_the_chinese_report_shows_no_english_prose(tmp_path):
    text = rendered_text(NB, tmp_path, lang="zh", branch="North")
    assert "主要发现" in text and "回测：名单中的客户流失了吗？" in text and "风险模型" in text
    assert english_words(text) == []
