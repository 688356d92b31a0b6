"""One render at a time per reports folder: an exclusive lock on ``<out>/.render.lock``.

The lock is :func:`fcntl.flock` on a file that stays in place: the operating system releases it
when its holder exits, ``kill -9`` included, so a lock is never stale. While held, the file
names its holder (pid, start time, run id) so that a second render can say who it waits for.
Every write of a manifest or of ``index.html`` by a render happens under this lock. Local file
systems only (``flock`` over NFS is not reliable); POSIX only (Linux, macOS).
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["LOCK_NAME", "OutputError", "BusyError", "RenderLock", "check_out_dir", "make_out_dir", "is_locked", "describe"]

LOCK_NAME = ".render.lock"
POLL_SECONDS = 0.1


class OutputError(ValueError):
    """The output folder cannot be used (a file, unwritable, not creatable); one line, no path
    beyond the one the user gave."""


class BusyError(OutputError):
    """Another render holds the output folder's lock."""

    def __init__(self, message: str, holder: dict[str, Any]):
        super().__init__(message)
        self.holder = holder


def _why(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "not writable"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file is in the way"
    return exc.strerror or type(exc).__name__


def check_out_dir(path: str | os.PathLike[str], *, what: str = "--out") -> None:
    """Raise :class:`OutputError` unless ``path`` is a folder, or could be created as one.

    Nothing is created. Checks that the folder (or its nearest existing parent) is a writable
    folder, so that a bad ``--out`` fails before any data is loaded.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: is a file, not a folder")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputError(f"{what} {path}: {probe} is a file, not a folder")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: {'folder' if probe == path else probe} is not writable")


def make_out_dir(path: str | os.PathLike[str], *, what: str = "--out") -> Path:
    """Create ``path`` (and parents) as a folder; :class:`OutputError` if that fails."""
    path = Path(path)
    check_out_dir(path, what=what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot create the folder ({_why(exc)})") from None
    return path


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def describe(holder: dict[str, Any]) -> str:
    """``pid 4242, started 2024-07-01T06:00:00+00:00, run <id>`` from a lock file's note."""
    labels = (("pid", "pid"), ("started", "started"), ("id", "run"), ("command", "command"))
    return ", ".join(f"{label} {holder[key]}" for key, label in labels if holder.get(key) is not None) or (
        "holder unknown"
    )


class RenderLock:
    """The exclusive lock of one reports folder.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RenderLock(folder, info={"id": "a"}) as first:
    ...     try:
    ...         RenderLock(folder).acquire(wait=0)
    ...     except BusyError as exc:
    ...         print(str(exc).split(";")[0].replace(folder, "F").split(" (pid")[0])
    another render is writing to F
    """

    def __init__(self, out_dir: str | os.PathLike[str], *, info: dict[str, Any] | None = None, shown: str | None = None):
        self.root = Path(out_dir)
        self.path = self.root / LOCK_NAME
        self.info = {"pid": os.getpid(), **(info or {})}
        self.shown = shown if shown is not None else str(out_dir)
        self._fd: int | None = None
        self._thread_lock = threading.RLock()  # manifest updates of this render's threads

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, wait: float = 0.0) -> RenderLock:
        """Take the lock, polling for up to ``wait`` seconds; :class:`BusyError` if still held."""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by kernels
        except OSError as exc:
            raise OutputError(f"--out {self.shown}: cannot create {LOCK_NAME} ({_why(exc)})") from None
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    os.close(fd)
                    holder = _read_holder(self.path)
                    raise BusyError(
                        f"another render is writing to {self.shown} ({describe(holder)}); waited {wait:g} s "
                        "(use --wait SECONDS to wait longer)",
                        holder,
                    ) from None
                time.sleep(min(POLL_SECONDS, left))
            except OSError as exc:  # a file system without locks (some network mounts)
                os.close(fd)
                raise OutputError(f"--out {self.shown}: cannot lock {LOCK_NAME} ({_why(exc)})") from None
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(self.info, default=str) + "\n").encode("utf-8"))
        self._fd = fd
        return self

    def release(self) -> None:
        """Release the lock (and blank the holder note); safe to call twice."""
        import fcntl

        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> RenderLock:
        if not self.held:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def guard(self) -> threading.RLock:
        """The in-process lock that serialises this render's manifest and index writes."""
        return self._thread_lock


def is_locked(out_dir: str | os.PathLike[str]) -> bool:
    """True while some process holds ``<out_dir>/.render.lock`` (a render is running)."""
    import fcntl

    path = Path(out_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
