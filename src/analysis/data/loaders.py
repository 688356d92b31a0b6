"""Load a data source into a validated :class:`~analysis.data.portfolio.Portfolio`.

A *data source* is what reports take as their ``data`` parameter:

- ``"synthetic"``: the embedded default portfolio (generated into ``data/synthetic`` on first use);
- a directory holding ``customers`` and ``panel`` tables (``.parquet`` or ``.csv``; the panel may
  also be a directory of Parquet parts) and optionally ``truth.json``.

Loading validates everything and fails with a :class:`~analysis.data.schemas.DataValidationError`
naming the file, the column and the rows at fault (file rows, counted from 1 under the header),
every problem of both tables in one message. Nothing is dropped silently: customers that cannot
be used are listed in ``Portfolio.exclusions`` with the reason. CSV tables are UTF-8; a folder in
another encoding is described by a mapping file (``format: panel``, ``path:``, ``encoding:``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config
from analysis.data.extracts import Parts, read_parts
from analysis.data.messages import some
from analysis.data.mapping import is_mapping, load_snapshot, read_mapping
from analysis.data.portfolio import Portfolio
from analysis.data.privacy import personal_problems
from analysis.data.schemas import (
    CUSTOMERS_SCHEMA,
    PANEL_SCHEMA,
    DataValidationError,
    problem,
    validate,
)

__all__ = [
    "ensure_default_data",
    "load_source",
    "load_panel",
    "load_customers",
    "list_branches",
    "validate_source",
    "ValidationSummary",
    "VALIDATED_ENV",
    "write_validated",
]

#: Environment variable naming a folder written by :func:`write_validated`: a render validates
#: the book once and its kernels read the checked, typed tables from there (same content hash
#: only) instead of validating the same files again, once per report.
VALIDATED_ENV = "ANALYSIS_VALIDATED_DIR"
_VALIDATED_TABLES = ("customers", "panel", "exclusions")
#: The exclusion reason of a customer with no panel month (the cross-table check).
NO_MONTHS = "no months on book inside the window"


#: Names of the embedded synthetic sources -> generator scenario (``SyntheticConfig.scenario``).
SYNTHETIC_SOURCES: dict[str, str] = {"synthetic": "default", "synthetic-feedback": "feedback"}


def ensure_default_data(out_dir: str | Path | None = None, scenario: str = "default") -> Path:
    """Make sure the embedded default portfolio exists; generate it if missing or stale.

    The default is fully determined by :class:`~analysis.data.synthetic.SyntheticConfig`'s
    defaults and the generator's code (its hash is stored beside the data), so regenerating
    gives the same data; a change of either regenerates it. ``scenario="feedback"`` is the
    feedback scenario's book (source ``"synthetic-feedback"``, folder ``synthetic-feedback``).
    ``truth.json`` also holds ``"value"``, the true customer lifetime values
    (:func:`analysis.data.value_truth.value_truth`, about 10 s): a copy without it is regenerated.
    """
    import importlib

    from analysis.data import dynamics, synthetic, truth_cache
    from analysis.data.synthetic import SyntheticConfig, generate_portfolio, write_portfolio

    # the module (the package's name ``value_truth`` is its function)
    value_truth = importlib.import_module("analysis.data.value_truth")

    out = Path(out_dir) if out_dir is not None else (
        config.DEFAULT_DATA_DIR if scenario == "default"
        else config.DEFAULT_DATA_DIR.with_name(f"synthetic-{scenario}"))
    cfg = SyntheticConfig.scenario(scenario)
    expected = json.loads(json.dumps(dataclasses.asdict(cfg)))
    # The generator's source is part of the data's identity: a code change regenerates.
    stamp = hashlib.sha256(b"".join(
        Path(m.__file__).read_bytes()
        for m in (synthetic, dynamics, truth_cache, value_truth))).hexdigest()[:16]
    truth_file, stamp_file = out / "truth.json", out / "generator.sha"
    fresh = (
        (out / "panel.parquet").exists()
        and (out / "customers.parquet").exists()
        and truth_file.exists()
        and stamp_file.exists()
        and stamp_file.read_text().strip() == stamp
    )
    if fresh:
        try:
            truth = json.loads(truth_file.read_text())
            if truth.get("config") == expected and "value" in truth:
                return out
        except json.JSONDecodeError:
            pass
    portfolio = generate_portfolio(scenario=scenario)
    portfolio.truth["value"] = value_truth.value_truth(cfg)
    write_portfolio(portfolio, out)
    tmp = out / ".generator.sha.tmp"
    tmp.write_text(stamp)
    tmp.replace(stamp_file)
    return out


def _find_table(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.parquet", folder / name, folder / f"{name}.csv"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"{folder}: no '{name}' table found (expected {name}.parquet, {name}.csv or a "
        f"folder {name}/ of Parquet parts)"
    )


_KEY_HINT = "describe the folder with a mapping file (format: panel, path: FOLDER) and set 'encoding:' in it"


def _read_table(path: Path, encoding: str = "utf-8", key_hint: str = _KEY_HINT) -> tuple[pd.DataFrame, Parts]:
    df, parts = read_parts(path, dtype={"customer_id": str}, encoding=encoding, key_hint=key_hint)
    if "customer_id" in df:
        df["customer_id"] = df["customer_id"].astype(str)
    return df, parts


def _checked_customers(path: Path, encoding: str = "utf-8", key_hint: str = _KEY_HINT, allow=()):
    df, parts = _read_table(path, encoding, key_hint)
    return _check_customers_frame(df, str(path), parts, allow), parts


def _check_customers_frame(df: pd.DataFrame, source: str, parts: Parts | None = None, allow=()):
    """The customers table checked (schema, no personal data in ``branch``); raises on problems."""
    df = validate(df, CUSTOMERS_SCHEMA, source, parts)
    # The branch column's levels are printed in every report: not one per customer.
    if found := personal_problems(df, {"branch": "branch"}, list(allow)):
        raise DataValidationError(source, found)
    return df


def _checked_panel(path: Path, encoding: str = "utf-8", key_hint: str = _KEY_HINT):
    """The validated panel in FILE order (index = file position) and its parts.

    Schema and consistency problems are reported together: the consistency checks run on the
    rows whose key columns can be read even when other values break the schema.
    """
    df, parts = _read_table(path, encoding, key_hint)
    return _check_panel_frame(df, str(path), parts), parts


def _check_panel_frame(df: pd.DataFrame, source: str, parts: Parts | None = None) -> pd.DataFrame:
    """The panel checked (schema and consistency, every problem in one error), in file order."""
    problems = []
    try:
        checked = validate(df, PANEL_SCHEMA, source, parts)
    except DataValidationError as exc:
        problems, checked = exc.problems, None
    problems += panel_problems(checked if checked is not None else _readable_keys(df), parts)
    if problems:
        raise DataValidationError(source, problems)
    return checked


def _readable_keys(df: pd.DataFrame) -> pd.DataFrame:
    """The rows whose customer, month, tenure and closed flag can be read (for the consistency checks)."""
    need = ["customer_id", "month", "tenure_months", "closed"]
    if any(c not in df for c in need):
        return df.iloc[:0][[c for c in need if c in df]]
    flags = {"true": True, "1": True, "1.0": True, "false": False, "0": False, "0.0": False}
    keys = pd.DataFrame(
        {
            "customer_id": df["customer_id"],
            "month": pd.to_datetime(df["month"], errors="coerce"),
            "tenure_months": pd.to_numeric(df["tenure_months"], errors="coerce"),
            "closed": df["closed"].astype(str).str.strip().str.lower().map(flags),
        },
        index=df.index,
    )
    return keys.dropna()


def load_customers(path: str | Path) -> pd.DataFrame:
    """Read and validate a customers table (``.parquet``, ``.csv`` or a folder of parts)."""
    return _checked_customers(Path(path))[0]


def load_panel(path: str | Path) -> pd.DataFrame:
    """Read and validate a monthly panel (schema plus month/tenure consistency).

    Checks, each reported with example rows: duplicated (customer, month) rows; months that are
    not consecutive within a customer (a gap) or whose tenure does not advance by one month per
    calendar month (months out of order); a ``closed`` flag on any row but a customer's last.
    Rows are named by their number in the file. The returned frame is sorted by customer and month.
    """
    df, _ = _checked_panel(Path(path))
    return _sorted(df).reset_index(drop=True)


def _sorted(panel: pd.DataFrame) -> pd.DataFrame:
    """By customer and month, keeping the file positions as the index (for messages)."""
    return panel.sort_values(["customer_id", "month"], kind="stable")


def check_panel_consistency(df: pd.DataFrame, source: str, parts: Parts | None = None) -> None:
    """Raise :class:`DataValidationError` when months and tenures do not line up.

    ``df`` is in file order; rows are reported as file rows (see :func:`panel_problems`).
    """
    problems = panel_problems(df, parts)
    if problems:
        raise DataValidationError(source, problems)


def panel_problems(df: pd.DataFrame, parts: Parts | None = None) -> list[str]:
    """Every month/tenure/closed inconsistency of a panel, one line per kind.

    ``df`` needs ``customer_id``, ``month`` (dates), ``tenure_months`` and ``closed``; its
    index says where each row is in the file (positions, as read); ``parts`` turns positions of
    a folder of parts into ``part:row`` labels.
    """
    if len(df) == 0:
        return []
    where = df.index  # file positions, whatever order the checks sort the rows in

    def rows(labels) -> list:
        positions = where.get_indexer(labels)
        return parts.labels(positions) if parts is not None else list(positions)

    problems = []
    dup = df.duplicated(["customer_id", "month"], keep=False)
    if dup.any():
        problems.append(problem("month", "the same customer and month appear twice", rows(df.index[dup])))
    order = _sorted(df)
    mi = order["month"].dt.year * 12 + order["month"].dt.month
    same = order["customer_id"].eq(order["customer_id"].shift())
    step = (mi - mi.shift()).where(same)
    tstep = (order["tenure_months"] - order["tenure_months"].shift()).where(same)
    gap = same & (step > 1)
    if gap.any():
        problems.append(
            problem("month", "a gap in a customer's months (months must be consecutive)", sorted(rows(order.index[gap])))
        )
    bad_t = same & (step == 1) & (tstep != 1)
    if bad_t.any():
        bad = order.loc[bad_t].sort_index()
        problems.append(
            problem(
                "tenure_months",
                "months out of order: tenure does not advance by 1 each calendar month",
                rows(bad.index),
                bad["tenure_months"],
            )
        )
    last = ~order["customer_id"].eq(order["customer_id"].shift(-1))
    early_close = order["closed"].astype(bool) & ~last
    if early_close.any():
        problems.append(
            problem(
                "closed",
                "the relationship is marked closed but months follow (closed must be the last month)",
                sorted(rows(order.index[early_close])),
            )
        )
    return problems


def _cross_check(customers: pd.DataFrame, panel: pd.DataFrame, source: str, parts: Parts | None = None) -> pd.DataFrame:
    """Check the two tables agree; return exclusions (customers with no panel months).

    ``panel`` is sorted by customer and month with file positions as its index (:func:`_sorted`).
    """
    problems = []

    def rows(labels) -> list:
        positions = sorted(labels)  # the index holds file positions
        return parts.labels(positions) if parts is not None else positions

    unknown = ~panel["customer_id"].isin(customers["customer_id"])
    if unknown.any():
        problems.append(
            problem(
                "customer_id",
                "panel customers missing from the customers table",
                rows(panel.index[unknown]),
                panel.loc[unknown, "customer_id"].unique(),
                masked=True,
            )
        )
    first = panel.groupby("customer_id", sort=False).head(1)  # each customer's first month
    merged = (
        first.rename_axis("position").reset_index()
        .merge(customers[["customer_id", "open_date"]], on="customer_id", how="inner")
        .sort_values("position")
    )
    opened = merged["open_date"].dt.year * 12 + merged["open_date"].dt.month
    seen = merged["month"].dt.year * 12 + merged["month"].dt.month
    wrong = (seen - opened) != merged["tenure_months"]
    if wrong.any():
        problems.append(
            problem(
                "tenure_months",
                "tenure does not match open_date (tenure = months since open_date)",
                rows(merged.loc[wrong, "position"]),
                merged.loc[wrong, "tenure_months"],
            )
        )
    if problems:
        raise DataValidationError(source, problems)
    absent = customers.loc[~customers["customer_id"].isin(panel["customer_id"]), "customer_id"]
    return pd.DataFrame({"customer_id": absent, "reason": NO_MONTHS})


def _fingerprint_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in (".parquet", ".pq", ".csv")) if p.is_dir() else [p]
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:12]


def _load_tables(cust_path: Path, panel_path: Path, source: str, encoding="utf-8", key_hint=_KEY_HINT, allow=()):
    """Both tables validated and cross-checked, every problem of both files in one error."""
    errors, read = [], {}
    for name, path in (("customers", cust_path), ("panel", panel_path)):
        try:
            read[name] = _read_table(path, encoding, key_hint)
        except DataValidationError as exc:
            errors.append(exc)
    if errors:  # a table that cannot be read: say so, and check what could be read
        for name, path in (("customers", cust_path), ("panel", panel_path)):
            if name in read:
                try:
                    check_frames(**{name: read[name][0]}, sources={name: str(path)},
                                 parts={name: read[name][1]}, source=source, allow=allow)
                except DataValidationError as exc:
                    errors.append(exc)
        raise errors[0] if len(errors) == 1 else DataValidationError.combine(source, errors)
    return check_frames(read["customers"][0], read["panel"][0], source=source, allow=allow,
                        sources={"customers": str(cust_path), "panel": str(panel_path)},
                        parts={"customers": read["customers"][1], "panel": read["panel"][1]})


def check_frames(customers: pd.DataFrame | None = None, panel: pd.DataFrame | None = None, *,
                 source: str, sources: dict, parts: dict | None = None, allow=()):
    """Check a customers table and a panel as read (schemas, consistency, cross-checks).

    Returns ``(customers, panel, exclusions)``: the checked tables (the panel sorted by
    customer and month) and the customers with no panel months. Raises one
    :class:`DataValidationError` naming every problem of both tables; ``sources`` names each
    table's file, ``parts`` says where its rows came from (for row numbers).
    """
    parts = parts or {}
    errors, checked = [], {}
    for name, df, check in (("customers", customers, _check_customers_frame),
                            ("panel", panel, _check_panel_frame)):
        if df is None:
            continue
        try:
            args = (allow,) if name == "customers" else ()
            checked[name] = check(df, sources[name], parts.get(name), *args)
        except DataValidationError as exc:
            errors.append(exc)
    exclusions = None
    if not errors and len(checked) == 2:  # cross-file checks need both tables readable
        panel_sorted = _sorted(checked["panel"])
        checked["panel"] = panel_sorted
        try:
            exclusions = _cross_check(checked["customers"], panel_sorted, sources["panel"],
                                      parts.get("panel"))
        except DataValidationError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DataValidationError.combine(source, errors)
    panel_out = checked.get("panel")
    return (checked.get("customers"),
            None if panel_out is None else panel_out.reset_index(drop=True), exclusions)


def load_source(data: str | Path = "synthetic") -> Portfolio:
    """Load a data source (see module docstring) into a validated Portfolio.

    Parameters
    ----------
    data : str or Path
        ``"synthetic"`` for the embedded default, a directory with ``customers`` and ``panel``,
        or a YAML mapping file describing a one-row-per-customer extract
        (:mod:`analysis.data.mapping`).

    Raises
    ------
    DataValidationError
        When a table breaks its schema; the message names file, column and rows.
    FileNotFoundError
        When the source or one of its tables does not exist.
    """
    read = {}  # how to read a panel folder: from its mapping file, if any
    if is_mapping(data):
        mapping = read_mapping(data)
        if mapping.format == "snapshot":
            return load_snapshot(mapping)
        data = mapping.path
        read = {"encoding": mapping.encoding, "key_hint": f"set 'encoding:' in the mapping file {mapping.source.name}"}
        read["allow"] = mapping.allow_personal
    if str(data) in SYNTHETIC_SOURCES:
        folder = ensure_default_data(scenario=SYNTHETIC_SOURCES[str(data)])
        source = str(data)
    else:
        folder = Path(data).expanduser()
        source = str(folder)
        if not folder.exists():
            raise FileNotFoundError(f"data source {folder} does not exist")
    cust_path, panel_path = _find_table(folder, "customers"), _find_table(folder, "panel")
    fingerprint = _fingerprint_files([cust_path, panel_path])
    tables = _read_validated(fingerprint, read)
    if tables is None and not read and _checked_by_render(fingerprint):
        tables = _trusted_tables(cust_path, panel_path)
    if tables is None:
        tables = _load_tables(cust_path, panel_path, str(folder), **read)
    customers, panel, exclusions = tables
    truth = None
    if (folder / "truth.json").exists():
        truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    return Portfolio(
        customers=customers,
        panel=panel,
        truth=truth,
        source=source,
        fingerprint=fingerprint,
        exclusions=exclusions,
        load_options=dict(read),
    )


def _checked_by_render(fingerprint: str) -> bool:
    """True when a render checked these very files as a large book (same content hash)."""
    import os

    from analysis.data.large_book import VALIDATED_BOOK_ENV

    return bool(fingerprint) and os.environ.get(VALIDATED_BOOK_ENV) == fingerprint


def _trusted_tables(cust_path: Path, panel_path: Path):
    """Both tables read and typed as the checks would leave them, without checking again (the
    render that started this kernel checked the same files: :func:`_checked_by_render`)."""
    customers = CUSTOMERS_SCHEMA.coerce_dtype(_read_table(cust_path)[0])
    panel = _sorted(PANEL_SCHEMA.coerce_dtype(_read_table(panel_path)[0])).reset_index(drop=True)
    absent = customers.loc[~customers["customer_id"].isin(panel["customer_id"]), "customer_id"]
    exclusions = pd.DataFrame({"customer_id": absent, "reason": NO_MONTHS})
    return customers, panel, exclusions


def _read_options(read: dict) -> str:
    return json.dumps({k: (list(v) if isinstance(v, (list, tuple, set)) else v)
                       for k, v in sorted(read.items())}, default=str, sort_keys=True)


def write_validated(portfolio: Portfolio, folder: str | Path) -> Path:
    """Write a loaded book's checked tables to ``folder`` for :data:`VALIDATED_ENV`.

    ``folder`` should be temporary (a render's staging folder, removed when the run ends): it
    holds a copy of the data. The copy is used only by a load whose files have the same content
    hash (``portfolio.fingerprint``) and the same reading options.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in _VALIDATED_TABLES:
        getattr(portfolio, name).to_parquet(folder / f"{name}.parquet", index=False)
    meta = {"fingerprint": portfolio.fingerprint,
            "read": _read_options(portfolio.load_options)}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def _read_validated(fingerprint: str, read: dict):
    """The tables of :func:`write_validated` when :data:`VALIDATED_ENV` names a copy of these
    very files (same hash and reading options); None otherwise (then the files are checked)."""
    import os

    where = os.environ.get(VALIDATED_ENV)
    if not where:
        return None
    folder = Path(where)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("fingerprint") != fingerprint or meta.get("read") != _read_options(read):
        return None
    return tuple(pd.read_parquet(folder / f"{name}.parquet") for name in _VALIDATED_TABLES)


def list_branches(data: str | Path = "synthetic") -> list[str]:
    """Branches of a data source (for one report per branch)."""
    if is_mapping(data):
        return load_source(data).branches
    if str(data) in SYNTHETIC_SOURCES:
        folder = ensure_default_data(scenario=SYNTHETIC_SOURCES[str(data)])
    else:
        folder = Path(data)
    customers, _ = _read_table(_find_table(folder, "customers"))
    return sorted(customers["branch"].astype(str).unique().tolist())


@dataclass
class ValidationSummary:
    """What ``analysis validate`` prints: sizes, events and exclusions."""

    source: str
    customers: int
    panel_rows: int
    first_month: str
    last_month: str
    branches: list[str]
    closures: int
    left_truncated: int
    exclusions: pd.DataFrame
    kind: str = "panel"
    notes: list = dataclasses.field(default_factory=list)
    columns: list = dataclasses.field(default_factory=list)

    def to_text(self) -> str:
        lines = [f"data source   : {self.source}", f"kind          : {self.kind}"]
        lines.append(f"customers     : {self.customers:,}")
        if self.kind == "panel":
            lines.append(f"panel rows    : {self.panel_rows:,} ({self.first_month} to {self.last_month})")
        else:
            lines.append(f"columns       : {', '.join(self.columns)}")
        lines += [
            f"branches      : {len(self.branches)} ({some(self.branches, limit=20) or 'none mapped'})",
            f"events        : {self.closures:,} customers left"
            + (f" ({self.closures / max(self.customers, 1):.1%})" if self.customers else ""),
            f"entered late  : {self.left_truncated:,} customers already on book at the window start"
            " (left truncation, handled)",
        ]
        for note in self.notes:
            lines.append(f"note          : {note}")
        if len(self.exclusions):
            lines.append(f"exclusions    : {len(self.exclusions):,} customers")
            for reason, n in self.exclusions["reason"].value_counts().items():
                lines.append(f"  - {n:,}: {reason}")
        else:
            lines.append("exclusions    : none")
        lines.append("status        : OK")
        return "\n".join(lines)


def validate_source(data: str | Path = "synthetic") -> ValidationSummary:
    """Load and check a data source without rendering anything; raise on bad data.

    A large Parquet book (:mod:`analysis.data.large_book`) is checked and counted by SQL,
    never loaded whole.
    """
    from analysis.data.large_book import check_book, open_book

    book = open_book(data)
    if book is not None and book.is_large():
        return _book_summary(book, check_book(book))
    p = load_source(data)
    if p.kind == "snapshot":
        snap = p.snapshot
        return ValidationSummary(
            source=p.source,
            customers=len(snap),
            panel_rows=0,
            first_month="",
            last_month="",
            branches=p.branches,
            closures=int(snap["event"].sum()),
            left_truncated=int((snap["entry"] > 0).sum()),
            exclusions=p.exclusions,
            kind="snapshot",
            notes=list(p.notes),
            columns=[c for c in snap.columns if c not in ("customer_id",)],
        )
    first = p.panel.groupby("customer_id", sort=False).head(1)
    return ValidationSummary(
        source=p.source,
        customers=len(p.customers),
        panel_rows=len(p.panel),
        first_month=f"{p.window_start:%Y-%m}",
        last_month=f"{p.window_end:%Y-%m}",
        branches=p.branches,
        closures=int(p.panel["closed"].sum()),
        left_truncated=int((first["tenure_months"] > 0).sum()),
        exclusions=p.exclusions,
        notes=list(p.notes),
    )


def _book_summary(book, exclusions: pd.DataFrame) -> ValidationSummary:
    """:class:`ValidationSummary` of a large book, counted by SQL (the same numbers as a load)."""
    from analysis.data.large_book import model_sample_size

    row = book.query(f"""
        WITH p AS (SELECT CAST(customer_id AS VARCHAR) AS id, month, tenure_months, closed,
                          ROW_NUMBER() OVER (PARTITION BY CAST(customer_id AS VARCHAR)
                                             ORDER BY month) AS k
                   FROM {book.sql('panel')})
        SELECT COUNT(*) AS rows, MIN(month) AS first, MAX(month) AS last,
               COUNT(*) FILTER (WHERE closed) AS closures,
               COUNT(*) FILTER (WHERE k = 1 AND tenure_months > 0) AS truncated
        FROM p""").iloc[0]
    return ValidationSummary(
        source=book.source,
        customers=book.n_customers,
        panel_rows=int(row["rows"]),
        first_month=f"{pd.Timestamp(row['first']):%Y-%m}",
        last_month=f"{pd.Timestamp(row['last']):%Y-%m}",
        branches=book.branches(),
        closures=int(row["closures"]),
        left_truncated=int(row["truncated"]),
        exclusions=exclusions,
        notes=[f"large book: checked and counted by SQL, not loaded whole (more than "
               f"{model_sample_size():,} customers)"],
    )

