"""Headline payloads: JSON conversion, merge of several publish() calls, extraction."""

from __future__ import annotations

import datetime as dt
import json
import math

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from analysis.report import headline
from analysis.report.headline import MIME_TYPE, extract, merge, publish, to_jsonable


def test_to_jsonable_converts_numpy_pandas_and_non_finite():
    payload = {
        "n": np.int64(7),
        "rate": np.float32(0.5),
        "flag": np.bool_(True),
        "nan": float("nan"),
        "np_nan": np.float64("nan"),
        "inf": -math.inf,
        "arr": np.array([1.0, np.nan, 3.0]),
        "date": dt.date(2024, 6, 1),
        "ts": pd.Timestamp("2024-06-01"),
        "nat": pd.NaT,
        "series": pd.Series({"a": 1, "b": np.nan}),
        "frame": pd.DataFrame({"x": [1, 2]}),
        "tuple": (1, 2),
        1: "int key",
    }
    out = to_jsonable(payload)
    assert out == {
        "n": 7,
        "rate": 0.5,
        "flag": True,
        "nan": None,
        "np_nan": None,
        "inf": None,
        "arr": [1.0, None, 3.0],
        "date": "2024-06-01",
        "ts": "2024-06-01T00:00:00",
        "nat": None,
        "series": {"a": 1.0, "b": None},
        "frame": [{"x": 1}, {"x": 2}],
        "tuple": [1, 2],
        "1": "int key",
    }
    assert type(out["n"]) is int and type(out["flag"]) is bool
    json.dumps(out, allow_nan=False)  # strictly valid JSON


def test_to_jsonable_names_the_offending_key():
    with pytest.raises(TypeError, match=r"payload\['section'\]\['bad'\]: object"):
        to_jsonable({"section": {"bad": object()}})


def test_merge_later_keys_win_and_sections_merge():
    a = {"retention": {"12": 0.9, "24": 0.8}, "n": 1, "scope": "bank"}
    b = {"retention": {"24": 0.85, "36": 0.7}, "scope": "BANK", "new": {"x": 1}}
    assert merge(a, b) == {
        "retention": {"12": 0.9, "24": 0.85, "36": 0.7},
        "n": 1,
        "scope": "BANK",
        "new": {"x": 1},
    }
    assert a == {"retention": {"12": 0.9, "24": 0.8}, "n": 1, "scope": "bank"}  # not mutated


def test_publish_displays_raw_bundle_without_text_fallback(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    out = publish({"x": np.float64(1.5), "y": float("nan")})
    assert out == {"x": 1.5, "y": None}
    assert shown == [({MIME_TYPE: {"x": 1.5, "y": None}}, True)]  # no text/plain: invisible


def test_publish_rejects_non_mapping():
    with pytest.raises(TypeError, match="dict of headline numbers"):
        publish([1, 2])


def _nb_with_payloads(*payloads):
    cells = []
    for p in payloads:
        cell = new_code_cell("publish(...)")
        cell.outputs = [
            new_output("stream", name="stdout", text="noise\n"),
            new_output("display_data", data={MIME_TYPE: p}),
        ]
        cells.append(cell)
    return new_notebook(cells=cells)


def test_extract_merges_in_order(tmp_path):
    nb = _nb_with_payloads({"a": 1, "s": {"x": 1}}, {"a": 2, "s": {"y": None}})
    assert extract(nb) == {"a": 2, "s": {"x": 1, "y": None}}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert extract(path) == {"a": 2, "s": {"x": 1, "y": None}}
    assert extract(new_notebook(cells=[new_code_cell("1")])) == {}


def test_extract_accepts_payload_stored_as_text():
    nb = _nb_with_payloads({"a": 1})
    nb.cells[0].outputs[1]["data"][MIME_TYPE] = json.dumps({"a": 3})
    assert extract(nb) == {"a": 3}
    assert headline.is_headline_output(nb.cells[0].outputs[1])
    assert not headline.is_headline_output(nb.cells[0].outputs[0])
