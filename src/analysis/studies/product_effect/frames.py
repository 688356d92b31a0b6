"""Frames of the product-effect study: product groups, dummies, static and counting-process frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import AGE_CENTRE
from analysis.frames import counting_process, survival_frame
from analysis.studies.population import product_group
from analysis.studies.product_effect.terms import LABELS

__all__ = [
    "PRODUCT_LEVELS",
    "ADJUST_STATIC",
    "ADJUST_TIME_VARYING",
    "ADJUST_LANDMARK",
    "add_product_columns",
    "prepare_product_frames",
]


PRODUCT_LEVELS = ("1", "2", "3", "4+")


DUMMIES = {"2": "products_2", "3": "products_3", "4+": "products_4plus"}


#: Adjustment set of the static models (covariates at entry); engagement added when present.
ADJUST_STATIC = ("tier_entry", "loan", "age10", "entry_years", "log_aum")


#: Adjustment set of the time-varying model (tier, segment, outflows as they change).
ADJUST_TIME_VARYING = ("tier", "loan", "outflow_3m", "age10", "entry_years", "log_aum")


#: Quantile bins of the continuous covariates of the large-book engine (age, tenure and assets
#: at entry, engagement; :func:`analysis.frames.exposure_cells`): its product HR is within 1% of
#: the row fit (tests/test_cox_cells.py).
CELL_BINS = 10
#: Months of tenure per band of the large-book engine's piecewise-exponential model
#: (:func:`analysis.stats.cox.cells.fit_piecewise_exponential`): about 5 times fewer cells than
#: months; at 1M customers its product HR is within 0.1% of the monthly Cox fit from cells.
CELL_BAND_MONTHS = 6


#: Adjustment set at a landmark (values at the landmark).
ADJUST_LANDMARK = ("tier", "loan", "outflow_3m", "age10")


def _add_dummies(df: pd.DataFrame, count_col: str) -> pd.DataFrame:
    g = product_group(df[count_col], zero="merge")
    df["product_group"] = g
    for level, col in DUMMIES.items():
        df[col] = (np.asarray(g) == level).astype(float)
    return df


def add_product_columns(
    frame: pd.DataFrame, intervals: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the model covariates to a survival frame and its counting-process intervals.

    ``frame`` and ``intervals`` come from :func:`analysis.frames.survival_frame` and
    :func:`analysis.frames.counting_process` (same data and attrition definition). Added columns:
    ``product_group`` (1/2/3/4+), dummies ``products_2, products_3, products_4plus``,
    ``two_plus`` (2+ products at entry; frame only), ``loan`` (segment), ``age10`` ((age at
    opening - 45) / 10), ``entry_years``, ``log_aum`` and ``log_loan`` (log1p of balances at
    entry). Copies are returned; the inputs are not modified.
    """
    frame = _add_dummies(frame.copy(), "n_products_entry")
    frame["two_plus"] = (frame["n_products_entry"] >= 2).astype(float)
    frame["loan"] = (frame["segment"] == "loan").astype(float)
    frame["age10"] = (frame["age_at_open"] - AGE_CENTRE) / 10.0
    frame["entry_years"] = frame["entry"] / 12.0
    frame["log_aum"] = np.log1p(frame["aum_entry"].clip(lower=0))
    frame["log_loan"] = np.log1p(frame["loan_entry"].clip(lower=0))
    frame["tier_entry"] = frame["tier_entry"].astype(float)
    frame["n_products_entry"] = frame["n_products_entry"].astype(float)
    static = frame[["customer_id", "entry_years", "log_aum", "log_loan"]]
    iv = intervals.drop(columns=[c for c in static.columns[1:] if c in intervals.columns])
    iv = iv.merge(static, on="customer_id", how="left")
    iv = _add_dummies(iv, "n_products")
    iv["loan"] = (iv["segment"] == "loan").astype(float)
    iv["age10"] = (iv["age_at_open"] - AGE_CENTRE) / 10.0
    iv["n_products"] = iv["n_products"].astype(float)
    iv["tier"] = iv["tier"].astype(float)
    iv["outflow_3m"] = iv["outflow_3m"].astype(float)
    return frame, iv


def prepare_product_frames(
    portfolio,
    *,
    attrition: str = "closure",
    k: int = 3,
    as_of=None,
    lag: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Survival frame and counting-process intervals with the model covariates.

    Returns ``(frame, intervals, exclusions)``: :func:`analysis.frames.survival_frame` and
    :func:`analysis.frames.counting_process` (time-varying covariates lagged ``lag`` months)
    passed through :func:`add_product_columns`.
    """
    frame, excl = survival_frame(portfolio.panel, portfolio.customers, attrition=attrition,
                                 k=k, as_of=as_of)
    iv = counting_process(portfolio.panel, portfolio.customers, attrition=attrition, k=k,
                          as_of=as_of, lag=lag)
    frame, iv = add_product_columns(frame, iv)
    return frame, iv, excl


NO_PANEL = ("Not estimable: this dataset has one row per customer (no monthly history), so "
            "product holdings cannot change over time here; see the models at entry instead")


def snapshot_product_frame(portfolio, branch: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Survival frame of a one-row-per-customer extract with the model columns.

    Returns ``(frame, covariates)``: the frame of :func:`analysis.studies.population.prepare_study` with the
    product columns of :func:`add_product_columns` (zero products are grouped with one in the
    categorical contrast; the linear term uses the count itself) and the adjustment covariates:
    the mapping's numeric columns, standardised (HR per SD), and its group columns as 0/1
    indicators against their most common level.
    """
    from analysis.studies.population import prepare_study

    study = prepare_study(portfolio=portfolio, branch=None)
    frame = _add_dummies(study.frame.copy(), "n_products_entry")
    frame["two_plus"] = (frame["n_products_entry"] >= 2).astype(float)
    frame["n_products_entry"] = frame["n_products_entry"].astype(float)
    covs: list[str] = []
    for col in study.numeric:
        if col == "n_products_entry":
            continue
        x = frame[col].astype(float)
        sd = x.std()
        if not np.isfinite(sd) or sd == 0:
            continue
        name = f"z_{col}"
        frame[name] = (x - x.mean()) / sd
        LABELS.setdefault(name, f"{col} (per SD)")
        covs.append(name)
    for col in study.groupings:
        if col in ("product_group", "branch"):
            continue
        levels = frame[col].astype(str).value_counts()
        for level in levels.index[1:]:
            name = f"g_{col}_{level}"
            frame[name] = (frame[col].astype(str) == level).astype(float)
            LABELS.setdefault(name, f"{col}: {level} vs {levels.index[0]}")
            covs.append(name)
    return frame, covs
