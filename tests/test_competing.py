"""Departure reasons: generator truth, Aalen-Johansen with delayed entry, cause-specific models."""

import warnings

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


def _lifelines_cif(data, causes, *, entry="entry", alpha=0.05):
    """The reference: lifelines' AalenJohansenFitter, one fit per cause, as competing.py did.

    Same shifted entry / censoring times and seeded jitter, the result read at the original
    event times (last row up to each).
    """
    from lifelines import AalenJohansenFitter

    codes = {k: i + 1 for i, k in enumerate(causes)}
    code = data["cause"].map(codes).fillna(0).astype(int).to_numpy()
    dur = data["duration"].to_numpy(dtype=float)
    ent = np.zeros_like(dur) if entry is None else data[entry].to_numpy(dtype=float)
    eps = competing._shift(np.r_[dur, ent])
    dur_s = np.where(code > 0, dur, dur + eps)
    out = []
    for name, k in codes.items():
        ajf = AalenJohansenFitter(jitter_level=min(1e-4, eps / 10), seed=12345, alpha=alpha)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tied event times were detected")
            ajf.fit(dur_s, code, event_of_interest=k, entry=None if entry is None else ent + eps)
        t = ajf.cumulative_density_.index.to_numpy(dtype=float)
        bounds = ajf.confidence_interval_.to_numpy()
        grid = np.unique(np.r_[dur[code > 0], ent.min()])
        pos = np.clip(np.searchsorted(t, grid + eps / 2, side="right") - 1, 0, len(t) - 1)
        res = pd.DataFrame({"cause": name, "time": grid,
                            "cif": ajf.cumulative_density_.iloc[pos, 0].to_numpy(),
                            "ci_low": bounds[pos].min(axis=1), "ci_high": bounds[pos].max(axis=1)})
        res.loc[res["cif"] <= 0, ["ci_low", "ci_high"]] = 0.0
        out.append(res)
    return pd.concat(out, ignore_index=True)


def _assert_as_lifelines(df, causes, **kw):
    got = competing.cumulative_incidence(df, causes=causes, **kw)
    ref = _lifelines_cif(df, causes, **kw)
    assert got["cause"].tolist() == ref["cause"].tolist()
    np.testing.assert_array_equal(got["time"], ref["time"])
    np.testing.assert_allclose(got["cif"], ref["cif"], rtol=0, atol=1e-10)
    # NaN where lifelines has NaN (a risk set that empties), within 1e-8 elsewhere
    np.testing.assert_allclose(got[["ci_low", "ci_high"]], ref[["ci_low", "ci_high"]], rtol=0,
                               atol=1e-8)
    return got


def _lifelines_jitters(dur, code):
    from lifelines import AalenJohansenFitter

    return bool(AalenJohansenFitter._check_for_duplicates(durations=dur, events=code))


def _named(entry, dur, code, names=("a", "b", "c")):
    return pd.DataFrame({"entry": entry, "duration": dur,
                         "cause": [names[c - 1] if c else None for c in code]})


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_as_lifelines_with_delayed_entry_and_jittered_ties(alpha):
    entry, dur, code = _toy()
    # one customer stays longest and leaves: the risk set empties at the last event time
    entry, dur, code = np.r_[entry, 0.0], np.r_[dur, dur.max() + 5], np.r_[code, 2]
    assert _lifelines_jitters(dur, code)  # the reference breaks ties by jitter
    got = _assert_as_lifelines(_named(entry, dur, code), ["a", "b", "c"], alpha=alpha)
    last = got["time"] == got["time"].max()
    assert got.loc[last, "ci_low"].isna().all()  # variance 0/0 there: NaN, as lifelines
    assert got.loc[~last, "ci_low"].notna().all()
    inner = got[(got["cif"] > 0) & got["ci_low"].notna()]
    assert len(inner) > 50 and (inner["ci_low"] < inner["cif"]).all()
    assert (inner["cif"] < inner["ci_high"]).all()


def test_as_lifelines_without_entry_with_an_absent_and_an_unlisted_cause():
    _, dur, code = _toy(seed=5, n=300)
    df = _named(None, dur, code).drop(columns="entry")
    got = _assert_as_lifelines(df, ["b", "a", "absent"], entry=None)  # "c" counts as censored
    assert (got.loc[got["cause"] == "absent", ["cif", "ci_low", "ci_high"]] == 0).all().all()
    assert got["time"].iloc[0] == 0.0


def test_as_lifelines_when_ties_need_no_jitter():
    # cause 1 tied only with itself, cause 2 at distinct times, a time where both causes have two
    # events (lifelines does not see that tie): lifelines keeps these ties in one row too
    rng = np.random.default_rng(7)
    dur = np.r_[np.repeat(np.arange(1.0, 21.0), 2), rng.uniform(0.3, 20, 40), [7.5] * 4,
                rng.uniform(0.5, 25, 60)]
    code = np.r_[np.ones(40, int), np.full(40, 2), [1, 1, 2, 2], np.zeros(60, int)]
    entry = np.r_[np.zeros(84), rng.uniform(0, 0.4, 60)]
    assert not _lifelines_jitters(dur, code)
    _assert_as_lifelines(_named(entry, dur, code), ["a", "b"])


def test_as_lifelines_on_the_synthetic_book(book):
    frame, _ = survival_frame(book.panel, book.customers)
    causes = frame["reason"].value_counts().index.tolist()
    df = pd.DataFrame({"entry": frame["entry"], "duration": frame["duration"],
                       "cause": frame["reason"]})
    got = _assert_as_lifelines(df, causes)
    assert got["cif"].max() > 0.05 and got["ci_high"].notna().mean() > 0.99


def test_without_censoring_the_incidence_is_the_share_that_left_for_the_cause():
    rng = np.random.default_rng(3)
    n = 500
    dur = rng.integers(1, 40, n).astype(float)  # many ties between causes
    code = rng.choice([1, 2, 3], n, p=[0.5, 0.3, 0.2])
    df = _named(np.zeros(n), dur, code).drop(columns="entry")
    got = competing.cumulative_incidence(df, causes=["a", "b", "c"], entry=None)
    for k, name in enumerate(["a", "b", "c"], start=1):
        sub = got[got["cause"] == name]
        share = [np.mean((dur <= t) & (code == k)) for t in sub["time"]]
        np.testing.assert_allclose(sub["cif"], share, rtol=0, atol=1e-12)
    assert got.groupby("cause")["cif"].last().sum() == pytest.approx(1.0, abs=1e-12)


def test_cumulative_incidence_leaves_the_global_random_state_alone():
    np.random.seed(1)
    state = np.random.get_state()[1].copy()
    entry, dur, code = _toy()
    competing.cumulative_incidence(_named(entry, dur, code))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_an_event_at_entry_is_an_error():
    df = pd.DataFrame({"entry": [0.0, 3.0], "duration": [2.0, 3.0], "cause": ["a", "a"]})
    with pytest.raises(ValueError, match="never at risk"):
        competing.cumulative_incidence(df)
    with pytest.raises(InsufficientDataError):
        competing.cumulative_incidence(df.assign(cause=None))


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
