"""Paths and defaults, in one place.

Notebooks and the CLI never build paths by hand: they ask this module. The project root is the
folder holding ``pyproject.toml`` above the package (editable install); set ``ANALYSIS_HOME`` to
point somewhere else (for example a scheduled job running from another directory).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "DATA_DIR",
    "REPORTS_DIR",
    "NOTEBOOKS_DIR",
    "DEFAULT_SCHEDULE",
    "MAPPINGS_DIR",
    "SHARED_DATA_DIR",
    "DEFAULT_DATA_DIR",
    "TIER_THRESHOLDS",
    "HIGH_VALUE_TIER",
    "HIGH_AUM_TIER",
    "AGE_CENTRE",
    "ALPHA",
    "ci_label",
    "DEFAULT_HORIZONS",
    "ACQUISITION_TO_RETENTION_COST",
    "MIN_EVENTS",
    "WATCH_CONTACTS_PER_RM",
    "WATCH_RMS_PER_BRANCH",
    "WATCH_HORIZON",
    "WATCH_HORIZON_MAX",
    "WATCH_TRAIN_MONTHS",
    "WATCH_RIDGE",
    "WATCH_BACKTEST_MONTHS",
    "WATCH_RULE_TIERS",
    "WATCH_OUTFLOW_SHARE",
    "WATCH_OUTFLOW_AMOUNT",
    "RETENTION_CONTACT_COST",
    "VALUE_HORIZON_MONTHS",
    "VALUE_DISCOUNT_RATE",
    "VALUE_CURRENCY",
    "VALUE_WAIVER_COST",
    "VALUE_OUTFLOW_CUT",
    "VALUE_FIT_CUSTOMERS",
    "VALUE_BOOT_CUSTOMERS",
    "RETENTION_OFFER_COST",
    "RETENTION_SUCCESS_RATE",
    "RETENTION_SUCCESS_CONCENTRATION",
    "CUSTOMER_VALUE_YEARS",
    "WATCHLIST_SECRET_ENV",
    "project_root",
]

# AUM lower bounds (currency units) of tiers 2..5; tier 1 is everything below the first bound.
TIER_THRESHOLDS: tuple[float, ...] = (10_000.0, 50_000.0, 200_000.0, 1_000_000.0)
# Tier 3+ is the high-value book; value attrition means falling below this tier.
HIGH_VALUE_TIER: int = 3
# Tier 4+ is "high AUM" for departure reasons (customers with most to take elsewhere).
HIGH_AUM_TIER: int = 4
# Age is centred here in the product-effect models (age10 = (age at opening - 45) / 10).
AGE_CENTRE: float = 45.0
# Significance level of every test and the level of every interval (1 - ALPHA coverage):
# findings call a difference "clear" only when p < ALPHA, i.e. the interval excludes no effect.
ALPHA: float = 0.05
# Report horizons in months of tenure.
DEFAULT_HORIZONS: tuple[int, ...] = (12, 24, 36)
# The field's "6x": acquiring a customer costs about six times retaining one. A parameter default.
ACQUISITION_TO_RETENTION_COST: float = 6.0
# Fewer departures than this in a study: the report says so at the top, and its findings neither
# rank groups nor name a peak in the risk of leaving (a notebook parameter `min_events` overrides).
MIN_EVENTS: int = 10

# Early warning (report 04, `analysis watchlist`). A branch's monthly list holds
# contacts per relationship manager per month x managers per branch customers.
WATCH_CONTACTS_PER_RM: int = 10
WATCH_RMS_PER_BRANCH: int = 2
# The horizon (months) of the list's risk, the longest horizon the model predicts, the months of
# landmarks it learns from, its ridge penalty (standardised columns), backtest as-of months.
WATCH_HORIZON: int = 3
WATCH_HORIZON_MAX: int = 6
WATCH_TRAIN_MONTHS: int = 12
WATCH_RIDGE: float = 1.0
WATCH_BACKTEST_MONTHS: int = 12
# Rule baselines: "tier 4-5 and an outflow above this share of AUM (or this amount) this month".
WATCH_RULE_TIERS: tuple[int, ...] = (4, 5)
WATCH_OUTFLOW_SHARE: float = 0.30
WATCH_OUTFLOW_AMOUNT: float = 500_000.0
# Campaign economics (EMPC, Verbraken et al. 2013): cost of one contact and of the retention offer
# (money units of the data), the mean share of contacted leavers who accept and stay with its Beta
# concentration (alpha + beta; the paper's Beta(6, 14)), and the years of annual profit a kept
# customer is worth when no customer value is given.
RETENTION_CONTACT_COST: float = 50.0
RETENTION_OFFER_COST: float = 200.0
RETENTION_SUCCESS_RATE: float = 0.30
RETENTION_SUCCESS_CONCENTRATION: float = 20.0
CUSTOMER_VALUE_YEARS: float = 3.0
# Customer value (report 05): lifetime value over this many months, profit discounted at this
# annual rate, money in this unit (the data's); a fee waiver's cost a customer-year and the
# share of outflow-driven attrition a scenario removes. Parameters of the report.
VALUE_HORIZON_MONTHS: int = 60
VALUE_DISCOUNT_RATE: float = 0.08
VALUE_CURRENCY: str = "yuan"
VALUE_WAIVER_COST: float = 600.0
VALUE_OUTFLOW_CUT: float = 0.5
# Larger books fit report 05's monthly models on a seeded sample of this many customers (every
# customer is still projected; the report states the sample size).
VALUE_FIT_CUSTOMERS: int = 50_000
# ...and its bootstrap replicates project a seeded subsample of this many customers.
VALUE_BOOT_CUSTOMERS: int = 30_000
# Environment variable holding the bank's secret for the watchlist's pseudonymous keys (HMAC).
WATCHLIST_SECRET_ENV: str = "ANALYSIS_WATCHLIST_SECRET"
# Where the data layer's SQL runs (analysis.frames.engines): DuckDB on one machine, or Apache
# Spark; the environment variable names a process's engine (`analysis render --engine` sets it
# for the report kernels).
ENGINES: tuple[str, ...] = ("duckdb", "spark")
ENGINE_ENV: str = "ANALYSIS_ENGINE"
# A book of more customers than this is not loaded whole (analysis.data.large_book): reports
# 01-03 fit their models on a seeded random sample of this many customers (the same customers in
# every report; `ANALYSIS_MODEL_SAMPLE` overrides) and count everyone in SQL. Chosen so that the
# three bank-wide reports of a 1M-customer book render in minutes on 2 cores.
MODEL_SAMPLE: int = 50_000
MODEL_SAMPLE_SEED: int = 20240101


def duckdb_connection():
    """A new in-process DuckDB connection with the package's settings: no progress bars (inside
    Jupyter DuckDB refuses them), memory bounded by ``ANALYSIS_DUCKDB_MEMORY`` (default 3GB;
    beyond it DuckDB spills to the system's temporary folder, never the working folder), no
    promise of insertion order (every result is ORDER BY-ed explicitly). Used by the data layer's
    engine (:class:`analysis.frames.engines.DuckDBEngine`) and large books' checks."""
    import tempfile

    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
    con.execute(f"SET memory_limit = '{os.environ.get('ANALYSIS_DUCKDB_MEMORY', '3GB')}'")
    con.execute("SET preserve_insertion_order = false")
    spill = Path(tempfile.gettempdir()) / "analysis-duckdb"
    con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    return con


def project_root() -> Path:
    """Return the project root (``ANALYSIS_HOME`` or the folder above ``src/``)."""
    env = os.environ.get("ANALYSIS_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "notebooks").is_dir():
            return parent
    return Path.cwd().resolve()


PROJECT_ROOT: Path = project_root()
DATA_DIR: Path = PROJECT_ROOT / "data"
DEFAULT_DATA_DIR: Path = DATA_DIR / "synthetic"
REPORTS_DIR: Path = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
DEFAULT_SCHEDULE: Path = PROJECT_ROOT / "config" / "schedule.yml"
MAPPINGS_DIR: Path = PROJECT_ROOT / "config" / "mappings"
# Public datasets for checking on real data live beside the project, never inside it.
SHARED_DATA_DIR: Path = Path(os.environ.get("ANALYSIS_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def ci_label(alpha: float = ALPHA) -> str:
    """How an interval of level ``1 - alpha`` is named in report text.

    >>> ci_label(), ci_label(0.1)
    ('95% CI', '90% CI')
    """
    return f"{100 * (1 - alpha):g}% CI"
