"""Read one table from a file: CSV (any of :data:`~analysis.data.encodings.ENCODINGS`), Excel
``.xlsx`` or Parquet; or a folder of Parquet/CSV parts.

Every failure is a :class:`~analysis.data.schemas.DataValidationError` that names the file: an
empty file, a header without rows, a file that does not decode (with the key to set and the
likely encoding), an Excel workbook or Parquet file saved under another name, an unknown sheet.
Columns the mapping drops are never read.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.encodings import decode_problem
from analysis.data.messages import short, some
from analysis.data.schemas import DataValidationError

__all__ = ["read_extract", "read_parts", "Parts", "EXCEL", "PARQUET", "SUPPORTED"]

EXCEL = (".xlsx", ".xlsm")
PARQUET = (".parquet", ".pq")
SUPPORTED = "CSV or other delimited text (.csv, .txt, .tsv), Excel (.xlsx) and Parquet (.parquet)"
# First bytes of formats that a delimited-text reader would turn into a decode error.
_MAGIC = {
    b"PK\x03\x04": "an Excel .xlsx workbook (or another zip archive): give it the suffix .xlsx",
    b"PAR1": "a Parquet file: give it the suffix .parquet",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook, which is not read: save it as .xlsx or CSV",
}


def _fail(path: Path, what: str) -> DataValidationError:
    return DataValidationError(str(path), [what])


def _read_text(path, *, encoding, sep, drop, dtype, key_hint) -> pd.DataFrame:
    enc = "utf-8-sig" if encoding == "utf-8" else encoding  # a byte-order mark is not a column
    with open(path, "rb") as fh:
        head = fh.read(4)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise _fail(path, f"the file is {what}")
    try:
        header = pd.read_csv(path, nrows=0, sep=sep, encoding=enc).columns
        keep = [c for c in header if c not in drop]  # dropped columns are never read
        dtypes = {c: t for c, t in (dtype or {}).items() if c in keep}
        return pd.read_csv(path, usecols=keep, sep=sep, dtype=dtypes, encoding=enc, keep_default_na=True)
    except UnicodeDecodeError:
        raise _fail(path, decode_problem(path, encoding, key_hint=key_hint)) from None
    except pd.errors.EmptyDataError:
        raise _fail(path, "the file is empty (no header line, no rows)") from None
    except pd.errors.ParserError as exc:
        raise _fail(path, f"not readable as delimited text (sep {short(sep)}): {str(exc)[:200]}") from None


def _read_excel(path, *, sheet, drop, dtype, notes) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _fail(path, f"not a readable .xlsx workbook ({type(exc).__name__}: {str(exc)[:120]})") from None
    with book:
        names = book.sheet_names
        if sheet is None:
            chosen = names[0]
            if len(names) > 1:
                notes.append(f"{path.name}: read sheet {short(chosen)}, the first of {len(names)}; set 'sheet:' to choose")
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 1 <= sheet <= len(names):
                raise _fail(path, f"key 'sheet': {sheet} but the workbook has {len(names)} sheet(s) (counted from 1)")
            chosen = names[sheet - 1]
        elif str(sheet) in names:
            chosen = str(sheet)
        else:
            raise _fail(path, f"key 'sheet': no sheet {short(sheet)} (sheets: {some(names, fmt=short)})")
        frame = book.parse(chosen, usecols=lambda c: c not in drop, dtype=dtype or None)
    if frame.shape[1] == 0:
        raise _fail(path, f"sheet {short(chosen)} is empty (no header row, no rows)")
    return frame


def _read_parquet(path, *, drop) -> pd.DataFrame:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names  # Parquet reads by column: dropped ones stay unread
        return pd.read_parquet(path, columns=[c for c in names if c not in drop])
    except (pyarrow.ArrowException, OSError) as exc:
        raise _fail(path, f"not a readable Parquet file ({str(exc)[:160]})") from None


def read_extract(
    path: str | Path,
    *,
    encoding: str = "utf-8",
    sep: str = ",",
    sheet: str | int | None = None,
    drop: list[str] | tuple = (),
    dtype: dict | None = None,
    notes: list | None = None,
    key_hint: str = "set the mapping key 'encoding:'",
) -> pd.DataFrame:
    """Read one table; the file type comes from the suffix (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The file. ``.xlsx``/``.xlsm``: Excel; ``.parquet``: Parquet; anything else: delimited text.
    encoding, sep : str
        For delimited text: one of :data:`~analysis.data.encodings.ENCODINGS`, the separator.
    sheet : str or int, optional
        For Excel: the sheet's name, or its position counted from 1; default the first
        (a note says so when there are more).
    drop : list of str
        Columns never read.
    dtype : dict, optional
        ``{column: type}`` for columns that must keep their text (ids: ``"C001"`` stays ``"C001"``).
    notes : list, optional
        Receives what the reader chose on its own (the sheet).
    key_hint : str
        How to set the encoding, for the message when the file does not decode.

    Raises
    ------
    DataValidationError
        Empty file, header without rows, not decodable, wrong file type, unknown sheet.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in EXCEL:
        frame = _read_excel(path, sheet=sheet, drop=set(drop), dtype=dtype, notes=notes if notes is not None else [])
    elif suffix in PARQUET:
        frame = _read_parquet(path, drop=set(drop))
    elif suffix == ".xls":
        raise _fail(path, "old Excel .xls workbooks are not read: save it as .xlsx or CSV")
    else:
        frame = _read_text(path, encoding=encoding, sep=sep, drop=set(drop), dtype=dtype, key_hint=key_hint)
    if len(frame) == 0:
        raise _fail(path, f"the file has a header ({frame.shape[1]} columns) but no data rows")
    return frame


@dataclass(frozen=True)
class Parts:
    """Where each row of a table read from several files came from, for messages.

    ``names`` are the files, ``starts`` the first position of each in the concatenated frame.
    A single file has one part: its rows print as plain numbers.
    """

    names: tuple[str, ...]
    starts: tuple[int, ...]

    def labels(self, positions) -> list:
        """File row numbers for 0-based positions: ints (one file) or ``"part.parquet:row"``."""
        positions = np.asarray(list(positions), dtype=int)
        if len(self.names) <= 1:
            return positions.tolist()  # problem() prints them from 1
        which = np.searchsorted(np.asarray(self.starts), positions, side="right") - 1
        return [f"{self.names[w]}:{p - self.starts[w] + 1}" for w, p in zip(which, positions)]


def read_parts(path: str | Path, *, dtype=None, encoding="utf-8", key_hint="set the mapping key 'encoding:'"):
    """Read a table that is a file or a folder of ``.parquet`` (or ``.csv``) parts in name order.

    Returns
    -------
    (DataFrame, Parts)
        The rows in file order (a RangeIndex), and where each came from.
    """
    path = Path(path)
    if not path.is_dir():
        frame = read_extract(path, dtype=dtype, encoding=encoding, key_hint=key_hint)
        return frame, Parts((path.name,), (0,))
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in PARQUET + (".csv",))
    if not files:
        raise FileNotFoundError(f"{path}: folder holds no .parquet (or .csv) parts")
    frames = [read_extract(p, dtype=dtype, encoding=encoding, key_hint=key_hint) for p in files]
    starts = tuple(int(s) for s in np.cumsum([0] + [len(f) for f in frames[:-1]]))
    return pd.concat(frames, ignore_index=True), Parts(tuple(p.name for p in files), starts)
