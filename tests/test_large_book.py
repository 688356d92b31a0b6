"""Large books (analysis.data.large_book): checked in chunks, counted in SQL, modelled on a sample.

The embedded default book (6,000 customers) stands in for a large one by asking for a smaller
model sample; every number is compared with the same book loaded whole.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from analysis.data import ensure_default_data, load_source
from analysis.data.large_book import (
    MODEL_SAMPLE_ENV,
    VALIDATED_BOOK_ENV,
    check_book,
    load_for_models,
    model_sample_size,
    open_book,
)
from analysis.data.schemas import DataValidationError
from analysis.studies.overview.estimate import attrition_overview
from analysis.studies.overview.headline import headline
from analysis.studies.overview.versus_bank import versus_bank
from analysis.frames import COUNT_COLUMNS
from analysis.studies.population import counted_numbers, prepare_study
from analysis.studies.whole_book import book_counts, sample_note

SAMPLE = 1500


@pytest.fixture(scope="module")
def full():
    return prepare_study("synthetic")


@pytest.fixture(scope="module")
def sampled():
    return prepare_study("synthetic", sample=SAMPLE)


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id").reset_index(drop=True)


def _counts_of(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers of a loaded frame counted as the SQL counts them."""
    keys = [*COUNT_COLUMNS, "entry", "duration", "event"]
    return (frame.groupby(keys, observed=True)
            .agg(customers=("customer_id", "size"), profit_annual=("profit_annual", "sum"))
            .reset_index())


def _same_counts(counted: pd.DataFrame, frame: pd.DataFrame) -> None:
    got = counted.drop(columns=["tier_group", "product_group"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, _counts_of(frame), check_dtype=False)


def test_sql_counts_of_every_customer_equal_the_loaded_frame(full, sampled):
    assert sampled.book_counts is not None
    assert counted_numbers(sampled.counted_frame) == counted_numbers(full.counted_frame)
    assert counted_numbers(sampled.counted_frame)["customers"] == len(full.frame) == 6000
    _same_counts(sampled.counted_frame, full.frame)
    assert len(sampled.counted_frame) < len(full.frame)  # counts (few at 6,000 customers)
    values = sampled.counted_values.sort_values(ignore_index=True)
    pd.testing.assert_series_equal(values, full.counted_values.sort_values(ignore_index=True),
                                   check_names=False)
    assert len(sampled.counted_exclusions) == len(full.exclusions)


def test_report_01_on_a_large_book_equals_the_book_loaded_whole(full, sampled):
    """Every number of the overview read from SQL counts is that of the customers' rows."""
    got, want = attrition_overview(sampled), attrition_overview(full)
    for name in ("overall_rate", "survival_at", "survival_at_products", "rmst", "median",
                 "hazard", "km_all"):
        pd.testing.assert_frame_equal(getattr(got, name).value, getattr(want, name).value,
                                      check_exact=False, rtol=1e-10)
    for col in want.km:
        pd.testing.assert_frame_equal(got.km[col].value, want.km[col].value,
                                      check_exact=False, rtol=1e-10)
        pd.testing.assert_frame_equal(got.rates[col].value, want.rates[col].value,
                                      check_exact=False, rtol=1e-10)
        assert got.logrank[col].value.chi2 == pytest.approx(want.logrank[col].value.chi2,
                                                            rel=1e-10)
    assert (got.top20_share, got.gini) == pytest.approx((want.top20_share, want.gini), rel=1e-12)
    assert got.departed_value == pytest.approx(want.departed_value, rel=1e-12)
    pd.testing.assert_frame_equal(got.summary.iloc[:8], want.summary.iloc[:8])
    h, w = headline(got)["overview"], headline(want)["overview"]
    for key in ("n", "events", "left_truncated", "excluded", "person_years"):
        assert h[key] == pytest.approx(w[key], rel=1e-12)


def test_the_sample_is_seeded_and_its_rows_are_the_books_rows(full, sampled):
    s = sampled.sample
    assert (s.customers, s.of) == (SAMPLE, 6000) and len(sampled.frame) == SAMPLE
    ids = sampled.frame["customer_id"]
    assert ids.is_unique
    # the same customers every time (every report of a run models the same sample)...
    again = prepare_study("synthetic", sample=SAMPLE)
    assert again.frame["customer_id"].tolist() == ids.tolist()
    # ...and each sampled customer's row is exactly the row of the whole book
    whole = _by_id(full.frame[full.frame["customer_id"].isin(ids)])
    pd.testing.assert_frame_equal(whole, _by_id(sampled.frame), check_dtype=False,
                                  check_categorical=False)
    # a random draw, not the first customers in file order
    assert not ids.isin(full.frame["customer_id"].iloc[:SAMPLE]).all()
    assert sampled.portfolio.sample == s and len(sampled.portfolio.customers) == SAMPLE


def test_a_book_no_larger_than_the_sample_is_loaded_whole(full):
    study = prepare_study("synthetic", sample=6000)
    assert study.sample is None and study.book_counts is None
    pd.testing.assert_frame_equal(_by_id(study.frame), _by_id(full.frame))


def test_a_branch_models_its_customers_within_the_bank_wide_sample(full, sampled):
    branch = sorted(full.frame["branch"].unique())[0]
    n_branch = int((full.frame["branch"] == branch).sum())
    study = prepare_study("synthetic", branch=branch, sample=SAMPLE)
    in_bank_sample = sampled.frame.loc[sampled.frame["branch"] == branch, "customer_id"]
    assert sorted(study.frame["customer_id"]) == sorted(in_bank_sample)  # a slice, no new draw
    assert study.sample.of == n_branch and study.sample.customers == len(in_bank_sample)
    assert 0.5 * SAMPLE * n_branch / 6000 < len(study.frame) < 1.5 * SAMPLE * n_branch / 6000
    _same_counts(study.counted_frame, full.frame[full.frame["branch"] == branch])
    # the branch against the bank: every customer of the bank, as when loaded whole
    whole_branch = prepare_study("synthetic", branch=branch)
    got, want = versus_bank(study), versus_bank(whole_branch)
    pd.testing.assert_frame_equal(got.table, want.table)
    # a book no larger than the sample: the branch's customers, all of them
    small = prepare_study("synthetic", branch=branch, sample=6000)
    assert small.sample is None and len(small.frame) == n_branch
    with pytest.raises(ValueError, match="not in the data"):
        prepare_study("synthetic", branch="no such branch", sample=300)


def test_overview_counts_every_customer_and_states_the_sample(full, sampled):
    big, small = attrition_overview(sampled), attrition_overview(full)
    pd.testing.assert_frame_equal(big.overall_rate.value, small.overall_rate.value)
    pd.testing.assert_frame_equal(big.km_all.value, small.km_all.value)
    assert (big.logrank["tier_group"].value.chi2
            == pytest.approx(small.logrank["tier_group"].value.chi2, rel=1e-12))
    h = headline(big)["overview"]
    assert h["n"] == 6000 and h["model_sample"] == {"customers": SAMPLE, "of": 6000,
                                                    "seed": sampled.sample.seed}
    assert headline(small)["overview"]["model_sample"] is None
    summary = dict(zip(big.summary["item"], big.summary["value"]))
    assert summary["Customers studied"] == "6,000"
    assert f"{SAMPLE:,} customers" in summary["Models fitted on"]
    # the outflow warning is the sample's model: the drivers report fits the same customers
    from analysis.studies.drivers.estimate import outflow_warning

    assert big.warning.value["hr"] == outflow_warning(sampled)["hr"]
    note = sample_note(sampled.sample)
    assert "6,000" in note and f"{SAMPLE:,}" in note
    assert sample_note(None) is None


def test_load_for_models_gives_the_same_sample():
    p = load_for_models("synthetic", sample=SAMPLE)
    assert p.sample.customers == SAMPLE and p.panel["customer_id"].nunique() == SAMPLE
    assert load_for_models("synthetic", sample=None).sample is None


def test_model_sample_size_reads_the_environment(monkeypatch):
    from analysis import config

    monkeypatch.delenv(MODEL_SAMPLE_ENV, raising=False)
    assert model_sample_size() == config.MODEL_SAMPLE
    monkeypatch.setenv(MODEL_SAMPLE_ENV, "20_000")
    assert model_sample_size() == 20000
    for bad in ("many", "10"):
        monkeypatch.setenv(MODEL_SAMPLE_ENV, bad)
        with pytest.raises(ValueError, match=MODEL_SAMPLE_ENV):
            model_sample_size()


@pytest.fixture()
def book_copy(tmp_path):
    src = ensure_default_data()
    dst = tmp_path / "book"
    dst.mkdir()
    for name in ("customers.parquet", "panel.parquet"):
        shutil.copy(src / name, dst / name)
    return dst


def test_chunked_check_passes_a_good_book_and_lists_its_exclusions(book_copy):
    customers = pd.read_parquet(book_copy / "customers.parquet")
    extra = customers.iloc[[0]].assign(customer_id="NOMONTHS1")
    pd.concat([customers, extra]).to_parquet(book_copy / "customers.parquet", index=False)
    book = open_book(book_copy)
    assert book.n_customers == 6001 and book.truth is None
    got = check_book(book, chunk_customers=1000)  # 7 chunks
    want = load_source(book_copy).exclusions
    assert got["customer_id"].tolist() == want["customer_id"].tolist() == ["NOMONTHS1"]
    assert got["reason"].tolist() == want["reason"].tolist()


def test_chunked_check_names_every_problem_as_a_whole_load_does(book_copy, monkeypatch):
    panel = pd.read_parquet(book_copy / "panel.parquet")
    panel.loc[[10, 5000], "aum"] = -1.0
    panel = pd.concat([panel, panel.iloc[[20]]], ignore_index=True)  # a duplicated month
    panel.to_parquet(book_copy / "panel.parquet", index=False)
    with pytest.raises(DataValidationError) as whole:
        load_source(book_copy)
    book = open_book(book_copy)
    with pytest.raises(DataValidationError) as chunked:
        check_book(book, chunk_customers=1000)
    assert str(chunked.value) == str(whole.value)
    assert "negative" in str(whole.value) or ">= 0" in str(whole.value) or "aum" in str(whole.value)
    # a render that checked these very files tells its kernels so: they skip the check
    monkeypatch.setenv(VALIDATED_BOOK_ENV, book.fingerprint)
    assert check_book(book).empty


def test_open_book_only_takes_parquet_folders(tmp_path):
    assert open_book(tmp_path / "missing") is None
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "customers.csv").write_text("customer_id\n1\n")
    (tmp_path / "csv" / "panel.csv").write_text("customer_id\n1\n")
    assert open_book(tmp_path / "csv") is None
    assert open_book("synthetic").n_customers == 6000
    counts, values, excluded = book_counts(open_book("synthetic"))
    assert counts["customers"].sum() == len(values) == 6000 and excluded.empty
    assert np.isfinite(counts["duration"]).all()


def _break(kind: str, customers: pd.DataFrame, panel: pd.DataFrame):
    """Break a book one way (the ways the pandas checks name); returns the two tables."""
    c, p = customers.copy(), panel.copy()
    first = p["customer_id"] == p["customer_id"].iloc[0]
    mid = p.index[first][len(p.index[first]) // 2]
    if kind == "negative aum":
        p.loc[7, "aum"] = -1.0
    elif kind == "NaN balance":
        p.loc[7, "loan_balance"] = np.nan
    elif kind == "tier out of range":
        p.loc[7, "tier"] = 7
    elif kind == "unknown segment":
        p.loc[7, "segment"] = "other"
    elif kind == "null id":
        p["customer_id"] = p["customer_id"].astype(object)
        p.loc[7, "customer_id"] = None
    elif kind == "duplicated month":
        p = pd.concat([p, p.loc[[mid]]], ignore_index=True)
    elif kind == "gap":
        p = p.drop(index=mid).reset_index(drop=True)
    elif kind == "tenure step":
        p.loc[mid, "tenure_months"] += 5
    elif kind == "closed early":
        p.loc[mid, "closed"] = True
    elif kind == "unknown customer":
        p.loc[first, "customer_id"] = "NOT-A-CUSTOMER"
    elif kind == "open date":
        c.loc[0, "open_date"] = c.loc[0, "open_date"] - pd.DateOffset(months=1)
    elif kind == "duplicated customer":
        c = pd.concat([c, c.iloc[[3]]], ignore_index=True)
    elif kind == "age":
        c.loc[3, "age_at_open"] = 130
    elif kind == "branch per customer":
        c["branch"] = "B" + c["customer_id"].astype(str)
    elif kind == "missing column":
        p = p.drop(columns="segment")
    else:  # pragma: no cover
        raise ValueError(kind)
    return c, p


BREAKS = ["negative aum", "NaN balance", "tier out of range", "unknown segment", "null id",
          "duplicated month", "gap", "tenure step", "closed early", "unknown customer",
          "open date", "duplicated customer", "age", "branch per customer", "missing column"]


@pytest.mark.parametrize("kind", BREAKS)
def test_sql_checks_find_what_the_pandas_checks_name(book_copy, kind):
    from analysis.data.sql_checks import sql_findings

    assert sql_findings(open_book(book_copy)) == []  # the clean book
    c, p = _break(kind, pd.read_parquet(book_copy / "customers.parquet"),
                  pd.read_parquet(book_copy / "panel.parquet"))
    c.to_parquet(book_copy / "customers.parquet", index=False)
    p.to_parquet(book_copy / "panel.parquet", index=False)
    book = open_book(book_copy)
    assert sql_findings(book), kind
    with pytest.raises(DataValidationError) as whole:
        load_source(book_copy)
    with pytest.raises(DataValidationError) as checked:
        check_book(book, chunk_customers=2500)
    assert str(checked.value) == str(whole.value)


def test_unusual_types_that_hold_valid_values_pass_through_pandas(book_copy):
    from analysis.data.sql_checks import sql_findings

    p = pd.read_parquet(book_copy / "panel.parquet")
    p["tenure_months"] = p["tenure_months"].astype(float)  # whole numbers stored as floats
    p.to_parquet(book_copy / "panel.parquet", index=False)
    book = open_book(book_copy)
    assert any("tenure_months has type" in f for f in sql_findings(book))
    assert check_book(book, chunk_customers=2500).empty  # the pandas checks accept it


def test_a_kernel_trusts_the_renders_check_of_the_same_files(book_copy, monkeypatch):
    checked = load_source(book_copy)
    monkeypatch.setenv(VALIDATED_BOOK_ENV, checked.fingerprint)
    trusted = load_source(book_copy)
    for name in ("customers", "panel", "exclusions"):
        pd.testing.assert_frame_equal(getattr(trusted, name).reset_index(drop=True),
                                      getattr(checked, name).reset_index(drop=True))
    # other files (another content hash) are checked as always
    p = pd.read_parquet(book_copy / "panel.parquet")
    p.loc[3, "aum"] = -5.0
    p.to_parquet(book_copy / "panel.parquet", index=False)
    with pytest.raises(DataValidationError):
        load_source(book_copy)


def test_early_warning_learns_from_the_sample_and_lists_every_customer(full, sampled):
    from analysis.studies.early_warning.estimate import _book_rows, early_warning
    from analysis.studies.early_warning.features import person_months

    p = full.portfolio
    pm = person_months(p.panel, p.customers)
    a = len(pm.months) - 1
    want = pm.frame[(pm.frame["m"] == a) & pm.frame["at_risk"]]
    got = _book_rows(sampled, pm.months[a])
    # the last 7 months give every signal of this month exactly as the whole history does
    cols = [c for c in want.columns if c not in ("m", "event_gap")]  # month indices
    pd.testing.assert_frame_equal(got[cols].reset_index(drop=True),
                                  want[cols].reset_index(drop=True), check_dtype=False)
    ew = early_warning(sampled, backtest=False)
    assert ew.scored == len(want) > SAMPLE
    listed = ew.current.value
    assert listed.groupby("branch").size().eq(ew.list_size).all()
    assert not listed["customer_id"].isin(sampled.frame["customer_id"]).all()  # not just the sample
    assert any(f"{SAMPLE:,}" in n for n in ew.notes)
    from analysis.studies.early_warning.headline import headline as ew_headline

    assert ew_headline(ew)["early_warning"]["model_sample"]["customers"] == SAMPLE


def test_customer_value_projects_every_customer_of_a_large_book(full, sampled):
    from analysis.data.large_book import book_customers
    from analysis.studies.value.estimate import Assumptions, Projector, customer_value
    from analysis.studies.value.headline import headline as value_headline

    a = Assumptions(n_boot=3)
    big = customer_value(sampled, assumptions=a)
    # every customer on book is projected; the monthly models learn from the model sample
    assert big.sizes["fit_customers"] == SAMPLE and big.sizes["fit_sample"]
    assert value_headline(big)["value"]["model_sample"]["customers"] == SAMPLE
    # the start states read from the book's files equal those of the book loaded whole
    p, as_of = full.portfolio, full.as_of
    from_files = Projector(open_book("synthetic").panel, book_customers(open_book("synthetic")),
                           as_of, a, fit_on=(p.panel, p.customers))
    loaded = Projector(p.panel, p.customers, as_of, a)
    pd.testing.assert_frame_equal(from_files.state.drop(columns=["age_at_open"], errors="ignore"),
                                  loaded.state.drop(columns=["age_at_open"], errors="ignore"),
                                  check_dtype=False)
    for key, values in loaded.base.items():
        np.testing.assert_array_equal(from_files.base[key], values)
    assert big.sizes["customers"] == len(loaded.state) > SAMPLE


def test_a_render_builds_the_bank_counts_once_and_branches_slice_them(tmp_path, monkeypatch,
                                                                      full):
    from analysis.data.large_book import BOOK_CACHE_ENV

    book = open_book("synthetic")
    branch = sorted(full.frame["branch"].unique())[1]
    plain, plain_branch = book_counts(book), book_counts(book, branch=branch)
    monkeypatch.setenv(BOOK_CACHE_ENV, str(tmp_path / "cache"))
    first = book_counts(book)  # builds and keeps them
    kept = list((tmp_path / "cache").iterdir())
    assert len(kept) == 1 and (kept[0] / "counts.parquet").exists()
    again = book_counts(book, branch=branch)  # read from the cache, sliced
    for got, want in [*zip(first, plain), *zip(again, plain_branch)]:
        pd.testing.assert_frame_equal(got, want)
    assert (again[0]["branch"] == branch).all() and (again[1]["branch"] == branch).all()
    assert again[0]["customers"].sum() == len(again[1]) == (full.frame["branch"] == branch).sum()
    book_counts(book, as_of="2025-06-01")  # another definition: another entry
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_a_hostile_branch_name_is_only_ever_a_value(book_copy):
    hostile = "O'Brien'); DROP TABLE x; --"
    c = pd.read_parquet(book_copy / "customers.parquet")
    first = c["branch"] == sorted(c["branch"].unique())[0]
    c.loc[first, "branch"] = hostile
    c.to_parquet(book_copy / "customers.parquet", index=False)
    book = open_book(book_copy)
    assert hostile in book.branches() and book.count(hostile) == int(first.sum())
    study = prepare_study(book_copy, branch=hostile, sample=SAMPLE)
    assert (study.counted_frame["branch"] == hostile).all()
    assert counted_numbers(study.counted_frame)["customers"] == int(first.sum())
    assert (study.frame["branch"] == hostile).all()


def test_validate_counts_a_large_book_by_sql(monkeypatch):
    from analysis.data import validate_source

    whole = validate_source("synthetic")
    monkeypatch.setenv(MODEL_SAMPLE_ENV, "1000")  # the default book now counts as large
    by_sql = validate_source("synthetic")
    for key in ("customers", "panel_rows", "first_month", "last_month", "branches", "closures",
                "left_truncated"):
        assert getattr(by_sql, key) == getattr(whole, key), key
    assert len(by_sql.exclusions) == len(whole.exclusions)
    assert "checked and counted by SQL" in by_sql.to_text()


def test_report_02_fits_its_model_from_counts_on_every_customer(full, tmp_path, monkeypatch):
    from analysis.data.large_book import BOOK_CACHE_ENV
    from analysis.frames import exposure_cells
    from analysis.stats.cox.cells import fit_piecewise_exponential
    from analysis.studies.product_effect.estimate import estimate_product_effect

    monkeypatch.setenv(BOOK_CACHE_ENV, str(tmp_path / "cache"))
    whole = load_source("synthetic")
    sample = load_for_models("synthetic", sample=SAMPLE)
    pe = estimate_product_effect(sample, n_boot=2, mc_size=200, horizons=(12,))
    counts = pe.headline["cox_time_varying"]["from_counts"]
    assert counts["whole_book"] is True and counts["customers"] == 6000
    assert pe.headline["model_sample"]["customers"] == SAMPLE
    # the same numbers as the cells of the book loaded whole: every customer, not the sample
    tv = pe.fits["time_varying"]
    ref = fit_piecewise_exponential(
        exposure_cells(whole.panel, whole.customers, lag=1, bins=10, band_months=6),
        tv.covariates, strata=["branch"])
    got = pe.fits["time_varying_cells"]
    np.testing.assert_allclose(got.params, ref.params, rtol=1e-9)
    assert got.n == ref.n > 3 * tv.n_rows  # customer-months of the book, not of the sample
    row = pe.summary.set_index("method").loc[
        "Time-varying, piecewise exponential from counts (large-book engine)"]
    assert row["n"] == 6000 and "every customer" in row["note"]
    # a branch: its customers' months of the bank-wide cells (kept by the render above)
    branch = sorted(whole.customers["branch"].unique())[0]
    bpe = estimate_product_effect(load_for_models("synthetic", branch, sample=SAMPLE),
                                  n_boot=2, mc_size=200, horizons=(12,))
    bcounts = bpe.headline["cox_time_varying"]["from_counts"]
    n_branch = int((whole.customers["branch"] == branch).sum())
    assert bcounts["customers"] == n_branch and bcounts["whole_book"] is True
    months = exposure_cells(whole.panel, whole.customers, lag=1, bins=10, band_months=6)
    assert bpe.fits["time_varying_cells"].n == months.loc[months["branch"] == branch,
                                                          "at_risk"].sum()
    assert len(list((tmp_path / "cache").iterdir())) == 1  # built once for the bank


def test_a_second_report_in_the_kernel_reuses_the_checked_sample(monkeypatch):
    from analysis.data import large_book

    book = open_book("synthetic")
    first = large_book.load_sample(book, SAMPLE)
    first.panel.loc[:, "aum"] = -1.0  # what one report does to its copy stays there
    monkeypatch.setattr(large_book, "_sample_ids", lambda *a, **k: pytest.fail("reloaded"))
    again = large_book.load_sample(book, SAMPLE)
    assert (again.panel["aum"] >= 0).all() and len(again.customers) == SAMPLE
    assert again.sample == first.sample
    monkeypatch.undo()
    other = large_book.load_sample(book, SAMPLE, seed=5)  # another sample: read and checked
    assert not other.customers["customer_id"].equals(again.customers["customer_id"])
