"""Where the data layer's SQL runs: DuckDB on one machine (the default) or Apache Spark.

The transforms of :mod:`analysis.frames` are written once, in SQL that both engines run: the
text is DuckDB's dialect kept to what Spark SQL also has, and the Spark engine translates each
statement with `sqlglot <https://sqlglot.com>`_ (``arg_min`` becomes ``min_by``, ``read`` order
of NULLs is kept, ...). There is no second, hand-kept copy of any transform.

Pick the engine per call (``engine="spark"``), per process with the environment variable
``ANALYSIS_ENGINE`` (``duckdb`` or ``spark``; ``analysis render --engine`` sets it for the
report kernels), or pass an engine object to share one connection between calls.

Spark runs in local mode unless told otherwise. To run on a cluster, set ``ANALYSIS_SPARK_MASTER``
(``spark://host:7077``, ``yarn``, ``k8s://...``) or ``spark.master`` in
``$SPARK_CONF_DIR/spark-defaults.conf`` (where executor memory and the rest of Spark's settings go
too), and keep the Parquet parts where every executor can read them (HDFS, S3 through ``s3a://``,
a shared file system): a data source may then be a URI instead of a local folder.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import config
from analysis.config import ENGINE_ENV, ENGINES

__all__ = ["ENGINES", "ENGINE_ENV", "DuckDBEngine", "SparkEngine", "connect", "engine_name",
           "spark_session"]

#: Environment variable naming the Spark master (unset: Spark's own default, ``local[*]``).
SPARK_MASTER_ENV = "ANALYSIS_SPARK_MASTER"

_views = itertools.count()


def engine_name(engine: Any = None) -> str:
    """The engine's name: ``engine`` itself, the name of an engine object, or the process
    default (:data:`ENGINE_ENV`, else ``duckdb``).

    >>> engine_name("SPARK")
    'spark'
    """
    if isinstance(engine, (DuckDBEngine, SparkEngine)):
        return engine.name
    name = str(engine or os.environ.get(ENGINE_ENV) or "duckdb").strip().lower()
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine or name!r}"
                         + ("" if engine else f" (from the environment variable {ENGINE_ENV})"))
    return name


def connect(engine: Any = None):
    """An engine object (see the module docstring); an engine object is returned as it is."""
    if isinstance(engine, (DuckDBEngine, SparkEngine)):
        return engine
    return SparkEngine() if engine_name(engine) == "spark" else DuckDBEngine()


def _parquet_target(obj) -> str:
    """A Parquet file, a folder of parts (local) or a URI, as a path string."""
    text = str(obj)
    if "://" in text:
        return text
    path = Path(text)
    return (path / "*.parquet").as_posix() if path.is_dir() else path.as_posix()


class _Engine:
    """What both engines share: ``with`` support and closing once."""

    name = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def scalar(self, sql: str):
        """The first value of the first row."""
        return self.df(sql).iat[0, 0]

    def columns(self, relation: str) -> list[str]:
        """Column names of a relation."""
        return list(self.df(f"SELECT * FROM {relation} LIMIT 0").columns)


class DuckDBEngine(_Engine):
    """An in-process DuckDB connection with bounded memory (spills to disk beyond
    ``ANALYSIS_DUCKDB_MEMORY``, default 3GB)."""

    name = "duckdb"

    def __init__(self):
        self.con = config.duckdb_connection()

    def relation(self, obj, name: str) -> str:
        """Register a DataFrame under ``name``, or point at Parquet; the SQL to read it."""
        if isinstance(obj, pd.DataFrame):
            self.con.register(name, obj)
            return name
        return f"read_parquet('{_parquet_target(obj)}')"

    def df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def materialize(self, name: str, sql: str) -> str:
        """Run ``sql`` once into a temporary table, to read it several times; its name."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        return name

    def close(self) -> None:
        self.con.close()


def spark_session():
    """The process's Spark session (created on first use).

    Local mode by default; :data:`SPARK_MASTER_ENV` or ``spark-defaults.conf`` point it at a
    cluster. Times are UTC, Arrow carries results to pandas, Parquet timestamps in nanoseconds
    (what pandas writes) are read as integers and converted by :meth:`SparkEngine.relation`.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("the Spark engine needs PySpark: pip install 'analysis[spark]' "
                          "(make setup installs it) and Java 17") from None
    builder = SparkSession.builder.appName("analysis")
    if os.environ.get(SPARK_MASTER_ENV):
        builder = builder.master(os.environ[SPARK_MASTER_ENV])
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # no progress bars in notebooks or logs
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.legacy.parquet.nanosAsLong": "true",
        # small results and a one-machine default: few shuffle partitions (a cluster's
        # spark-defaults.conf or SparkSession settings made before this one win)
        "spark.sql.shuffle.partitions": os.environ.get("ANALYSIS_SPARK_PARTITIONS", "8"),
        "spark.driver.memory": os.environ.get("ANALYSIS_SPARK_DRIVER_MEMORY", "4g"),
        # results come back to pandas whole (a large book's exposure cells run to millions of
        # rows): bounded by the driver's memory, not by Spark's default 1 GiB cap
        "spark.driver.maxResultSize": os.environ.get("ANALYSIS_SPARK_MAX_RESULT", "0"),
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _nanosecond_columns(target: str) -> list[str]:
    """Columns stored as nanosecond timestamps in a local Parquet file or folder of parts."""
    if "://" in target:
        return []
    import glob

    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(glob.glob(target))
    if not files:
        return []
    schema = pq.read_schema(files[0])
    return [f.name for f in schema
            if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def to_spark_sql(sql: str) -> str:
    """The Spark SQL of a statement written in the DuckDB dialect.

    >>> to_spark_sql("SELECT arg_min(tier, month) AS t FROM x GROUP BY customer_id")
    'SELECT MIN_BY(tier, month) AS t FROM x GROUP BY customer_id'
    """
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="spark",
                             unsupported_level=sqlglot.ErrorLevel.RAISE)[0]


class SparkEngine(_Engine):
    """The same SQL on Apache Spark (see :func:`spark_session`); DataFrames and Parquet are
    registered as temporary views, dropped again by :meth:`close`."""

    name = "spark"

    def __init__(self, session=None):
        self.spark = session or spark_session()
        self._views: list[str] = []
        self._cached: list = []

    def relation(self, obj, name: str) -> str:
        """A temporary view of a DataFrame (named ``name``: SQL may name it, see
        :func:`analysis.frames.read_sql`) or of Parquet (a fresh name); the view's name."""
        if isinstance(obj, pd.DataFrame):
            view, sdf = name, self.spark.createDataFrame(obj.reset_index(drop=True))
        else:
            target = _parquet_target(obj)
            sdf = self.spark.read.parquet(target)
            nanos = set(_nanosecond_columns(target))  # read as integers (nanosAsLong)
            if nanos:
                sdf = sdf.selectExpr(*[
                    f"CAST(timestamp_micros(`{c}` DIV 1000) AS TIMESTAMP_NTZ) AS `{c}`"
                    if c in nanos else f"`{c}`" for c in sdf.columns])
            view = f"{name}_{next(_views)}"
        sdf.createOrReplaceTempView(view)
        self._views.append(view)
        return view

    def df(self, sql: str) -> pd.DataFrame:
        return self.spark.sql(to_spark_sql(sql)).toPandas()

    def materialize(self, name: str, sql: str) -> str:
        """Run ``sql`` once into a cached temporary view, to read it several times; its name
        (released by :meth:`close`)."""
        sdf = self.spark.sql(to_spark_sql(sql)).persist()
        view = f"{name}_{next(_views)}"
        sdf.createOrReplaceTempView(view)
        self._views.append(view)
        self._cached.append(sdf)
        return view

    def close(self) -> None:
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        for sdf in self._cached:
            sdf.unpersist()
        self._cached.clear()
