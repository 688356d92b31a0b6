"""The whole book behind a study of a large book (:mod:`analysis.data.large_book`).

A large book's models are fitted on a seeded sample; its counts, rates and survival curves use
every customer, counted here in SQL from the Parquet files by the data layer
(:func:`analysis.frames.survival_counts`), and report 02's time-varying model from counts its
customer-months (:func:`book_cells`). A render builds the whole bank's tables once per
definition and keeps them (:data:`~analysis.data.large_book.BOOK_CACHE_ENV`); branch reports
slice them. :func:`sample_note` is the sentence every report prints about the sample.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from analysis.data.large_book import BOOK_CACHE_ENV, Book, ModelSample, as_read
from analysis.frames import exposure_cells, survival_counts
from analysis.i18n import tr

__all__ = ["book_counts", "book_cells", "kept_for_render", "sample_note"]


def book_counts(book: Book, *, branch: str | None = None, attrition: str = "closure",
                k: int = 3, high_value_tier: int | None = None,
                as_of=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every customer (of one branch) counted in SQL from the Parquet files.

    Returns ``(counts, values, exclusions)`` as :func:`analysis.frames.survival_counts`:
    customers per branch, tier, segment and products at entry, entry, duration and event (what
    report 01's rates, curves and tests read, exactly), each customer's annual profit (its
    concentration of value) and the customers outside the population. The whole bank's are
    built once per render and definition: with :data:`BOOK_CACHE_ENV` set (``analysis render``
    sets it to its staging folder) they are kept there as Parquet, and every branch report of
    the run slices them instead of reading the book.
    """
    kwargs = {} if high_value_tier is None else {"high_value_tier": int(high_value_tier)}

    def build():
        counts, values, excluded = survival_counts(book.panel, _customers(book),
                                                   attrition=attrition, k=k, as_of=as_of,
                                                   **kwargs)
        return {"counts": counts, "values": values, "exclusions": excluded}

    got = kept_for_render(book, ["counts", attrition, int(k), kwargs, _day(as_of)], build)
    counts, values, excluded = got["counts"], got["values"], got["exclusions"]
    if branch is not None:
        counts = counts[counts["branch"].astype(str) == str(branch)].reset_index(drop=True)
        values = values[values["branch"].astype(str) == str(branch)].reset_index(drop=True)
        ids = set(book.customer_ids(branch))
        excluded = excluded[excluded["customer_id"].astype(str).isin(ids)]
    return counts, values, excluded.reset_index(drop=True)


def book_cells(book: Book, *, branch: str | None = None, attrition: str = "closure", k: int = 3,
               as_of=None, lag: int = 1, bins: int = 10, band_months: int = 1) -> pd.DataFrame:
    """Customer-months at risk and departures per month (or band of ``band_months``) of tenure,
    branch and covariate cell of the whole book (:func:`analysis.frames.exposure_cells`), from
    the Parquet files.

    The counts that reports 02 (products a month earlier, ``lag=1``) and 03 (products and
    outflows of the month, ``lag=0``) fit their time-varying models from on every customer of a
    large book (:func:`analysis.stats.cox.cells.fit_piecewise_exponential`). Built once per render
    and definition for the whole bank (kept like :func:`book_counts`' tables); a branch's cells
    are the bank's cells of that branch, so its continuous covariates keep the bank-wide
    quantile bins.
    """
    def build():
        return {"cells": exposure_cells(book.panel, _customers(book), attrition=attrition, k=k,
                                        as_of=as_of, lag=lag, bins=bins, strata=("branch",),
                                        band_months=band_months)}

    cells = kept_for_render(book, ["cells", attrition, int(k), _day(as_of), int(lag), int(bins),
                           int(band_months)], build)["cells"]
    if branch is not None and "branch" in cells.columns:
        cells = cells[cells["branch"].astype(str) == str(branch)].reset_index(drop=True)
    return cells


def _customers(book: Book) -> pd.DataFrame:
    """The customers table as the data layer reads it (types as a small book's load)."""
    return as_read(book.query(f"SELECT * FROM {book.sql('customers')}"))


def _day(as_of) -> str | None:
    return None if as_of is None else f"{pd.Timestamp(as_of):%Y-%m-%d}"


def kept_for_render(book: Book, parts: list, build) -> dict[str, pd.DataFrame]:
    """``build()``'s tables, kept under :data:`BOOK_CACHE_ENV` (when set) for the book's content
    and ``parts``: read back when another report of the render asked for the same.

    One report builds, the others wait: the builder holds ``<key>.lock`` (its process id) while
    it works, and a report that finds the lock of a live process waits for the tables instead
    of building them again (report 05's bank projection takes minutes on a large book).
    """
    import hashlib

    folder = os.environ.get(BOOK_CACHE_ENV)
    key = hashlib.sha256(json.dumps([book.fingerprint, *parts], default=str).encode()).hexdigest()[:16]
    cached = Path(folder) / key if folder else None
    if cached is None:
        return build()
    cached.parent.mkdir(parents=True, exist_ok=True)
    lock = cached.with_name(f"{key}.lock")
    while not (cached / "done").exists():
        if _take(lock):
            break
        time.sleep(LOCK_POLL_SECONDS)
    else:
        return _read(cached)
    try:
        if (cached / "done").exists():  # finished between our look and our lock
            return _read(cached)
        tables = build()
        tmp = cached.with_name(f"{key}.{os.getpid()}.tmp")  # written whole, then renamed
        tmp.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            table.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "done").touch()
        try:
            tmp.rename(cached)
        except OSError:  # another report got there first: theirs is the same
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        return tables
    finally:
        lock.unlink(missing_ok=True)


#: Seconds between two looks at a cache entry another report is building.
LOCK_POLL_SECONDS = 0.5


def _read(cached: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in cached.glob("*.parquet")}


def _take(lock: Path) -> bool:
    """Take ``lock`` (True), or False while a live process holds it. A lock left by a process
    that died is taken over."""
    mine = lock.with_name(f"{lock.name}.{os.getpid()}")
    mine.write_text(str(os.getpid()), encoding="ascii")
    try:
        os.link(mine, lock)  # atomic: fails when the lock exists
        return True
    except FileExistsError:
        try:
            holder = int(lock.read_text(encoding="ascii"))
        except (OSError, ValueError):
            return False  # released (or being replaced) just now: look again
        if holder != os.getpid() and _alive(holder):
            return False
        lock.unlink(missing_ok=True)  # its builder died: the next look takes it
        return False
    finally:
        mine.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would end the process there; the render's kernels are live
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sample_note(sample: ModelSample | None, *, everything: bool = False) -> str | None:
    """The report's sentence about a model sample (None when every customer is used).

    ``everything``: every number of the report comes from the sample (report 02), not only its
    models, except the time-varying model from counts (:func:`book_cells`).
    """
    if sample is None:
        return None
    words = dict(of=f"{sample.of:,}", n=f"{sample.customers:,}", seed=sample.seed)
    if everything:
        return tr("{of} customers are studied: every number of this report comes from a seeded "
                  "random sample of {n} of them (seed {seed}), except the time-varying model "
                  "fitted from counts (section 4), which uses all of them.", **words)
    return tr("{of} customers are studied: counts, rates and survival curves use all of them; "
              "models are fitted on a seeded random sample of {n} of them (seed {seed}).", **words)
