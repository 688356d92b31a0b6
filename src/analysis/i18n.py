"""Report languages: the message catalogues (English, Chinese) and language-aware formats.

Two kinds of text, one rule (every text a manager reads exists in both languages):

- **Report texts** (notebook prose, findings, headings, captions, table headers, axis labels,
  notes) are written in English in the code, gettext style, and looked up by :func:`tr` in the
  Chinese catalogue, the ``.po`` files of ``locale/zh/`` (read with Babel; one file per study plus
  ``common.po``). A notebook's Markdown cells are translated whole when its HTML is made
  (:func:`translate_markdown`). The report's language is set once per run by
  :func:`set_language` (the notebooks' ``lang`` parameter).
- **Landing-page texts** are keyed messages in :data:`MESSAGES` (:func:`t`).

``tests/test_i18n.py`` checks that every ``tr("...")`` of the package and every Markdown cell of
the notebooks has its translation with the same placeholders, and that a Chinese report holds no
English prose. The Chinese terms follow the field's usage in Chinese retail banking
(``docs/glossary_zh.md``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import string
from pathlib import Path

__all__ = ["LANGUAGES", "MESSAGES", "t", "tr", "tr_value", "set_language", "language",
           "catalogue", "catalogue_clashes", "translate_markdown", "html_lang", "format_month", "check_lang",
           "english_words", "ALLOWED_ASCII", "format_money", "money_unit"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"

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
    "index.link.value": {"en": "customer value", "zh": "客户价值"},
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
    "nav.index": {"en": "All reports", "zh": "全部报告"},
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


_current = "en"


def set_language(lang: str) -> str:
    """Make ``lang`` the language of the report being made (what :func:`tr` translates into).

    >>> set_language("zh"); tr("Key findings"); set_language("en")
    'zh'
    '主要发现'
    'en'
    """
    global _current
    _current = check_lang(lang)
    return _current


def language() -> str:
    """The language set by :func:`set_language` (``"en"`` until then)."""
    return _current


def catalogue(lang: str) -> dict[str, str]:
    """English text -> translation, from the ``.po`` files of ``locale/<lang>/``.

    Fuzzy and untranslated entries are left out (their English is shown). ``common.po`` is
    read first; a message another file translates differently keeps its first translation
    and is listed by :func:`catalogue_clashes` (a test keeps that list empty: a report must
    never fail over a wording).
    """
    return _read_catalogue(lang)[0]


def catalogue_clashes(lang: str) -> list[str]:
    """Messages translated differently by two ``.po`` files of ``lang`` (should be none)."""
    return _read_catalogue(lang)[1]


@functools.lru_cache(maxsize=None)
def _read_catalogue(lang: str) -> tuple[dict[str, str], list[str]]:
    from babel.messages.pofile import read_po

    out: dict[str, str] = {}
    where: dict[str, str] = {}
    clashes: list[str] = []
    files = sorted((LOCALE_DIR / check_lang(lang)).glob("*.po"),
                   key=lambda p: (p.name != "common.po", p.name))
    for path in files:
        with path.open("rb") as fh:
            for msg in read_po(fh, locale=None):
                if not msg.id or not msg.string or msg.fuzzy:
                    continue
                if msg.id in out:
                    if out[msg.id] != msg.string:
                        clashes.append(f"{msg.id!r}: {where[msg.id]} {out[msg.id]!r}, "
                                       f"{path.name} {msg.string!r}")
                    continue
                out[msg.id], where[msg.id] = msg.string, path.name
    return out, clashes


def tr(msgid: str, /, lang: str | None = None, **values) -> str:
    """``msgid`` (English) in the report's language, with its ``{name}`` placeholders filled.

    A message missing from the catalogue shows in English (the tests keep the catalogue whole).

    >>> tr("{n} months", "zh", n=12), tr("{n} months", n=12)
    ('12个月', '12 months')
    """
    lang = check_lang(lang or _current)
    text = msgid if lang == "en" else catalogue(lang).get(msgid, msgid)
    return text.format(**values) if values else text


def tr_value(value, lang: str | None = None):
    """A data value as shown: translated when it is a known label (the synthetic book's tiers,
    segments and branches; ``True``/``False``), else unchanged (real data keeps its own words).

    >>> tr_value("deposit", "zh"), tr_value("Some branch", "zh"), tr_value(3, "zh")
    ('存款倚重型', 'Some branch', 3)
    """
    lang = check_lang(lang or _current)
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if lang == "en" or not isinstance(value, str):
        return value
    return catalogue(lang).get(value, value)


def translate_markdown(source: str, lang: str) -> str:
    """A notebook Markdown cell in ``lang``: the whole cell's text is the message."""
    if check_lang(lang) == "en":
        return source
    return catalogue(lang).get(source.strip(), source)


#: ASCII words a Chinese report may show: abbreviations and names of the field's methods
#: (kept in Latin script in Chinese statistics too), and units.
ALLOWED_ASCII = frozenset({
    "HR", "CI", "AUM", "RMST", "IPW", "MSM", "SMD", "AUC", "AFT", "PH", "AIC", "VIF", "ICI",
    "PCRM", "ID", "PNG", "SVG",
    "Kaplan", "Meier", "Kaplan-Meier", "Cox", "Efron", "Poisson", "Greenwood", "Schoenfeld", "Lorenz", "Gini",
    "Weibull", "Wald", "Brier", "Harrell", "Uno", "Aalen", "Johansen", "EMPC", "Verbraken",
    "ln", "df", "vs", "English", "CLV", "sBG", "Fader", "Hardie",
})


def english_words(text: str, allowed=ALLOWED_ASCII) -> list[str]:
    """The English words (two or more ASCII letters) of ``text`` outside ``allowed``, in order.

    >>> english_words("每百客户年流失数 11.4（95% CI 10.8 to 12.0），HR 0.81")
    ['to']
    """
    import re

    return [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", text) if w not in allowed]


#: Money as each language shows it: the divisor of an amount in yuan and the unit's words.
MONEY_UNITS = {"en": (1.0, "yuan"), "zh": (1e4, "万元")}


def money_unit(lang: str | None = None) -> tuple[float, str]:
    """``(divisor, unit)`` of money amounts in ``lang``: yuan in English, 万元 in Chinese."""
    return MONEY_UNITS[check_lang(lang or _current)]


def format_money(value: float, lang: str | None = None) -> str:
    """An amount of money (yuan) as a reader of the language writes it, with its unit.

    Below 1,000元 a Chinese amount is written in 元 (250元, not 0.0万元).

    >>> format_money(12_345_678, "en"), format_money(12_345_678, "zh"), format_money(250, "zh")
    ('12,345,678 yuan', '1,234.6万元', '250元')
    """
    div, unit = money_unit(lang)
    if div != 1 and abs(value) < 1000:
        return f"{value:,.0f}元"
    if div == 1:
        return f"{value:,.0f} {unit}"
    return f"{value / div:,.1f}{unit}"


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
