"""Executed notebook -> one self-contained, offline HTML file for managers.

Conversion runs in-process with nbconvert's :class:`~nbconvert.HTMLExporter` (a ``jupyter
nbconvert`` subprocess costs about 5 s per call). The ``offline`` template extends ``lab`` and
drops what ``lab`` fetches from CDNs (require.js, MathJax, mermaid.js, the widget manager) and
every script (JavaScript and widget outputs are left out), and opens ``<head>`` with a no-script
Content-Security-Policy (:data:`CSP`): data in a report is escaped where it is displayed
(:mod:`analysis.report.display`), and a missed escape still cannot run. :func:`assert_offline`
checks every rendered file: nothing loaded from the network, no script, event handler,
``javascript:`` URL or meta refresh, and the CSP in place. Code, prompts, the parameters cells,
headline payloads and stderr streams (warnings) are left out; PNG figures are inlined as base64.
Maths in markdown shows as its TeX source (MathJax is not vendored).
"""

from __future__ import annotations

import copy
import datetime as _dt
import html as _html
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote
from typing import Any

__all__ = [
    "TEMPLATES_DIR",
    "CSP",
    "CSP_META",
    "OfflineError",
    "notebook_to_html",
    "prepare_notebook",
    "header_html",
    "find_external_urls",
    "find_active_content",
    "assert_offline",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "offline"

# Cells tagged with one of these are not shown; papermill tags the cell it injects.
REMOVE_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell", "remove_cell"})
REMOVE_OUTPUT_TAGS = frozenset({"remove-output", "remove_output"})


class OfflineError(ValueError):
    """A rendered page would fetch something from the network, or could run code."""


# The second wall: even if some data string escaped the escaping, the browser runs no script,
# loads nothing from the network (images and fonts only as data: URIs), submits no form and
# resolves no relative URL against a planted <base>. Styles stay inline (nbconvert's CSS).
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'"
)
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'


# --------------------------------------------------------------------------------------------
# offline check

# A start tag; quoted attribute values may hold ">".
_TAG_RE = re.compile(r"""<([a-zA-Z][\w:-]*)\b((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.S)
_ATTR_RE = re.compile(
    r"""(?<![\w:-])(src|href|srcset|poster|data|action|formaction|background|xlink:href|manifest)"""
    r"""\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
    re.I,
)
_ABSOLUTE_URL_RE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)
_CSS_IMPORT_RE = re.compile(r"""@import\s+(?:url\(\s*)?["']?\s*([^"')\s;]+)""", re.I)
_CSS_URL_RE = re.compile(r"""url\(\s*["']?\s*((?:https?:)?//[^"')\s]+)""", re.I)
_JS_IMPORT_RE = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*\[?\s*|\bimportScripts\s*\(\s*)"""
    r"""["']((?:https?:)?//[^"']+)["']""",
    re.I,
)


def find_external_urls(html: str, *, allow_links: bool = True) -> list[str]:
    """Return the URLs a browser would fetch from the network when opening ``html``.

    Looks at resource attributes (``src``, ``href`` of anything but ``<a>``, ``srcset``...),
    CSS ``@import`` and ``url(http...)`` and JavaScript ``import``/``require`` of absolute URLs.
    Plain hyperlinks (``<a href="https://...">``) load nothing and are allowed unless
    ``allow_links=False``. ``data:`` URIs and relative paths count as offline.
    """
    found: list[str] = []
    for match in _TAG_RE.finditer(html):
        tag = match.group(1).lower()
        for attr in _ATTR_RE.finditer(match.group(2)):
            name = attr.group(1).lower()
            value = next(v for v in attr.groups()[1:] if v is not None)
            if tag == "a" and name == "href" and allow_links:
                continue
            if name == "srcset":
                candidates = [part.strip().split(" ")[0] for part in value.split(",")]
            else:
                candidates = [value]
            found.extend(c.strip() for c in candidates if _ABSOLUTE_URL_RE.match(c))
    for match in _CSS_IMPORT_RE.finditer(html):
        if not match.group(1).lower().startswith("data:"):
            found.append(match.group(1))
    found.extend(m.group(1) for m in _CSS_URL_RE.finditer(html))
    found.extend(m.group(1) for m in _JS_IMPORT_RE.finditer(html))
    return list(dict.fromkeys(found))  # unique, in order


SNIPPET_CHARS = 80  # offending snippets are cut to this length in messages
_SCRIPT_RE = re.compile(r"<script\b", re.I)
# Elements that embed another document or program, submit data or re-base relative URLs.
_ACTIVE_TAGS = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet", "base", "form"})
# Script-capable URL schemes; data: is allowed for images only (an HTML data: URL is a document).
_BAD_SCHEME_RE = re.compile(r"^(?:javascript|vbscript|livescript):|^data:(?!image/)", re.I)
_CSS_BAD_URL_RE = re.compile(r"url\(\s*[\"']?(?:javascript|vbscript):|expression\s*\(", re.I)
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
                        "srcdoc", "lowsrc", "dynsrc", "ping", "manifest", "codebase", "cite", "longdesc"})
# Ways a script reaches the network; searched where code lives (attributes, <script>, <style>,
# comments), never in the page's text, where an escaped data string may say anything.
_NETWORK_JS_RE = re.compile(
    r"\bfetch\s*\(|\bXMLHttpRequest\b|\bWebSocket\s*\(|\bEventSource\s*\(|\bsendBeacon\s*\("
    r"|\bimportScripts\s*\(|\bnew\s+(?:Shared)?Worker\s*\(|\bwindow\.open\s*\(",
    re.I,
)
_QUOTED_RE = re.compile(r""""[^"]*"|'[^']*'""")
_HANDLER_RE = re.compile(r"(?:^|[\s/])(on[a-z]+)\s*=", re.I)
# Browsers drop ASCII whitespace and control characters inside a URL's scheme ("java\tscript:").
_URL_JUNK_RE = re.compile(r"[\x00-\x20\x7f]+")


def _clip(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(str(text)[: 4 * limit].split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


class _ActiveContentScan(HTMLParser):
    """Tags, attributes, code and the CSP of a page (entities in attributes decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.csp: list[str] = []  # policies of CSP <meta> elements
        self.csp_late = False  # a CSP <meta> after content it should govern
        self._seen_content = False
        self._in: str | None = None  # "script" or "style" while inside one

    def _code(self, where: str, code: str) -> None:
        match = _NETWORK_JS_RE.search(code)
        if match:
            start = 0 if match.start() < SNIPPET_CHARS // 2 else match.start()
            self.problems.append(f"network call in {where}: {_clip(code[start:])}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or f"<{tag}>"
        attrs_d = {k.lower(): (v or "") for k, v in attrs}
        if tag in ("script", "style"):
            self._in = tag
        if tag in _ACTIVE_TAGS:
            self.problems.append(f"<{tag}> element: {_clip(raw)}")
        if tag == "meta":
            equiv = attrs_d.get("http-equiv", "").strip().lower()
            if equiv == "refresh":
                self.problems.append(f"meta refresh: {_clip(raw)}")
            elif equiv == "content-security-policy":
                self.csp.append(attrs_d.get("content", ""))
                self.csp_late = self.csp_late or self._seen_content
        elif tag not in ("html", "head", "title"):
            self._seen_content = True
        for name, value in attrs_d.items():
            if re.fullmatch(r"on[a-z]+", name):
                self.problems.append(f"event-handler attribute {name} on <{tag}>: {_clip(raw)}")
                continue
            squeezed = _URL_JUNK_RE.sub("", value)
            if name in _URL_ATTRS and _BAD_SCHEME_RE.match(squeezed):
                self.problems.append(f"{squeezed.split(':', 1)[0].lower()}: URL in {name} of <{tag}>: {_clip(raw)}")
            elif name == "style" and _CSS_BAD_URL_RE.search(squeezed):
                self.problems.append(f"script in the style of <{tag}>: {_clip(raw)}")
            if value:
                self._code(f"attribute {name} of <{tag}>", value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in = None if tag in ("script", "style") else self._in

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self._code("a <script>", data)
        elif self._in == "style":
            self._code("a <style>", data)
            if _CSS_BAD_URL_RE.search(_URL_JUNK_RE.sub("", data)):
                self.problems.append(f"script in a <style>: {_clip(data)}")

    def handle_comment(self, data: str) -> None:
        self._code("a comment", data)


def _csp_problem(policies: list[str], late: bool) -> str | None:
    """Why the page's CSP does not forbid scripts (None: it does)."""
    if not policies:
        return "no Content-Security-Policy <meta> (one forbidding scripts must open <head>: see html.CSP_META)"
    for policy in policies:
        directives = {}
        for part in policy.split(";"):
            words = part.split()
            if words:
                directives.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
        script = directives.get("script-src", directives.get("default-src"))
        if script == ["'none'"]:
            if late:
                return "the Content-Security-Policy <meta> comes after content: it must open <head>"
            return None
    return f"the Content-Security-Policy does not forbid scripts: {_clip(policies[0])}"


def find_active_content(html: str, *, require_csp: bool = True) -> list[str]:
    """Return what could run code, navigate or phone home when ``html`` is opened.

    One line per finding, naming the offending snippet (cut to ``SNIPPET_CHARS``): any
    ``<script`` (even inside a comment), event-handler attributes (``onerror=``...),
    ``javascript:``/``vbscript:`` URLs and ``data:`` URLs other than images in any URL attribute
    (entity-encoded or split by whitespace too), script in CSS, ``<meta http-equiv=refresh>``,
    ``<iframe>``/``<object>``/``<embed>``/``<base>``/``<form>`` elements, network calls
    (``fetch(``, ``XMLHttpRequest``, ``WebSocket(``...) in attributes, scripts, styles or
    comments, and (with ``require_csp``) a missing or script-allowing Content-Security-Policy
    ``<meta>``. Text of the page is not searched: an escaped data string shows as text.
    """
    found = []
    for m in _SCRIPT_RE.finditer(html):
        end = html.find("</", m.start(), m.start() + 4 * SNIPPET_CHARS)
        end = html.find(">", end) + 1 if end > 0 else m.start() + 4 * SNIPPET_CHARS
        found.append(f"<script> element: {_clip(html[m.start():end])}")
    # A browser and Python's parser may split a malformed tag differently: any on...= outside
    # quotes in a tag counts (one more finding, never one less).
    for m in _TAG_RE.finditer(html):
        handler = _HANDLER_RE.search(_QUOTED_RE.sub('""', m.group(2)))
        if handler:
            name, tag = handler.group(1).lower(), m.group(1).lower()
            found.append(f"event-handler attribute {name} on <{tag}>: {_clip(m.group(0))}")
    scan = _ActiveContentScan()
    scan.feed(html)
    scan.close()
    found += scan.problems
    if require_csp:
        problem = _csp_problem(scan.csp, scan.csp_late)
        if problem:
            found.append(problem)
    return list(dict.fromkeys(found))


def _listing(items: list[str], limit: int = 20) -> str:
    more = f"\n  ... and {len(items) - limit} more" if len(items) > limit else ""
    return "\n  " + "\n  ".join(items[:limit]) + more


def assert_offline(html: str, *, allow_links: bool = True, require_csp: bool = True, what: str = "HTML") -> None:
    """Raise :class:`OfflineError` naming every external resource and active content of ``html``.

    Parameters
    ----------
    html : str
        A whole page (or a fragment, with ``require_csp=False``).
    allow_links : bool
        Plain ``<a href="https://...">`` links are allowed (see :func:`find_external_urls`).
    require_csp : bool
        The page must open ``<head>`` with a script-forbidding CSP (see :func:`find_active_content`).
    what : str
        How the message names the page (``"report 'x'"``).

    Raises
    ------
    OfflineError
        One line per finding, each with its snippet cut to ``SNIPPET_CHARS`` characters; at most
        20 listed per kind.
    """
    urls = find_external_urls(html, allow_links=allow_links)
    active = find_active_content(html, require_csp=require_csp)
    parts = []
    if urls:
        parts.append(f"it would load {len(urls)} external URL(s):{_listing(urls)}")
    if active:
        parts.append(f"it has {len(active)} piece(s) of active content:{_listing(active)}")
    if parts:
        raise OfflineError(f"{what} is not offline: " + "\n".join(parts))


# --------------------------------------------------------------------------------------------
# notebook preparation and header


def _load(nb_or_path: Any) -> tuple[Any, Path | None]:
    import nbformat

    if isinstance(nb_or_path, (str, Path)):
        path = Path(nb_or_path)
        return nbformat.read(path, as_version=4), path
    if isinstance(nb_or_path, Mapping):
        return nbformat.from_dict(nb_or_path), None  # prepare_notebook() copies before editing
    raise TypeError(f"expected a notebook node or a path, not {type(nb_or_path).__name__}")


def prepare_notebook(nb: Any, *, keep_stderr: bool = False, lang: str = "en") -> Any:
    """Return a copy of ``nb`` holding only what a manager should see.

    Removes cells tagged ``parameters``/``injected-parameters``/``remove-cell``, outputs of cells
    tagged ``remove-output``, headline payload outputs and (unless ``keep_stderr``) stderr streams;
    Markdown cells are given in ``lang`` (from the catalogue; the outputs were made in it).
    """
    from analysis.i18n import translate_markdown
    from analysis.report.headline import is_headline_output

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVE_CELL_TAGS:
            continue
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(cell.source, lang)
        if cell.cell_type == "code":
            if tags & REMOVE_OUTPUT_TAGS:
                cell.outputs = []
            else:
                cell.outputs = [
                    o
                    for o in cell.outputs
                    if not is_headline_output(o)
                    and not (not keep_stderr and o.get("output_type") == "stream" and o.get("name") == "stderr")
                ]
            if not cell.outputs:  # code is hidden: nothing left to show
                continue
        cells.append(cell)
    nb.cells = cells
    return nb


def _title_of(nb: Any, path: Path | None) -> str:
    title = nb.metadata.get("title")
    if title:
        return str(title)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = re.match(r"^#\s+(.+?)\s*#*\s*$", line)
                if m:
                    return m.group(1)
    papermill_in = nb.metadata.get("papermill", {}).get("input_path")
    if papermill_in:
        return Path(papermill_in).stem
    return path.stem if path else "Report"


def _format_value(value: Any) -> str:
    """Parameter values as a Python reader expects them (None, True, [12, 24])."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return repr(value)
    return json.dumps(value, default=str)


def _parameters_html(params: Mapping[str, Any]) -> str:
    if not params:
        return "(defaults)"
    return ", ".join(
        f"<code>{_html.escape(str(k))}={_html.escape(_format_value(v))}</code>" for k, v in params.items()
    )


#: Header rows folded into "Technical details" (collapsed by default).
TECHNICAL_ROWS = frozenset({"Report", "Parameters", "Data fingerprint", "Code version",
                            "Generated"})


def nav_html(links: Sequence[Mapping[str, Any]], lang: str = "en") -> str:
    """The report's navigation line: back to the index, the same scope's other reports, the
    same report in the other language (``links`` from
    :func:`analysis.report.schedule.navigation`)."""
    from analysis.i18n import t
    from analysis.report.landing import REPORT_LINKS

    names = dict(REPORT_LINKS)
    index = "../index.html" if lang == "en" else f"../index.{lang}.html"
    parts = [f'<a href="{_html.escape(index, quote=True)}">&larr; {_html.escape(t("nav.index", lang))}</a>']
    reports = []
    for link in links:
        label = (t(names[link["notebook"]], lang) if link["notebook"] in names
                 else str(link["notebook"]))
        href = _html.escape(quote(str(link["href"])), quote=True)
        if link["kind"] == "language":
            parts.append(f'<a href="{href}" hreflang="{_html.escape(str(link["lang"]))}">'
                         f'{_html.escape(t("index.other_language", lang))}</a>')
        elif link.get("current"):
            reports.append(f"<strong>{_html.escape(label)}</strong>")
        else:
            reports.append(f'<a href="{href}">{_html.escape(label)}</a>')
    if len(reports) > 1:
        parts.insert(1, " &middot; ".join(reports))
    return '<nav class="report-nav">' + " | ".join(parts) + "</nav>"


def header_html(title: str, rows: Mapping[str, Any], lang: str = "en",
                nav: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Return the report header: a title and a two-column table (``rows`` values are escaped,
    except the ``Parameters`` row when given as a mapping, which is formatted); the rows in
    :data:`TECHNICAL_ROWS` go in a collapsed ``<details>`` block under it. Row labels are
    translated into ``lang``."""
    from analysis.i18n import tr, tr_value

    def table(items):
        out = ["<table>"]
        for label, value in items:
            if label == "Data":  # the embedded book has a name in every language
                value = tr_value(str(value), lang)
            cell = (_parameters_html(value) if isinstance(value, Mapping)
                    else _html.escape(str(value)))
            out.append(f"<tr><th>{_html.escape(tr(str(label), lang))}</th><td>{cell}</td></tr>")
        return out + ["</table>"]

    shown = [(k, v) for k, v in rows.items() if v is not None]
    lines = ['<header class="report-header">']
    if nav is not None:
        lines.append(nav_html(nav, lang))
    lines.append(f"<h1>{_html.escape(title)}</h1>")
    lines += table([(k, v) for k, v in shown if k not in TECHNICAL_ROWS])
    technical = [(k, v) for k, v in shown if k in TECHNICAL_ROWS]
    if technical:  # for analysts and auditors: folded away for the managers who read on
        lines += [f"<details><summary>{_html.escape(tr('Technical details', lang))}</summary>",
                  *table(technical),
                  "</details>"]
    lines.append("</header>")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# export

_local = threading.local()


class _DropAltTextWarning(logging.Filter):
    """nbconvert warns about every figure without alt text (matplotlib never sets one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Alternative text is missing")


_log = logging.getLogger(__name__ + ".nbconvert")
_log.addFilter(_DropAltTextWarning())


def _exporter():
    """One HTMLExporter per thread (template loading is the slow part; reuse it)."""
    exporter = getattr(_local, "exporter", None)
    if exporter is None:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(
            template_name=TEMPLATE_NAME,
            extra_template_basedirs=[str(TEMPLATES_DIR)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
            log=_log,
        )
        _local.exporter = exporter
    return exporter


def notebook_to_html(
    nb_or_path: Any,
    *,
    title: str | None = None,
    info: Mapping[str, Any] | None = None,
    keep_stderr: bool = False,
    nav: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """Convert an executed notebook to one offline HTML page and return it.

    Parameters
    ----------
    nb_or_path : NotebookNode, dict or path
        The executed notebook (not modified).
    title : str, optional
        Report title; default: the notebook's ``title`` metadata, its first ``# heading``, else
        its file name.
    info : mapping, optional
        Header rows. Updates the default rows ``Report``, ``Parameters`` (default: the papermill
        parameters of the run but ``data`` and ``as_of``), ``As of``, ``Data``, ``Data
        fingerprint``, ``Code version``, ``Generated`` in place; other keys follow them. A
        ``None`` value drops a row.
    keep_stderr : bool
        Keep stderr streams (warnings) in the page; left out by default.
    nav : list of mapping, optional
        Links to the index and the related reports (:func:`nav_html`); none by default.

    Raises
    ------
    OfflineError
        If the page would load anything from the network (never expected; a safety net).
    """
    from analysis.i18n import check_lang, html_lang

    nb, path = _load(nb_or_path)
    params = dict(nb.metadata.get("papermill", {}).get("parameters") or {})
    lang = check_lang(str(params.get("lang") or "en"))
    nb = prepare_notebook(nb, keep_stderr=keep_stderr, lang=lang)
    title = title or _title_of(nb, path)
    from analysis.report import code_version

    rows: dict[str, Any] = {
        "Report": None,
        "Parameters": {k: v for k, v in params.items() if k not in ("data", "as_of", "lang")},
        "As of": params.get("as_of"),
        "Data": params.get("data"),
        "Data fingerprint": None,
        "Code version": code_version(),
        "Generated": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    rows.update(info or {})  # known rows keep their place, new ones follow
    nb.metadata["title"] = title
    resources: dict[str, Any] = {
        "metadata": {"name": title, "path": str(path.parent) if path else ""},
        "report_header": header_html(title, rows, lang, nav),
        "csp_meta": CSP_META,
    }
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    # nbconvert takes ISO 639-1 codes only; browsers pick Chinese glyphs for zh-CN
    body = body.replace('<html lang="en">', f'<html lang="{html_lang(lang)}">', 1)
    body = add_contents(_drop_repeated_title(body, title), lang)
    assert_offline(body, what=f"report {title!r}")
    return body


_H1_RE = re.compile(r'<h1 id="[^"<>]*">(.*?)<a class="anchor-link"[^>]*>[^<]*</a>\s*</h1>', re.S)


def _drop_repeated_title(body: str, title: str) -> str:
    """Leave out the notebook's own first heading when it repeats the header's title."""
    end = body.find("</header>")
    match = _H1_RE.search(body, end if end >= 0 else 0)
    if match and _html.unescape(_STRIP_TAGS_RE.sub("", match.group(1))).strip() == title.strip():
        return body[:match.start()] + body[match.end():]
    return body


_H2_RE = re.compile(r'<h2 id="([^"<>]+)">(.*?)<a class="anchor-link"', re.S)
_STRIP_TAGS_RE = re.compile(r"<[^>]+>")


def add_contents(body: str, lang: str = "en") -> str:
    """Insert a table of contents (links to the page's ``<h2>`` sections) after the header.

    The links point inside the page only; the heading text is re-escaped (a heading printed
    by a notebook is escaped already, see :mod:`analysis.report.display`).

    >>> h2 = '<h2 id="{0}">{0}<a class="anchor-link">'
    >>> page = '<header class="report-header">T</header>' + "".join(h2.format(x) for x in "ABC")
    >>> '<ul><li><a href="#A">A</a></li><li><a href="#B">B</a></li>' in add_contents(page)
    True
    """
    sections = [(sid, _html.unescape(_STRIP_TAGS_RE.sub("", text)).strip())
                for sid, text in _H2_RE.findall(body)]
    if len(sections) < 3 or "</header>" not in body:
        return body
    items = "".join(f'<li><a href="#{_html.escape(sid, quote=True)}">{_html.escape(text)}</a></li>'
                    for sid, text in sections)
    from analysis.i18n import tr

    nav = (f'<nav class="report-toc"><strong>{_html.escape(tr("Contents", lang))}</strong>'
           f'<ul>{items}</ul></nav>')
    return body.replace("</header>", "</header>" + nav, 1)


_INVISIBLE_RE = re.compile(r"<(style|script|title|code|details)\b[^>]*>.*?</\1>", re.S | re.I)


def visible_text(page: str) -> str:
    """The text a reader of ``page`` sees by default: no styles, scripts, code, nor the
    collapsed technical details; tags dropped, entities decoded (for the language checks)."""
    start = page.find("<body")
    body = _INVISIBLE_RE.sub(" ", page[start if start >= 0 else 0:])
    return _html.unescape(_STRIP_TAGS_RE.sub(" ", body))
