"""Reports: papermill runner, offline HTML export, headline JSON, index page.

Kept light on purpose: notebooks import :mod:`analysis.report.headline` inside their kernel,
so this package does not import papermill or nbconvert until one of the heavier names is used.

Public names (imported on first use):

- :func:`analysis.report.headline.publish` / :func:`~analysis.report.headline.extract`
- :func:`analysis.report.html.notebook_to_html`, :func:`~analysis.report.html.assert_offline`
- :func:`analysis.report.schedule.load_schedule`, :func:`~analysis.report.schedule.expand`
- :func:`analysis.report.runner.render`
- :func:`analysis.report.index.build_index`
"""

from __future__ import annotations

import functools
import importlib
import subprocess
from typing import Any

__all__ = [
    "code_version",
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
