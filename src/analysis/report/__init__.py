"""Reports: papermill runner, offline HTML export, headline JSON, index page.

Kept light on purpose: notebooks import :mod:`analysis.report.headline` inside their kernel,
so this package does not import papermill or nbconvert until one of the heavier names is used.

Public names (imported on first use):

- :func:`analysis.report.headline.publish` / :func:`~analysis.report.headline.extract`
- :func:`analysis.report.html.notebook_to_html`, :func:`~analysis.report.html.assert_offline`
- :func:`analysis.report.schedule.load_schedule`, :func:`~analysis.report.schedule.expand`
- :func:`analysis.report.runner.render`
- :func:`analysis.report.index.build_index`

Run state (see ``docs/run_state.md``): :mod:`analysis.report.publish` (staging, validation,
publishing one report at a time, recovery after a killed run), :mod:`analysis.report.lock` (one
render per reports folder), :mod:`analysis.report.paths` (data-set names, never absolute paths).
"""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

__all__ = [
    "code_version",
    "atomic_write_text",
    "publish",
    "extract",
    "notebook_to_html",
    "assert_offline",
    "load_schedule",
    "expand",
    "render",
    "RenderResult",
    "build_index",
]

_LAZY = {
    "publish": "analysis.report.headline",
    "extract": "analysis.report.headline",
    "notebook_to_html": "analysis.report.html",
    "assert_offline": "analysis.report.html",
    "load_schedule": "analysis.report.schedule",
    "expand": "analysis.report.schedule",
    "render": "analysis.report.runner",
    "RenderResult": "analysis.report.runner",
    "build_index": "analysis.report.index",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Return ``"<package version> (git <describe>)"``, git part ``unknown`` outside a checkout."""
    from analysis import __version__
    from analysis.config import PROJECT_ROOT

    try:
        proc = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        git = proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        git = "unknown"
    return f"{__version__} (git {git})"


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically: a temporary file in the same folder, then
    :func:`os.replace`. Readers see the old file or the new one, never half of one; a failed
    write leaves no temporary file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        # os.open honours the umask (tempfile would create the file 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
