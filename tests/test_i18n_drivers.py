"""Report 03 (what drives attrition) in Chinese: the catalogue holds every message of the
report, the key findings keep their hedging in Chinese words, and the rendered Chinese page
shows no English prose."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.conftest import assert_translated, rendered_text, tr_literals
from analysis.config import NOTEBOOKS_DIR
from analysis.errors import Attempt
from analysis.i18n import (english_words,
                           tr, tr_value)
from analysis.studies.drivers import design, estimate, findings, reasons
from analysis.studies.drivers.design import level_words
from analysis.studies.drivers.estimate import Drivers

NB = NOTEBOOKS_DIR / "03_attrition_drivers.ipynb"
STUDY = Path(findings.__file__).parent
PLOTS = STUDY.parents[1] / "plots"
FILES = [*sorted(STUDY.glob("*.py")), PLOTS / "estimates.py", PLOTS / "competing.py",
         PLOTS / "calibration.py", NB.with_suffix(".py")]


def _tr_messages() -> set[str]:
    """The constant first argument of every ``tr(...)`` of the report's code, and the texts
    its code passes to ``tr`` from tables of words."""
    out = {msg for path in FILES for _, msg in tr_literals(path)}
    units = {unit for _, unit in design.UNITS.values()}
    notes = ({m for _, m, _ in estimate._METRICS_NOTES} | {m for _, m in reasons._COMPETING_NOTES})
    high_value = {line for line in _findings_source_strings() if line.startswith("High-value")}
    return (out | units | notes | high_value | {"categorical", "numeric", "spline", "km", "hr",
                                                "tr", "log-normal", "log-logistic"})


def _findings_source_strings() -> set[str]:
    """Whole string constants of findings.py (messages chosen before ``tr(msg, ...)``)."""
    tree = ast.parse(Path(findings.__file__).read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


def test_every_message_and_markdown_cell_of_report_03_is_translated():
    assert_translated(_tr_messages(), NB, 100)
    for reason in ("rates elsewhere", "service dissatisfaction", "relocation",
                   "death or other involuntary", "reason not recorded",
                   "value drop (still a customer)"):
        assert english_words(tr_value(reason, "zh")) == [], reason


def _effects() -> pd.DataFrame:
    """Effects with labels made as the model makes them, in the report's language."""
    seg = tr("{covariate}: {level} vs {reference}", covariate=tr("reliance segment"),
             level=level_words("loan"), reference=level_words("deposit"))
    eng = tr("{covariate}, {unit}", covariate=tr("engagement score"),
             unit=tr("per point of the score"))
    tier = tr("{covariate}: {level} vs {reference}", covariate=tr("value tier at entry"),
              level=level_words("Tier 4-5"), reference=level_words("Tier 1"))
    return pd.DataFrame([
        ("segment", "segment=loan", seg, 1.8, 1.5, 2.16, 1e-6, 40.0),
        ("engagement", "engagement", eng, 0.7, 0.6, 0.82, 1e-5, 30.0),
        ("tier_group", "tier_group=Tier 4-5", tier, 1.25, 0.9, 1.6, 0.2, 1.5),
    ], columns=["term", "key", "label", "hr", "ci_low", "ci_high", "p", "chisq"])


def _drivers(**kw) -> Drivers:
    study = SimpleNamespace(frame=pd.DataFrame({"event": [1] * 250 + [0] * 750}),
                            scope=tr("the whole bank"),
                            period_words=tr("observed up to {month}", month="2025年12月"),
                            has_panel=True,
                            attrition_words=tr("closure: the customer ends the relationship"))
    terms = [SimpleNamespace(name=n, words=n) for n in ("segment", "engagement", "tier_group")]
    tv = pd.DataFrame([("outflow_3m", 1.4, 0.9, 2.2), ("n_products", 0.85, 0.8, 0.9)],
                      columns=["key", "hr", "ci_low", "ci_high"])
    ph = pd.DataFrame({"covariate": [tr("all covariates (global test)")], "p": [0.4],
                       "flagged": [False]}, index=["GLOBAL"])
    note = Attempt(note="Not estimable: " + tr("the data record no departure reasons, so why "
                                               "customers leave cannot be broken down"))
    fields = dict(study=study, horizons=[12], transform="km",
                  design=Attempt(SimpleNamespace(terms=terms)), effects=Attempt(_effects()),
                  time_varying=Attempt(SimpleNamespace(effects=tv)), ph=Attempt((ph, None)),
                  reasons=note)
    for name in ("linearity", "model", "remedy", "aft", "held_out", "truth_static", "truth_tv"):
        fields[name] = note
    fields.update(kw)
    return Drivers(**fields)


def test_key_findings_in_chinese_keep_their_hedging(zh):
    lines = [line[2:] for line in findings.key_findings(_drivers()).split("\n")]
    assert lines[0] == ("全行（观察至2025年12月）共**1,000名客户**，其中**250名流失**"
                        "（销户流失：客户终止与本行的业务关系）。模型分析流失与3项入组时特征的关系，"
                        "每项特征均对其他特征作了调整。")
    assert lines[1] == ("在其他因素保持不变时，最主要的驱动因素：业务倚重类型：贷款倚重型对比存款倚重型："
                        "流失风险高80%，HR 1.80（95% CI 1.50至2.16）；活跃度评分，每增加1分："
                        "流失风险低30%，HR 0.70（95% CI 0.60至0.82）。")
    assert lines[2] == ("调整其他因素后，高价值客户（四星级至五星级对比一星级）的流失率无明显差异："
                        "HR 1.25（95% CI 0.90至1.60），p = 0.200。")
    assert lines[3] == ("近3个月内的大额资金流出并非明确的预警信号：流失风险无明显差异，"
                        "HR 1.40（95% CI 0.90至2.20）。")
    assert lines[4].startswith("每多持有一个产品（逐月计数）：流失风险低15%")
    assert lines[5] == "比例风险检验未发现效应随开户月数变化的协变量（全局检验 p = 0.400）。"
    assert lines[6].startswith("准确度：无法估计：数据未记录流失原因")
    assert lines[7] == "无法估计：数据未记录流失原因，无法按原因分析客户为何流失"
    text = "\n".join(lines)
    assert english_words(text) == [], text
    clear = findings.key_findings(_drivers(time_varying=Attempt(SimpleNamespace(
        effects=pd.DataFrame([("outflow_3m", 3.2, 2.5, 4.1)],
                             columns=["key", "hr", "ci_low", "ci_high"])))))
    assert ("**预警信号：**近3个月内发生大额资金流出的客户，流失风险是未发生者的**3.2**倍"
            "（95% CI 2.5至4.1）。") in clear
    assert "无明显差异" not in clear.split("\n")[3]


@pytest.mark.slow
def test_the_chinese_report_shows_no_english_prose(tmp_path):
    text = rendered_text(NB, tmp_path, lang="zh", branch="North")
    assert "主要发现" in text and "客户为何流失" in text and "风险比" in text
    assert english_words(text) == []
