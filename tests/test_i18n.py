"""The message catalogue (English, Chinese) and the Chinese landing page."""

import re

import pytest

from analysis.i18n import LANGUAGES, MESSAGES, format_month, placeholders, t
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


def _visible_text(page: str) -> str:
    body = page[page.index("<body"):]
    body = re.sub(r"<(style|title)[^>]*>.*?</\1>", " ", body, flags=re.S)
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_the_chinese_index_has_no_english_prose(tmp_path):
    _write(tmp_path, "2025-11-01", {None: _overview(5900, 1300, 11.9, 11.3, 12.5, 0.83),
                                    "North": _overview(1000, 250, 12.0, 10.5, 13.5, 0.82)})
    _write(tmp_path, "2025-12-01", {None: _overview(6000, 1429, 11.4, 10.8, 12.0, 0.828),
                                    "North": _overview(1026, 256, 11.9, 10.5, 13.5, 0.827)})
    page = index_html(tmp_path, "zh")
    assert '<html lang="zh-CN">' in page and "各网点概览（截至2025-12-01）" in page
    assert "North网点" in page and "全行" in page and "每百客户年流失数" in page
    words = set(re.findall(r"[A-Za-z]{2,}", _visible_text(page)))
    assert words <= ALLOWED_ASCII, words - ALLOWED_ASCII
    assert 'href="index.html"' in page  # the English page, with the technical table
    en = index_html(tmp_path, "en")
    assert 'href="index.zh.html"' in en and "All reports (technical)" in en
    assert "All reports" not in page
