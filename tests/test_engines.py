"""The data layer's two engines give the same frames: DuckDB and Spark (local mode).

Counts must agree exactly and sums to 1e-9 relative (issue: "DuckDB and Spark give the same
aggregates"), from DataFrames and from Parquet written by pandas (nanosecond timestamps).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from analysis import frames
from analysis.data import generate_portfolio
from analysis.frames.engines import DuckDBEngine, connect, engine_name, to_spark_sql
from analysis.stats.cox.cells import fit_piecewise_exponential


def test_engine_name_reads_the_environment(monkeypatch):
    monkeypatch.delenv("ANALYSIS_ENGINE", raising=False)
    assert engine_name() == "duckdb"
    monkeypatch.setenv("ANALYSIS_ENGINE", "Spark")
    assert engine_name() == "spark"
    assert engine_name("duckdb") == "duckdb"
    monkeypatch.setenv("ANALYSIS_ENGINE", "postgres")
    with pytest.raises(ValueError, match="ANALYSIS_ENGINE"):
        engine_name()
    with pytest.raises(ValueError, match="'oracle'"):
        engine_name("oracle")


def test_an_engine_object_is_shared_and_left_open():
    p = generate_portfolio(200, months=12, seed=1)
    with DuckDBEngine() as eng:
        assert connect(eng) is eng
        a, _ = frames.survival_frame(p.panel, p.customers, engine=eng)
        b, _ = frames.survival_frame(p.panel, p.customers, engine=eng)  # still open
        assert eng.scalar("SELECT 41 + 1") == 42
    pd.testing.assert_frame_equal(a, b)


def test_the_sql_needs_no_spark_only_rewrite():
    # DuckDB-only functions become their Spark names; NULL order is kept explicit.
    out = to_spark_sql("SELECT arg_max(tier, month) AS t FROM x ORDER BY t")
    assert out == "SELECT MAX_BY(tier, month) AS t FROM x ORDER BY t NULLS LAST"


def _spark_ready() -> str | None:
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError:
        return "PySpark/sqlglot not installed (the spark extra; make setup installs it)"
    if shutil.which("java") is None:
        return "no Java on this machine (the Spark engine needs Java 17)"
    return None


needs_spark = pytest.mark.skipif(_spark_ready() is not None, reason=str(_spark_ready()))


@pytest.fixture(scope="module")
def spark():
    from analysis.frames.engines import SparkEngine

    eng = SparkEngine()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    p = generate_portfolio(1500, months=24, seed=7)
    folder = tmp_path_factory.mktemp("book")
    p.panel.to_parquet(folder / "panel.parquet")  # pandas writes nanosecond timestamps
    p.customers.to_parquet(folder / "customers.parquet")
    return p, folder


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Counts (integers) exactly, everything else to 1e-9 relative."""
    a, b = frames._ns_dates(a.reset_index(drop=True)), frames._ns_dates(b.reset_index(drop=True))
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            x, y = x.to_numpy(float), y.to_numpy(float)
            if np.allclose(x, np.round(x), equal_nan=True) and col in ("at_risk", "events", "event",
                                                                      "entry", "duration",
                                                                      "customers"):
                np.testing.assert_array_equal(x, y, err_msg=col)
            else:
                np.testing.assert_allclose(x, y, rtol=1e-9, atol=0, err_msg=col)
        else:
            assert x.astype(object).where(x.notna(), None).tolist() == \
                y.astype(object).where(y.notna(), None).tolist(), col


CASES = [
    ("survival_frame", {}), ("survival_frame", {"attrition": "value"}),
    ("survival_counts", {"attrition": "value"}),
    ("counting_process", {"lag": 1}), ("counting_process", {"attrition": "value", "lag": 0}),
    ("exposure_cells", {"lag": 1}), ("exposure_cells", {"lag": 1, "band_months": 6}),
    ("attrition_panel", {}),
]


# Every transform from Parquet (what a large book is); from registered DataFrames (how a small
# book reaches the SQL) the first two, which take every path of that registration.
RUNS = [(name, kw, "parquet") for name, kw in CASES] + [
    (name, kw, "dataframes") for name, kw in CASES[:2]]


@needs_spark
@pytest.mark.parametrize("name,kw,source", RUNS,
                         ids=[f"{n}-{'-'.join(map(str, k.values())) or 'closure'}-{s}"
                              for n, k, s in RUNS])
def test_spark_and_duckdb_give_the_same_frames(spark, book, source, name, kw):
    p, folder = book
    args = ((p.panel, p.customers) if source == "dataframes"
            else (folder / "panel.parquet", folder / "customers.parquet"))
    if name == "attrition_panel":
        args = args[:1]
    fn = getattr(frames, name)
    a, b = fn(*args, engine="duckdb", **kw), fn(*args, engine=spark, **kw)
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    assert len(a[0]) > 100  # the frame itself (exclusions may be empty)
    for x, y in zip(a, b):
        _same(x, y)


@needs_spark
def test_spark_gives_the_same_asof_state_and_product_effect(spark, book):
    p, folder = book
    as_of = p.panel["month"].max()
    kw = dict(as_of=as_of, speed=0.2, customers=folder / "customers.parquet")
    _same(frames.asof_state(folder / "panel.parquet", engine="duckdb", **kw),
          frames.asof_state(folder / "panel.parquet", engine=spark, **kw))
    # the product effect of report 02's large-book engine, from either engine's cells
    covariates = list(frames.CELL_COVARIATES)  # report 02's time-varying model
    fits = [fit_piecewise_exponential(
                frames.exposure_cells(p.panel, p.customers, lag=1, band_months=6, engine=e),
                covariates, strata=["branch"])
            for e in ("duckdb", spark)]
    np.testing.assert_allclose(fits[0].params, fits[1].params, rtol=1e-9)
    hr = float(np.exp(fits[0].params["n_products"]))
    assert 0.6 < hr < 0.95, hr  # the generator's truth is 0.8 per product


@needs_spark
def test_read_sql_names_registered_frames_on_spark(spark, book):
    p, _ = book
    keep = pd.DataFrame({"customer_id": p.customers["customer_id"].iloc[:5]})
    sql = "SELECT COUNT(*) AS n FROM {src} c JOIN keep USING (customer_id)"
    assert frames.read_sql(sql, p.customers, engine=spark, keep=keep)["n"].tolist() == [5]


def test_render_sets_the_engine_for_its_kernels_only(monkeypatch, tmp_path):
    from analysis.report.runner import _environment, render

    monkeypatch.delenv("ANALYSIS_ENGINE", raising=False)
    with _environment("ANALYSIS_ENGINE", "spark"):
        assert engine_name() == "spark"  # what the kernels started inside inherit
    assert engine_name() == "duckdb"
    with pytest.raises(ValueError, match="engine must be one of"):
        render(engine="oracle", out_dir=tmp_path / "r")
