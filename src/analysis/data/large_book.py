"""Large books: what a report needs from the Parquet files, without the whole book in pandas.

A book of more customers than the reports' model sample (:func:`model_sample_size`:
:data:`analysis.config.MODEL_SAMPLE`, or the ``ANALYSIS_MODEL_SAMPLE`` environment variable) is
not loaded whole. Instead it is

- **checked by SQL** (:func:`check_book`, :mod:`analysis.data.sql_checks`): the same schema,
  consistency and cross-table checks as :func:`analysis.data.load_source`, as DuckDB queries over
  the files. When a query finds a problem the pandas checks run (chunk by chunk, then on the whole
  book once), so that the error names every row at fault exactly as for a small book; a render
  checks once and tells its kernels (:data:`VALIDATED_BOOK_ENV`);
- **counted by SQL** (:func:`analysis.studies.whole_book.book_counts`): every customer counted
  per group, entry, exit and departure by the data layer (:func:`analysis.frames.survival_counts`)
  from the Parquet files. Counts, rates, survival curves, log-rank tests and summaries read them
  exactly, and report 02 fits its
  time-varying model on the whole book, piecewise exponential from counts per band of tenure and
  covariate cell (:func:`analysis.studies.whole_book.book_cells`);
- **sampled** (:func:`load_sample`): a seeded random sample of customers with their whole monthly
  histories, loaded and checked like a small book. Models (Cox, time-varying, IPW, g-formula,
  frailty) are fitted on it and reports say so, with the sample size and seed. The sample is the
  first ``n`` customers in the order of ``md5(customer_id || ':' || seed)``: the same customers in
  every report and on every engine. A branch's reports model the branch's customers within that
  bank-wide sample, so the schedule's many branch reports cost about one bank-wide report in all.

Only folders whose two tables are Parquet (a file or a folder of parts) are read this way; CSV
extracts and one-row-per-customer mappings load as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.data.portfolio import Portfolio

__all__ = ["MODEL_SAMPLE_ENV", "VALIDATED_BOOK_ENV", "BOOK_CACHE_ENV", "Book", "ModelSample",
           "model_sample_size", "open_book", "check_book", "book_panel", "book_customers",
           "load_sample", "load_for_models", "as_read"]

#: Environment variable: the number of customers that models are fitted on in a large book.
MODEL_SAMPLE_ENV = "ANALYSIS_MODEL_SAMPLE"
#: Environment variable a render sets after checking a large book once: its fingerprint (the
#: kernels then skip the check of the very same files).
VALIDATED_BOOK_ENV = "ANALYSIS_VALIDATED_BOOK"
#: Environment variable naming a folder where a render keeps the whole bank's survival counts and
#: exposure cells of a large book (one per definition), so that branch reports slice them
#: (:func:`analysis.studies.whole_book.book_counts`,
#: :func:`analysis.studies.whole_book.book_cells`).
BOOK_CACHE_ENV = "ANALYSIS_BOOK_CACHE"
_PARQUET = (".parquet", ".pq")


def model_sample_size() -> int:
    """Customers that models are fitted on in a large book (environment, else config)."""
    text = os.environ.get(MODEL_SAMPLE_ENV, "").strip()
    if not text:
        return int(config.MODEL_SAMPLE)
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise ValueError(f"{MODEL_SAMPLE_ENV} must be a whole number of customers, got {text!r}") from None
    if value < 100:
        raise ValueError(f"{MODEL_SAMPLE_ENV} must be at least 100 customers, got {value}")
    return value


@dataclass(frozen=True)
class ModelSample:
    """A seeded sample of a book's customers: ``customers`` drawn from ``of`` (of ``branch``,
    when set) of ``book``, whose whole-book aggregates a report may show next to the sample's
    models."""

    customers: int
    of: int
    seed: int
    book: Book | None = field(default=None, compare=False, repr=False)
    branch: str | None = None
    draw: int | None = None  # the size of the bank-wide draw a branch's sample is part of

    def to_dict(self) -> dict:
        return {"customers": self.customers, "of": self.of, "seed": self.seed}


@dataclass
class Book:
    """A Parquet book on disk: its two tables, size and content hash."""

    folder: Path
    customers: Path
    panel: Path
    source: str
    n_customers: int
    truth: dict | None = field(default=None, repr=False)

    @cached_property
    def fingerprint(self) -> str:
        """The content hash of both tables (read once, only when asked: a book below the
        model sample is loaded, and hashed, by :func:`analysis.data.load_source`)."""
        from analysis.data.loaders import _fingerprint_files

        return _fingerprint_files([self.customers, self.panel])

    def require_branch(self, branch: str | None) -> None:
        """Raise :class:`ValueError` naming the known branches when ``branch`` is not one."""
        if branch is not None and str(branch) not in (known := self.branches()):
            from analysis.data.messages import short, some

            raise ValueError(f"branch {short(branch)} is not in the data (source {self.source}); "
                             f"known branches: {some(known, limit=20)}")

    def sql(self, name: str) -> str:
        """DuckDB SQL reading one table (``"customers"`` or ``"panel"``)."""
        path = getattr(self, name)
        target = (path / "*.parquet") if path.is_dir() else path
        return f"read_parquet('{_quote(target.as_posix())}')"

    def query(self, sql: str, **frames: pd.DataFrame) -> pd.DataFrame:
        """Run DuckDB SQL (the package's settings); ``frames`` are registered by name."""
        con = config.duckdb_connection()
        try:
            for name, df in frames.items():
                con.register(name, df)
            return con.execute(sql).df()
        finally:
            con.close()

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last month of the panel."""
        row = self.query(f"SELECT MIN(month) AS a, MAX(month) AS b FROM {self.sql('panel')}").iloc[0]
        return pd.Timestamp(row["a"]), pd.Timestamp(row["b"])

    def branches(self) -> list[str]:
        got = self.query(f"SELECT DISTINCT CAST(branch AS VARCHAR) AS b FROM {self.sql('customers')} "
                         "WHERE branch IS NOT NULL ORDER BY b")
        return got["b"].astype(str).tolist()

    def count(self, branch: str | None = None) -> int:
        where = "" if branch is None else f" WHERE CAST(branch AS VARCHAR) = '{_quote(branch)}'"
        return int(self.query(f"SELECT COUNT(*) AS n FROM {self.sql('customers')}{where}")["n"].iloc[0])

    def customer_ids(self, branch: str | None = None) -> pd.Series:
        """The customer ids (as text) of the book or of one branch."""
        where = "" if branch is None else f" WHERE CAST(branch AS VARCHAR) = '{_quote(branch)}'"
        return self.query(f"SELECT CAST(customer_id AS VARCHAR) AS customer_id "
                          f"FROM {self.sql('customers')}{where}")["customer_id"]

    def is_large(self, sample: int | None = None) -> bool:
        return self.n_customers > (model_sample_size() if sample is None else int(sample))


def _quote(text: str) -> str:
    return str(text).replace("'", "''")


def _parquet_table(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.parquet", folder / name):
        if candidate.is_file():
            return candidate
        if candidate.is_dir():
            files = [p for p in candidate.iterdir() if p.suffix.lower() in (".parquet", ".pq", ".csv")]
            if files and all(p.suffix.lower() in _PARQUET for p in files):
                return candidate
    return None


def open_book(data) -> Book | None:
    """The :class:`Book` of a data folder whose two tables are Parquet; None otherwise.

    ``data`` is a report's data source: a folder, or ``"synthetic"`` (the embedded default).
    Mapping files and CSV tables give None (they are read by :func:`analysis.data.load_source`).
    """
    from analysis.data.loaders import SYNTHETIC_SOURCES, ensure_default_data
    from analysis.data.mapping import is_mapping

    if data is None or is_mapping(data):
        return None
    if str(data) in SYNTHETIC_SOURCES:
        folder, source = ensure_default_data(scenario=SYNTHETIC_SOURCES[str(data)]), str(data)
    else:
        folder = Path(data).expanduser()
        source = str(folder)
        if not folder.is_dir():
            return None
    customers, panel = _parquet_table(folder, "customers"), _parquet_table(folder, "panel")
    if customers is None or panel is None:
        return None
    truth_file = folder / "truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.exists() else None
    book = Book(folder=folder, customers=customers, panel=panel, source=source, n_customers=0,
                truth=truth)
    book.n_customers = book.count()
    return book


def _bucket(n_chunks: int) -> str:
    return f"(hash(CAST(customer_id AS VARCHAR)) % {int(n_chunks)})"


def check_book(book: Book, chunk_customers: int = 100_000) -> pd.DataFrame:
    """Check a large book; return its exclusions (customers with no month on book).

    The checks of :func:`analysis.data.load_source` run first as DuckDB queries over the Parquet
    files (:mod:`analysis.data.sql_checks`). Only when those find something (or a column's
    type needs pandas to judge) does the book go through the pandas checks, chunk by chunk
    (about ``chunk_customers`` customers with their months at a time); when a chunk fails, the
    whole book is checked as :func:`~analysis.data.load_source` does, so the error names every
    problem and row exactly as for a small book (that last step needs the memory of a whole
    load). Skipped when :data:`VALIDATED_BOOK_ENV` holds this book's fingerprint (a render
    checked it already).

    Raises
    ------
    DataValidationError
        When any table breaks its schema or the two disagree.
    """
    from analysis.data.loaders import NO_MONTHS, _load_tables, check_frames
    from analysis.data.sql_checks import sql_findings

    # SQL first (seconds, bounded memory); on any doubt the pandas checks decide
    if os.environ.get(VALIDATED_BOOK_ENV) != book.fingerprint and sql_findings(book):
        n_chunks = max(1, -(-book.n_customers // int(chunk_customers)))
        sources = {"customers": str(book.customers), "panel": str(book.panel)}
        for i in range(n_chunks):
            where = f"WHERE {_bucket(n_chunks)} = {i}"
            customers = as_read(book.query(f"SELECT * FROM {book.sql('customers')} {where}"))
            panel = as_read(book.query(f"SELECT * FROM {book.sql('panel')} {where}"))
            try:
                check_frames(customers, panel, source=str(book.folder), sources=sources)
            except ValueError:
                # name every problem and row, as for a small book (raises)
                _load_tables(book.customers, book.panel, str(book.folder))
                raise
    return book.query(
        f"SELECT CAST(c.customer_id AS VARCHAR) AS customer_id, "
        f"'{NO_MONTHS}' AS reason FROM {book.sql('customers')} c "
        f"ANTI JOIN {book.sql('panel')} p ON CAST(p.customer_id AS VARCHAR) = CAST(c.customer_id AS VARCHAR) "
        "ORDER BY customer_id")


def as_read(df: pd.DataFrame) -> pd.DataFrame:
    """A table as :func:`analysis.data.extracts.read_parts` gives it (ids as text, ns dates)."""
    if "customer_id" in df:
        df["customer_id"] = df["customer_id"].astype(str)
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            df[col] = df[col].astype("datetime64[ns]")
    return df


def _sample_ids(book: Book, n: int, seed: int, branch: str | None) -> pd.DataFrame:
    """The book's seeded sample of ``n`` customers; with a branch, its customers in that sample."""
    where = "" if branch is None else f"WHERE CAST(branch AS VARCHAR) = '{_quote(branch)}'"
    return book.query(f"""
        WITH drawn AS (
            SELECT CAST(customer_id AS VARCHAR) AS customer_id, branch FROM {book.sql('customers')}
            ORDER BY md5(CAST(customer_id AS VARCHAR) || ':{int(seed)}'), customer_id LIMIT {int(n)})
        SELECT customer_id FROM drawn {where} ORDER BY customer_id""")


#: The last sample :func:`load_sample` read and checked in this process, by book content, size,
#: seed and branch: the reports of one render share a kernel and model the same customers.
_LAST_SAMPLE: dict = {}


def load_sample(book: Book, n: int, *, seed: int | None = None, branch: str | None = None) -> Portfolio:
    """A seeded sample of ``n`` customers of a book with all their months; for a branch, the
    branch's customers within that sample (a cheap slice: a branch report models the customers
    the bank-wide report modelled, about ``n`` x the branch's share of the book).

    The tables are checked like a small book's (same types), once per process for the same book
    and sample (later calls get copies); ``Portfolio.sample`` says how many of how many were
    drawn, with which seed. With ``n`` at least the number of customers of the
    book, every customer (of the branch) is loaded and ``sample`` is None.
    """
    from analysis.data.loaders import check_frames

    seed = int(config.MODEL_SAMPLE_SEED if seed is None else seed)
    total = book.count(branch)
    key = (book.fingerprint, int(n), seed, branch)
    if key in _LAST_SAMPLE:  # another report of this render, in the same kernel: no reload
        ids, customers, panel, exclusions = (t.copy() for t in _LAST_SAMPLE[key])
    else:
        ids = _sample_ids(book, n, seed, branch)
        keep = "WHERE CAST(customer_id AS VARCHAR) IN (SELECT customer_id FROM ids)"
        customers = as_read(book.query(f"SELECT * FROM {book.sql('customers')} {keep}", ids=ids))
        panel = as_read(book.query(
            f"SELECT * FROM {book.sql('panel')} {keep} ORDER BY customer_id, month", ids=ids))
        sources = {"customers": str(book.customers), "panel": str(book.panel)}
        customers, panel, exclusions = check_frames(customers, panel, source=str(book.folder),
                                                    sources=sources)
        customers = customers.sort_values("customer_id", kind="stable").reset_index(drop=True)
        _LAST_SAMPLE.clear()  # one sample kept: memory stays that of one
        _LAST_SAMPLE[key] = tuple(t.copy() for t in (ids, customers, panel, exclusions))
    return Portfolio(customers=customers, panel=panel, truth=book.truth, source=book.source,
                     fingerprint=book.fingerprint, exclusions=exclusions,
                     sample=(ModelSample(len(ids), total, seed, book=book, branch=branch,
                                         draw=int(n))
                             if len(ids) < total else None))


def load_for_models(data, branch: str | None = None, sample: int | None = None) -> Portfolio:
    """The data a report's models use: a large book's seeded sample (checked whole first,
    :func:`check_book`), else the whole source (:func:`analysis.data.load_source`) of the branch."""
    from analysis.data.loaders import load_source

    book = open_book(data) if sample is not None else None
    if book is None or not book.is_large(sample):
        return load_source(data).for_branch(branch)
    check_book(book)
    book.require_branch(branch)
    return load_sample(book, int(sample), branch=branch)


def book_panel(book: Book, *, branch: str | None = None, since=None, until=None) -> pd.DataFrame:
    """The monthly rows of every customer (of one branch) between two months, typed as the
    loader's checks leave them and sorted by customer and month (for a window of a large book:
    the months that this month's early-warning signals look back on)."""
    from analysis.data.schemas import PANEL_SCHEMA

    cond = []
    if since is not None:
        cond.append(f"p.month >= TIMESTAMP '{pd.Timestamp(since):%Y-%m-%d}'")
    if until is not None:
        cond.append(f"p.month <= TIMESTAMP '{pd.Timestamp(until):%Y-%m-%d}'")
    if branch is not None:
        cond.append(f"CAST(p.customer_id AS VARCHAR) IN (SELECT CAST(customer_id AS VARCHAR) FROM "
                    f"{book.sql('customers')} WHERE CAST(branch AS VARCHAR) = '{_quote(branch)}')")
    where = (" WHERE " + " AND ".join(cond)) if cond else ""
    panel = as_read(book.query(f"SELECT p.* FROM {book.sql('panel')} p{where} "
                                "ORDER BY customer_id, month"))
    return PANEL_SCHEMA.coerce_dtype(panel).reset_index(drop=True)


def book_customers(book: Book, branch: str | None = None) -> pd.DataFrame:
    """The customers table (of one branch), typed as the loader's checks leave it."""
    from analysis.data.schemas import CUSTOMERS_SCHEMA

    where = "" if branch is None else f" WHERE CAST(branch AS VARCHAR) = '{_quote(branch)}'"
    return CUSTOMERS_SCHEMA.coerce_dtype(as_read(book.query(
        f"SELECT * FROM {book.sql('customers')}{where} ORDER BY customer_id"))).reset_index(drop=True)
