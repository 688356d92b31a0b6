"""Report 05 on a large book: the bank's projection is built once per render and every branch
report is its rows (analysis.studies.value.book_projection, analysis.studies.whole_book)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from analysis import config
from analysis.data.large_book import BOOK_CACHE_ENV, open_book
from analysis.studies.population import prepare_study
from analysis.studies.value import estimate
from analysis.studies.value.book_projection import pack, unpack
from analysis.studies.value.estimate import (QUANTITIES, Assumptions, Projector, _frame,
                                             _project_all, _waiver_break_even, _waiver_net,
                                             customer_value)
from analysis.studies.whole_book import kept_for_render

SAMPLE = 1500


@pytest.fixture(scope="module")
def projected():
    """The default book's projection with a bootstrap subsample (1,000 of 4,571 customers on
    book), so that the replicates' scaled-up rows are packed as well."""
    study = prepare_study("synthetic")
    a = Assumptions(n_boot=2, paths=2, paths_top=2)
    p = study.portfolio
    proj = Projector(p.panel, p.customers, study.as_of, a)
    frame = _frame(proj.state, proj.money)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config, "VALUE_BOOT_CUSTOMERS", 1000)
        sims = _project_all(proj, a, frame, branches=True)
    return proj, a, frame, sims


def _same(got: dict, want: dict, rows=None) -> None:
    for key in ("natural", "outflow_cut"):
        for q in QUANTITIES:
            w = want[key][q] if rows is None else want[key][q][rows]
            np.testing.assert_array_equal(got[key][q], w, err_msg=f"{key}/{q}")


def test_the_packed_bank_projection_reads_back_exactly(projected):
    proj, a, frame, sims = projected
    assert sims["boot_customers"] == 1000
    tables = pack(frame, sims, QUANTITIES, sizes={"fit_customers": 1, "fit_sample": False},
                  margin=proj.margin)
    assert "customer_id" not in tables["customers"] and len(tables["reps"]) == 2 * 1000
    got_frame, got, sizes, margin = unpack(tables, QUANTITIES)
    pd.testing.assert_frame_equal(got_frame, frame[got_frame.columns].reset_index(drop=True))
    assert margin == proj.margin and sizes["boot_customers"] == 1000
    _same(got["point"], sims["point"])
    for g, w in zip(got["reps"], sims["reps"]):
        _same(g, {k: {q: v for q, v in w[k].items() if q != "curve"}
                  for k in ("natural", "outflow_cut")})
        np.testing.assert_array_equal(g["one_more"]["clv"], w["one_more"]["clv"])
        assert g["waiver_hr"] == w["waiver_hr"]
    np.testing.assert_array_equal(got["point"]["one_more"]["months"],
                                  sims["point"]["one_more"]["months"])
    np.testing.assert_array_equal(got["targets"], sims["targets"])
    assert got["point"]["waiver_hr"] == sims["point"]["waiver_hr"]


def test_a_branch_reads_its_rows_and_its_own_fee_waiver_break_even(projected):
    proj, a, frame, sims = projected
    tables = pack(frame, sims, QUANTITIES, sizes={"fit_customers": 1, "fit_sample": False},
                  margin=proj.margin)
    branch = sorted(frame["branch"].unique())[2]
    rows = np.flatnonzero(frame["branch"].to_numpy() == branch)
    got_frame, got, sizes, _ = unpack(tables, QUANTITIES, branch)
    assert len(got_frame) == rows.size and (got_frame["branch"] == branch).all()
    assert sizes["models"] == "bank"
    _same(got["point"], sims["point"], rows)
    for g, w in zip(got["reps"], sims["reps"]):
        _same(g, w, rows)
    # one-more-product targets of the branch: the bank's targets in its rows
    in_branch = np.isin(sims["targets"], rows)
    np.testing.assert_array_equal(got["point"]["one_more"]["clv"],
                                  sims["point"]["one_more"]["clv"][in_branch])
    np.testing.assert_array_equal(
        got["reps"][1]["one_more"]["clv"], sims["reps"][1]["one_more"]["clv"][in_branch])
    # the fee waiver's break-even is the branch's own (its tier 4-5 customers only)
    waived = sims["waived"][np.isin(sims["waived"], rows)]
    r, _ = _waiver_break_even(_waiver_net(proj, proj.models, waived, a, seed=a.seed + 2))
    assert got["point"]["waiver_hr"] == pytest.approx(r, rel=1e-12)
    assert abs(r - sims["point"]["waiver_hr"]) > 1e-6  # not the bank's
    assert np.isfinite([rep["waiver_hr"] for rep in got["reps"]]).all()


def test_a_branch_report_of_a_large_book_is_the_bank_reports_branch_rows(tmp_path, monkeypatch):
    monkeypatch.setenv(BOOK_CACHE_ENV, str(tmp_path))
    a = Assumptions(n_boot=3)
    bank = customer_value(prepare_study("synthetic", sample=SAMPLE), assumptions=a)
    branch = sorted(bank.customers.value["branch"].unique())[1]

    def no_fit(*args, **kwargs):
        raise AssertionError("a branch report refitted the models")

    monkeypatch.setattr(estimate, "Projector", no_fit)
    mine = customer_value(prepare_study("synthetic", branch=branch, sample=SAMPLE),
                          assumptions=a)
    row = bank.groups["branch"].query("branch == @branch").drop(columns="branch")
    pd.testing.assert_frame_equal(mine.groups["all"], row.reset_index(drop=True))
    risk = bank.groups["var_branch"].query("branch == @branch").drop(columns="branch")
    pd.testing.assert_frame_equal(mine.groups["var_all"], risk.reset_index(drop=True))
    assert mine.sizes["models"] == "bank" and mine.sizes["fit_customers"] == SAMPLE
    assert mine.sizes["customers"] == (bank.customers.value["branch"] == branch).sum()
    assert mine.scenarios.value["fee_waiver"]["customers"] == (
        (bank.customers.value["branch"] == branch)
        & bank.customers.value["tier"].isin(a.waiver_tiers)).sum()
    from analysis.studies.value.findings import key_findings
    from analysis.studies.value.headline import headline

    # the JSON names the sample the models were fitted on: the bank's, for both reports
    assert headline(mine)["value"]["model_sample"] == headline(bank)["value"]["model_sample"] == {
        "customers": SAMPLE, "of": 6000, "seed": bank.study.sample.seed, "scope": "bank"}

    assert "rows of the bank report" in key_findings(mine)
    assert "rows of the bank report" not in key_findings(bank)


def _tables():
    return {"t": pd.DataFrame({"x": [1.0, 2.0]})}


def test_a_report_waits_for_the_tables_another_report_is_building(tmp_path, monkeypatch):
    monkeypatch.setenv(BOOK_CACHE_ENV, str(tmp_path))
    book = open_book("synthetic")
    built = []

    def build():
        built.append(1)
        return _tables()

    # the builder (another live process: this test's parent) holds the lock ...
    import hashlib
    import json

    key = hashlib.sha256(json.dumps([book.fingerprint, "x"], default=str).encode()).hexdigest()[:16]
    (tmp_path / f"{key}.lock").write_text(str(os.getppid()), encoding="ascii")

    def finish():  # ... and finishes a moment later
        time.sleep(1.0)
        done = tmp_path / key
        done.mkdir()
        pd.DataFrame({"x": [7.0]}).to_parquet(done / "t.parquet", index=False)
        (done / "done").touch()
        (tmp_path / f"{key}.lock").unlink()

    threading.Thread(target=finish).start()
    got = kept_for_render(book, ["x"], build)
    assert built == [] and got["t"]["x"].tolist() == [7.0]


def test_a_lock_left_by_a_process_that_died_is_taken_over(tmp_path, monkeypatch):
    monkeypatch.setenv(BOOK_CACHE_ENV, str(tmp_path))
    book = open_book("synthetic")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import hashlib
    import json

    key = hashlib.sha256(json.dumps([book.fingerprint, "y"], default=str).encode()).hexdigest()[:16]
    (tmp_path / f"{key}.lock").write_text(str(dead.pid), encoding="ascii")
    got = kept_for_render(book, ["y"], _tables)
    assert got["t"]["x"].tolist() == [1.0, 2.0]
    assert (tmp_path / key / "done").exists() and not (tmp_path / f"{key}.lock").exists()
    # and a second report reads them back
    again = kept_for_render(book, ["y"], lambda: pytest.fail("built twice"))
    assert again["t"]["x"].tolist() == [1.0, 2.0]
