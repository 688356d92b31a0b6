"""Report languages: one message catalogue (English and Chinese) and language-aware formats.

Every text of the pages built here (today: the index's landing part and the glossary) comes
from :data:`MESSAGES` through :func:`t`; ``tests/test_i18n.py`` checks that every message has
both languages with the same placeholders, and that a Chinese page holds no English prose.
The Chinese terms follow the field's usage in Chinese retail banking (``docs/glossary_zh.md``).
"""

from __future__ import annotations

import datetime as _dt
import string

__all__ = ["LANGUAGES", "MESSAGES", "t", "html_lang", "format_month", "check_lang"]

#: Supported report languages.
LANGUAGES = ("en", "zh")

#: key -> {language: text}; ``{name}`` placeholders are filled by :func:`t`.
MESSAGES: dict[str, dict[str, str]] = {
    "index.title": {"en": "Retention reports", "zh": "客户留存分析报告"},
    "index.glance": {"en": "Branches at a glance, as of {as_of}",
                     "zh": "各网点概览（截至{as_of}）"},
    "index.glance_note": {
        "en": "Closure attrition; 95% confidence intervals in brackets. HR per additional "
              "product: report 02's leading estimate (below 1: more products, fewer "
              "departures).",
        "zh": "流失口径：销户。括号内为95%置信区间。每多持有一个产品的风险比取自产品效应报告的"
              "主要估计（小于1表示持有产品越多，流失越少）。"},
    "index.bank": {"en": "Whole bank", "zh": "全行"},
    "index.branch": {"en": "Branch {branch}", "zh": "{branch}网点"},
    "index.customers": {"en": "Customers", "zh": "客户数"},
    "index.departures": {"en": "Departures", "zh": "流失客户数"},
    "index.rate": {"en": "Rate per 100 customer-years", "zh": "每百客户年流失数"},
    "index.retention12": {"en": "Still a customer after 12 months", "zh": "12个月留存率"},
    "index.hr_product": {"en": "HR per additional product", "zh": "每多一个产品的风险比"},
    "index.no_report": {"en": "no report", "zh": "暂无报告"},
    "index.link.overview": {"en": "overview", "zh": "流失概览"},
    "index.link.products": {"en": "products", "zh": "产品效应"},
    "index.link.drivers": {"en": "drivers", "zh": "流失因素"},
    "index.link.early_warning": {"en": "early warning", "zh": "流失预警"},
    "index.comparison": {"en": "Branch comparison", "zh": "网点比较"},
    "index.comparison_note": {
        "en": "Attrition per 100 customer-years with 95% CI; dashed: the whole bank. A branch "
              "differs clearly only where its interval does not cross the bank's line.",
        "zh": "每百客户年流失数及95%置信区间；虚线为全行水平。只有当网点的区间不与全行虚线相交时，"
              "才能认为该网点与全行有明显差异。"},
    "index.comparison_title": {"en": "Attrition per 100 customer-years by branch, 95% CI",
                               "zh": "各网点每百客户年流失数（95%置信区间）"},
    "index.bank_line": {"en": "bank {value}", "zh": "全行 {value}"},
    "index.trend": {"en": "Trend by as-of date", "zh": "按统计日期的趋势"},
    "index.trend_wait": {
        "en": "The trend appears here once two as-of dates have been rendered (one monthly "
              "run adds one point).",
        "zh": "生成两个统计日期的报告后，这里将显示趋势（每月运行一次增加一个点）。"},
    "index.trend_title": {
        "en": "Bank attrition rate per 100 customer-years by as-of date, 95% CI",
        "zh": "全行每百客户年流失数（按统计日期，95%置信区间）"},
    "index.trend_scope": {"en": "Scope", "zh": "范围"},
    "index.trend_note": {
        "en": "Rate per 100 customer-years / share still a customer 12 months after entry.",
        "zh": "每百客户年流失数 / 12个月留存率。"},
    "index.other_language": {"en": "中文版", "zh": "English"},
    "glossary.title": {"en": "Glossary", "zh": "术语表"},
}


def check_lang(lang: str) -> str:
    """``lang`` if supported, else a ValueError naming the choices."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return lang


def t(key: str, lang: str = "en", **values) -> str:
    """The message ``key`` in ``lang`` with its placeholders filled.

    >>> t("index.branch", "zh", branch="北京")
    '北京网点'
    >>> t("index.glance", "en", as_of="2025-12-01")
    'Branches at a glance, as of 2025-12-01'
    """
    return MESSAGES[key][check_lang(lang)].format(**values)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def html_lang(lang: str) -> str:
    """The page's ``lang`` attribute: browsers pick Chinese glyphs for ``zh-CN``."""
    return {"en": "en", "zh": "zh-CN"}[check_lang(lang)]


def format_month(value, lang: str = "en") -> str:
    """A month as a reader of the language writes it.

    >>> format_month("2025-12-01", "zh"), format_month("2025-12-01", "en")
    ('2025年12月', 'Dec 2025')
    """
    d = _dt.date.fromisoformat(str(value)[:10])
    return f"{d.year}年{d.month}月" if check_lang(lang) == "zh" else d.strftime("%b %Y")
