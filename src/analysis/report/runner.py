"""Render the scheduled reports: papermill -> executed notebook, offline HTML, headline JSON.

Output layout (``out_dir`` defaults to :data:`analysis.config.REPORTS_DIR`)::

    reports/
      index.html                     every report of every as-of folder (analysis.report.index)
      <as-of>/                       YYYY-MM-DD
        manifest.json                one entry per report: status, error, paths, fingerprint...
        <name>.ipynb                 the executed notebook (also kept for a failed report)
        <name>.html                  offline HTML (successful reports only)
        <name>.json                  headline numbers (successful reports only)

Every file is written atomically. A failing report is recorded (error type, message and the
tail of the failing cell's traceback) and the others still run; :attr:`RenderResult.ok` is
False and the CLI exits non-zero at the end.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from analysis.config import DEFAULT_SCHEDULE, REPORTS_DIR
from analysis.report import atomic_write_text, code_version
from analysis.report.schedule import Job, Schedule, ScheduleError, expand, load_schedule

__all__ = ["ReportRecord", "RenderResult", "render", "run_job", "resolve_as_of", "MANIFEST_NAME"]

MANIFEST_NAME = "manifest.json"
KERNEL_NAME = "python3"
TRACEBACK_LINES = 20
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class ReportRecord:
    """What happened to one report; paths are relative to the as-of folder."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    status: str  # "ok" or "failed"
    error: dict[str, Any] | None = None  # type, message, cell, traceback
    html: str | None = None
    json: str | None = None
    ipynb: str | None = None
    data_fingerprint: str = ""
    code_version: str = ""
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    headline: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("headline")
        return out


@dataclass
class RenderResult:
    """The outcome of :func:`render`."""

    as_of: str
    data: str
    data_fingerprint: str
    code_version: str
    out_dir: Path  # the as-of folder
    manifest_path: Path
    index_path: Path | None
    reports: list[ReportRecord]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def failed(self) -> list[ReportRecord]:
        return [r for r in self.reports if not r.ok]

    @property
    def succeeded(self) -> list[ReportRecord]:
        return [r for r in self.reports if r.ok]

    def summary(self) -> str:
        """A few lines for a terminal: one per report, then the totals."""
        lines = []
        for r in self.reports:
            if r.ok:
                lines.append(f"  ok      {r.name}  ({r.seconds:.1f} s)  {self.out_dir / (r.html or '')}")
            else:
                err = r.error or {}
                lines.append(f"  FAILED  {r.name}  ({r.seconds:.1f} s)  {err.get('type')}: {err.get('message')}")
        lines.append(
            f"{len(self.succeeded)} of {len(self.reports)} report(s) rendered for as-of {self.as_of} "
            f"in {self.seconds:.1f} s; {len(self.failed)} failed. Manifest: {self.manifest_path}"
        )
        if self.index_path is not None:
            lines.append(f"Index: {self.index_path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# helpers


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def resolve_as_of(value: Any) -> str:
    """Return ``value`` (a date, datetime, Timestamp or ISO string) as ``YYYY-MM-DD``."""
    if isinstance(value, _dt.datetime):  # pandas Timestamp included
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return _dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return _dt.datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        raise ValueError(f"as_of must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def _normalise_data(data: Any) -> str:
    """Pass paths to the notebooks as absolute paths (their kernel runs in the notebooks folder)."""
    text = os.fspath(data) if isinstance(data, os.PathLike) else str(data)
    if text != "synthetic" and Path(text).exists():
        return str(Path(text).resolve())
    return text


def _data_info(data: str) -> tuple[Any, str, list[str]]:
    """Return ``(window_end, fingerprint, branches)`` of a data source, loading it once."""
    from analysis.data import ensure_default_data, load_source

    if data == "synthetic":
        ensure_default_data()  # once, here: parallel kernels must not race to create it
    portfolio = load_source(data)
    branches = [str(b) for b in getattr(portfolio, "branches", [])]
    return portfolio.window_end, str(getattr(portfolio, "fingerprint", "") or ""), branches


@functools.lru_cache(maxsize=1)
def _kernel_manager_class() -> type:
    """A kernel manager that always starts the ``python3`` kernel of *this* environment.

    jupyter_client would take a ``python3`` kernelspec from the user's Jupyter folders first,
    which may point at another Python; this one builds ipykernel's native spec (this
    interpreter). The kernel's own terminal log is silenced: ipykernel warns on every start that
    it runs over TCP without encryption (it listens on localhost) and logs the interrupt
    jupyter_client sends at shutdown; what a notebook prints or raises is in its outputs.
    """
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class CurrentEnvKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self) -> KernelSpec:
            if self._kernel_spec is None:
                spec = get_kernel_dict(extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
                # Figures must be inlined into the report whatever MPLBACKEND the caller has
                # (e.g. Agg in a headless job would silently drop every plot).
                env = dict(spec.pop("env", {}) or {})
                env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
                self._kernel_spec = KernelSpec(resource_dir=RESOURCES, env=env, **spec)
            return self._kernel_spec

    return CurrentEnvKernelManager


def _tail(lines: Sequence[str], n: int = TRACEBACK_LINES, max_chars: int = 4000) -> str:
    text = _ANSI_RE.sub("", "\n".join(lines))
    kept = text.splitlines()[-n:]
    out = "\n".join(kept)
    return out[-max_chars:]


def _error_info(exc: BaseException) -> dict[str, Any]:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return {
            "type": exc.ename,
            "message": _ANSI_RE.sub("", str(exc.evalue)),
            "cell": exc.exec_count,
            "traceback": _tail(exc.traceback),
        }
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "cell": None,
        "traceback": _tail(traceback.format_exception(exc)),
    }


def run_job(
    job: Job,
    folder: str | Path,
    *,
    as_of: str,
    data_fingerprint: str = "",
    cell_timeout: int | None = None,
) -> ReportRecord:
    """Run one report into ``folder``; never raises for a failing notebook (see ``status``)."""
    import papermill as pm

    from analysis.report.headline import extract, to_jsonable
    from analysis.report.html import notebook_to_html

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    version = code_version()
    record = ReportRecord(
        name=job.name,
        notebook=job.notebook,
        parameters=dict(job.parameters),
        status="failed",
        data_fingerprint=data_fingerprint,
        code_version=version,
        started=_now(),
    )
    t0 = time.perf_counter()
    ipynb_path = folder / f"{job.name}.ipynb"
    html_path = folder / f"{job.name}.html"
    json_path = folder / f"{job.name}.json"
    # papermill saves after every cell: it writes a temporary file, renamed when done
    tmp_ipynb = folder / f".{job.name}.{uuid.uuid4().hex[:12]}.tmp.ipynb"
    try:
        try:
            nb = pm.execute_notebook(
                str(job.path),
                str(tmp_ipynb),
                parameters=job.parameters,
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=False,
                execution_timeout=cell_timeout,
                # the kernel's working folder; papermill's own cwd= would os.chdir the process
                resources={"metadata": {"path": str(job.path.parent)}},
                kernel_manager_class=_kernel_manager_class(),
                # outputs are all in by then; a graceful kernel shutdown costs ~0.5 s per report
                shutdown_kernel="immediate",
            )
        except Exception:
            if tmp_ipynb.exists():  # papermill saved the notebook up to the failing cell
                os.replace(tmp_ipynb, ipynb_path)
                record.ipynb = ipynb_path.name
            raise
        os.replace(tmp_ipynb, ipynb_path)  # kept even if the export below fails
        record.ipynb = ipynb_path.name
        headline = to_jsonable(extract(nb))
        params_shown = {k: v for k, v in job.parameters.items() if k not in ("data", "as_of")}
        html = notebook_to_html(
            nb,
            info={
                "Report": job.name,
                "Parameters": params_shown,
                "As of": as_of,
                "Data": job.parameters.get("data"),
                "Data fingerprint": data_fingerprint or "unknown",
                "Code version": version,
            },
        )
        atomic_write_text(json_path, json.dumps(headline, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        atomic_write_text(html_path, html)
        record.status = "ok"
        record.html, record.json = html_path.name, json_path.name
        record.headline = headline
    except Exception as exc:  # one failing report must not stop the others
        record.error = _error_info(exc)
        # a failed re-run must not leave the previous run's pages looking current
        stale = [html_path, json_path] + ([ipynb_path] if record.ipynb is None else [])
        for path in stale:
            path.unlink(missing_ok=True)
    finally:
        tmp_ipynb.unlink(missing_ok=True)
        record.finished = _now()
        record.seconds = round(time.perf_counter() - t0, 3)
    return record


def _write_manifest(folder: Path, result_meta: dict[str, Any], records: list[ReportRecord]) -> Path:
    """Merge this run's records into ``<folder>/manifest.json`` (by report name) and write it."""
    path = folder / MANIFEST_NAME
    previous: list[dict[str, Any]] = []
    if path.is_file():
        try:
            previous = list(json.loads(path.read_text(encoding="utf-8")).get("reports", []))
        except (ValueError, AttributeError):
            previous = []
    names = {r.name for r in records}
    reports = [r.to_dict() for r in records] + [p for p in previous if p.get("name") not in names]
    manifest = {**result_meta, "updated": _now(), "reports": reports}
    atomic_write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def render(
    schedule: str | Path | Schedule = DEFAULT_SCHEDULE,
    *,
    as_of: Any = None,
    data: Any = "synthetic",
    out_dir: str | Path = REPORTS_DIR,
    notebooks: Sequence[str] | None = None,
    jobs: int = 1,
    progress: bool = True,
    notebooks_dir: str | Path | None = None,
    branches: Sequence[str] | None = None,
    cell_timeout: int | None = None,
    index: bool = True,
) -> RenderResult:
    """Render every report of a schedule for one as-of date.

    Parameters
    ----------
    schedule : path or Schedule
        The YAML schedule (default ``config/schedule.yml``).
    as_of : str or date, optional
        As-of date; default the end of the data window (``load_source(data).window_end``).
    data : str or path
        Data source passed to every notebook (``"synthetic"`` or a directory).
    out_dir : path
        Reports root; files go to ``<out_dir>/<as-of>/``.
    notebooks : list of str, optional
        Render only these notebooks (or output names) of the schedule.
    jobs : int
        Reports run at the same time (each papermill run has its own kernel process).
    progress : bool
        Show a tqdm bar (only on a terminal).
    notebooks_dir : path, optional
        Folder of the notebooks; overrides the schedule's ``notebooks_dir``.
    branches : list of str, optional
        Branches of ``per_branch`` entries; default ``analysis.data.list_branches(data)``.
    cell_timeout : int, optional
        Seconds one cell may run (default: no limit).
    index : bool
        Rebuild ``<out_dir>/index.html`` afterwards.

    Raises
    ------
    ScheduleError
        For a bad schedule (unknown key, missing notebook, unknown parameter) before anything runs.
    ValueError
        For a bad ``as_of`` or ``jobs``.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    data = _normalise_data(data)
    if not isinstance(schedule, Schedule):
        schedule = load_schedule(schedule, notebooks_dir=notebooks_dir)
    elif notebooks_dir is not None:
        schedule = Schedule(schedule.entries, Path(notebooks_dir).resolve(), schedule.source)

    window_end, fingerprint, data_branches = _data_info(data)
    if as_of is None and window_end is None:
        # A snapshot extract without an `as_of` in its mapping: date the run by today.
        window_end = _dt.date.today()
    as_of = resolve_as_of(window_end if as_of is None else as_of)
    # Branches come from the data already loaded above (no second read of the source).
    job_list = expand(schedule, data=data, as_of=as_of, only=notebooks,
                      branches=data_branches if branches is None else branches)
    if not job_list:
        raise ScheduleError(f"{schedule.source}: nothing to render")

    root = Path(out_dir).resolve()
    folder = root / as_of
    folder.mkdir(parents=True, exist_ok=True)
    version = code_version()
    meta = {
        "as_of": as_of,
        "data": data,
        "data_fingerprint": fingerprint,
        "code_version": version,
        "schedule": str(schedule.source),
    }

    show = progress and sys.stderr.isatty()
    bar = tqdm(total=len(job_list), desc=f"reports {as_of}", unit="report", disable=not show, file=sys.stderr)
    results: dict[str, ReportRecord] = {}

    def one(job: Job) -> ReportRecord:
        return run_job(job, folder, as_of=as_of, data_fingerprint=fingerprint, cell_timeout=cell_timeout)

    try:
        if jobs == 1 or len(job_list) == 1:
            for job in job_list:
                bar.set_postfix_str(job.name, refresh=True)
                results[job.name] = one(job)
                bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="report") as pool:
                futures = {pool.submit(one, job): job for job in job_list}
                for future in as_completed(futures):
                    record = future.result()
                    results[record.name] = record
                    bar.set_postfix_str(record.name, refresh=False)
                    bar.update(1)
    finally:
        bar.close()

    records = [results[j.name] for j in job_list]
    manifest_path = _write_manifest(folder, meta, records)
    index_path = None
    if index:
        from analysis.report.index import build_index

        index_path = build_index(root)
    return RenderResult(
        as_of=as_of,
        data=data,
        data_fingerprint=fingerprint,
        code_version=version,
        out_dir=folder,
        manifest_path=manifest_path,
        index_path=index_path,
        reports=records,
        seconds=round(time.perf_counter() - t0, 3),
    )
