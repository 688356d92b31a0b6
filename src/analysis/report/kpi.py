"""The KPI strip at the top of a report: its headline numbers at a glance, with their intervals.

Read from the report's headline payload (the same numbers as its JSON), rendered as HTML built
here with every value escaped (numbers only reach the page through :mod:`analysis.report.numbers`
formats; labels are our own). A value that is missing shows an en dash, never a guess.
"""

from __future__ import annotations

import html as _html

from IPython.display import HTML

from analysis.i18n import tr
from analysis.report.numbers import MISSING, value_at

__all__ = ["kpi_items", "kpi_html", "kpi_strip"]


def _pct(head, *path):
    v = value_at(head, *path)
    return None if v is None else 100 * v


def _whole(x) -> str:
    return "\u2013" if x is None else f"{x:.0f}"


def _rate(x) -> str:
    return "\u2013" if x is None else f"{100 * x:g}%"


def _item(label: str, value, fmt: str, lo=None, hi=None, unit: str = "") -> dict:
    """One KPI; ``label`` is English and shown in the report's language."""
    text = MISSING if value is None else f"{format(value, fmt)}{unit}"
    ci = (f"95% CI {format(lo, fmt)}{unit}–{format(hi, fmt)}{unit}"
          if value is not None and lo is not None and hi is not None else "")
    return {"label": tr(label), "value": text, "ci": ci}


def kpi_items(kind: str, head: dict) -> list[dict]:
    """The strip's items (``label, value, ci``) of a headline payload of report ``kind``
    (``overview``, ``product_effect``, ``drivers``, ``early_warning`` or ``value``)."""
    if kind == "overview":
        r = ("rate_per_100_person_years",)
        s = ("survival_at", "12")
        return [
            _item("Customers", value_at(head, "n"), ",.0f"),
            _item("Departures", value_at(head, "events"), ",.0f"),
            _item("Departures per 100 customer-years", value_at(head, *r, "estimate"), ".1f",
                  value_at(head, *r, "ci_low"), value_at(head, *r, "ci_high")),
            _item("Still a customer after 12 months", _pct(head, *s, "survival"), ".1f",
                  _pct(head, *s, "ci_low"), _pct(head, *s, "ci_high"), unit="%"),
        ]
    if kind == "product_effect":
        lead = head.get(head.get("recommended") or "msm") or {}
        g = ("gformula", "one_more_product", "rmst_36_gain")
        return [
            _item("Customers", value_at(head, "n"), ",.0f"),
            _item("Departures", value_at(head, "events"), ",.0f"),
            # the report's lead (g-formula months gained) first, then the recommended HR
            _item("Months kept by one more product (36 months)", value_at(head, *g, "estimate"),
                  ".2f", value_at(head, *g, "ci_low"), value_at(head, *g, "ci_high")),
            _item("HR per additional product", value_at(lead, "hr"), ".2f", value_at(lead, "ci_low"),
                  value_at(lead, "ci_high")),
        ]
    if kind == "drivers":
        return [
            _item("Customers", value_at(head, "n"), ",.0f"),
            _item("Departures", value_at(head, "events"), ",.0f"),
            _item("Ranking accuracy (C-index)", value_at(head, "c_index_harrell"), ".3f"),
        ]
    if kind == "value":
        c, v = ("clv_mean",), ("value_at_risk_12m", "bank" if head.get("scope") == "bank" else "branch")
        return [
            _item("Customers on book", value_at(head, "customers"), ",.0f"),
            # the lifetime value's assumptions next to it: unit, horizon, discount rate
            _item(tr("Mean lifetime value (yuan, next {months} months, discounted at {rate} a "
                     "year)", months=_whole(value_at(head, "assumptions", "horizon")),
                     rate=_rate(value_at(head, "assumptions", "discount_rate"))),
                  value_at(head, *c, "estimate"), ",.0f",
                  value_at(head, *c, "ci_low"), value_at(head, *c, "ci_high")),
            _item("Profit at risk, next 12 months (yuan)", value_at(head, *v, "estimate"), ",.0f",
                  value_at(head, *v, "ci_low"), value_at(head, *v, "ci_high")),
            _item("Expected departures, next 12 months", value_at(head, "departures_12m", "estimate"),
                  ",.0f", value_at(head, "departures_12m", "ci_low"),
                  value_at(head, "departures_12m", "ci_high")),
        ]
    if kind == "early_warning":
        return [
            _item("Customers scored", value_at(head, "scored"), ",.0f"),
            _item("On this month's list", value_at(head, "listed", "customers"), ",.0f"),
        ]
    raise ValueError(f"unknown report kind {kind!r}")


def kpi_html(items: list[dict]) -> str:
    """The strip as HTML (every text escaped)."""
    cells = "".join(
        f'<div class="kpi"><div class="kpi-value">{_html.escape(i["value"])}</div>'
        f'<div class="kpi-label">{_html.escape(i["label"])}</div>'
        + (f'<div class="kpi-ci">{_html.escape(i["ci"])}</div>' if i["ci"] else "")
        + "</div>" for i in items)
    return f'<div class="kpis">{cells}</div>'


def kpi_strip(kind: str, head: dict) -> HTML:
    """The strip of a report, for ``display()`` at the top of its notebook.

    >>> kpi_strip("drivers", {"n": 6000, "events": 1429}).data.count('class="kpi"')
    3
    """
    return HTML(kpi_html(kpi_items(kind, head)))
