"""The whole book behind a study of a large book (:mod:`analysis.data.large_book`).

A large book's models are fitted on a seeded sample; its counts, rates and survival curves use
every customer's row of the survival frame, built here in SQL from the Parquet files by the data
layer (:func:`analysis.frames.survival_frame`). A render builds the whole bank's frame once per
definition and keeps it (:data:`~analysis.data.large_book.BOOK_CACHE_ENV`); branch reports slice
it. :func:`sample_note` is the sentence every report prints about the sample.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from analysis.data.large_book import BOOK_CACHE_ENV, Book, ModelSample, as_read
from analysis.frames import survival_frame
from analysis.i18n import tr

__all__ = ["book_frame", "sample_note"]


def book_frame(book: Book, *, branch: str | None = None, attrition: str = "closure", k: int = 3,
               high_value_tier: int | None = None, as_of=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every customer's survival-frame row (of one branch), built in SQL from the Parquet files.

    Returns ``(frame, exclusions)`` as :func:`analysis.frames.survival_frame`, restricted to the
    branch's customers. The whole bank's frame is built once per render and definition: with
    :data:`BOOK_CACHE_ENV` set (``analysis render`` sets it to its staging folder) it is kept
    there as Parquet, and every branch report of the run slices it instead of reading the book.
    """
    frame, excluded = _bank_frame(book, attrition, k, high_value_tier, as_of)
    if branch is not None:
        ids = set(book.customer_ids(branch))
        frame = frame[frame["customer_id"].astype(str).isin(ids)].reset_index(drop=True)
        excluded = excluded[excluded["customer_id"].astype(str).isin(ids)]
    return frame, excluded.reset_index(drop=True)


def _bank_frame(book: Book, attrition: str, k: int, high_value_tier, as_of):
    import hashlib

    kwargs = {} if high_value_tier is None else {"high_value_tier": int(high_value_tier)}
    day = None if as_of is None else f"{pd.Timestamp(as_of):%Y-%m-%d}"
    folder = os.environ.get(BOOK_CACHE_ENV)
    key = hashlib.sha256(json.dumps([book.fingerprint, attrition, int(k), kwargs, day])
                         .encode()).hexdigest()[:16]
    cached = Path(folder) / key if folder else None
    if cached is not None and (cached / "exclusions.parquet").exists():
        return (pd.read_parquet(cached / "frame.parquet"),
                pd.read_parquet(cached / "exclusions.parquet"))
    customers = as_read(book.query(f"SELECT * FROM {book.sql('customers')}"))
    frame, excluded = survival_frame(book.panel, customers, attrition=attrition, k=k,
                                     as_of=as_of, **kwargs)
    if cached is not None:  # written whole, then renamed: a parallel report never reads half
        tmp = cached.with_name(f"{key}.{os.getpid()}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(tmp / "frame.parquet", index=False)
        excluded.to_parquet(tmp / "exclusions.parquet", index=False)
        try:
            tmp.rename(cached)
        except OSError:  # another report got there first: theirs is the same
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return frame, excluded


def sample_note(sample: ModelSample | None, *, everything: bool = False) -> str | None:
    """The report's sentence about a model sample (None when every customer is used).

    ``everything``: every number of the report comes from the sample (report 02), not only its
    models.
    """
    if sample is None:
        return None
    words = dict(of=f"{sample.of:,}", n=f"{sample.customers:,}", seed=sample.seed)
    if everything:
        return tr("{of} customers are studied: every number of this report comes from a seeded "
                  "random sample of {n} of them (seed {seed}).", **words)
    return tr("{of} customers are studied: counts, rates and survival curves use all of them; "
              "models are fitted on a seeded random sample of {n} of them (seed {seed}).", **words)
