"""Offline HTML export, on a hand-made executed notebook (no kernel needed)."""

from __future__ import annotations

import base64
import re

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from analysis.report.headline import MIME_TYPE
from analysis.report.html import (
    CSP_META,
    OfflineError,
    assert_offline,
    find_external_urls,
    notebook_to_html,
    prepare_notebook,
)

# a 1x1 PNG
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def executed_notebook():
    params = new_code_cell('data = "synthetic"\nbranch = None', metadata={"tags": ["parameters"]})
    injected = new_code_cell('branch = "North"\nINJECTED_MARKER = 1', metadata={"tags": ["injected-parameters"]})
    injected.outputs = [new_output("stream", name="stdout", text="INJECTED_OUTPUT\n")]
    code = new_code_cell("SOURCE_MARKER = 42\nprint(SOURCE_MARKER)")
    code.outputs = [
        new_output("stream", name="stdout", text="VISIBLE_STDOUT 42\n"),
        new_output("stream", name="stderr", text="STDERR_WARNING\n"),
        new_output("display_data", data={MIME_TYPE: {"secret_headline": 0.123456}}),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
    ]
    hidden = new_code_cell("x = 1", metadata={"tags": ["remove-output"]})
    hidden.outputs = [new_output("stream", name="stdout", text="REMOVED_OUTPUT\n")]
    nb = new_notebook(
        cells=[new_markdown_cell("# Attrition overview\n\nSome text."), params, injected, code, hidden],
        metadata={"papermill": {"parameters": {"branch": "North", "as_of": "2024-06-01", "data": "synthetic"}}},
    )
    return nb


@pytest.fixture(scope="module")
def page():
    return notebook_to_html(executed_notebook(), info={"Data fingerprint": "abc123"})


def test_html_hides_code_prompts_parameters_and_headline(page):
    assert "SOURCE_MARKER = 42" not in page
    assert "INJECTED_MARKER" not in page and "INJECTED_OUTPUT" not in page
    assert 'data = "synthetic"' not in page and "data = &quot;synthetic&quot;" not in page
    assert "secret_headline" not in page and "0.123456" not in page and MIME_TYPE not in page
    assert "STDERR_WARNING" not in page
    assert "REMOVED_OUTPUT" not in page
    body = page[page.index("<body") :]
    assert "jp-InputPrompt" not in body and "jp-OutputPrompt" not in body
    assert "In&nbsp;[" not in body and "Out[" not in body
    assert "jp-InputArea-editor" not in body  # no code editor block at all
    assert "VISIBLE_STDOUT 42" in page


def test_html_inlines_png_and_has_header(page):
    assert f"data:image/png;base64,{PNG}" in page
    assert "<title>Attrition overview</title>" in page
    header = page[page.index('<header class="report-header">') : page.index("</header>")]
    assert "Attrition overview" in header
    assert "<code>branch=North</code>" in header
    assert "2024-06-01" in header and "abc123" in header
    assert re.search(r"<th>Code version</th><td>\d+\.\d+\.\d+ \(git [^)]+\)</td>", header)
    assert "<th>Generated</th>" in header
    # the technical rows are folded away (collapsed <details>), the manager's rows are not
    details = header[header.index("<details>"):header.index("</details>")]
    assert "<summary>Technical details</summary>" in details and "<details open" not in header
    assert "Code version" in details and "<code>branch=North</code>" in details
    assert "2024-06-01" not in details  # the as-of date stays in view


def test_html_is_offline(page):
    assert find_external_urls(page) == []
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "@import" not in page
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "require.js" not in page and "mathjax" not in page.lower()


def test_input_notebook_is_not_modified():
    nb = executed_notebook()
    before = nb.cells[3].outputs[:]
    prepared = prepare_notebook(nb)
    assert nb.cells[3].outputs == before
    assert len(prepared.cells) == 2  # markdown + code; parameter cells and empty cell gone


@pytest.mark.parametrize(
    "snippet, url",
    [
        ('<script src="https://cdn.example.com/require.js"></script>', "https://cdn.example.com/require.js"),
        ("<script src='//cdn.example.com/x.js'></script>", "//cdn.example.com/x.js"),
        ('<link rel="stylesheet" href="http://fonts.example.com/a.css">', "http://fonts.example.com/a.css"),
        ('<img srcset="a.png 1x, https://x.example/b.png 2x">', "https://x.example/b.png"),
        ("<style>@import url('https://x.example/s.css');</style>", "https://x.example/s.css"),
        ('<div style="background: url(https://x.example/i.png)"></div>', "https://x.example/i.png"),
        ('<script type="module">import m from "https://x.example/m.mjs";</script>', "https://x.example/m.mjs"),
        ('<script>const m = await import("https://x.example/d.mjs")</script>', "https://x.example/d.mjs"),
    ],
)
def test_assert_offline_catches_external_resources(snippet, url):
    html = f"<html><head>{snippet}</head><body></body></html>"
    assert url in find_external_urls(html)
    with pytest.raises(OfflineError, match=re.escape(url)):
        assert_offline(html)


def test_assert_offline_allows_inline_data_and_plain_links():
    html = (
        f"<html><head>{CSP_META}</head><body>"
        '<img src="data:image/png;base64,AAAA"><a href="#sec">x</a><a href="https://bank.example/help">help</a>'
        '<svg xmlns="http://www.w3.org/2000/svg"><use xlink:href="#p"/></svg><a href="other.html">o</a>'
    )
    assert_offline(html)
    assert find_external_urls(html, allow_links=False) == ["https://bank.example/help"]


def test_render_raises_when_a_planted_cdn_script_survives(monkeypatch):
    """The check runs on every render: a template leaking a CDN script fails loudly."""
    import analysis.report.html as html_mod

    real = html_mod._exporter

    class Leaky:
        def from_notebook_node(self, nb, resources=None):
            body, res = real().from_notebook_node(nb, resources=resources)
            return body.replace("</head>", '<script src="https://cdn.example.com/require.js"></script></head>'), res

    monkeypatch.setattr(html_mod, "_exporter", Leaky)
    with pytest.raises(OfflineError, match="https://cdn.example.com/require.js"):
        notebook_to_html(executed_notebook())


def test_html_prints_to_a4_and_reads_on_a_phone(page):
    css = page[page.index("@page"):]
    assert re.search(r"@page\s*\{\s*size:\s*A4", css)
    printing = css[css.index("@media print {\n"):]
    assert re.search(r"h1, h2, h3, h4\s*\{\s*break-after: avoid", printing)  # no stranded heading
    assert re.search(r"table, figure, img[^{]*\{\s*break-inside: avoid", printing)  # no split table
    phone = page[page.index("@media (max-width: 600px) {\n"):]
    assert "overflow-x: auto" in phone[:300]  # wide tables scroll on a 390 px screen


def test_html_has_a_table_of_contents_linking_inside_the_page():
    from analysis.report.html import add_contents

    page = ('<header class="report-header">T</header>'
            + "".join(f'<h2 id="S{i}">{t}<a class="anchor-link" href="#S{i}">¶</a></h2>'
                      for i, t in enumerate(["Key findings", "1. Who &amp; why", "Glossary"])))
    out = add_contents(page)
    nav = out[out.index('<nav class="report-toc">'):out.index("</nav>")]
    assert re.findall(r'href="([^"]+)"', nav) == ["#S0", "#S1", "#S2"]
    assert "1. Who &amp; why" in nav and "<h2" not in nav
    assert find_external_urls(out) == []
    assert add_contents(page.replace("<h2", "<h3")) == page.replace("<h2", "<h3")  # none: no nav


def test_html_is_compact_and_shows_markdown(page):
    styles = re.findall(r"<style[^>]*>(.*?)</style>", page, re.S)
    assert sum(len(s) for s in styles) < 15_000  # not JupyterLab's 263 kB of CSS
    hidden = " ".join(re.findall(r"([^{}]+)\{[^}]*display:\s*none", " ".join(styles)))
    # markdown cells live in .jp-InputArea: it must never be hidden
    assert "jp-InputArea" not in hidden and "jp-RenderedMarkdown" not in hidden
    assert "anchor-link" in hidden and "jp-Collapser" in hidden


def test_the_title_is_printed_once():
    from analysis.report.html import _drop_repeated_title

    head = '<header class="report-header"><h1>Who leaves</h1></header>'
    h1 = '<h1 id="Who-leaves">Who leaves<a class="anchor-link" href="#Who-leaves">¶</a></h1>'
    assert _drop_repeated_title(head + h1 + "<p>x</p>", "Who leaves") == head + "<p>x</p>"
    other = h1.replace("Who leaves<", "Another title<")
    assert _drop_repeated_title(head + other, "Who leaves") == head + other  # kept
