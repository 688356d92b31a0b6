"""Paths a report may show: data-set names instead of absolute paths (user names stay out).

Reports, manifests, the index and the executed notebooks never hold an absolute path:

- :func:`display_name` names a data source as a reader should see it: ``synthetic``, a path
  relative to the working directory when the source lies under it, else the file or folder name.
- :func:`link_data` lets the kernel find the data under that name: a symbolic link to the real
  source, made in a folder of the run's staging area that is the kernel's working directory.
  papermill then injects (and stores) ``data = "bank.yml"``, never ``/home/<user>/...``.
- :class:`Scrubber` rewrites the absolute paths that still reach an output (a traceback naming a
  package file, a message naming a mapping's data file) to the same names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["SYNTHETIC", "display_name", "link_data", "Scrubber"]

SYNTHETIC = "synthetic"


def display_name(source: str | os.PathLike[str], *, cwd: str | os.PathLike[str] | None = None) -> str:
    """Return how ``source`` is shown: ``synthetic``, a path relative to ``cwd`` (default: the
    working directory) when it lies under it, else its last component.

    >>> display_name("synthetic")
    'synthetic'
    >>> display_name("/srv/exports/bank.yml", cwd="/srv")
    'exports/bank.yml'
    >>> display_name("/srv/exports/bank.yml", cwd="/home/someone")
    'bank.yml'
    """
    text = os.fspath(source)
    if text == SYNTHETIC:
        return SYNTHETIC
    path = Path(os.path.abspath(text))
    base = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        rel = path.name
    if rel in ("", "."):  # the working directory itself
        rel = path.name or "data"
    if rel == SYNTHETIC:  # a real folder named like the embedded default must not become it
        rel = f"./{SYNTHETIC}"
    return rel


def link_data(kernel_dir: Path, source: str, name: str) -> str:
    """Make ``name`` (relative to ``kernel_dir``) a link to ``source``; return what the kernel
    is given as ``data``: ``name``, or the absolute path where links cannot be made."""
    if source == SYNTHETIC:
        return SYNTHETIC
    target = kernel_dir / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.abspath(source), target, target_is_directory=Path(source).is_dir())
    except OSError:  # no symlinks here (rare): the kernel gets the real path
        return os.path.abspath(source)
    return name


class Scrubber:
    """Replace absolute path prefixes in text by reader-facing names.

    Parameters
    ----------
    replacements : mapping
        ``{absolute path: shown instead}``. A folder's path followed by ``/`` is replaced with
        its shown name (``""`` for "relative to here"); the longest prefix wins.

    >>> s = Scrubber({"/home/ann/book": "book", "/home/ann": "~"})
    >>> s.text("read /home/ann/book/panel.parquet and /home/ann/x.py, not /home/annex")
    'read book/panel.parquet and ~/x.py, not /home/annex'
    """

    def __init__(self, replacements: Mapping[str, str]):
        items = {}
        for path, shown in replacements.items():
            path = os.fspath(path).rstrip("/")
            if len(path) > 1:  # never "/" itself
                items[path] = shown
        self._shown = items
        if items:
            alternatives = "|".join(re.escape(p) for p in sorted(items, key=len, reverse=True))
            # a whole path component: "/home/ann" must not match "/home/annex"
            self._re: re.Pattern[str] | None = re.compile(f"({alternatives})(/|(?![\\w.-]))")
        else:
            self._re = None

    def _sub(self, match: re.Match[str]) -> str:
        shown, sep = self._shown[match.group(1)], match.group(2)
        if sep and not shown:
            return ""  # "<folder>/x" -> "x"
        return shown + sep if shown else "."

    def text(self, value: str) -> str:
        """Return ``value`` with every known absolute prefix replaced."""
        if self._re is None or "/" not in value:
            return value
        return self._re.sub(self._sub, value)

    def any(self, value: Any) -> Any:
        """Return ``value`` (str, list, dict, nested) with every string scrubbed; images and
        other binary MIME payloads are left as they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.any(v) for v in value]
        if isinstance(value, Mapping):
            return type(value)(
                (k, v if isinstance(k, str) and k.startswith(("image/", "application/pdf")) else self.any(v))
                for k, v in value.items()
            )
        return value

    def notebook(self, nb: Any) -> Any:
        """Scrub an executed notebook in place (cell sources, outputs, metadata); return it."""
        nb.metadata = self.any(nb.metadata)
        for cell in nb.cells:
            cell.source = self.text(cell.source)
            if cell.get("cell_type") == "code":
                cell.outputs = self.any(cell.outputs)
        return nb

    @classmethod
    def for_run(cls, *, data: str, shown: str, extra: Iterable[tuple[str | os.PathLike[str], str]] = ()) -> Scrubber:
        """The scrubber of one render: the data source, its folder, the project, the working
        directory and the home folder, plus ``extra`` pairs (e.g. the kernel folder)."""
        from analysis.config import PROJECT_ROOT

        pairs: dict[str, str] = {}
        if data != SYNTHETIC:
            real = os.path.realpath(data)
            pairs[os.path.dirname(real)] = ""  # a mapping's data file: relative to the mapping
            pairs[os.path.dirname(os.path.abspath(data))] = ""
            pairs[real] = shown
            pairs[os.path.abspath(data)] = shown
        pairs.setdefault(str(Path.home()), "~")
        pairs[os.getcwd()] = ""
        pairs[str(PROJECT_ROOT)] = ""
        for path, name in extra:
            pairs[os.fspath(path)] = name
        return cls(pairs)
