"""Run state of a reports folder: staged files, validated and published one report at a time.

A render writes nothing into an as-of folder until a report is finished. Its files are first
written to the run's staging folder ``<out>/.staging/<run-id>/`` and read back and checked
(:func:`stage`: not empty, a notebook that nbformat reads, HTML that passes the offline check,
JSON that parses). Only then is the report published, in three steps, each a consistent state:

1. its manifest entry is *delisted* (status ``publishing``, no files) and the index rebuilt,
2. its files are moved into the as-of folder with :func:`os.replace` (atomic, same file system),
   and files of an earlier run that this attempt does not replace are removed,
3. the entry is listed again with the new files, their SHA-256 and size, and the index rebuilt.

So ``index.html`` and every manifest only list files that exist and match the entry's checksum
and data fingerprint, whenever the run is stopped, ``kill -9`` included. When a report cannot
be staged (full disk, invalid output), nothing of it is moved: the previous files stay, still
listed, and the entry records the failure (``kept_previous``).

Each manifest records its runs (``started``, ``finished``, ``status``: ``running``,
``finished`` or ``interrupted``). :func:`recover`, called under the folder's lock when a render
or ``analysis index`` starts, marks runs that were left ``running`` as ``interrupted``, marks
their unpublished reports likewise (removing the half-moved files of a report that was being
published), and removes staging leftovers and temporary files.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis.report import atomic_write_text

__all__ = [
    "MANIFEST_NAME",
    "STAGING_DIR",
    "FILE_KINDS",
    "InvalidOutput",
    "validate_output",
    "stage",
    "read_manifest",
    "recover",
    "Publisher",
]

MANIFEST_NAME = "manifest.json"
STAGING_DIR = ".staging"
FORMAT = 2
FILE_KINDS = ("ipynb", "html", "json")
MAX_RUNS = 20  # runs kept in a manifest's history, newest first
# statuses of an entry whose files are not (or not yet) listed
UNLISTED = ("pending", "publishing", "interrupted")


class InvalidOutput(ValueError):
    """A staged file is empty or does not parse; it is not published."""


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# staging


def validate_output(kind: str, data: bytes, *, name: str = "", offline: bool = True) -> None:
    """Raise :class:`InvalidOutput` unless ``data`` is a usable ``kind`` file.

    ``ipynb``: a notebook nbformat reads and validates; ``html``: a whole page (``</html>``) that
    passes :func:`analysis.report.html.assert_offline` (``offline=False`` skips that check, for
    a page that has just passed it in memory); ``json``: a JSON object.
    """
    what = f"{name}.{kind}" if name else kind
    if not data.strip():
        raise InvalidOutput(f"{what}: empty file ({len(data)} bytes); not published")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidOutput(f"{what}: not UTF-8 ({exc.reason} at byte {exc.start}); not published") from None
    if kind == "ipynb":
        import nbformat

        try:
            nbformat.validate(nbformat.reads(text, as_version=4))
        except Exception as exc:  # nbformat raises several types (JSON, schema, version)
            raise InvalidOutput(f"{what}: not a valid notebook ({type(exc).__name__}); not published") from None
    elif kind == "html":
        from analysis.report.html import assert_offline

        if "</html>" not in text[-200:].lower():
            raise InvalidOutput(f"{what}: truncated page (no closing </html>); not published")
        if offline:
            assert_offline(text, what=what)
    elif kind == "json":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidOutput(f"{what}: not valid JSON ({exc.msg}, line {exc.lineno}); not published") from None
        if not isinstance(value, dict):
            raise InvalidOutput(f"{what}: expected a JSON object, got {type(value).__name__}; not published")
    else:  # pragma: no cover - a programming error
        raise ValueError(f"unknown kind {kind!r}")


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file and flush it to disk (the test suite fakes a full disk here)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def stage(
    path: str | os.PathLike[str], content: str | bytes, kind: str, *, name: str = "", offline: bool = True
) -> dict[str, Any]:
    """Write ``content`` to ``path`` (in the staging folder), read it back and validate it.

    Returns ``{"sha256": ..., "bytes": ...}`` of what is on disk. Raises :class:`OSError`
    when it cannot be written and :class:`InvalidOutput` when what was read back is unusable
    or differs from ``content`` (a file system that lost data silently); the staged file is
    then removed. ``offline`` as in :func:`validate_output`.
    """
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    what = f"{name}.{kind}" if name else kind
    try:
        _write_bytes(path, data)
        written = path.read_bytes()
        validate_output(kind, written, name=name, offline=offline)
        if written != data:
            raise InvalidOutput(f"{what}: read back {len(written)} bytes, not the {len(data)} written; not published")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return {"sha256": hashlib.sha256(written).hexdigest(), "bytes": len(written)}


# --------------------------------------------------------------------------------------------
# manifests


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return ``<folder>/manifest.json`` (``None`` when absent); :class:`ValueError` when it
    cannot be read as a manifest."""
    path = Path(folder) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    manifest = json.loads(text)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("reports"), list):
        raise ValueError(f"{MANIFEST_NAME}: no 'reports' list")
    manifest.setdefault("runs", [])
    return manifest


def _write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    atomic_write_text(folder / MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")


def _is_temp(name: str) -> bool:
    # atomic_write_text's ".<name>.<hex>.tmp" and the former runner's ".<name>.<hex>.tmp.ipynb"
    return name.startswith(".") and (name.endswith(".tmp") or name.endswith(".tmp.ipynb"))


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)  # does not follow the data links inside


def recover(root: str | os.PathLike[str], *, keep_runs: Sequence[str] = ()) -> list[str]:
    """Clean up after runs that stopped early; call it holding the folder's lock.

    Removes ``.staging/`` leftovers (but the runs in ``keep_runs``) and temporary files, marks
    runs left ``running`` and their unpublished reports ``interrupted``, and removes the files
    of a report that was being published when its run stopped (they are not listed). Returns
    one line per thing done.
    """
    root = Path(root)
    done: list[str] = []
    staging = root / STAGING_DIR
    if staging.is_dir():
        for child in sorted(staging.iterdir()):
            if child.name not in keep_runs:
                _remove_tree(child)
                done.append(f"removed staging leftovers {STAGING_DIR}/{child.name}")
    if not root.is_dir():
        return done
    for item in sorted(root.iterdir()):
        if item.is_file() and _is_temp(item.name):
            item.unlink(missing_ok=True)
            done.append(f"removed temporary file {item.name}")
        if not item.is_dir() or item.name.startswith("."):
            continue
        for f in sorted(item.iterdir()):
            if f.is_file() and _is_temp(f.name):
                f.unlink(missing_ok=True)
                done.append(f"removed temporary file {item.name}/{f.name}")
        try:
            manifest = read_manifest(item)
        except (OSError, ValueError):
            continue  # the index says it is unreadable; the next render of that date rewrites it
        if manifest is None:
            continue
        stopped = {r.get("id"): r for r in manifest["runs"] if r.get("status") == "running" and r.get("id") not in keep_runs}
        changed = False
        for run in stopped.values():
            run["status"] = "interrupted"
            run["noticed"] = _now()
            changed = True
            done.append(f"{item.name}: run {run.get('id')} (pid {run.get('pid')}) was interrupted")
        for entry in manifest["reports"]:
            if entry.get("status") in ("pending", "publishing") and entry.get("run") not in keep_runs:
                name = str(entry.get("name", ""))
                # half moved: neither old nor new is trustworthy (a name is one file name, never a path)
                if entry["status"] == "publishing" and name and "/" not in name and not name.startswith("."):
                    for kind in FILE_KINDS:
                        (item / f"{name}.{kind}").unlink(missing_ok=True)
                run = stopped.get(entry.get("run")) or {}
                entry.update(status="interrupted", html=None, json=None, ipynb=None, files={})
                entry["error"] = {
                    "type": "Interrupted",
                    "message": f"the render (run {entry.get('run')}, pid {run.get('pid', '?')}) "
                    "stopped before this report was published",
                    "cell": None,
                    "traceback": "",
                }
                changed = True
        if changed:
            manifest["updated"] = _now()
            _write_manifest(item, manifest)
    return done


# --------------------------------------------------------------------------------------------
# publishing


def _error(exc: BaseException, prefix: str = "") -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": f"{prefix}{exc}", "cell": None, "traceback": ""}


class Publisher:
    """Publish one run's reports into ``<root>/<as_of>/``, one at a time, under ``guard``.

    Parameters
    ----------
    root : path
        The reports folder (``--out``).
    as_of : str
        The as-of folder's name.
    run : dict
        The run record (``id``, ``pid``, ``started``, data and code versions...).
    guard : context manager
        Held around every manifest and index write (the render lock's in-process guard; the
        file lock itself is held by the caller for the whole run).
    index : callable, optional
        Called after every manifest write to rebuild ``index.html``; ``None`` for no index.
    """

    def __init__(self, root: Path, as_of: str, *, run: dict[str, Any], guard: Any, index: Callable[[], Any] | None):
        self.root = Path(root)
        self.folder = self.root / as_of
        self.as_of = as_of
        self.run = dict(run)
        self.guard = guard
        self._index = index
        self.index_error: BaseException | None = None
        self._order: list[str] = []

    # -- manifest plumbing ------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            manifest = read_manifest(self.folder)
        except (OSError, ValueError):
            # keep the unreadable file for whoever wants to look at it, start a new one
            stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
            os.replace(self.folder / MANIFEST_NAME, self.folder / f"manifest.unreadable-{stamp}.json")
            manifest = None
        return manifest or {"format": FORMAT, "as_of": self.as_of, "runs": [], "reports": []}

    def _set(self, manifest: dict[str, Any], entry: dict[str, Any]) -> None:
        reports = manifest["reports"]
        for i, old in enumerate(reports):
            if old.get("name") == entry["name"]:
                reports[i] = entry
                return
        reports.append(entry)

    def _update(self, change: Callable[[dict[str, Any]], None], *, need_index: bool = False) -> None:
        """Apply ``change`` to the manifest, write it atomically, rebuild the index.

        An index that cannot be rebuilt is an error only where the caller needs the index to
        stop listing something (``need_index``); otherwise it is kept for the summary.
        """
        with self.guard:
            manifest = self._load()
            change(manifest)
            manifest.update(
                format=FORMAT,
                as_of=self.as_of,
                data=self.run.get("data"),
                data_fingerprint=self.run.get("data_fingerprint"),
                code_version=self.run.get("code_version"),
                schedule=self.run.get("schedule"),
                updated=_now(),
            )
            runs = [r for r in manifest.get("runs", []) if r.get("id") != self.run["id"]]
            manifest["runs"] = [dict(self.run), *runs][:MAX_RUNS]
            if self._order:  # this run's reports in schedule order, then the others as they were
                rank = {n: i for i, n in enumerate(self._order)}
                manifest["reports"].sort(key=lambda e: rank.get(e.get("name"), len(rank)))
            _write_manifest(self.folder, manifest)
            if self._index is not None:
                try:
                    self._index()
                except Exception as exc:
                    self.index_error = exc
                    if need_index:
                        raise

    # -- the run ----------------------------------------------------------------------------

    def begin(self, planned: Sequence[Mapping[str, Any]]) -> None:
        """Record the run as ``running``; reports never rendered before are listed ``pending``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._order = [p["name"] for p in planned]
        self.run.update(status="running", finished=None, reports=len(planned), published=0, failed=0)

        def change(manifest: dict[str, Any]) -> None:
            known = {e.get("name") for e in manifest["reports"]}
            for entry in planned:
                if entry["name"] not in known:
                    self._set(manifest, {**entry, "status": "pending", "run": self.run["id"], "files": {}})

        self._update(change)

    def finish(self, status: str = "finished") -> None:
        """Record the run's end (``finished`` or ``interrupted``)."""
        self.run.update(status=status, finished=_now())
        self._update(lambda m: None)

    def publish(self, entry: dict[str, Any], staged: Mapping[str, tuple[Path, dict[str, Any]]] | None) -> dict[str, Any]:
        """Publish one report; return its final manifest entry. Never raises for an OSError.

        ``staged`` maps a kind (``ipynb``, ``html``, ``json``) to the staged file and its
        checksum; ``None`` when the report could not be staged: the folder is then left as it
        was and the previous files (if any) stay listed.
        """
        name = entry["name"]
        entry = {**entry, "run": self.run["id"], "files": {}, **{k: None for k in FILE_KINDS}}
        final = self._keep_previous(entry) if staged is None else self._move(entry, staged)
        assert final["name"] == name
        return final

    def _count(self, ok: bool) -> None:
        # the run's counts travel with the entry's own manifest write
        self.run["published" if ok else "failed"] += 1

    def _keep_previous(self, entry: dict[str, Any]) -> dict[str, Any]:
        final = dict(entry)

        def change(manifest: dict[str, Any]) -> None:
            prev = next((e for e in manifest["reports"] if e.get("name") == entry["name"]), None)
            if prev and prev.get("status") not in UNLISTED and any(prev.get(k) for k in FILE_KINDS):
                for key in (*FILE_KINDS, "files", "data_fingerprint", "code_version", "run"):
                    final[key] = prev.get(key)
                final["kept_previous"] = True
            self._set(manifest, final)

        self._count(False)
        try:
            self._update(change)
        except Exception as exc:  # the manifest on disk is unchanged (atomic write): still consistent
            final["error"] = {**(final.get("error") or {}), "recording": str(exc)}
        return final

    def _move(self, entry: dict[str, Any], staged: Mapping[str, tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
        name = entry["name"]
        delisted = {**entry, "status": "publishing", "files": {}}
        try:  # 1. nothing may list the old files once they start to be replaced
            self._update(lambda m: self._set(m, delisted), need_index=True)
        except Exception as exc:
            failed = {**entry, "status": "failed", "error": _error(exc, "could not update the manifest or index: ")}
            return self._keep_previous(failed)
        try:  # 2. move the new files in, remove what an earlier run left of this report
            for kind, (path, _meta) in staged.items():
                os.replace(path, self.folder / f"{name}.{kind}")
            for kind in FILE_KINDS:
                if kind not in staged:
                    (self.folder / f"{name}.{kind}").unlink(missing_ok=True)
        except OSError as exc:
            failed = {**entry, "status": "failed", "error": _error(exc, "publishing failed: ")}
            self._count(False)
            try:
                self._update(lambda m: self._set(m, failed))
            except Exception:
                pass  # the entry stays delisted: still consistent
            return failed
        final = {**entry, "files": {k: meta for k, (_p, meta) in staged.items()}}
        for kind in staged:
            final[kind] = f"{name}.{kind}"
        ok = final.get("status") == "ok"
        self._count(ok)
        try:  # 3. list them
            self._update(lambda m: self._set(m, final))
        except Exception as exc:
            self.run["published" if ok else "failed"] -= 1
            self._count(False)
            return {**entry, "status": "failed", "error": _error(exc, "published but not recorded: ")}
        return final
