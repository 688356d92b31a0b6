"""The message catalogue (English, Chinese) and the Chinese landing page."""

import re

import pytest

from analysis.i18n import LANGUAGES, MESSAGES, format_month, placeholders, t
from analysis.report.html import visible_text
from analysis.report.index import index_html
from tests.test_landing import _overview, _write

#: ASCII words a Chinese page may show: the language switch, abbreviations of the field,
#: and data values (the fixture's branch name).
ALLOWED_ASCII = {"English", "HR", "CI", "North"}


def test_every_message_exists_in_both_languages_with_the_same_placeholders():
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        assert placeholders(texts["en"]) == placeholders(texts["zh"]), key
        assert texts["zh"].strip() and texts["en"].strip(), key


def test_chinese_messages_hold_no_english_words():
    for key, texts in MESSAGES.items():
        words = set(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{[^}]*\}", "", texts["zh"])))
        assert words <= ALLOWED_ASCII, (key, words)


def test_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="lang must be one of en, zh, got 'fr'"):
        t("index.title", "fr")
    assert format_month("2025-06-15", "zh") == "2025年6月"


def test_the_chinese_index_has_no_english_prose(tmp_path):
    _write(tmp_path, "2025-11-01", {None: _overview(5900, 1300, 11.9, 11.3, 12.5, 0.83),
                                    "North": _overview(1000, 250, 12.0, 10.5, 13.5, 0.82)})
    _write(tmp_path, "2025-12-01", {None: _overview(6000, 1429, 11.4, 10.8, 12.0, 0.828),
                                    "North": _overview(1026, 256, 11.9, 10.5, 13.5, 0.827)})
    page = index_html(tmp_path, "zh")
    assert '<html lang="zh-CN">' in page and "各网点概览（截至2025-12-01）" in page
    assert "北区网点" in page and "全行" in page and "每百客户年流失数" in page
    words = set(re.findall(r"[A-Za-z]{2,}", visible_text(page)))
    assert words <= ALLOWED_ASCII, words - ALLOWED_ASCII
    assert 'href="index.html"' in page  # the English page, with the technical table
    en = index_html(tmp_path, "en")
    assert 'href="index.zh.html"' in en and "All reports (technical)" in en
    assert "All reports" not in page


# --------------------------------------------------------------------------------------------
# the report catalogue (gettext style: English in the code, Chinese in locale/zh/*.po)

from pathlib import Path  # noqa: E402

from tests.conftest import tr_literals  # noqa: E402

import nbformat  # noqa: E402

from analysis.i18n import (ALLOWED_ASCII as REPORT_ALLOWED, catalogue, english_words,  # noqa: E402
                           set_language, tr, tr_value)

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "src" / "analysis").rglob("*.py")) + sorted((ROOT / "notebooks").glob("*.py"))


def test_every_tr_message_of_the_code_has_its_chinese():
    zh = catalogue("zh")
    missing = [f"{p.relative_to(ROOT)}:{line}: {msg!r}" for p in SOURCES
               for line, msg in tr_literals(p) if msg not in zh]
    assert missing == [], "\n".join(missing)


def test_every_markdown_cell_of_the_notebooks_has_its_chinese():
    zh = catalogue("zh")
    missing = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown" and cell.source.strip() not in zh:
                missing.append(f"{path.name} cell {i}: {cell.source.strip()[:60]!r}")
    assert missing == [], "\n".join(missing)


def test_the_chinese_catalogue_keeps_placeholders_and_holds_no_english():
    from analysis.i18n import catalogue_clashes

    assert catalogue_clashes("zh") == []  # one translation per message across the .po files
    zh = catalogue("zh")
    assert len(zh) > 100
    for msgid, text in zh.items():
        assert placeholders(msgid) == placeholders(text), msgid
        # placeholders and `code` (a command, a parameter name) are not prose
        words = english_words(re.sub(r"\{[^}]*\}|`[^`]*`", "", text))
        assert words == [], (msgid, words)


def test_tr_translates_fills_and_falls_back_to_english():
    assert tr("{n} months", "zh", n=12) == "12个月"
    assert tr("{n} months", "en", n=12) == "12 months"
    assert tr("a text nobody translated", "zh") == "a text nobody translated"
    assert (tr_value("Tier 3", "zh"), tr_value(True, "en"), tr_value(True, "zh")) == ("三星级", "yes", "是")
    try:
        set_language("zh")
        assert tr("Key findings") == "主要发现"
    finally:
        set_language("en")
    with pytest.raises(ValueError, match="lang must be one of"):
        set_language("fr")


def test_english_words_finds_prose_and_allows_the_fields_abbreviations():
    assert english_words("风险比（HR）0.81，95% CI 0.70–0.93；Kaplan-Meier曲线") == []
    assert english_words("客户 still a customer") == ["still", "customer"]
    assert "English" in REPORT_ALLOWED  # the language switch


def test_a_chinese_table_has_chinese_headers_and_labels():
    import pandas as pd

    from analysis.report.display import styled_table

    df = pd.DataFrame({"tier_group": ["Tier 1", "Tier 5"], "segment": ["deposit", "loan"],
                       "rate_per_100_person_years": [12.3, 9.87], "flag": [True, False]})
    try:
        set_language("zh")
        html = styled_table(df).to_html()
    finally:
        set_language("en")
    for text in ("入组时价值等级", "业务倚重类型", "每百客户年流失数", "一星级", "五星级", "存款倚重型", "贷款倚重型", "是", "否"):
        assert text in html, text
    english = styled_table(df).to_html()
    assert "Value tier at entry" in english and "yes" in english and "True" not in english


def test_money_columns_state_their_unit_in_each_language():
    import pandas as pd

    from analysis.report.display import styled_table

    df = pd.DataFrame({"branch": ["North"], "aum": [12_345_678.0], "n": [3]})
    en = styled_table(df, money=("aum",)).to_html()
    assert "aum (yuan)" in en and "12,345,678" in en
    try:
        set_language("zh")
        zh = styled_table(df, money=("aum",)).to_html()
    finally:
        set_language("en")
    assert "aum（万元）" in zh and "1,234.57" in zh and "北区" in zh
