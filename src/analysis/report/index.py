"""``reports/index.html``: the managers' landing page and the list of every report.

On top, from the headline JSONs (:mod:`analysis.report.landing`): a card per branch for the
latest as-of date, a branch comparison and the trend over as-of dates. Below, collapsed unless
a report failed, the technical table of every report of every as-of folder.

Built from the ``<as-of>/manifest.json`` files the runner writes (hidden folders such as
``.staging/`` are not read); links are relative, so the whole ``reports/`` folder can be copied
or zipped and opened anywhere. Each as-of folder shows its last run (running, finished or
interrupted); a report whose files come from an earlier run than the last says so.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from analysis.config import REPORTS_DIR
from analysis.report import atomic_write_text
from analysis.report.html import CSP_META, _format_value, assert_offline
from analysis.i18n import html_lang, t
from analysis.report.landing import LANDING_CSS, landing_html

__all__ = ["INDEX_NAME", "read_manifests", "index_html", "build_index"]

INDEX_NAME = "index.html"
#: The index in each language (the English one is the default ``index.html``).
INDEX_NAMES = {"en": INDEX_NAME, "zh": "index.zh.html"}
MANIFEST_NAME = "manifest.json"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC",
  "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
  "WenQuanYi Micro Hei", sans-serif;
  margin: 2em auto; max-width: 75em; padding: 0 1em; color: #222; }
h1 { color: #1f4e79; margin-bottom: 0.2em; }
h2 { color: #1f4e79; border-bottom: 1px solid #c8d3e0; margin-top: 2em; }
p.meta, p.run { color: #555; font-size: 0.9em; margin: 0.2em 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.88em; margin-top: 0.6em; }
th, td { border: 1px solid #d6dde6; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #eef3f8; }
tr.failed td { background: #fdecea; }
.status-ok { color: #1b7f3b; font-weight: 600; }
.status-failed { color: #b3261e; font-weight: 700; }
.status-running { color: #8a5a00; font-weight: 700; }
.older { color: #8a5a00; }
code { font-size: 0.92em; }
pre { white-space: pre-wrap; font-size: 0.85em; margin: 0.3em 0 0 0; max-height: 20em; overflow: auto; }
details summary { cursor: pointer; color: #555; }
@media print { details pre { max-height: none; } a { color: inherit; text-decoration: none; } }
"""


def read_manifests(out_dir: str | Path = REPORTS_DIR) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    """Return ``(as_of_folder, manifest or None, problem or None)``, newest as-of first."""
    root = Path(out_dir)
    found = []
    for path in sorted(root.glob(f"*/{MANIFEST_NAME}"), reverse=True):
        folder = path.parent.name
        if folder.startswith("."):  # .staging/ and other scratch folders are never reports
            continue
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or not isinstance(manifest.get("reports"), list):
                raise ValueError("no 'reports' list")
            found.append((folder, manifest, None))
        except (OSError, ValueError) as exc:
            found.append((folder, None, f"{MANIFEST_NAME} unreadable: {exc}"))
    return found


def _e(value: Any) -> str:
    return _html.escape("" if value is None else str(value))


def _href(folder: str, name: str) -> str:
    return _html.escape(f"{quote(folder)}/{quote(name)}", quote=True)


def _params(params: dict[str, Any]) -> str:
    shown = {k: v for k, v in (params or {}).items() if k not in ("data", "as_of")}
    if not shown:
        return "<em>defaults</em>"
    return "<br>".join(
        f"<code>{_e(k)}={_e(_format_value(v))}</code>" for k, v in shown.items()
    )


_UNLISTED = {
    "pending": "not rendered yet",
    "publishing": "being published",
    "interrupted": "INTERRUPTED",
}


def _status(rep: dict[str, Any]) -> str:
    state = rep.get("status")
    if state == "ok":
        return '<span class="status-ok">ok</span>'
    err = rep.get("error") or {}
    if state in _UNLISTED:
        cls = "status-failed" if state == "interrupted" else "status-running"
        text = f'<span class="{cls}">{_UNLISTED[state]}</span>'
        return text + (f"<br>{_e(err.get('message'))}" if err.get("message") else "")
    text = f'<span class="status-failed">FAILED</span><br>{_e(err.get("type"))}: {_e(err.get("message"))}'
    if rep.get("kept_previous") and any(rep.get(k) for k in ("html", "json", "ipynb")):
        text += "<br><em>the files listed are the previous report's (this attempt published nothing)</em>"
    if err.get("traceback"):
        text += f"<details><summary>traceback</summary><pre>{_e(err['traceback'])}</pre></details>"
    return text


def _sha_title(meta: Any) -> str:
    """The file's SHA-256 as the link's tooltip (a copy of the folder can be checked)."""
    sha = meta.get("sha256") if isinstance(meta, dict) else None
    return f' title="SHA-256 {_e(sha)}"' if sha else ""


def _row(folder: str, rep: dict[str, Any], last_run: str | None = None) -> str:
    ok = rep.get("status") == "ok"
    name = _e(rep.get("name"))
    if ok and rep.get("html"):
        title = f'<a href="{_href(folder, rep["html"])}">{name}</a>'
    else:
        title = name
    sums = rep.get("files") or {}
    files = " &middot; ".join(
        f'<a href="{_href(folder, rep[key])}"{_sha_title(sums.get(key))}>{key}</a>'
        for key in ("html", "json", "ipynb")
        if rep.get(key)
    )
    seconds = rep.get("seconds")
    run = f"{_e(rep.get('finished') or rep.get('started'))}"
    if seconds is not None:
        run += f"<br>{float(seconds):.1f} s"
    if last_run and rep.get("run") and rep.get("run") != last_run and files:
        run += '<br><span class="older">from an earlier run</span>'
    cls = "ok" if ok else "failed"
    return (
        f'<tr class="{cls}"><td>{title}</td><td>{_e(rep.get("notebook"))}</td><td>{_params(rep.get("parameters"))}</td>'
        f"<td>{_status(rep)}</td><td>{files or '&ndash;'}</td><td><code>{_e(rep.get('data_fingerprint') or 'unknown')}</code></td>"
        f"<td>{_e(rep.get('code_version'))}</td><td>{run}</td></tr>"
    )


def _run_line(manifest: dict[str, Any]) -> str:
    """One line on the folder's last run: running, finished or interrupted."""
    runs = manifest.get("runs") or []
    if not runs:
        return ""
    run = runs[0]
    done = f"{run.get('published', 0)} published, {run.get('failed', 0)} failed of {run.get('reports', '?')}"
    state = run.get("status")
    if state == "running":
        return (
            f'<p class="run status-running">Run in progress (pid {_e(run.get("pid"))}, started {_e(run.get("started"))}): '
            f"{_e(done)}. If no render is running any more, it was interrupted; the next render or "
            "<code>analysis index</code> records that.</p>"
        )
    if state == "interrupted":
        return (
            f'<p class="run status-failed">The last run (pid {_e(run.get("pid"))}, started {_e(run.get("started"))}) '
            f"was INTERRUPTED: {_e(done)}. Reports it did not publish keep their earlier files, if any.</p>"
        )
    return f'<p class="run">Last run started {_e(run.get("started"))}, finished {_e(run.get("finished"))}: {_e(done)}.</p>'


def index_html(out_dir: str | Path = REPORTS_DIR, lang: str = "en") -> str:
    """Return the index page for the reports under ``out_dir`` in ``lang``.

    The Chinese page holds the managers' part only and links to the English page for the
    technical table (whose entries are file names, parameters and error messages)."""
    manifests = read_manifests(out_dir)
    total = sum(len(m["reports"]) for _, m, _p in manifests if m)
    failed = sum(1 for _, m, _p in manifests if m for r in m["reports"] if r.get("status") in ("failed", "interrupted"))
    generated = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{html_lang(lang)}"><head>{CSP_META}<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
        f"<title>{_e(t('index.title', lang))}</title>",
        f"<style>{_CSS}{LANDING_CSS}</style></head><body>",
        f"<h1>{_e(t('index.title', lang))}</h1>",
        f'<p class="meta"><a href="{INDEX_NAMES["zh" if lang == "en" else "en"]}">'
        f"{_e(t('index.other_language', lang))}</a></p>",
    ]
    if lang == "en":
        parts.append(f'<p class="meta">{total} report(s) in {len(manifests)} as-of folder(s); '
                     f"{failed} failed. Generated {_e(generated)}.</p>")
    if not manifests and lang == "en":
        parts.append("<p>No reports yet: run <code>analysis render</code>.</p>")
    parts.append(landing_html(Path(out_dir), manifests, lang))
    if lang != "en":
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"
    if manifests:  # the technical listing: for analysts, folded away for managers
        parts.append('<h2 id="all-reports">All reports (technical)</h2>')
        parts.append(f"<details{' open' if failed else ''}><summary>Every report of every "
                     "as-of folder: parameters, status, files, fingerprints, code versions"
                     "</summary>")
    for folder, manifest, problem in manifests:
        parts.append(f'<h2 id="{_e(folder)}">As of {_e(folder)}</h2>')
        if manifest is None:
            parts.append(f'<p class="run status-failed">{_e(problem)}</p>')
            continue
        parts.append(
            f'<p class="run">Data <code>{_e(manifest.get("data"))}</code>, fingerprint '
            f'<code>{_e(manifest.get("data_fingerprint") or "unknown")}</code>; code {_e(manifest.get("code_version"))}; '
            f"last run {_e(manifest.get('updated'))}.</p>"
        )
        parts.append(_run_line(manifest))
        parts.append(
            "<table><thead><tr><th>Report</th><th>Notebook</th><th>Parameters</th><th>Status</th>"
            "<th>Files</th><th>Data fingerprint</th><th>Code version</th><th>Run</th></tr></thead><tbody>"
        )
        last = ((manifest.get("runs") or [{}])[0] or {}).get("id")
        parts.extend(_row(folder, rep, last) for rep in manifest["reports"])
        parts.append("</tbody></table>")
    if manifests:
        parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def build_index(out_dir: str | Path = REPORTS_DIR) -> Path:
    """Write ``<out_dir>/index.html`` and ``index.zh.html`` (atomically); return the first."""
    out_dir = Path(out_dir)
    paths = {}
    for lang, name in INDEX_NAMES.items():
        page = index_html(out_dir, lang)
        assert_offline(page, what=f"reports index ({lang})")
        paths[lang] = atomic_write_text(out_dir / name, page)
    return paths["en"]
