"""The managers' landing page of reports/index.html: cards, branch comparison, trend."""

import json
import re

from analysis.report.html import assert_offline
from analysis.report.index import index_html

EVIL = '<img src=x onerror=alert(1)>"'


def _overview(n, events, rate, lo, hi, ret):
    return {"overview": {"n": n, "events": events,
                         "rate_per_100_person_years": {"estimate": rate, "ci_low": lo,
                                                       "ci_high": hi},
                         "survival_at": {"12": {"survival": ret, "ci_low": ret - 0.02,
                                                "ci_high": ret + 0.02}}}}


def _write(root, as_of, scopes):
    folder = root / as_of
    folder.mkdir(parents=True)
    reports = []
    for scope, head in scopes.items():
        tag = "bank" if scope is None else f"branch-{scope}"
        for nb, payload in (("01_attrition_overview", head),
                            ("02_product_retention_effect",
                             {"product_effect": {"recommended": "msm",
                                                 "msm": {"hr": 0.73, "ci_low": 0.63,
                                                         "ci_high": 0.85}}})):
            name = f"{nb}__{tag}"
            (folder / f"{name}.json").write_text(json.dumps(payload), encoding="utf-8")
            (folder / f"{name}.html").write_text("<html></html>", encoding="utf-8")
            params = {"data": "synthetic", "as_of": as_of}
            if scope is not None:
                params["branch"] = scope
            reports.append({"name": name, "notebook": nb, "parameters": params, "status": "ok",
                            "html": f"{name}.html", "json": f"{name}.json"})
    (folder / "manifest.json").write_text(json.dumps({"reports": reports, "runs": []}),
                                          encoding="utf-8")


def test_cards_comparison_and_trend(tmp_path):
    _write(tmp_path, "2025-11-01", {None: _overview(5900, 1300, 11.9, 11.3, 12.5, 0.83),
                                    "North": _overview(1000, 250, 12.0, 10.5, 13.5, 0.82)})
    _write(tmp_path, "2025-12-01", {None: _overview(6000, 1429, 11.4, 10.8, 12.0, 0.828),
                                    "North": _overview(1026, 256, 11.9, 10.5, 13.5, 0.827),
                                    EVIL: _overview(977, 231, 11.3, 9.9, 12.8, 0.811)})
    page = index_html(tmp_path)
    assert_offline(page, what="index")  # no script, no external resource, CSP present
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;&quot;" in page
    glance = page[page.index("Branches at a glance, as of 2025-12-01"):]
    cards = re.findall(r'<div class="card[^"]*"><h3>(.*?)</h3>', glance)
    assert cards[0] == "Whole bank" and "Branch North" in cards and len(cards) == 3
    bank = glance[glance.index("Whole bank"):glance.index("Branch ")]
    assert "6,000" in bank and "1,429" in bank and "11.4" in bank and "(10.8&ndash;12.0)" in bank
    assert "82.8%" in bank and "0.73" in bank
    assert 'href="2025-12-01/01_attrition_overview__bank.html"' in bank
    # branch comparison: one dot per branch, the bank as a dashed line
    plot = page[page.index("<h2>Branch comparison</h2>"):page.index("<h2>Trend")]
    assert plot.count("<circle") == 2 and "stroke-dasharray" in plot and "bank 11.4" in plot
    # trend over the two as-of dates: two points and both dates, bank and branch rows
    trend = page[page.index("<h2>Trend"):]
    svg = trend[:trend.index("</svg>")]
    assert svg.count("<circle") == 2 and "2025-11-01" in svg and "2025-12-01" in svg
    assert "<td>North</td><td>12.0 / 82.0%</td><td>11.9 / 82.7%</td>" in trend
    # the technical table is still there, folded away
    assert "<details><summary>Every report" in page


def test_one_as_of_date_says_how_the_trend_appears(tmp_path):
    _write(tmp_path, "2025-12-01", {None: _overview(6000, 1429, 11.4, 10.8, 12.0, 0.828)})
    page = index_html(tmp_path)
    assert "once two as-of dates have been rendered" in page
    assert "<h2>Branch comparison</h2>" not in page  # no branch, no comparison
