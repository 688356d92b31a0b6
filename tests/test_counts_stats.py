"""Aggregated data (``counts=``: customers per row) give exactly the numbers of the data the
counts stand for: every row repeated that many times. This is what lets report 01 read a large
book from counts built in SQL (:func:`analysis.frames.survival_counts`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InsufficientDataError
from analysis.stats.hypothesis import logrank
from analysis.stats.km import km_table, median_survival, survival_at
from analysis.stats.rates import attrition_rates, hazard_by_tenure
from analysis.stats.rmst import rmst

SURV = dict(duration="duration", event="event", entry="entry")


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    """Whole-month tenures with left truncation and three groups of different hazard."""
    rng = np.random.default_rng(11)
    n = 4000
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    entry = np.where(rng.random(n) < 0.6, 6 * rng.integers(1, 5, n), 0).astype(float)
    hazard = pd.Series(group).map({"a": 0.02, "b": 0.035, "c": 0.05}).to_numpy()
    life = np.ceil(rng.exponential(1 / hazard))
    follow = rng.integers(1, 37, n)
    duration = entry + np.minimum(life, follow)
    event = (life <= follow).astype(int)
    return pd.DataFrame({"group": pd.Categorical(group, categories=["a", "b", "c", "d"]),
                         "entry": entry, "duration": duration, "event": event})


@pytest.fixture(scope="module")
def counted(customers) -> pd.DataFrame:
    """The same customers as counts per (group, entry, duration, event), plus rows of none."""
    c = (customers.groupby(["group", "entry", "duration", "event"], observed=True)
         .size().rename("customers").reset_index())
    empty = c.head(3).assign(customers=0, duration=c["duration"].head(3) + 50)
    c = pd.concat([c, empty], ignore_index=True).sample(frac=1, random_state=1)
    assert len(c) < len(customers) / 2
    return c.set_index(np.arange(len(c)) * 7)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12, atol=1e-12)


def test_km_table_from_counts_equals_the_customers(customers, counted):
    a = km_table(customers, group="group", **SURV)
    b = km_table(counted, group="group", counts="customers", **SURV)
    _same(a, b)
    assert b["at_risk"].dtype == np.int64 and b["se"].notna().sum() > 100  # Greenwood kept


def test_survival_median_and_rmst_from_counts(customers, counted):
    _same(survival_at(customers, [6, 12, 24], group="group", **SURV),
          survival_at(counted, [6, 12, 24], group="group", counts="customers", **SURV))
    _same(median_survival(customers, group="group", **SURV),
          median_survival(counted, group="group", counts="customers", **SURV))
    _same(rmst(customers, [12, 24], group="group", **SURV),
          rmst(counted, [12, 24], group="group", counts="customers", **SURV))


def test_logrank_from_counts(customers, counted):
    a = logrank(customers, group="group", **SURV)
    b = logrank(counted, group="group", counts="customers", **SURV)
    assert b.chi2 == pytest.approx(a.chi2, rel=1e-12) and b.df == a.df == 2
    assert b.p < 1e-6  # the three hazards differ
    _same(a.summary, b.summary)


def test_rates_and_hazard_from_counts(customers, counted):
    _same(attrition_rates(customers, by="group", **SURV),
          attrition_rates(counted, by="group", counts="customers", **SURV))
    _same(hazard_by_tenure(customers, group="group", bandwidth=6, **SURV),
          hazard_by_tenure(counted, group="group", bandwidth=6, counts="customers", **SURV))
    rates = attrition_rates(counted, by="group", counts="customers", **SURV)
    assert rates["n"].tolist() == customers["group"].value_counts()[["a", "b", "c"]].tolist()


def test_counts_are_checked(counted):
    bad = counted.astype({"customers": float})
    bad.loc[bad.index[4], "customers"] = 1.5
    with pytest.raises(ValueError, match=r"'customers' \(customers per row\) must hold whole"):
        km_table(bad, counts="customers", **SURV)
    bad.loc[bad.index[4], "customers"] = -1
    with pytest.raises(ValueError, match=r"negative values in rows \[28\]"):
        km_table(bad, counts="customers", **SURV)
    with pytest.raises(InsufficientDataError, match="all counts are 0"):
        km_table(counted.assign(customers=0), counts="customers", **SURV)
    with pytest.raises(ValueError, match="not both"):
        km_table(counted.assign(w=1.0), counts="customers", weights="w", **SURV)
