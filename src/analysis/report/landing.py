"""The managers' part of ``reports/index.html``: branch cards, a branch comparison, the trend.

Built from the headline JSONs next to the reports (never from data): for the latest as-of
folder, one card per scope (the bank, then every branch) with customers, departures, the
attrition rate per 100 customer-years with its 95% CI, 12-month retention and the product
effect (report 02's leading estimate), and links to that scope's reports; a dot plot of the
branches' rates with their intervals against the bank's; and, when earlier as-of folders hold
overview headlines, the trend of the rate and of 12-month retention by as-of date. Every string
that comes from a file is escaped; the figures are inline SVG drawn here (no script, no font).
"""

from __future__ import annotations

import html as _html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from analysis.i18n import t, tr_value
from analysis.report.numbers import value_at

__all__ = ["scope_of", "collect_headlines", "landing_html", "LANDING_CSS"]

LANDING_CSS = """
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(17em, 1fr));
  gap: 0.8em; margin: 0.8em 0 1.2em 0; }
.card { border: 1px solid #d6dde6; border-radius: 6px; padding: 0.6em 0.8em; background: #fbfcfe; }
.card.bank { border-color: #1f4e79; background: #f1f6fb; }
.card h3 { margin: 0 0 0.3em 0; font-size: 1.05em; color: #1f4e79; }
.card dl { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 0.1em 0.6em;
  margin: 0; font-size: 0.85em; }
.card dt { color: #555; }
.card dd { margin: 0; font-variant-numeric: tabular-nums; white-space: nowrap; text-align: right; }
.card .links { margin-top: 0.4em; font-size: 0.85em; }
.ci { color: #666; font-size: 0.92em; }
svg.chart { max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
@media print { .card { break-inside: avoid; } }
"""

#: Report notebooks and the message key of their link on a card.
REPORT_LINKS = (("01_attrition_overview", "index.link.overview"),
                ("02_product_retention_effect", "index.link.products"),
                ("03_attrition_drivers", "index.link.drivers"),
                ("04_early_warning", "index.link.early_warning"),
                ("05_customer_value", "index.link.value"))


def _e(value: Any) -> str:
    return _html.escape("" if value is None else str(value), quote=True)


def scope_of(report: dict[str, Any]) -> str | None:
    """The scope of a manifest entry: its branch, or None for the whole bank."""
    branch = (report.get("parameters") or {}).get("branch")
    return None if branch in (None, "") else str(branch)


def _default_run(report: dict[str, Any]) -> bool:
    """Only the default variant of a report feeds the cards (not e.g. value attrition)."""
    params = {k: v for k, v in (report.get("parameters") or {}).items()
              if k not in ("data", "as_of", "branch", "lang")}
    return params in ({}, {"attrition": "closure"})


def collect_headlines(folder: Path, manifest: dict[str, Any]) -> dict[str | None, dict]:
    """``scope -> {"links": {notebook: {lang: html}}, "overview": {...}, "product_effect": {...}}``."""
    scopes: dict[str | None, dict] = {}
    for rep in manifest.get("reports") or []:
        if rep.get("status") != "ok" or not _default_run(rep):
            continue
        scope = scope_of(rep)
        entry = scopes.setdefault(scope, {"links": {}})
        if rep.get("html"):
            lang = (rep.get("parameters") or {}).get("lang") or "en"
            entry["links"].setdefault(rep.get("notebook"), {})[lang] = rep["html"]
        if rep.get("json"):
            try:
                head = json.loads((folder / rep["json"]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(head, dict):
                for key in ("overview", "product_effect"):
                    if isinstance(head.get(key), dict):
                        entry[key] = head[key]
    return scopes


def _rate(ov: dict) -> tuple[float | None, float | None, float | None]:
    return tuple(value_at(ov, "rate_per_100_person_years", k)
                 for k in ("estimate", "ci_low", "ci_high"))


def _retention(ov: dict) -> tuple[float | None, float | None, float | None]:
    return tuple(value_at(ov, "survival_at", "12", k) for k in ("survival", "ci_low", "ci_high"))


def _fmt_ci(est, lo, hi, fmt: str, unit: str = "") -> str:
    if est is None:
        return "&ndash;"
    ci = (f' <span class="ci">({format(lo, fmt)}&ndash;{format(hi, fmt)})</span>'
          if lo is not None and hi is not None else "")
    return f"{format(est, fmt)}{unit}{ci}"


def _product(pe: dict) -> str:
    lead = pe.get(pe.get("recommended") or "msm") or {}
    hr, lo, hi = (value_at(lead, k) for k in ("hr", "ci_low", "ci_high"))
    return _fmt_ci(hr, lo, hi, ".2f")


def _card(folder: str, scope: str | None, entry: dict, lang: str = "en") -> str:
    ov, pe = entry.get("overview") or {}, entry.get("product_effect") or {}
    name = (t("index.bank", lang) if scope is None
            else t("index.branch", lang, branch=tr_value(scope, lang)))
    rows = [(t("index.customers", lang),
             f"{int(ov['n']):,}" if value_at(ov, "n") is not None else "&ndash;"),
            (t("index.departures", lang),
             f"{int(ov['events']):,}" if value_at(ov, "events") is not None else "&ndash;"),
            (t("index.rate", lang), _fmt_ci(*_rate(ov), ".1f")),
            (t("index.retention12", lang),
             _fmt_ci(*[None if v is None else 100 * v for v in _retention(ov)], ".1f", "%")),
            (t("index.hr_product", lang), _product(pe) if pe else "&ndash;")]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    def href(html: str) -> str:
        return _e(quote(folder) + "/" + quote(html))

    links = []
    for nb, key in REPORT_LINKS:
        versions = entry["links"].get(nb) or {}
        if not versions:
            continue
        own = versions.get(lang) or next(iter(versions.values()))
        link = f'<a href="{href(own)}">{_e(t(key, lang))}</a>'
        other = next((h for lg, h in versions.items() if lg != lang and h != own), None)
        if other:  # the same report in the other language
            link += f' <a class="other-lang" href="{href(other)}">{_e(t("index.other_language", lang))}</a>'
        links.append(link)
    links = " &middot; ".join(links)
    cls = "card bank" if scope is None else "card"
    return (f'<div class="{cls}"><h3>{_e(name)}</h3><dl>{dl}</dl>'
            f'<div class="links">{links or _e(t("index.no_report", lang))}</div></div>')


def _dot_plot(rows: list[tuple[str, float, float, float]], bank: tuple | None,
              lang: str = "en") -> str:
    """Horizontal dot plot with interval bars, the bank's value as a dashed line (SVG)."""
    if not rows:
        return ""
    lo = min(r[2] for r in rows + ([("bank", *bank)] if bank else []))
    hi = max(r[3] for r in rows + ([("bank", *bank)] if bank else []))
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = max(0.0, lo - pad), hi + pad
    left, width, row_h = 130, 420, 24
    height = 30 + row_h * len(rows)

    def x(v):
        return left + width * (v - lo) / (hi - lo)

    parts = [f'<svg class="chart" role="img" viewBox="0 0 {left + width + 20} {height}" '
             f'width="{left + width + 20}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{_e(t('index.comparison_title', lang))}</title>"]
    if bank:
        bx = x(bank[0])
        parts.append(f'<line x1="{bx:.1f}" y1="5" x2="{bx:.1f}" y2="{height - 20}" '
                     'stroke="#1f4e79" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{bx:.1f}" y="{height - 6}" text-anchor="middle" '
                     f'fill="#1f4e79">{_e(t("index.bank_line", lang, value=f"{bank[0]:.1f}"))}'
                     "</text>")
    for i, (label, est, l, h) in enumerate(rows):
        y = 15 + row_h * i
        parts.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">'
                     f'{_e(tr_value(label, lang))}</text>')
        parts.append(f'<line x1="{x(l):.1f}" y1="{y}" x2="{x(h):.1f}" y2="{y}" '
                     'stroke="#888" stroke-width="2"/>')
        parts.append(f'<circle cx="{x(est):.1f}" cy="{y}" r="4" fill="#d55e00"/>')
        parts.append(f'<text x="{left + width + 15}" y="{y + 4}" text-anchor="end" '
                     f'fill="#555">{est:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _trend(history: list[tuple[str, dict]], lang: str = "en") -> str:
    """Rate and 12-month retention by as-of date, bank and branches (a table and an SVG line)."""
    points = [(d, _rate(ov.get(None, {}))) for d, ov in history]
    points = [(d, r) for d, r in points if r[0] is not None]
    if len(points) < 2:
        return f"<p>{_e(t('index.trend_wait', lang))}</p>"
    points.sort()
    vals = [v for _, r in points for v in r if v is not None]
    lo, hi = min(vals), max(vals)
    pad = 0.1 * (hi - lo or 1.0)
    lo, hi = max(0.0, lo - pad), hi + pad
    left, width, height = 50, 460, 180

    def xy(i, v):
        return (left + width * i / (len(points) - 1), 10 + (height - 40) * (hi - v) / (hi - lo))

    band = [xy(i, r[2]) for i, (_, r) in enumerate(points) if r[2] is not None]
    band += [xy(i, r[1]) for i, (_, r) in reversed(list(enumerate(points))) if r[1] is not None]
    line = [xy(i, r[0]) for i, (_, r) in enumerate(points)]
    svg = [f'<svg class="chart" role="img" viewBox="0 0 {left + width + 30} {height}" '
           f'width="{left + width + 30}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{_e(t('index.trend_title', lang))}</title>"]
    if band:
        svg.append('<polygon fill="#1f4e79" fill-opacity="0.15" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in band) + '"/>')
    svg.append('<polyline fill="none" stroke="#1f4e79" stroke-width="2" points="'
               + " ".join(f"{a:.1f},{b:.1f}" for a, b in line) + '"/>')
    for i, (d, r) in enumerate(points):
        a, b = xy(i, r[0])
        svg.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="#1f4e79"/>')
        svg.append(f'<text x="{a:.1f}" y="{height - 8}" text-anchor="middle">{_e(d)}</text>')
        svg.append(f'<text x="{a:.1f}" y="{b - 8:.1f}" text-anchor="middle">{r[0]:.1f}</text>')
    svg.append("</svg>")
    scopes = sorted({s for _, ov in history for s in ov if s is not None})
    head = "".join(f"<th>{_e(d)}</th>" for d, _ in sorted(history))
    body = []
    for s in [None, *scopes]:
        cells = []
        for _, ov in sorted(history):
            r, k = _rate(ov.get(s, {})), _retention(ov.get(s, {}))
            cells.append("<td>&ndash;</td>" if r[0] is None else
                         f"<td>{r[0]:.1f}" + (f" / {100 * k[0]:.1f}%" if k[0] is not None else "")
                         + "</td>")
        label = t("index.bank", lang) if s is None else s
        body.append(f"<tr><td>{_e(label)}</td>{''.join(cells)}</tr>")
    table = (f"<table><thead><tr><th>{_e(t('index.trend_scope', lang))}</th>{head}</tr></thead>"
             f"<tbody>{''.join(body)}</tbody></table>"
             f"<p class=\"meta\">{_e(t('index.trend_note', lang))}</p>")
    return "".join(svg) + table


def landing_html(out_dir: Path, manifests: list[tuple[str, dict | None, str | None]],
                 lang: str = "en") -> str:
    """The cards, the branch comparison and the trend (newest as-of folder first in
    ``manifests``) in ``lang``; empty when no folder has a finished report."""
    usable = [(f, m) for f, m, _p in manifests if m]
    if not usable:
        return ""
    folder, manifest = usable[0]
    scopes = collect_headlines(Path(out_dir) / folder, manifest)
    if not scopes:
        return ""
    parts = [f"<h2>{_e(t('index.glance', lang, as_of=folder))}</h2>",
             f'<p class="meta">{_e(t("index.glance_note", lang))}</p>', '<div class="cards">']
    order = [None] + sorted(s for s in scopes if s is not None)
    parts += [_card(folder, s, scopes[s], lang) for s in order if s in scopes]
    parts.append("</div>")
    branches = [(s, *_rate(scopes[s].get("overview") or {})) for s in order if s is not None]
    branches = [b for b in branches if None not in b[1:]]
    bank = _rate(scopes.get(None, {}).get("overview") or {})
    if branches:
        parts.append(f"<h2>{_e(t('index.comparison', lang))}</h2>")
        parts.append(f'<p class="meta">{_e(t("index.comparison_note", lang))}</p>')
        parts.append(_dot_plot(branches, bank if None not in bank else None, lang))
    history = []
    for f, m in usable:
        found = scopes if f == folder else collect_headlines(Path(out_dir) / f, m)
        ov = {s: e["overview"] for s, e in found.items() if "overview" in e}
        if ov:
            history.append((f, ov))
    parts.append(f"<h2>{_e(t('index.trend', lang))}</h2>")
    parts.append(_trend(history, lang))
    return "\n".join(parts)
