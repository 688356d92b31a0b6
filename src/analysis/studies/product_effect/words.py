"""The product-effect report's table cells and notes in the report's language.

The study keeps its results in English (the summary's ``method`` and ``contrast``, the notes
``"Not estimable: ..."`` that the headline reads); what a reader sees is translated here, at
display time, from the catalogue (:func:`analysis.i18n.tr`): whole texts, texts made from a
pattern (``"Landmark at 12 months"``), and the model's codes (``"rmst_36"``, ``"age10"``) in
words. In English everything is shown unchanged.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.i18n import catalogue, language, tr, tr_value

__all__ = ["cell_words", "note_words", "shown"]

#: Texts made from a pattern: regular expression -> message id (same placeholders).
_PATTERNS = [(re.compile(rx), msgid) for rx, msgid in (
    (r"Landmark at (?P<months>[\d.]+) months", "Landmark at {months} months"),
    (r"marginal effect at entry, (?P<population>.+)", "marginal effect at entry, {population}"),
    (r"marginal HR, 2\+ vs 1 product in the entry month \((?P<population>.+)\)",
     "marginal HR, 2+ vs 1 product in the entry month ({population})"),
    (r"(?P<segments>[a-z]+(?:, [a-z]+)*)-reliant customers", "{segments}-reliant customers"),
    (r"rmst_(?P<tau>\d+)", "months retained within {tau} months (RMST)"),
    (r"rmst_(?P<tau>\d+)_gain", "months gained within {tau} months (RMST)"),
    (r"retention_(?P<months>\d+)", "share still a customer at {months} months"),
    (r"retention_(?P<months>\d+)_gain", "gain in the share still a customer at {months} months"),
    (r"(?P<low>[\d.]+)-(?P<high>[\d.]+) months", "{low}-{high} months"),
    (r"(?P<low>[\d.]+)\+ months", "{low}+ months"),
    (r"Not estimable: (?P<why>.+)", "Not estimable: {why}"),
    (r"not estimable: (?P<why>.+)", "Not estimable: {why}"),
    (r"Caution: (?P<why>.+)", "Caution: {why}"),
    (r"left out \(one value, or no departures on one side\): (?P<columns>.+)",
     "left out (one value, or no departures on one side): {columns}"),
    (r"only (?P<n>\d+) departures? in this data; models need at least (?P<minimum>\d+)",
     "only {n} departures in this data; models need at least {minimum}"),
    (r"(?P<segment>\w+)-reliant customers left out: only (?P<share>[\d.]+%) of (?P<n>\d+) are "
     r"in the smaller group \(no fair comparison group: positivity\)",
     "{segment}-reliant customers left out: only {share} of {n} are in the smaller group (no "
     "fair comparison group: positivity)"),
    (r"after weighting the largest standardised difference is (?P<smd>[\d.]+) \(above 0\.1\): "
     r"the groups are not fully comparable, read the IPW estimate with care",
     "after weighting the largest standardised difference is {smd} (above 0.1): the groups are "
     "not fully comparable, read the IPW estimate with care"),
    (r"no customer with (?P<level>\S+) products", "no customer with {level} products"),
    (r"(?P<level>\S+) products: not estimable, none of its (?P<n>\d+) customers left",
     "{level} products: not estimable, none of its {n} customers left"),
    (r"(?P<column>\w+) \(per SD\)", "{column} (per SD)"),
)]

#: Codes of the model's columns (balance table, PH test, E-value) -> message ids.
_CODES = {
    "engagement": "engagement score", "loan": "loan-reliant segment",
    "age10": "age at opening (per 10 years)", "entry_years": "tenure at entry (per year)",
    "log_aum": "log assets at entry", "tier_entry": "value tier at entry (per star)",
    "time_varying": "Time-varying Cox, adjusted",
    "adjusted_linear": "Cox, adjusted (products at entry)",
    "cox_time_varying": "Time-varying Cox, adjusted",
    "cox_adjusted": "Cox, adjusted (products at entry)",
    "n_products": "products held (per product)",
    "n_products_entry": "products at entry (per product)",
    "km": "1 - Kaplan-Meier",
}

#: Columns holding codes rather than texts.
_CODE_COLUMNS = ("covariate", "model", "term", "transform", "estimate")


def _known(text: str) -> str | None:
    return catalogue(language()).get(text)


def cell_words(text):
    """A text cell (or a part of a sentence) of the study in the report's language."""
    if language() == "en" or not isinstance(text, str) or not text:
        return text
    whole = _known(text)
    if whole is not None:
        return whole
    for rx, msgid in _PATTERNS:
        m = rx.fullmatch(text)
        if m:
            return tr(msgid, **{k: _part(k, v) for k, v in m.groupdict().items()})
    if "; " in text:  # notes of several parts
        return "；".join(cell_words(part) for part in text.split("; "))
    return tr_value(text)


_LISTS = ("population", "segments", "columns")


def _part(name: str, text: str) -> str:
    """A piece of a patterned text: a number stays, words are translated (lists item by item)."""
    if re.fullmatch(r"[\d.%+-]+", text):
        return text
    f = _code_words if name == "columns" else cell_words
    if name in _LISTS and ", " in text and _known(text) is None:
        return "、".join(f(p) for p in text.split(", "))
    return cell_words(text)


def note_words(text: str | None) -> str | None:
    """A note of the study (``pe.notes``) in the report's language."""
    if text is None or language() == "en":
        return text
    bare = text.rstrip(".")
    out = cell_words(bare)
    if out == bare:  # not in the catalogue: shown as it is
        return text
    return out if out.endswith(("。", "）", "！")) else out + "。"


def _code_words(code):
    if not isinstance(code, str):
        return code
    return tr(_CODES[code]) if code in _CODES else cell_words(code)


def shown(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """A copy of a study table with its text cells in the report's language (the same table in
    English)."""
    if df is None or language() == "en":
        return df
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            continue
        f = _code_words if col in _CODE_COLUMNS else cell_words
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.cat.rename_categories([f(c) for c in s.cat.categories])
        else:
            out[col] = s.map(f)
    return out


def cells_note(cells: dict) -> str:
    """The sentence under the time-varying model about its piecewise-exponential fit from counts
    (headline ``cox_time_varying.from_counts``): on the same customers, or on every customer of
    a large book while the table above is the model sample's."""
    words = dict(band=cells["band_months"], bins=cells["bins"], cells=f"{cells['cells']:,}",
                 hr=f"{cells['hr']:.3f}", low=f"{cells['ci_low']:.3f}",
                 high=f"{cells['ci_high']:.3f}")
    if cells.get("whole_book"):
        return tr("The same model as a piecewise-exponential model fitted from counts on all "
                  "{customers} customers of the book (customer-months and departures per "
                  "{band}-month band of tenure, branch and covariate cell; age, tenure at entry, "
                  "assets and engagement cut into {bins} quantile bins, {cells} cells): HR per "
                  "product {hr} ({low} to {high}). The table above is the row-by-row fit on the "
                  "model sample.", customers=f"{cells['customers']:,}", **words)
    return tr("The same model as a piecewise-exponential model fitted from counts of "
              "customer-months and departures per {band}-month band of tenure and covariate cell "
              "(the engine for books too large for the row-by-row fit; age, tenure at entry, "
              "assets and engagement cut into {bins} quantile bins, {cells} cells): HR per "
              "product {hr} ({low} to {high}).", **words)
