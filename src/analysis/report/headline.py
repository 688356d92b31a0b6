"""Headline numbers: published by a notebook, extracted by the report runner.

A report notebook calls :func:`publish` with a dict of the numbers a manager looks for first
(retention at 12/24/36 months, customers at risk...). The payload travels inside the executed
notebook as a display output of MIME type :data:`MIME_TYPE`; the runner reads it back with
:func:`extract` and writes ``<report>.json`` beside the HTML. The output has no ``text/plain``
fallback and is removed before HTML export, so it never shows in a report.

Example
-------
In a notebook, ``publish({"retention": {"12": 0.91, "24": 0.84}})`` in one cell and
``publish({"retention": {"36": 0.79}, "customers": 1200})`` in a later one store two outputs;
the runner reads them back merged:

>>> from analysis.report.headline import MIME_TYPE, extract
>>> def shown(payload):  # the output publish() leaves in the executed notebook
...     return {"output_type": "display_data", "metadata": {}, "data": {MIME_TYPE: payload}}
>>> nb = {"cells": [
...     {"cell_type": "code", "outputs": [shown({"retention": {"12": 0.91, "24": 0.84}})]},
...     {"cell_type": "code", "outputs": [shown({"retention": {"36": 0.79}, "customers": 1200})]},
... ]}
>>> extract(nb)
{'retention': {'12': 0.91, '24': 0.84, '36': 0.79}, 'customers': 1200}
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["MIME_TYPE", "publish", "extract", "to_jsonable", "merge", "is_headline_output"]

MIME_TYPE = "application/vnd.analysis.headline+json"


def to_jsonable(value: Any, *, _path: str = "payload") -> Any:
    """Return ``value`` converted to plain JSON types.

    numpy scalars and arrays become Python numbers and lists, NaN and infinities become ``None``
    (written ``null``), dates and timestamps become ISO strings, tuples and sets become lists,
    pandas Series become dicts and DataFrames lists of records, mapping keys become strings.

    Raises
    ------
    TypeError
        For a value with no JSON form; the message gives its place in the payload.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    # numpy without importing it: scalars have .item(), arrays .tolist()
    module = type(value).__module__ or ""
    if module.startswith("numpy"):
        if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
            return to_jsonable(value.tolist(), _path=_path)
        if hasattr(value, "item"):
            item = value.item()
            if isinstance(item, (_dt.date, _dt.datetime)):
                return item.isoformat()
            if isinstance(item, (int, float, bool, str)) or item is None:
                return to_jsonable(item, _path=_path)
            if isinstance(item, bytes):
                return item.decode("utf-8", "replace")
            raise TypeError(f"{_path}: numpy value {value!r} has no JSON form")
    if module.startswith("pandas"):
        import pandas as pd

        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, pd.Series):
            return to_jsonable(value.to_dict(), _path=_path)
        if isinstance(value, pd.DataFrame):
            return to_jsonable(value.to_dict(orient="records"), _path=_path)
        if isinstance(value, (pd.Period, pd.Timedelta)):
            return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            key = to_jsonable(k, _path=_path) if not isinstance(k, str) else k
            key = str(key)
            out[key] = to_jsonable(v, _path=f"{_path}[{key!r}]")
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v, _path=f"{_path}[{i}]") for i, v in enumerate(items)]
    if hasattr(value, "__float__") and type(value).__name__ == "Decimal":
        return to_jsonable(float(value), _path=_path)
    raise TypeError(
        f"{_path}: {type(value).__name__} value {value!r} is not JSON-serialisable; "
        "publish numbers, strings, lists or dicts"
    )


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``update``: later keys win, nested dicts merge per key."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def publish(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Publish headline numbers from a running notebook.

    May be called several times: the runner merges the payloads in order (later keys win,
    nested dicts are merged per section). Returns the JSON-ready payload that was published.

    Parameters
    ----------
    payload : mapping
        String keys; values made of numbers, strings, lists and dicts (numpy and pandas values
        are converted, NaN and infinities become null).
    """
    if not isinstance(payload, Mapping):
        raise TypeError(f"publish() takes a dict of headline numbers, not {type(payload).__name__}")
    data = to_jsonable(payload)
    # Round-trip once so a payload that would not survive the notebook file fails here, in the
    # notebook, with a readable message, rather than later in the runner.
    json.dumps(data, allow_nan=False)
    from IPython.display import display

    display({MIME_TYPE: data}, raw=True)
    return data


def is_headline_output(output: Mapping[str, Any]) -> bool:
    """True for a notebook output that carries a headline payload."""
    return output.get("output_type") in ("display_data", "execute_result") and MIME_TYPE in (
        output.get("data") or {}
    )


def _payloads(cells: Iterable[Mapping[str, Any]]) -> Iterable[dict[str, Any]]:
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs") or []:
            if is_headline_output(output):
                data = output["data"][MIME_TYPE]
                if isinstance(data, str):  # some writers store JSON MIME bundles as text
                    data = json.loads(data)
                if not isinstance(data, Mapping):
                    raise ValueError(f"headline output is not a JSON object: {data!r}")
                yield dict(data)


def extract(nb: Any) -> dict[str, Any]:
    """Return the merged headline payload of an executed notebook (``{}`` if none).

    ``nb`` is a notebook node, a dict in nbformat 4 layout, or a path to an ``.ipynb`` file.
    """
    if isinstance(nb, (str, Path)):
        nb = json.loads(Path(nb).read_text(encoding="utf-8"))
    result: dict[str, Any] = {}
    for payload in _payloads(nb.get("cells") or []):
        result = merge(result, payload)
    return result
