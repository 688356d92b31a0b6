"""Bring your own data: a YAML mapping file describes a customer extract.

Most extracts are one row per customer (a *snapshot*: tenure, a churn flag, product count,
attributes). A mapping file says which column is which, so every report runs on such data
without code changes::

    format: snapshot            # one row per customer (a monthly panel folder is `panel`)
    path: ../shared/data/bank_churn/Churn_Modelling.csv   # relative to this YAML file
    id: CustomerId              # optional: rows are numbered when absent
    duration: Tenure
    duration_unit: years        # years | months | days; reports speak in months
    event: {column: Exited, churned: [1], active: [0]}
    products: NumOfProducts     # or {count: {ColumnA: [Yes], ColumnB: [Active]}}
    groups: [Geography, Gender, IsActiveMember]   # categorical covariates
    numeric: [Age, Balance, CreditScore, EstimatedSalary]
    value: Balance              # optional: customer value for the 80/20 view
    branch: Geography           # optional: one report per level
    drop: [Surname]             # never loaded: personal data
    encoding: utf-8             # optional: utf-8 (default), utf-8-sig, gb18030, gbk, big5, utf-16
    sheet: Customers            # optional, Excel only: sheet name or position from 1 (default first)
    allow_personal: []          # optional: group/branch columns to keep although they look personal

The data file may be CSV or other delimited text, an Excel ``.xlsx`` workbook or a Parquet file
(:mod:`analysis.data.extracts`). A group or branch column named like a personal field or with
nearly one level per customer is refused unless listed in ``allow_personal``
(:mod:`analysis.data.privacy`). The mapping file itself is UTF-8 YAML without anchors or aliases
(:mod:`analysis.data.yaml_files`).

Durations of 0 (left, or observed, within the first unit) become half a unit by default
(``zero_durations: half_unit``; ``keep`` leaves them at 0): every customer then sits in the risk
set at a time > 0, which Cox and parametric models need. Whole-unit durations are heavily tied;
models use Efron's method for ties. Both are counted and shown in reports.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.data.encodings import check_encoding
from analysis.data.extracts import EXCEL, read_extract
from analysis.data.messages import short, some
from analysis.data.portfolio import Portfolio
from analysis.data.privacy import personal_problems
from analysis.data.schemas import DataValidationError, problem
from analysis.data.yaml_files import load_yaml

__all__ = ["Mapping", "read_mapping", "load_snapshot", "is_mapping"]

UNIT_MONTHS = {"months": 1.0, "years": 12.0, "days": 12.0 / 365.25}
KNOWN_KEYS = {
    "format", "path", "id", "duration", "duration_unit", "entry", "event", "products", "groups",
    "numeric", "value", "branch", "drop", "zero_durations", "name", "description", "as_of", "sep",
    "encoding", "sheet", "allow_personal",
}
_COLUMN_KEYS = ("id", "duration", "entry", "value", "branch")  # each names one column
_NEGATIVE = {0, "0", False, "false", "False", "no", "No", "N", "n"}


def is_mapping(data: Any) -> bool:
    """True when a data source names a YAML mapping file."""
    return str(data).lower().endswith((".yml", ".yaml"))


@dataclass
class Mapping:
    """A parsed mapping file (see module docstring)."""

    source: Path
    format: str
    path: Path
    duration: str
    event_column: str
    churned: list
    active: list | None
    id: str | None = None
    duration_unit: str = "months"
    entry: str | None = None
    products: Any = None
    groups: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    value: str | None = None
    branch: str | None = None
    drop: list[str] = field(default_factory=list)
    zero_durations: str = "half_unit"
    name: str | None = None
    description: str | None = None
    as_of: str | None = None
    sep: str = ","
    encoding: str = "utf-8"
    sheet: str | int | None = None
    allow_personal: list[str] = field(default_factory=list)

    @property
    def product_columns(self) -> list[str]:
        if self.products is None:
            return []
        if isinstance(self.products, str):
            return [self.products]
        return list(self.products["count"])

    def columns_used(self) -> list[str]:
        cols = [self.id, self.duration, self.entry, self.event_column, self.value, self.branch]
        cols += self.product_columns + self.groups + self.numeric
        seen: list[str] = []
        for c in cols:
            if c is not None and c not in seen:
                seen.append(c)
        return seen


def _err(source: Path, msg: str) -> DataValidationError:
    return DataValidationError(str(source), [msg])


def _list(value, key: str, source: Path) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int, float, bool)):
        return [value]
    if isinstance(value, list):
        return value
    raise _err(source, f"key '{key}': expected a list, got {type(value).__name__} {short(value)}")


def read_mapping(path: str | Path) -> Mapping:
    """Parse and check a mapping file; paths inside it are relative to the file.

    Raises
    ------
    DataValidationError
        Unknown keys (with the closest known key), missing required keys, bad values.
    YamlFileError
        The file is not UTF-8 YAML, or uses anchors/aliases (a one-line message with the line).
    """
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise FileNotFoundError(f"mapping file {path} does not exist")
    raw = load_yaml(path) or {}
    if not isinstance(raw, dict):
        raise _err(path, "a mapping file is a set of `key: value` lines")
    problems = []
    for key in raw:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(str(key)[:40], sorted(KNOWN_KEYS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"key {short(key)}: unknown key{hint}; known keys: {', '.join(sorted(KNOWN_KEYS))}")
    fmt = raw.get("format", "snapshot")
    if fmt not in ("snapshot", "panel"):
        problems.append(f"key 'format': must be 'snapshot' or 'panel', got {short(fmt)}")
    for key in _COLUMN_KEYS + ("path",):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            problems.append(f"key '{key}': expected a column name or path (text), got {short(raw[key])}")
    problems += _format_problems(raw)
    required = ["path"] + (["duration", "event"] if fmt == "snapshot" else [])
    for key in required:
        if key not in raw:
            problems.append(f"key '{key}': required but missing")
    unit = raw.get("duration_unit", "months")
    if unit not in UNIT_MONTHS:
        problems.append(f"key 'duration_unit': must be one of {', '.join(UNIT_MONTHS)}, got {short(unit)}")
    zero = raw.get("zero_durations", "half_unit")
    if zero not in ("half_unit", "keep"):
        problems.append(f"key 'zero_durations': must be 'half_unit' or 'keep', got {short(zero)}")
    products = raw.get("products")
    if products is not None and not isinstance(products, str):
        if not (isinstance(products, dict) and set(products) == {"count"} and isinstance(products["count"], dict)):
            problems.append(
                "key 'products': a column name, or {count: {column: [values that mean 'holds it'], ...}}"
            )
    if problems:
        raise DataValidationError(str(path), problems)
    event = raw.get("event") if fmt == "snapshot" else {"column": None, "churned": []}  # a panel has its own
    if isinstance(event, str):
        event = {"column": event, "churned": [1]}
    if not isinstance(event, dict) or "column" not in event or "churned" not in event:
        raise _err(path, "key 'event': expected {column: NAME, churned: [values], active: [values]}")
    unknown_event = set(event) - {"column", "churned", "active"}
    if unknown_event:
        raise _err(path, f"key 'event': unknown sub-keys {some(sorted(map(str, unknown_event)), fmt=short)} (allowed: column, churned, active)")
    target = Path(str(raw["path"])).expanduser()
    if not target.is_absolute():
        target = (path.parent / target).resolve()
    return Mapping(
        source=path,
        format=fmt,
        path=target,
        duration=raw.get("duration"),
        event_column=event["column"] if fmt == "snapshot" else None,
        churned=_list(event.get("churned"), "event.churned", path) if fmt == "snapshot" else [],
        active=_list(event.get("active"), "event.active", path) if event.get("active") is not None else None,
        id=raw.get("id"),
        duration_unit=unit,
        entry=raw.get("entry"),
        products=products,
        groups=[str(g) for g in _list(raw.get("groups"), "groups", path)],
        numeric=[str(g) for g in _list(raw.get("numeric"), "numeric", path)],
        value=raw.get("value"),
        branch=raw.get("branch"),
        drop=[str(g) for g in _list(raw.get("drop"), "drop", path)],
        zero_durations=zero,
        name=raw.get("name"),
        description=raw.get("description"),
        as_of=str(raw["as_of"]) if raw.get("as_of") is not None else None,
        sep=raw.get("sep", ","),
        encoding=str(raw.get("encoding", "utf-8")).lower(),
        sheet=raw.get("sheet"),
        allow_personal=[str(c) for c in _list(raw.get("allow_personal"), "allow_personal", path)],
    )


def _format_problems(raw: dict) -> list[str]:
    """Problems with the keys that say how to read the file: encoding, sheet, sep."""
    problems = []
    if "encoding" in raw and (bad := check_encoding(raw["encoding"])):
        problems.append(bad)
    sheet = raw.get("sheet")
    if sheet is not None:
        if isinstance(sheet, bool) or not isinstance(sheet, (str, int)):
            problems.append(f"key 'sheet': a sheet name or its position from 1, got {short(sheet)}")
        elif not str(raw.get("path", "")).lower().endswith(EXCEL):
            problems.append(f"key 'sheet': only for Excel files ({', '.join(EXCEL)}), the path is {short(str(raw.get('path')))}")
    sep = raw.get("sep", ",")
    if not isinstance(sep, str) or not 1 <= len(sep) <= 4:
        problems.append(f"key 'sep': the column separator, e.g. ',' or ';', got {short(sep)}")
    return problems


def _read(m: Mapping, notes: list) -> pd.DataFrame:
    if not m.path.exists():
        raise FileNotFoundError(f"{m.source}: the data file {m.path} does not exist")
    return read_extract(
        m.path, encoding=m.encoding, sep=m.sep, sheet=m.sheet, drop=m.drop,
        dtype={m.id: str} if m.id else None, notes=notes,
        key_hint=f"set 'encoding:' in the mapping file {m.source.name}",
    )


def _matches(series: pd.Series, values: list) -> pd.Series:
    """Elementwise membership that treats 1, 1.0 and "1" alike."""
    as_text = series.astype(str).str.strip()
    wanted = {str(v) for v in values}
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            wanted |= {str(float(v)), str(int(v))}
        if isinstance(v, bool):
            wanted |= {str(int(v))}
    return as_text.isin(wanted)


def load_snapshot(mapping: Mapping | str | Path) -> Portfolio:
    """Load a one-row-per-customer extract described by a mapping into a Portfolio.

    The Portfolio's ``snapshot`` frame has ``customer_id``, ``entry`` and ``duration`` (months),
    ``event`` (0/1), ``n_products`` (if mapped), ``branch`` (if mapped) and the mapped group,
    numeric and value columns under their own names. Its ``notes`` say what was adjusted.
    """
    m = mapping if isinstance(mapping, Mapping) else read_mapping(mapping)
    if m.format != "snapshot":
        raise ValueError(f"{m.source}: load_snapshot needs format: snapshot")
    notes: list[str] = []
    raw = _read(m, notes)
    src = f"{m.path} (mapping {m.source.name})"
    missing = [c for c in m.columns_used() if c not in raw.columns]
    if missing:
        dropped = [c for c in missing if c in m.drop]
        extra = f"; dropped by 'drop': {some(dropped, fmt=short)}" if dropped else ""
        present = some(map(str, raw.columns), limit=20, fmt=short)
        raise DataValidationError(
            src,
            [f"column {short(c)}: named in the mapping but not in the file (columns: {present}){extra}" for c in missing]
            + [f"note: {n}" for n in notes],  # e.g. which sheet was read
        )
    roles = {c: "groups" for c in m.groups} | ({m.branch: "branch"} if m.branch else {})
    problems: list[str] = personal_problems(raw, roles, m.allow_personal)
    out = pd.DataFrame(index=raw.index)
    # Ids.
    if m.id:
        ids = raw[m.id].astype(str)
        dup = ids.duplicated(keep=False)
        if dup.any():
            problems.append(problem(m.id, "duplicate ids", np.flatnonzero(dup), ids[dup].unique(), masked=True))
        if raw[m.id].isna().any():
            problems.append(problem(m.id, "missing ids", np.flatnonzero(raw[m.id].isna())))
        out["customer_id"] = ids
    else:
        out["customer_id"] = [f"row-{i + 1:06d}" for i in range(len(raw))]
    # Durations (converted to months), optional entry.
    scale = UNIT_MONTHS[m.duration_unit]
    for col, name in ((m.duration, "duration"), (m.entry, "entry")):
        if col is None:
            continue
        values = pd.to_numeric(raw[col], errors="coerce")
        bad = values.isna() & raw[col].notna()
        if bad.any():
            problems.append(problem(col, f"non-numeric {name}s", np.flatnonzero(bad), raw.loc[bad, col]))
        if raw[col].isna().any():
            problems.append(problem(col, f"missing {name}s", np.flatnonzero(raw[col].isna())))
        neg = values < 0
        if neg.any():
            problems.append(problem(col, f"negative {name}s", np.flatnonzero(neg), values[neg]))
        out[name] = values * scale
    if "entry" not in out:
        out["entry"] = 0.0
    # Event.
    ev = raw[m.event_column]
    churned = _matches(ev, m.churned)
    if m.active is not None:
        active = _matches(ev, m.active)
    else:
        levels = ev.dropna().unique()
        active = ~churned & ev.notna() if len(levels) <= 2 else _matches(ev, list(_NEGATIVE))
    unmapped = ~(churned | active)
    if unmapped.any():
        problems.append(
            problem(
                m.event_column,
                f"event values that are neither churned {short(m.churned)} nor active "
                f"{short(m.active) if m.active is not None else '(unspecified)'}",
                np.flatnonzero(unmapped),
                ev[unmapped].unique(),
            )
        )
    out["event"] = churned.astype(int)
    # Products.
    if isinstance(m.products, str):
        n = pd.to_numeric(raw[m.products], errors="coerce")
        bad = n.isna() | (n < 0) | (n != n.round())
        if bad.any():
            problems.append(problem(m.products, "product counts that are not whole numbers >= 0", np.flatnonzero(bad), raw.loc[bad, m.products]))
        out["n_products"] = n
    elif m.products is not None:
        count = pd.Series(0, index=raw.index)
        for col, values in m.products["count"].items():
            count += _matches(raw[col], _list(values, f"products.count.{str(col)[:60]}", m.source)).astype(int)
        out["n_products"] = count
    # Covariates.
    for col in m.groups:
        if raw[col].isna().any():
            problems.append(problem(col, "missing values in a group column", np.flatnonzero(raw[col].isna())))
        out[col] = raw[col].astype(str)
    for col in m.numeric + ([m.value] if m.value and m.value not in m.numeric else []):
        values = pd.to_numeric(raw[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            problems.append(problem(col, "non-numeric or missing values in a numeric column", np.flatnonzero(bad), raw.loc[bad, col]))
        out[col] = values
    if m.branch:
        out["branch"] = raw[m.branch].astype(str)
    if problems:
        raise DataValidationError(src, problems)
    # Zero durations and ties: handled, counted, documented.
    zero = out["duration"] <= out["entry"]
    if zero.any():
        if m.zero_durations == "half_unit":
            out.loc[zero, "duration"] = out.loc[zero, "entry"] + 0.5 * scale
            notes.append(
                f"{int(zero.sum()):,} customers had a duration of 0 {m.duration_unit}; they count as "
                f"leaving or censored at half a unit ({0.5 * scale:g} months)."
            )
        else:
            notes.append(f"{int(zero.sum()):,} customers have a duration of 0 (kept as 0).")
    ties = 1 - out["duration"].nunique() / max(len(out), 1)
    if m.duration_unit != "days" or ties > 0.5:
        notes.append(
            f"Durations are recorded in whole {m.duration_unit} ({out['duration'].nunique()} distinct "
            "values): heavy ties, handled with Efron's method in models."
        )
    h = hashlib.sha256()
    with open(m.path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(m.source.read_bytes())
    portfolio = Portfolio(
        customers=pd.DataFrame({"customer_id": out["customer_id"], "branch": out.get("branch", "all")}),
        panel=pd.DataFrame(),
        truth=None,
        source=str(m.source),
        fingerprint=h.hexdigest()[:12],
        snapshot=out.reset_index(drop=True),
        mapping=m,
        notes=notes,
    )
    return portfolio
