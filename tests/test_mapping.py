"""Mapping files: snapshot extracts load, convert and fail with clear messages."""

import textwrap

import numpy as np
import pandas as pd
import pytest

from analysis.data import load_source, validate_source
from analysis.data.mapping import read_mapping
from analysis.data.schemas import DataValidationError
from analysis.studies.population import prepare_study


def _write(tmp_path, csv: pd.DataFrame, yml: str, name="extract.csv"):
    csv.to_csv(tmp_path / name, index=False)
    path = tmp_path / "m.yml"
    path.write_text(textwrap.dedent(yml))
    return path


@pytest.fixture
def extract():
    return pd.DataFrame(
        {
            "Kunde": ["k1", "k2", "k3", "k4"],
            "Jahre": [2, 0, 5, 1],
            "Weg": ["ja", "nein", "ja", "nein"],
            "Konto": ["Y", "Y", "N", "Y"],
            "Karte": ["Y", "N", "N", "Y"],
            "Name": ["Anna", "Bert", "Cora", "Dirk"],
            "Alter": [30, 40, 50, 60],
            "Region": ["N", "S", "N", "S"],
        }
    )


BASIC = textwrap.dedent("""
    format: snapshot
    path: extract.csv
    id: Kunde
    duration: Jahre
    duration_unit: years
    event: {column: Weg, churned: [ja], active: [nein]}
    products: {count: {Konto: [Y], Karte: [Y]}}
    groups: [Region]
    numeric: [Alter]
    drop: [Name]
""")


def test_basic_mapping(tmp_path, extract):
    p = load_source(_write(tmp_path, extract, BASIC))
    snap = p.snapshot.set_index("customer_id")
    assert snap["duration"].tolist() == [24.0, 6.0, 60.0, 12.0]  # years -> months; 0 -> half a year
    assert snap["event"].tolist() == [1, 0, 1, 0]
    assert snap["n_products"].tolist() == [2, 1, 0, 2]
    assert "Name" not in p.snapshot.columns
    assert any("duration of 0 years" in n for n in p.notes)
    study = prepare_study(tmp_path / "m.yml")
    assert not study.has_panel
    assert list(study.frame["product_group"].cat.categories) == ["0", "1", "2+"]
    assert "Region" in study.groupings and "Alter" in study.numeric


def test_dropped_columns_are_never_read(tmp_path, extract, monkeypatch):
    seen = {}
    real = pd.read_csv

    def spy(*args, **kwargs):
        seen.setdefault("usecols", []).append(kwargs.get("usecols"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", spy)
    load_source(_write(tmp_path, extract, BASIC))
    assert "Name" not in seen["usecols"][-1]


def test_keep_zero_durations(tmp_path, extract):
    p = load_source(_write(tmp_path, extract, BASIC + "zero_durations: keep\n"))
    assert p.snapshot["duration"].min() == 0


def test_unknown_key_suggests(tmp_path, extract):
    path = _write(tmp_path, extract, BASIC + "grups: [Region]\n")
    with pytest.raises(DataValidationError, match=r"key 'grups': unknown key \(did you mean 'groups'\?\)"):
        read_mapping(path)


def test_missing_required_key(tmp_path, extract):
    path = _write(tmp_path, extract, "path: extract.csv\nevent: Weg\n")
    with pytest.raises(DataValidationError, match="key 'duration': required but missing"):
        read_mapping(path)


def test_missing_column_names_file_and_column(tmp_path, extract):
    path = _write(tmp_path, extract.drop(columns=["Alter"]), BASIC)
    with pytest.raises(DataValidationError) as err:
        load_source(path)
    assert "extract.csv" in str(err.value) and "column 'Alter': named in the mapping but not in the file" in str(err.value)


def test_bad_values_are_all_reported(tmp_path, extract):
    bad = extract.copy()
    bad.loc[1, "Weg"] = "vielleicht"
    bad["Jahre"] = bad["Jahre"].astype(object)
    bad.loc[2, "Jahre"] = "fünf"
    bad.loc[3, "Jahre"] = -1
    bad.loc[3, "Kunde"] = "k1"
    with pytest.raises(DataValidationError) as err:
        load_source(_write(tmp_path, bad, BASIC))
    msg = str(err.value)
    assert "column 'Weg': event values that are neither churned ['ja'] nor active ['nein'] in 1 row(s), e.g. row(s) 2 (values: 'vielleicht')" in msg
    assert "column 'Jahre': non-numeric durations in 1 row(s), e.g. row(s) 3 (values: 'fünf')" in msg
    assert "column 'Jahre': negative durations in 1 row(s), e.g. row(s) 4 (values: -1.0)" in msg
    # File rows 1 and 4 (header excluded); the id 'k1' is shown only as one salted hash.
    assert "column 'Kunde': duplicate ids in 2 row(s), e.g. row(s) 1, 4 (ids, masked: id#" in msg
    assert "'k1'" not in msg


def test_value_attrition_needs_a_panel(tmp_path, extract):
    with pytest.raises(ValueError, match="needs monthly histories"):
        prepare_study(_write(tmp_path, extract, BASIC), attrition="value")


def test_branch_from_mapping(tmp_path, extract):
    path = _write(tmp_path, extract, BASIC + "branch: Region\n")
    p = load_source(path)
    assert p.branches == ["N", "S"]
    sub = p.for_branch("S")
    assert sub.snapshot["customer_id"].tolist() == ["k2", "k4"]
    text = validate_source(path).to_text()
    assert "customers     : 4" in text and "events        : 2 customers left (50.0%)" in text


def test_no_id_numbers_rows(tmp_path, extract):
    yml = BASIC.replace("id: Kunde\n", "")
    p = load_source(_write(tmp_path, extract, yml))
    assert p.snapshot["customer_id"].tolist()[:2] == ["row-000001", "row-000002"]
