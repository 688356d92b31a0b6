"""Report schedule: a YAML list of notebooks x parameter sets, expanded to concrete jobs.

Format (``config/schedule.yml``)::

    notebooks_dir: ../notebooks     # optional, relative to this file; default: config.NOTEBOOKS_DIR
    reports:
      - notebook: 01_attrition_overview   # file in the notebooks folder, without .ipynb
        parameters: {attrition: closure}  # optional; checked against the notebook's parameters
        per_branch: true                  # optional; whole bank + one report per branch

``data``, ``as_of`` (and ``branch`` of a ``per_branch`` entry) are set by the run, not the
schedule. papermill silently ignores a parameter the notebook does not define, so every
parameter name is checked against the notebook's ``parameters`` cell before anything runs.

Output names are ``<notebook>__<slug>``: the parameters that differ from the notebook's defaults
(``key-value``), then ``bank`` or ``branch-<name>``, joined by ``__``; for example
``01_attrition_overview__bank``, ``01_attrition_overview__attrition-value__branch-North``.
Names are UTF-8 (``01_attrition_overview__branch-北京分行``): letters and digits of any script
stay, anything else becomes ``-``. One value's slug keeps at most 80 bytes, a whole name 160
(never half a character); a longer one is cut there and followed by ``-`` and 8 hex digits of
the SHA-256 of the whole value, so two long names sharing their first 80 bytes still differ.
Two distinct reports whose names would clash (``Nord/Ost`` and ``Nord Ost``; or names that
differ only in case) both get ``-`` and a hash of their parameters.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ScheduleError",
    "ScheduleEntry",
    "Schedule",
    "Job",
    "RUN_PARAMETERS",
    "navigation",
    "load_schedule",
    "parse_schedule",
    "notebook_parameters",
    "check_parameters",
    "expand",
    "job_name",
]

# Set by the runner for every job; a schedule may not fix them.
RUN_PARAMETERS = ("data", "as_of")
# Every report notebook defines these in its parameters cell.
STANDARD_PARAMETERS = ("data", "branch", "as_of", "attrition", "horizons", "show_ids", "lang")

_TOP_KEYS = {"reports", "notebooks_dir", "languages"}
_ENTRY_KEYS = {"notebook", "parameters", "per_branch"}


class ScheduleError(ValueError):
    """The schedule (or a notebook it names) is not usable; the message says why and where."""


@dataclass(frozen=True)
class ScheduleEntry:
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    per_branch: bool = False


@dataclass
class Schedule:
    entries: list[ScheduleEntry]
    notebooks_dir: Path
    source: str = "<schedule>"
    languages: tuple[str, ...] = ("en",)  # every report is rendered once per language

    @property
    def notebooks(self) -> list[str]:
        return list(dict.fromkeys(e.notebook for e in self.entries))


@dataclass(frozen=True)
class Job:
    """One report to render."""

    name: str  # output name, without extension
    notebook: str  # notebook name, without .ipynb
    path: Path  # notebook file
    parameters: dict[str, Any]  # everything passed to papermill (includes data, as_of, branch)


def _close_match(word: str, options: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _reject_unknown(mapping: Mapping, allowed: set, what: str) -> None:
    """Stop at the first unknown key (sorted), naming the closest allowed one."""
    unknown = set(mapping) - allowed
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise ScheduleError(f"{what} {key!r}{_close_match(key, allowed)}; "
                            f"allowed: {', '.join(sorted(allowed))}")


def parse_schedule(
    raw: Any, *, notebooks_dir: str | Path | None = None, base_dir: Path | None = None, source: str = "<schedule>"
) -> Schedule:
    """Validate a schedule already read from YAML (a dict) and return it.

    ``notebooks_dir`` overrides the file's ``notebooks_dir`` (resolved against ``base_dir``);
    the default is :data:`analysis.config.NOTEBOOKS_DIR`.
    """
    if raw is None:
        raise ScheduleError(f"{source}: the schedule is empty; expected a 'reports:' list")
    if not isinstance(raw, Mapping):
        raise ScheduleError(f"{source}: expected a mapping with a 'reports:' list, got {type(raw).__name__}")
    _reject_unknown(raw, _TOP_KEYS, f"{source}: unknown top-level key")
    reports = raw.get("reports")
    if not isinstance(reports, list) or not reports:
        raise ScheduleError(f"{source}: 'reports' must be a non-empty list of entries")

    if notebooks_dir is None and raw.get("notebooks_dir") is not None:
        notebooks_dir = Path(str(raw["notebooks_dir"]))
        if not notebooks_dir.is_absolute() and base_dir is not None:
            notebooks_dir = base_dir / notebooks_dir
    if notebooks_dir is None:
        from analysis.config import NOTEBOOKS_DIR

        notebooks_dir = NOTEBOOKS_DIR
    notebooks_dir = Path(notebooks_dir).resolve()

    languages = _languages(raw.get("languages", ["en"]), source)
    entries = []
    for i, item in enumerate(reports, start=1):
        where = f"{source}: reports[{i}]"
        if isinstance(item, str):  # shorthand: just a notebook name
            item = {"notebook": item}
        if not isinstance(item, Mapping):
            raise ScheduleError(f"{where}: expected a mapping with 'notebook:', got {item!r}")
        _reject_unknown(item, _ENTRY_KEYS, f"{where}: unknown key")
        notebook = item.get("notebook")
        if not isinstance(notebook, str) or not notebook.strip():
            raise ScheduleError(f"{where}: 'notebook' is required (a file name in {notebooks_dir}, without .ipynb)")
        notebook = notebook.strip()
        if notebook.endswith(".ipynb"):
            notebook = notebook[: -len(".ipynb")]
        if not (notebooks_dir / f"{notebook}.ipynb").is_file():
            available = sorted(p.stem for p in notebooks_dir.glob("*.ipynb")) if notebooks_dir.is_dir() else []
            raise ScheduleError(
                f"{where}: notebook {notebook!r} not found: no {notebooks_dir / (notebook + '.ipynb')}"
                f"{_close_match(notebook, available)}; available: {', '.join(available) or '(none)'}"
            )
        params = item.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise ScheduleError(f"{where}: 'parameters' must be a mapping, got {params!r}")
        for key in params:
            if not isinstance(key, str):
                raise ScheduleError(f"{where}: parameter names must be strings, got {key!r}")
            if key in RUN_PARAMETERS:
                raise ScheduleError(
                    f"{where}: parameter {key!r} is set by the run (analysis render --{key.replace('_', '-')}), "
                    "not by the schedule"
                )
        per_branch = item.get("per_branch", False)
        if not isinstance(per_branch, bool):
            raise ScheduleError(f"{where}: 'per_branch' must be true or false, got {per_branch!r}")
        if per_branch and "branch" in params:
            raise ScheduleError(f"{where}: 'branch' cannot be fixed in 'parameters' of a per_branch entry")
        entries.append(ScheduleEntry(notebook=notebook, parameters=dict(params), per_branch=per_branch))
    return Schedule(entries=entries, notebooks_dir=notebooks_dir, source=source,
                    languages=languages)


def _languages(value: Any, source: str) -> tuple[str, ...]:
    """The schedule's ``languages:`` list, checked (``en``, ``zh``; no repeats)."""
    from analysis.i18n import LANGUAGES

    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ScheduleError(f"{source}: 'languages' must be a non-empty list of "
                            f"{', '.join(LANGUAGES)}, got {value!r}")
    bad = [v for v in value if v not in LANGUAGES]
    if bad:
        raise ScheduleError(f"{source}: unknown language {bad[0]!r} in 'languages'; "
                            f"choose from {', '.join(LANGUAGES)}")
    return tuple(dict.fromkeys(value))


def load_schedule(path: str | Path, *, notebooks_dir: str | Path | None = None) -> Schedule:
    """Read and validate a schedule YAML file (see the module docstring for the format)."""
    from analysis.data.yaml_files import YamlFileError, load_yaml

    path = Path(path)
    if not path.is_file():
        raise ScheduleError(f"schedule file not found: {path}")
    try:
        raw = load_yaml(path)  # UTF-8, no anchors/aliases: one short line naming file and line
    except YamlFileError as exc:
        raise ScheduleError(str(exc)) from None
    return parse_schedule(raw, notebooks_dir=notebooks_dir, base_dir=path.resolve().parent, source=str(path))


# --------------------------------------------------------------------------------------------
# notebook parameters

_NO_DEFAULT = object()


class _CheckedHere(logging.Filter):
    """Drop papermill's parameter warnings: :func:`check_parameters` checks names itself (and
    also sees the lines papermill cannot parse, e.g. ``branch = None  # None = whole bank``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not (msg.startswith("Passed unknown parameter") or msg.startswith("Unable to parse line"))


logging.getLogger("papermill").addFilter(_CheckedHere())
logging.getLogger("papermill.translators").addFilter(_CheckedHere())


def _parameters_cell(nb: Any) -> Any | None:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """Return ``{name: default}`` of the notebook's ``parameters`` cell.

    Names come from :func:`papermill.inspect_notebook` plus a parse of the cell with :mod:`ast`
    (papermill's line parser skips lines holding more than one ``=``, e.g. a comment with
    ``==``). Defaults that are not literals are given as their source text.

    Raises
    ------
    ScheduleError
        If the notebook has no cell tagged ``parameters``.
    """
    import nbformat
    import papermill

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    cell = _parameters_cell(nb)
    if cell is None:
        raise ScheduleError(
            f"notebook {path.name} has no code cell tagged 'parameters' "
            "(papermill would inject parameters above the first cell)"
        )
    params: dict[str, Any] = {}
    try:
        inspected = papermill.inspect_notebook(str(path))
    except ValueError:  # e.g. no kernelspec in the metadata: the ast parse below still works
        inspected = {}
    for name, info in inspected.items():
        try:
            params[name] = ast.literal_eval(info.get("default", ""))
        except (ValueError, SyntaxError, TypeError):
            params[name] = info.get("default", _NO_DEFAULT)
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return params
    for node in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id not in params:
                try:
                    params[target.id] = ast.literal_eval(value) if value is not None else _NO_DEFAULT
                except (ValueError, SyntaxError, TypeError):
                    params[target.id] = ast.unparse(value)
    return params


def check_parameters(notebook_path: str | Path, names: Iterable[str], *, where: str = "") -> dict[str, Any]:
    """Raise :class:`ScheduleError` if a name in ``names`` is not a parameter of the notebook.

    Returns the notebook's parameters (``{name: default}``).
    """
    notebook_path = Path(notebook_path)
    known = notebook_parameters(notebook_path)
    unknown = [n for n in names if n not in known]
    if unknown:
        details = "; ".join(f"{n!r}{_close_match(n, known)}" for n in unknown)
        prefix = f"{where}: " if where else ""
        raise ScheduleError(
            f"{prefix}unknown parameter(s) for notebook {notebook_path.stem}: {details}. "
            f"The notebook's parameters are: {', '.join(known) or '(none)'}. "
            "papermill would silently ignore them."
        )
    return known


# --------------------------------------------------------------------------------------------
# expansion

_SLUG_BAD = re.compile(r"[^\w.-]+")
# Readable part of one slug (a branch name, a parameter value), in UTF-8 bytes; a longer one is
# cut there and followed by "-" and HASH_CHARS hex digits of the SHA-256 of the whole value.
SLUG_MAX_BYTES = 80
# A whole output name (the file name without its extension), likewise (so at most 169 bytes):
# file systems allow 255, and temporary names add about 20.
NAME_MAX_BYTES = 160
HASH_CHARS = 8


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def _bounded(text: str, max_bytes: int, *, full: str | None = None) -> str:
    """``text`` when it fits in ``max_bytes`` (UTF-8), else its longest prefix that does (never
    half a character), then ``-`` and the short hash of ``full`` (default ``text``)."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    keep = raw[:max_bytes].decode("utf-8", "ignore").rstrip("-.")
    return f"{keep}-{_short_hash(full if full is not None else text)}"


def _slug(value: Any) -> str:
    """File-name-safe form of a parameter value: letters and digits of any script (UTF-8, so
    Chinese branch names stay readable), ``.``, ``_`` and ``-``; at most SLUG_MAX_BYTES plus a
    hash. Unicode is NFC-normalised first, so one name typed two ways gives one slug.

    >>> _slug("Nord/Ost"), _slug("北京 分行"), _slug(["a", 1]), _slug(True)
    ('Nord-Ost', '北京-分行', 'a-1', 'true')
    >>> long = _slug("x" * 300); len(long.encode()), long[-9:]
    (89, '-0d4e2ca9')
    >>> cut = _slug("北京" * 100); len(cut.encode()), cut[:4], cut[-9:]
    (87, '北京北京', '-3698005d')
    """
    if isinstance(value, (list, tuple)):
        text = "-".join(_slug(v) for v in value)
    elif isinstance(value, Mapping):
        text = "-".join(f"{_slug(k)}-{_slug(v)}" for k, v in value.items())
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = str(value)
    text = unicodedata.normalize("NFC", text)
    slug = _SLUG_BAD.sub("-", text).strip("-") or "x"
    return _bounded(slug, SLUG_MAX_BYTES, full=text)


def job_name(notebook: str, parameters: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> str:
    """Return ``<notebook>__<slug>`` for a parameter set (see the module docstring); at most
    NAME_MAX_BYTES bytes in UTF-8."""
    defaults = defaults or {}
    parts = []
    for key in sorted(parameters):
        if key in RUN_PARAMETERS or key == "branch":
            continue
        value = parameters[key]
        if key in defaults and defaults[key] == value:
            continue
        parts.append(f"{_slug(key)}-{_slug(value)}")
    branch = parameters.get("branch")
    parts.append("bank" if branch is None else f"branch-{_slug(branch)}")
    return _bounded(f"{notebook}__{'__'.join(parts)}", NAME_MAX_BYTES)


def _identity(job: Job) -> str:
    """What makes a report distinct: its notebook and parameters (not the run's data/as_of)."""
    params = {k: v for k, v in job.parameters.items() if k not in RUN_PARAMETERS}
    return json.dumps([job.notebook, params], sort_keys=True, ensure_ascii=False, default=str)


def _disambiguate(jobs: list[Job], source: str) -> list[Job]:
    """Give distinct reports distinct file names.

    Names that differ only in case clash on case-insensitive file systems (macOS, Windows), so
    they count as equal. Every report of a clashing group (two branches ``Nord/Ost`` and
    ``Nord Ost``, say) gets ``-`` and the short hash of its parameters: deterministic, and the
    same whatever the order of the branches. Two entries with the same notebook and parameters
    are a schedule error.
    """
    groups: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        groups.setdefault(job.name.casefold(), []).append(i)
    out = list(jobs)
    for members in groups.values():
        if len(members) < 2:
            continue
        seen: dict[str, Job] = {}
        for i in members:
            key = _identity(jobs[i])
            if key in seen:
                raise ScheduleError(
                    f"{source}: two reports would both be written as {jobs[i].name!r} "
                    f"(parameters {seen[key].parameters} and {jobs[i].parameters}); make the entries differ"
                )
            seen[key] = jobs[i]
            name = _bounded(f"{jobs[i].name}-{_short_hash(key)}", NAME_MAX_BYTES)
            out[i] = dataclasses.replace(jobs[i], name=name)
    return out


def _list_branches(data: Any) -> list[str]:
    from analysis.data import list_branches

    return [str(b) for b in list_branches(data)]


def expand(
    schedule: Schedule,
    *,
    data: Any = "synthetic",
    as_of: str | None = None,
    only: Sequence[str] | None = None,
    branches: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
) -> list[Job]:
    """Expand a schedule to concrete jobs, checking every parameter name first.

    Parameters
    ----------
    schedule : Schedule
    data : str or path
        The data source passed to every notebook.
    as_of : str, optional
        The as-of date passed to every notebook.
    only : list of str, optional
        Keep only these notebooks (notebook names or output names).
    branches : list of str, optional
        Branch list for ``per_branch`` entries; default :func:`analysis.data.list_branches`.
    languages : list of str, optional
        Report languages (each report is rendered once per language, parameter ``lang``);
        default the schedule's ``languages`` (English unless it says otherwise).
    """
    languages = (_languages(list(languages), "--lang") if languages is not None
                 else schedule.languages)
    if branches is None and any(e.per_branch for e in schedule.entries):
        branches = _list_branches(data)

    jobs: list[Job] = []
    for i, entry in enumerate(schedule.entries, start=1):
        path = schedule.notebooks_dir / f"{entry.notebook}.ipynb"
        base = dict(entry.parameters)
        needed = (list(base) + list(RUN_PARAMETERS) + (["branch"] if entry.per_branch else [])
                  + (["lang"] if languages != ("en",) else []))
        defaults = check_parameters(path, needed, where=f"{schedule.source}: reports[{i}]")
        scopes: list[Any] = [None, *(branches or [])] if entry.per_branch else [base.get("branch")]
        for lang in languages:
            for branch in scopes:
                params = {**base, "data": data, "as_of": as_of}
                if entry.per_branch or "branch" in base:
                    params["branch"] = branch
                if lang != "en":  # English reports keep their names (and older notebooks work)
                    params["lang"] = lang
                name = job_name(entry.notebook, params, defaults)
                jobs.append(Job(name=name, notebook=entry.notebook, path=path, parameters=params))

    # names are settled over the whole schedule, so that --notebook does not change them
    jobs = _disambiguate(jobs, schedule.source)
    if only:
        wanted = [o[: -len(".ipynb")] if o.endswith(".ipynb") else o for o in only]
        known = {j.notebook for j in jobs} | {j.name for j in jobs}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise ScheduleError(
                f"{schedule.source}: {missing[0]!r} is not a scheduled notebook or report"
                f"{_close_match(missing[0], known)}; scheduled notebooks: {', '.join(schedule.notebooks)}"
            )
        jobs = [j for j in jobs if j.notebook in wanted or j.name in wanted]
    return jobs


def navigation(jobs: Sequence[Job]) -> dict[str, list[dict[str, Any]]]:
    """For each job, the reports a reader may go to from it: the same scope's reports in the
    same language (``kind: "report"``; one per notebook, the variants that agree on the
    parameters they share), and the same report in the other languages (``kind: "language"``).

    Returns
    -------
    dict
        Job name -> list of ``{"kind", "notebook", "lang", "href", "current"}`` (``href``: the
        file name, in the same folder).
    """
    fixed = (*RUN_PARAMETERS, "branch", "lang")

    def lang_of(job: Job) -> str:
        return job.parameters.get("lang") or "en"

    def agree(a: Job, b: Job) -> bool:
        shared = (set(a.parameters) & set(b.parameters)) - set(fixed)
        return all(a.parameters[k] == b.parameters[k] for k in shared)

    out: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        here = (job.parameters.get("branch"), lang_of(job))
        links: list[dict[str, Any]] = []
        for other in jobs:
            if (other.parameters.get("branch"), lang_of(other)) != here or not agree(job, other):
                continue
            if other.name != job.name and (other.notebook == job.notebook or any(
                    x["notebook"] == other.notebook for x in links)):
                continue  # one link per notebook
            links.append({"kind": "report", "notebook": other.notebook, "lang": here[1],
                          "href": f"{other.name}.html", "current": other.name == job.name})
        for other in jobs:
            if (other.notebook == job.notebook and lang_of(other) != here[1]
                    and other.parameters.get("branch") == here[0]
                    and {k: v for k, v in other.parameters.items() if k != "lang"}
                    == {k: v for k, v in job.parameters.items() if k != "lang"}):
                links.append({"kind": "language", "notebook": other.notebook,
                              "lang": lang_of(other), "href": f"{other.name}.html",
                              "current": False})
        out[job.name] = links
    return out
