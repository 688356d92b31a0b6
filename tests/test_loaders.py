"""Loading validates, and bad input fails with file, column and rows named."""

import pandas as pd
import pytest

from analysis.data import generate_portfolio, load_source, validate_source, write_portfolio
from analysis.data.schemas import SNAPSHOT_SCHEMA, DataValidationError, validate


@pytest.fixture(scope="module")
def small():
    return generate_portfolio(300, months=12, seed=11)


@pytest.fixture
def folder(small, tmp_path):
    write_portfolio(small, tmp_path)
    return tmp_path


def _rewrite(folder, name, df):
    df.to_parquet(folder / f"{name}.parquet", index=False)


def test_round_trip(small, folder):
    p = load_source(folder)
    assert len(p.customers) == 300
    pd.testing.assert_frame_equal(
        p.panel.reset_index(drop=True), small.panel.reset_index(drop=True), check_dtype=False
    )
    assert p.truth["log_hr"] == small.truth["log_hr"]
    assert p.exclusions.empty
    assert len(p.fingerprint) == 12


def test_csv_tables_load_too(small, tmp_path):
    small.customers.to_csv(tmp_path / "customers.csv", index=False)
    small.panel.to_csv(tmp_path / "panel.csv", index=False)
    p = load_source(tmp_path)
    assert len(p.panel) == len(small.panel)


def test_missing_column(small, folder):
    _rewrite(folder, "panel", small.panel.drop(columns=["aum"]))
    with pytest.raises(DataValidationError) as err:
        load_source(folder)
    msg = str(err.value)
    assert "panel.parquet" in msg and "'aum'" in msg and "missing" in msg


def test_negative_and_wrong_type(small, folder):
    panel = small.panel.copy()
    panel.loc[[3, 7], "aum"] = -5.0
    panel["n_products"] = panel["n_products"].astype(object)
    panel.loc[4, "n_products"] = "two"
    _rewrite(folder, "panel", panel.astype({"n_products": str}))
    with pytest.raises(DataValidationError) as err:
        load_source(folder)
    msg = str(err.value)
    # File rows from 1 (positions 3 and 7 are rows 4 and 8), one line per problem, no pandera
    # TypeError line for the check that could not run on 'two'.
    assert msg.splitlines() == [
        f"{folder / 'panel.parquet'}: 2 problem(s) found (row numbers count the file's data rows from 1, header line excluded):",
        "  - column 'aum': negative values in 2 row(s), e.g. row(s) 4, 8 (values: -5.0, -5.0)",
        "  - column 'n_products': values of the wrong type (expected whole numbers) in 1 row(s), e.g. row(s) 5 (values: 'two')",
    ]


def test_duplicate_customer_ids(small, folder):
    cust = pd.concat([small.customers, small.customers.iloc[[5]]], ignore_index=True)
    _rewrite(folder, "customers", cust)
    with pytest.raises(DataValidationError) as err:
        load_source(folder)
    first, line = str(err.value).splitlines()
    assert first.startswith(str(folder / "customers.parquet"))
    # Rows 6 and 301; the id itself is never printed, the same hash twice says "the same id".
    assert line.startswith("  - column 'customer_id': duplicate values in 2 row(s), e.g. row(s) 6, 301 (ids, masked: id#")
    assert small.customers.customer_id.iloc[5] not in line
    a, b = line[line.index("id#"):-1].split(", ")
    assert a == b


def test_duplicate_month_and_gap_and_order(small, folder):
    panel = small.panel.copy()
    first = panel.index[panel.customer_id == panel.customer_id.iloc[0]]
    dup = pd.concat([panel, panel.loc[[first[1]]]], ignore_index=True)
    _rewrite(folder, "panel", dup)
    with pytest.raises(DataValidationError, match="the same customer and month appear twice"):
        load_source(folder)
    gap = panel.drop(index=first[2])
    _rewrite(folder, "panel", gap)
    with pytest.raises(DataValidationError, match="a gap in a customer's months"):
        load_source(folder)
    swapped = panel.copy()
    swapped.loc[first[1], "tenure_months"], swapped.loc[first[2], "tenure_months"] = (
        panel.loc[first[2], "tenure_months"],
        panel.loc[first[1], "tenure_months"],
    )
    _rewrite(folder, "panel", swapped)
    # Tenures t, t+2, t+1, t+3: the three steps after the first are wrong; file rows from 1.
    t = [int(swapped.loc[i, "tenure_months"]) for i in first[1:4]]
    with pytest.raises(DataValidationError, match=(
        f"months out of order: tenure does not advance by 1 each calendar month in 3 row\\(s\\), "
        f"e.g. row\\(s\\) {first[1] + 1}, {first[2] + 1}, {first[3] + 1} \\(values: {t[0]}, {t[1]}, {t[2]}\\)$"
    )):
        load_source(folder)


def test_closed_must_be_last(small, folder):
    panel = small.panel.copy()
    cid = panel.customer_id.iloc[0]
    rows = panel.index[panel.customer_id == cid]
    panel.loc[rows[0], "closed"] = True
    _rewrite(folder, "panel", panel)
    with pytest.raises(DataValidationError, match=f"column 'closed'.*in 1 row\\(s\\), e.g. row\\(s\\) {rows[0] + 1}$"):
        load_source(folder)


def test_panel_customer_unknown(small, folder):
    _rewrite(folder, "customers", small.customers.iloc[1:])
    with pytest.raises(DataValidationError, match="panel customers missing from the customers table"):
        load_source(folder)


def test_customer_without_months_is_an_exclusion(small, folder):
    extra = small.customers.iloc[[0]].assign(customer_id="ZZZ")
    _rewrite(folder, "customers", pd.concat([small.customers, extra], ignore_index=True))
    p = load_source(folder)
    assert p.exclusions["customer_id"].tolist() == ["ZZZ"]
    text = validate_source(folder).to_text()
    assert "1: no months on book inside the window" in text
    assert "customers     : 301" in text


def test_tenure_must_match_open_date(small, folder):
    cust = small.customers.copy()
    cust.loc[0, "open_date"] = cust.loc[0, "open_date"] - pd.DateOffset(months=2)
    _rewrite(folder, "customers", cust)
    with pytest.raises(DataValidationError, match="tenure does not match open_date"):
        load_source(folder)


def test_missing_source():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_source("/nonexistent/folder")


def test_snapshot_schema_errors():
    snap = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b", "d"],
            "entry": [0, 5, 0, 0],
            "duration": [3.0, 2.0, None, -1.0],
            "event": [0, 1, 2, 0],
        }
    )
    with pytest.raises(DataValidationError) as err:
        validate(snap, SNAPSHOT_SCHEMA, "extract.csv")
    msg = str(err.value)
    assert msg.startswith("extract.csv:")
    assert "column 'customer_id': duplicate values in 2 row(s), e.g. row(s) 2, 3 (ids, masked: id#" in msg
    assert "column 'duration': missing values" in msg
    assert "column 'duration': negative values in 1 row(s), e.g. row(s) 4" in msg
    assert "column 'event'" in msg and "2" in msg
    assert "duration before entry" in msg or "duration >= entry" in msg


def test_default_data_regenerates_when_stale(tmp_path):
    import shutil

    from analysis.data import ensure_default_data

    out = tmp_path / "synthetic"  # a fresh copy of the default data: nothing to regenerate
    shutil.copytree(ensure_default_data(), out)
    stamp = (out / "generator.sha").read_text()
    before = (out / "panel.parquet").stat().st_mtime_ns
    assert ensure_default_data(out) == out
    assert (out / "panel.parquet").stat().st_mtime_ns == before  # fresh: not rewritten
    (out / "generator.sha").write_text("older-generator")
    ensure_default_data(out)
    assert (out / "generator.sha").read_text() == stamp
    assert (out / "panel.parquet").stat().st_mtime_ns != before


def test_a_render_checks_the_book_once_and_kernels_read_the_checked_copy(small, folder,
                                                                          tmp_path, monkeypatch):
    import os

    from analysis.data import loaders
    from analysis.report.runner import _validated_for_kernels

    checked = load_source(folder)
    calls = []
    real = loaders._load_tables
    monkeypatch.setattr(loaders, "_load_tables", lambda *a, **k: calls.append(a) or real(*a, **k))
    with _validated_for_kernels(checked, tmp_path / "validated"):
        assert os.environ[loaders.VALIDATED_ENV] == str(tmp_path / "validated")
        again = load_source(folder)  # what a kernel does: same files -> the checked copy
        assert calls == []
        for name in ("customers", "panel", "exclusions"):
            pd.testing.assert_frame_equal(getattr(again, name), getattr(checked, name))
        assert again.fingerprint == checked.fingerprint
        # other files (here: one value changed) are checked as always, copy or not
        bad = small.panel.copy()
        bad.loc[0, "aum"] = -1.0
        other = tmp_path / "other"
        write_portfolio(type(small)(customers=small.customers, panel=bad), other)
        with pytest.raises(DataValidationError, match="aum"):
            load_source(other)
        assert len(calls) == 1
    assert loaders.VALIDATED_ENV not in os.environ  # restored after the run
    load_source(folder)
    assert len(calls) == 2
