"""Departure reasons: generator truth, Aalen-Johansen with delayed entry, cause-specific models."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats import competing
from analysis.data import generate_portfolio
from analysis.data.synthetic import REASON_MODEL, reason_shares
from analysis.frames import survival_frame
from analysis.errors import InsufficientDataError
from analysis.stats.km import km_table


@pytest.fixture(scope="module")
def book():
    return generate_portfolio(4000, seed=21)


def test_reasons_only_on_closing_months_and_shares_follow_the_truth(book):
    p = book.panel
    assert (p["reason"].notna() == p["closed"]).all()
    assert set(p["reason"].dropna()) <= set(REASON_MODEL)
    shares = p["reason"].value_counts(normalize=True)
    assert shares.idxmax() in ("rates elsewhere", "service dissatisfaction")
    assert shares["death or other involuntary"] < 0.1
    # rates elsewhere is more frequent among high-AUM closures, as the share model says
    closing = p[p["closed"]]
    high = closing["aum"] >= 200_000
    re_high = (closing.loc[high, "reason"] == "rates elsewhere").mean()
    re_low = (closing.loc[~high, "reason"] == "rates elsewhere").mean()
    assert re_high > re_low
    truth = book.truth["reasons"]
    assert truth["share_ratio"]["high_aum"]["rates elsewhere"] == pytest.approx(
        reason_shares(high_aum=1)["rates elsewhere"] / reason_shares()["rates elsewhere"])
    assert truth["cause_specific_hr"]["recent_outflow"]["service dissatisfaction"] > 10


def test_frame_carries_the_reason_of_the_event_month(book):
    frame, _ = survival_frame(book.panel, book.customers)
    assert (frame["reason"].notna() == (frame["event"] == 1)).all()
    # censored by an earlier as-of date: no reason
    early, _ = survival_frame(book.panel, book.customers, as_of="2024-06-01")
    assert (early["reason"].notna() == (early["event"] == 1)).all()
    value, _ = survival_frame(book.panel, book.customers, attrition="value")
    types = competing.event_types(value, attrition="value")
    assert competing.VALUE_DROP in set(types.dropna())
    assert types[value["event"] == 0].isna().all()


def _toy(seed=2, n=400):
    rng = np.random.default_rng(seed)
    entry = rng.integers(0, 8, n).astype(float)
    dur = entry + rng.integers(1, 30, n)
    code = rng.choice([0, 1, 2, 3], n, p=[0.4, 0.3, 0.2, 0.1])
    return entry, dur, code


def test_cumulative_incidence_equals_the_estimator_with_our_conventions():
    entry, dur, code = _toy()
    names = {1: "a", 2: "b", 3: "c"}
    df = pd.DataFrame({"entry": entry, "duration": dur,
                       "cause": [names.get(c) for c in code]})
    cif = competing.cumulative_incidence(df, causes=["a", "b", "c"])
    direct = competing.aalen_johansen_direct(dur, code, entry)
    for k, name in names.items():
        got = cif[cif["cause"] == name].set_index("time")["cif"]
        np.testing.assert_allclose(got.reindex(direct.index).to_numpy(), direct[k].to_numpy(),
                                   atol=1e-10)
    # the incidences add up to 1 - Kaplan-Meier (with delayed entry) of leaving for any reason
    km = km_table(pd.DataFrame({"duration": dur, "event": (code > 0).astype(int),
                                   "entry": entry}), entry="entry")
    km = km.drop_duplicates("time", keep="last").set_index("time")["survival"]
    total = cif.pivot_table(index="time", columns="cause", values="cif").sum(axis=1)
    np.testing.assert_allclose(total.to_numpy(), 1 - km.reindex(total.index).to_numpy(),
                               atol=1e-10)
    at = competing.incidence_at(cif, [5, 100])
    assert (at["ci_low"] <= at["cif"] + 1e-12).all() and (at["cif"] <= at["ci_high"] + 1e-12).all()


def test_no_reasons_is_a_clear_note():
    df = pd.DataFrame({"duration": [1.0, 2.0], "event": [1, 0]})
    with pytest.raises(InsufficientDataError, match="no departure reasons"):
        competing.event_types(df)


def test_cause_specific_models_skip_rare_causes():
    entry, dur, code = _toy(n=300)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"entry": entry, "duration": dur, "x": rng.normal(size=300),
                       "cause": [{1: "a", 2: "b", 3: "c"}.get(c) for c in code]})
    df.loc[df["cause"] == "c", "cause"] = None
    df.loc[df.index[:3], "cause"] = "c"
    table, notes = competing.cause_specific_cox(df, ["x"], causes=["a", "b", "c"])
    assert set(table["cause"]) == {"a", "b"}
    assert any("'c'" in n and "too few" in n for n in notes)
