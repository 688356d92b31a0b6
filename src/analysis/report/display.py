"""Showing tables and notes in a report notebook: rounded, readable, no index, no IDs, escaped.

Everything shown here may carry text from the data (branch names, group levels, column names
of a mapped extract), so nothing from the data is ever emitted as HTML or Markdown syntax:

- :func:`show` renders tables through a pandas Styler with ``escape="html"`` on cells, column
  headers and the index, and its caption through :class:`Markdown`;
- :class:`Markdown` is a drop-in for :class:`IPython.display.Markdown` that escapes HTML and
  neutralises link, image, autolink and maths syntax, keeping bold, headings, blockquotes and
  bullets (the only Markdown our own texts use);
- :func:`display` is IPython's, but turns a plain IPython ``Markdown`` into the safe one and a
  DataFrame into :func:`show`.

A missed escape still cannot run: the HTML export carries a no-script Content-Security-Policy
(:mod:`analysis.report.html`).
"""

from __future__ import annotations

import re

import pandas as pd
from IPython.display import Markdown as _IPyMarkdown
from pandas.io.formats.style import Styler
from IPython.display import display as _ipy_display

from analysis.i18n import language, money_unit, tr, tr_value
from analysis.report.numbers import MISSING, format_table

__all__ = ["show", "note", "nice_table", "styled_table", "escape_markdown", "Markdown", "display"]

# Characters of data that could open HTML, a link/image (``[..](..)``, ``![..](..)``), a maths
# span (``$..$``: JupyterLab's MathJax) or break our own emphasis (``\``). HTML character
# references render as the character itself in every Markdown renderer and never form syntax.
_MD_ESCAPES = {"&": "&amp;", "<": "&lt;", "[": "&#91;", "]": "&#93;", "$": "&#36;", "\\": "&#92;"}
_MD_CHARS_RE = re.compile("[" + re.escape("".join(_MD_ESCAPES)) + "]")
# Bare URLs are linkified by GFM renderers (``https://x``, ``javascript:x``, ``www.x``): a colon
# right after a letter and before a non-space, and ``www.``, are written as references.
_SCHEME_COLON_RE = re.compile(r"(?<=[A-Za-z]):(?=\S)")
_WWW_RE = re.compile(r"(?i)\b(www)\.")


def escape_markdown(text: object) -> str:
    """Return ``text`` as Markdown that shows it literally and cannot form HTML or links.

    ``&``, ``<``, ``[``, ``]``, ``$`` and ``\\`` become HTML character references, and so do the
    colon of a URL scheme and the dot of ``www.``; ``*``, ``#``, ``>`` and ``-`` are kept, so
    bold, headings, blockquotes and bullets still work.

    Examples
    --------
    >>> escape_markdown("**Branch** <b>x</b> [y](javascript:alert(1))")
    '**Branch** &lt;b>x&lt;/b> &#91;y&#93;(javascript&#58;alert(1))'
    >>> escape_markdown("Log-rank test: p = 0.03")
    'Log-rank test: p = 0.03'
    """
    out = _MD_CHARS_RE.sub(lambda m: _MD_ESCAPES[m.group(0)], str(text))
    out = _SCHEME_COLON_RE.sub("&#58;", out)
    return _WWW_RE.sub(r"\1&#46;", out)


class Markdown(_IPyMarkdown):
    """Markdown display of text that may hold data: see :func:`escape_markdown`.

    Drop-in for :class:`IPython.display.Markdown` (``display(Markdown(text))``); the text is
    always taken as text, never as a URL or file name to load.

    Examples
    --------
    >>> Markdown("### By <script>x</script>")._repr_markdown_()
    '### By &lt;script>x&lt;/script>'
    """

    def __init__(self, data: object = "", metadata: dict | None = None):
        # Not IPython's __init__: it fetches ``data`` starting with "http" from the network, and
        # reads it as a file when a file of that name exists.
        self.url = None
        self.filename = None
        self.data = escape_markdown("" if data is None else data)
        self.metadata = dict(metadata or {})


def display(*objs, **kwargs) -> None:
    """:func:`IPython.display.display`, with Markdown escaped and DataFrames shown by :func:`show`.

    A plain :class:`IPython.display.Markdown` is re-made as the safe :class:`Markdown`; a
    DataFrame goes through :func:`show` (escaped, rounded); anything else is passed on as it is
    (an explicit :class:`IPython.display.HTML` too: the export's offline check refuses a page
    with a script, an event handler or a ``javascript:`` URL).
    """
    for obj in objs:
        if isinstance(obj, pd.DataFrame):
            show(obj)
            continue
        if isinstance(obj, _IPyMarkdown) and not isinstance(obj, Markdown):
            obj = Markdown(obj.data or "", metadata=obj.metadata)
        _ipy_display(obj, **kwargs)


def nice_table(df: pd.DataFrame, digits: int = 2, rename: dict | None = None) -> pd.DataFrame:
    """Round floats, drop empty note columns and replace underscores in headers."""
    out = _without_empty_note(df).copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            # Shares are shown as percentages; everything else rounded to `digits`.
            if str(col).startswith("share"):
                out[col] = (100 * out[col]).round(1)
                out = out.rename(columns={col: f"{col} (%)"})
            else:
                out[col] = out[col].round(digits)
    return _headers(out, rename)


def _without_empty_note(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without its ``note`` column when no row has a note."""
    if "note" in df and not df["note"].astype(str).str.len().any():
        return df.drop(columns="note")
    return df


#: Plain words for the column names the package's tables share (English; each shown through
#: :func:`analysis.i18n.tr`). Other columns show their name with spaces for underscores.
COLUMN_WORDS = {
    "n": "Customers", "events": "Departures", "customers": "Customers",
    "share_reached": "share reaching tier 4+", "share_departed": "share who left first",
    "share_leaving": "Share who left", "share_ci_low": "95% CI low", "share_ci_high": "95% CI high",
    "person_months": "Customer-months observed",
    "rate_per_100_person_years": "Departures per 100 customer-years",
    "rate_ci_low": "95% CI low", "rate_ci_high": "95% CI high",
    "ci_low": "95% CI low", "ci_high": "95% CI high",
    "group": "Group", "time": "Months", "survival": "Share still a customer",
    "at_risk": "At risk", "tau": "Horizon (months)", "rmst": "Mean months on book (RMST)",
    "se": "Standard error", "median": "Median (months)",
    "tier_group": "Value tier at entry", "segment": "Reliance segment",
    "product_group": "Products held at entry", "branch": "Branch",
    "item": "Item", "value": "Value", "reason": "Reason", "scope": "Scope",
    "share_staying_12": "Still a customer after 12 months",
    "share_staying_12_ci_low": "95% CI low", "share_staying_12_ci_high": "95% CI high",
}


def column_words(name: object) -> str:
    """The header shown for column ``name``, in the report's language.

    >>> column_words("share_ci_low (%)"), column_words("tier_group"), column_words("log_aum")
    ('95% CI low (%)', 'Value tier at entry', 'log aum')
    """
    name = str(name)
    suffix = " (%)" if name.endswith(" (%)") else ""
    base = name[: len(name) - len(suffix)]
    return tr(COLUMN_WORDS.get(base, base.replace("_", " "))) + suffix


def _headers(df: pd.DataFrame, rename: dict | None) -> pd.DataFrame:
    """Column labels as shown: ``rename`` applied, then :func:`column_words`."""
    out = df.rename(columns=rename) if rename else df
    return out.set_axis([column_words(c) for c in out.columns], axis=1)


def _translated_values(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells in the report's language where they are known labels (tiers, segments...);
    booleans as yes/no, never Python's True/False."""
    english = language() == "en"
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_bool_dtype(s) or (not english and not pd.api.types.is_numeric_dtype(s)):
            out[col] = s.astype(object).map(tr_value)
    return out


def styled_table(df: pd.DataFrame, *, digits: int = 2, rename: dict | None = None, index: bool = False,
                 money: tuple = ()):
    """Return the :class:`pandas.io.formats.style.Styler` :func:`show` displays.

    Numbers are formatted by :func:`analysis.report.numbers.format_table` (p-values as
    ``< 0.001``, whole numbers without decimals, shares as percentages, no negative zero).

    Cells, column headers and index labels are HTML-escaped; the index is hidden unless
    ``index=True``.

    Examples
    --------
    >>> html = styled_table(pd.DataFrame({"<b>g</b>": ["<i>x</i>"]})).to_html()
    >>> "&lt;b&gt;g&lt;/b&gt;" in html and "&lt;i&gt;x&lt;/i&gt;" in html and "<b>" not in html
    True
    """
    out = _without_empty_note(df)
    numeric = pd.api.types.is_numeric_dtype
    text_cols = [i for i, c in enumerate(out.columns) if not numeric(out.iloc[:, i])]
    money_at = [i for i, c in enumerate(out.columns) if c in money]
    if money_at:  # amounts in yuan: shown in the language's unit (万元 in Chinese)
        div, unit = money_unit()
        out = out.copy()
        for i in money_at:
            out.iloc[:, i] = out.iloc[:, i] / div
    # text: p < 0.001, whole numbers without decimals, ...
    out = _headers(format_table(_translated_values(out), digits if not money_at or div == 1
                                else max(digits, 1)), rename)
    if money_at:
        out.columns = [f"{c}{tr(' ({unit})', unit=unit)}" if i in money_at else c
                       for i, c in enumerate(out.columns)]
    # no id per cell (a third of a table's bytes); text columns get one CSS rule each
    styler = Styler(out, cell_ids=False)
    if text_cols:  # words read from the left, numbers line up on the right (the page's CSS)
        styler = styler.set_table_styles(
            [{"selector": f"td.col{i}", "props": "text-align: left;"} for i in text_cols],
            overwrite=False)
    styler = (
        styler.format(na_rep=MISSING, escape="html")
        .format_index(escape="html", axis=0)
        .format_index(escape="html", axis=1)
    )
    return styler if index else styler.hide(axis="index")


_NOTE_PREFIXES = ("Not estimable: ", "Caution: ")


def note_words(text: str) -> str:
    """A note in the report's language: the whole note when the catalogue has it, else its
    ``Not estimable:`` / ``Caution:`` prefix and its reason, each translated where known
    (notes are made in English by :mod:`analysis.errors`, whose checks read the prefix).

    >>> from analysis.i18n import set_language
    >>> _ = set_language("zh"); note_words("Not estimable: fewer than 5 customers."); _ = set_language("en")
    '无法估计：客户少于5名。'
    """
    text = str(text)
    if language() == "en" or tr(text) != text:
        return tr(text)
    for prefix in _NOTE_PREFIXES:
        if text.startswith(prefix):
            return tr(prefix.strip() + " {why}", why=tr(text[len(prefix):]))
    return text


def note(text: str) -> None:
    """Display a plain-language note (e.g. why a section cannot be estimated), escaped."""
    display(Markdown(f"> **{tr('Note.')}** {note_words(text)}"))


def show(obj, *, digits: int = 2, caption: str | None = None, rename: dict | None = None,
         money: tuple = ()) -> None:
    """Display a DataFrame, or an :class:`~analysis.errors.Attempt` (its table or its note).

    Parameters
    ----------
    obj : DataFrame, Attempt or any displayable
        A failed Attempt shows its note; anything but a DataFrame goes to :func:`display`.
    digits : int
        Decimals of floats (shares are shown as percentages with one).
    caption : str, optional
        Shown in italics above the table, escaped like any :class:`Markdown`.
    rename : dict, optional
        Column labels, applied after rounding.
    money : tuple of str
        Columns holding amounts in yuan: shown in the language's unit (yuan; 万元 in Chinese),
        which the header states.

    Cells, headers and the caption are escaped (see :func:`styled_table`, :class:`Markdown`).
    """
    value = obj
    if hasattr(obj, "ok") and hasattr(obj, "note"):
        if not obj.ok:
            note(obj.note)  # translated by note()
            return
        value = obj.value
    if caption:
        _ipy_display(Markdown(f"*{caption}*"))
    if isinstance(value, pd.DataFrame):
        _ipy_display(styled_table(value, digits=digits, rename=rename, money=money))
    else:
        display(value)
