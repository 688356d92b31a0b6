"""Render the scheduled reports: papermill -> executed notebook, offline HTML, headline JSON.

Output layout (``out_dir`` defaults to :data:`analysis.config.REPORTS_DIR`)::

    reports/
      index.html                     every report of every as-of folder (analysis.report.index)
      .render.lock                   held by the render writing here (analysis.report.lock)
      .staging/<run-id>/             the running render's scratch files; never linked
      <as-of>/                       YYYY-MM-DD
        manifest.json                the runs (started, finished, status) and one entry per
                                     report: status, error, files and their SHA-256, fingerprint
        <name>.ipynb                 the executed notebook (also kept for a failed report)
        <name>.html                  offline HTML (successful reports only)
        <name>.json                  headline numbers (successful reports only)

A run's state is always consistent (:mod:`analysis.report.publish`): each report is run and its
files validated in the staging folder, then published on its own (manifest and index rebuilt
after each one), so a run stopped at any point, ``kill -9`` included, leaves an index that lists
only files that exist and match their manifest entry; the next render marks that run
``interrupted`` and cleans up. A failing report is recorded (error type, message and the tail of
the failing cell's traceback) and the others still run; :attr:`RenderResult.ok` is False and the
CLI exits non-zero at the end. Nothing written holds an absolute path (:mod:`analysis.report.paths`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import sys
import shutil
import time
import traceback
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from analysis.config import DEFAULT_SCHEDULE, ENGINE_ENV, ENGINES, REPORTS_DIR
from analysis.report import code_version
from analysis.report.lock import RenderLock, check_out_dir, make_out_dir
from analysis.report.paths import Scrubber, display_name, link_data
from analysis.report.publish import FILE_KINDS, MANIFEST_NAME, STAGING_DIR, Publisher, recover, stage
from analysis.report.kernels import KernelPool, kernel_manager_class
from analysis.report.kernels import execute as _execute_notebook
from analysis.report.schedule import Job, Schedule, ScheduleError, expand, load_schedule, navigation

__all__ = [
    "ReportRecord", "RenderResult", "Staged", "KernelPool", "render", "run_job", "resolve_as_of",
    "MANIFEST_NAME", "DEFAULT_WAIT",
]

# Seconds a render waits for another render of the same reports folder to finish.
DEFAULT_WAIT = 5.0
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
    files: dict[str, Any] = field(default_factory=dict)  # kind -> {"sha256", "bytes"} of what is listed
    run: str = ""  # id of the run whose files are listed
    kept_previous: bool = False  # failed to stage: the previous files stay listed
    headline: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("headline")
        if not out["kept_previous"]:
            out.pop("kept_previous")
        return out

    def update_from(self, entry: dict[str, Any]) -> ReportRecord:
        """Take over what was published (the manifest entry :class:`Publisher` returned)."""
        for key in ("status", "error", "html", "json", "ipynb", "files", "run", "data_fingerprint", "code_version"):
            if key in entry:
                setattr(self, key, entry[key])
        self.kept_previous = bool(entry.get("kept_previous"))
        return self


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
    run_id: str = ""
    status: str = "finished"
    index_error: str | None = None  # the index could not be rebuilt (the manifest is right)

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
                kept = "  (previous report kept)" if r.kept_previous else ""
                lines.append(f"  FAILED  {r.name}  ({r.seconds:.1f} s)  {err.get('type')}: {err.get('message')}{kept}")
        lines.append(
            f"{len(self.succeeded)} of {len(self.reports)} report(s) rendered for as-of {self.as_of} "
            f"in {self.seconds:.1f} s; {len(self.failed)} failed. Manifest: {self.manifest_path}"
        )
        if self.index_path is not None:
            lines.append(f"Index: {self.index_path}")
        if self.index_error:
            lines.append(f"Index NOT rebuilt: {self.index_error} (run `analysis index`)")
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
    """A data path as an absolute path, for this process (kernels get a link named by
    :func:`~analysis.report.paths.display_name` instead, see :func:`render`)."""
    text = os.fspath(data) if isinstance(data, os.PathLike) else str(data)
    if text != "synthetic" and Path(text).exists():
        return str(Path(text).resolve())
    return text


def _data_info(data: str) -> tuple[Any, str, list[str], Any]:
    """Return ``(window_end, fingerprint, branches, portfolio)`` of a data source, loading
    (and checking) it once."""
    from analysis.data import ensure_default_data, load_source
    from analysis.data.large_book import check_book, open_book

    if data == "synthetic":
        ensure_default_data()  # once, here: parallel kernels must not race to create it
    book = open_book(data)
    if book is not None and book.is_large():
        # a large book is never loaded whole: checked and described by SQL
        check_book(book)
        return book.window()[1], book.fingerprint, book.branches(), book
    portfolio = load_source(data)
    branches = [str(b) for b in getattr(portfolio, "branches", [])]
    return (portfolio.window_end, str(getattr(portfolio, "fingerprint", "") or ""), branches,
            portfolio)


@contextlib.contextmanager
def _environment(name: str, value: str | None):
    """Set one environment variable for the kernels started inside (``None``: leave it)."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@contextlib.contextmanager
def _validated_for_kernels(portfolio, folder: Path):
    """Let the kernels read the tables this process has already checked (see
    :data:`analysis.data.loaders.VALIDATED_ENV`): written to the run's staging folder, which
    is removed with the run; the variable is restored afterwards."""
    from analysis.data.large_book import BOOK_CACHE_ENV, VALIDATED_BOOK_ENV, Book
    from analysis.data.loaders import VALIDATED_ENV, write_validated
    from analysis.data.portfolio import Portfolio

    if isinstance(portfolio, Book):  # checked here: the kernels skip that check, and branch
        # reports slice the bank-wide frame the first report builds (kept in the staging folder)
        with _environment(VALIDATED_BOOK_ENV, portfolio.fingerprint), \
                _environment(BOOK_CACHE_ENV, str(folder.with_name("book_frames"))):
            yield
        return
    if (not isinstance(portfolio, Portfolio) or portfolio.kind != "panel"
            or not portfolio.fingerprint):
        yield
        return
    write_validated(portfolio, folder)
    with _environment(VALIDATED_ENV, str(folder)):
        yield


def _tail(lines: Sequence[str], n: int = TRACEBACK_LINES, max_chars: int = 4000) -> str:
    text = _ANSI_RE.sub("", "\n".join(lines))
    kept = text.splitlines()[-n:]
    out = "\n".join(kept)
    return out[-max_chars:]


def _error_info(exc: BaseException, scrubber: Scrubber | None = None) -> dict[str, Any]:
    from papermill.exceptions import PapermillExecutionError

    clean = scrubber.text if scrubber is not None else (lambda text: text)
    if isinstance(exc, PapermillExecutionError):
        return {
            "type": exc.ename,
            "message": clean(_ANSI_RE.sub("", str(exc.evalue))),
            "cell": exc.exec_count,
            "traceback": clean(_tail(exc.traceback)),
        }
    return {
        "type": type(exc).__name__,
        "message": clean(str(exc)),
        "cell": None,
        "traceback": clean(_tail(traceback.format_exception(exc))),
    }


@dataclass
class Staged:
    """A report run into the staging folder: its record and its staged, validated files
    (``{kind: (path, {"sha256", "bytes"})}``); ``files`` is ``None`` when nothing could be
    staged (the published folder must then be left as it is)."""

    record: ReportRecord
    files: dict[str, tuple[Path, dict[str, Any]]] | None


def _kernel_manager_class() -> type:
    return kernel_manager_class()


def _execute(job: Job, output_path: Path, *, cwd: Path, cell_timeout: int | None,
             pool: KernelPool | None = None) -> Any:
    """Run the notebook (:func:`analysis.report.kernels.execute`); tests replace this."""
    return _execute_notebook(job, output_path, cwd=cwd, cell_timeout=cell_timeout, pool=pool)


def _read_notebook(path: Path) -> Any | None:
    """The notebook papermill saved up to the failing cell, or ``None``."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except Exception:  # absent, empty or half written: nothing to keep
        return None


def _shown_path(path: Path) -> str:
    from analysis.config import PROJECT_ROOT

    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return Path(path).name


def _tidy_notebook(nb: Any, job: Job, name: str, scrubber: Scrubber) -> Any:
    """No absolute path in the executed notebook: papermill's input/output paths become the
    notebook's path in the project and the published file name; outputs are scrubbed."""
    meta = nb.metadata.setdefault("papermill", {})
    meta["input_path"] = _shown_path(job.path)
    meta["output_path"] = f"{name}.ipynb"
    return scrubber.notebook(nb)


def run_job(
    job: Job,
    staging: str | Path,
    *,
    as_of: str,
    data_fingerprint: str = "",
    data_name: str | None = None,
    cell_timeout: int | None = None,
    kernel_cwd: str | Path | None = None,
    scrubber: Scrubber | None = None,
    nav: list[dict[str, Any]] | None = None,
    pool: KernelPool | None = None,
) -> Staged:
    """Run one report into the ``staging`` folder and stage its files; never raises.

    A notebook that raises is a failed report whose executed notebook (up to the error) is
    staged; an error writing or validating a file (a full disk, say) stages nothing, so the
    report's previous files stay published. :class:`Publisher` publishes the result.

    Parameters
    ----------
    job : Job
    staging : path
        The run's staging folder (inside the reports folder, so publishing is a rename).
    as_of, data_fingerprint : str
        Shown in the report header and recorded.
    data_name : str, optional
        The data set's name as shown (default: the job's ``data`` parameter).
    cell_timeout : int, optional
        Seconds one cell may run.
    kernel_cwd : path, optional
        The kernel's working folder (default: the notebook's folder).
    scrubber : Scrubber, optional
        Rewrites absolute paths in outputs and error messages.
    nav : list of dict, optional
        The report's links to the index and its related reports
        (:func:`analysis.report.schedule.navigation`).
    pool : KernelPool, optional
        Run in the calling thread's kernel of this pool (else in a fresh kernel).
    """
    from analysis.report.headline import extract, to_jsonable
    from analysis.report.html import notebook_to_html

    staging = Path(staging)
    scrubber = scrubber or Scrubber({})
    shown = data_name if data_name is not None else job.parameters.get("data")
    params = {**job.parameters, "data": shown} if "data" in job.parameters else dict(job.parameters)
    version = code_version()
    record = ReportRecord(
        name=job.name,
        notebook=job.notebook,
        parameters=params,
        status="failed",
        data_fingerprint=data_fingerprint,
        code_version=version,
        started=_now(),
    )
    t0 = time.perf_counter()
    exec_path = staging / f"{job.name}.run.ipynb"  # papermill saves here after every cell
    files: dict[str, tuple[Path, dict[str, Any]]] | None = {}

    def put(kind: str, content: str) -> None:
        path = staging / f"{job.name}.{kind}"
        # notebook_to_html has just run the offline check on this very page; the read-back
        # comparison in stage() proves the file is that page
        files[kind] = (path, stage(path, content, kind, name=job.name, offline=False))  # type: ignore[index]

    try:
        staging.mkdir(parents=True, exist_ok=True)
        failure: Exception | None = None
        try:
            nb = _execute(job, exec_path, cwd=Path(kernel_cwd or job.path.parent),
                          cell_timeout=cell_timeout, pool=pool)
        except OSError:
            raise  # could not write (or read) files: not the report's fault, keep what is published
        except Exception as exc:  # the notebook raised, timed out or lost its kernel
            failure = exc
            nb = _read_notebook(exec_path)
        import nbformat

        if nb is not None:
            put("ipynb", nbformat.writes(_tidy_notebook(nb, job, job.name, scrubber)))
        if failure is not None:
            record.error = _error_info(failure, scrubber)
        else:
            headline = to_jsonable(extract(nb))
            info = {
                "Report": job.name,
                "Parameters": {k: v for k, v in params.items()
                               if k not in ("data", "as_of", "lang")},
                "As of": as_of,
                "Data": shown,
                "Data fingerprint": data_fingerprint or "unknown",
                "Code version": version,
            }
            put("json", json.dumps(headline, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
            put("html", notebook_to_html(nb, info=info, nav=nav))
            record.status = "ok"
            record.headline = headline
    except Exception as exc:  # one failing report must not stop the others
        record.status = "failed"
        record.error = _error_info(exc, scrubber)
        files = None
        for kind in FILE_KINDS:
            _unlink_quietly(staging / f"{job.name}.{kind}")
    finally:
        _unlink_quietly(exec_path)
        record.finished = _now()
        record.seconds = round(time.perf_counter() - t0, 3)
    return Staged(record, files)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # a cleanup must never replace the error being reported
        pass


def _run_id() -> str:
    return f"{_dt.datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


#: Thread-pool variables of the numerical libraries (OpenBLAS, MKL, OpenMP, numexpr).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS")


def _share_cores(jobs: int) -> None:
    """Give each of ``jobs`` report kernels its share of the cores (the kernels inherit it).

    Without it every kernel's BLAS starts one thread per core: with two kernels on two cores
    the threads spin against each other and matrix products run 10-15x slower (measured: report
    02 took 167 s instead of 29 s). A value the user set is kept.
    """
    if jobs <= 1:
        return
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in THREAD_VARS:
        os.environ.setdefault(var, share)


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
    wait: float = DEFAULT_WAIT,
    languages: Sequence[str] | None = None,
    engine: str | None = None,
) -> RenderResult:
    """Render every report of a schedule for one as-of date.

    Parameters
    ----------
    schedule : path or Schedule
        The YAML schedule (default ``config/schedule.yml``).
    as_of : str or date, optional
        As-of date; default the end of the data window (``load_source(data).window_end``).
    data : str or path
        Data source passed to every notebook (``"synthetic"``, a directory or a mapping file).
        Reports, manifests and executed notebooks show its name (:func:`display_name`).
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
        Rebuild ``<out_dir>/index.html`` (after every published report).
    wait : float
        Seconds to wait for another render of ``out_dir`` to finish.
    languages : list of str, optional
        Report languages (``en``, ``zh``); default the schedule's ``languages``.
    engine : {"duckdb", "spark"}, optional
        Where the kernels run the data layer's SQL (:mod:`analysis.frames.engines`); default
        the environment's ``ANALYSIS_ENGINE``, else DuckDB.

    Raises
    ------
    ScheduleError
        For a bad schedule (unknown key, missing notebook, unknown parameter) before anything runs.
    OutputError
        If ``out_dir`` is a file or cannot be written; :class:`~analysis.report.lock.BusyError`
        if another render still holds it after ``wait`` seconds.
    ValueError
        For a bad ``as_of`` or ``jobs``.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    _share_cores(jobs)
    check_out_dir(out_dir)  # before the data is loaded: a bad --out fails at once
    data = _normalise_data(data)
    data_name = display_name(data)
    if not isinstance(schedule, Schedule):
        schedule = load_schedule(schedule, notebooks_dir=notebooks_dir)
    elif notebooks_dir is not None:
        schedule = replace(schedule, notebooks_dir=Path(notebooks_dir).resolve())

    window_end, fingerprint, data_branches, portfolio = _data_info(data)
    if as_of is None and window_end is None:
        # A snapshot extract without an `as_of` in its mapping: date the run by today.
        window_end = _dt.date.today()
    as_of = resolve_as_of(window_end if as_of is None else as_of)
    # Branches come from the data already loaded above (no second read of the source).
    job_list = expand(schedule, data=data_name, as_of=as_of, only=notebooks, languages=languages,
                      branches=data_branches if branches is None else branches)
    # links between reports follow the whole schedule (a partial run links to the others too)
    nav = navigation(expand(schedule, data=data_name, as_of=as_of, languages=languages,
                            branches=data_branches if branches is None else branches))
    if not job_list:
        raise ScheduleError(f"{schedule.source}: nothing to render")

    root = make_out_dir(out_dir).resolve()
    version = code_version()
    run = {
        "id": _run_id(),
        "pid": os.getpid(),
        "started": _now(),
        "data": data_name,
        "data_fingerprint": fingerprint,
        "code_version": version,
        "schedule": display_name(str(schedule.source)),
        "engine": engine or os.environ.get(ENGINE_ENV) or "duckdb",
    }
    lock = RenderLock(root, info={k: run[k] for k in ("pid", "started", "id")}, shown=str(out_dir))
    lock.acquire(wait=wait)
    staging = root / STAGING_DIR / run["id"]
    publisher: Publisher | None = None
    status = "interrupted"
    checked = contextlib.ExitStack()
    try:
        recover(root)
        kernel_dir = staging / "kernel"  # the kernels' working folder: links to the data only
        kernel_dir.mkdir(parents=True)
        injected = link_data(kernel_dir, data, data_name)
        if injected != data_name:
            job_list = [replace(j, parameters={**j.parameters, "data": injected}) for j in job_list]
        scrubber = Scrubber.for_run(data=data, shown=data_name, extra=[(kernel_dir, ""), (staging, "")])

        def rebuild() -> None:
            from analysis.report.index import build_index

            build_index(root)

        publisher = Publisher(root, as_of, run=run, guard=lock.guard(), index=rebuild if index else None)
        publisher.begin([
            ReportRecord(name=j.name, notebook=j.notebook, parameters={**j.parameters, "data": data_name},
                         status="pending", data_fingerprint=fingerprint, code_version=version).to_dict()
            for j in job_list
        ])

        def one(job: Job) -> ReportRecord:
            staged = run_job(job, staging, as_of=as_of, data_fingerprint=fingerprint, data_name=data_name,
                             cell_timeout=cell_timeout, kernel_cwd=kernel_dir, scrubber=scrubber,
                             nav=nav.get(job.name), pool=kernels)
            entry = publisher.publish(staged.record.to_dict(), staged.files)
            return staged.record.update_from(entry)

        checked.enter_context(_validated_for_kernels(portfolio, staging / "validated"))
        checked.enter_context(_environment(ENGINE_ENV, engine))
        kernels = KernelPool()  # started after the environment the kernels inherit is set
        checked.callback(kernels.close)
        del portfolio  # the kernels read the copy; this process needs the tables no more
        show = progress and sys.stderr.isatty()
        bar = tqdm(total=len(job_list), desc=f"reports {as_of}", unit="report", disable=not show, file=sys.stderr)
        results: dict[str, ReportRecord] = {}
        try:
            # every bank-wide report before any branch report: on a large book a branch report
            # slices what its bank report built (analysis.studies.whole_book), so the bank's
            # are built before the branches that read them wait for them
            order = sorted(job_list, key=lambda j: j.parameters.get("branch") is not None)
            if jobs == 1 or len(job_list) == 1:
                for job in order:
                    bar.set_postfix_str(job.name, refresh=True)
                    results[job.name] = one(job)
                    bar.update(1)
            else:
                with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="report") as pool:
                    futures = {pool.submit(one, job): job for job in order}
                    try:
                        for future in as_completed(futures):
                            record = future.result()
                            results[record.name] = record
                            bar.set_postfix_str(record.name, refresh=False)
                            bar.update(1)
                    except BaseException:
                        pool.shutdown(wait=False, cancel_futures=True)
                        raise
        finally:
            bar.close()
            checked.close()  # the copy goes with the staging folder below
        publisher.finish("finished")
        status = "finished"
    finally:
        checked.close()
        try:
            if publisher is not None and status != "finished":
                try:  # Ctrl-C or an unexpected error: say so now rather than at the next start
                    publisher.finish("interrupted")
                except Exception:
                    pass
            shutil.rmtree(staging, ignore_errors=True)
            try:
                (root / STAGING_DIR).rmdir()
            except OSError:
                pass  # not empty: the next render's recover() takes what is left
        finally:
            lock.release()

    records = [results[j.name] for j in job_list]
    folder = root / as_of
    index_error = publisher.index_error
    return RenderResult(
        as_of=as_of,
        data=data_name,
        data_fingerprint=fingerprint,
        code_version=version,
        out_dir=folder,
        manifest_path=folder / MANIFEST_NAME,
        index_path=root / "index.html" if index and index_error is None else None,
        reports=records,
        seconds=round(time.perf_counter() - t0, 3),
        run_id=run["id"],
        status=status,
        index_error=None if index_error is None else f"{type(index_error).__name__}: {index_error}",
    )
