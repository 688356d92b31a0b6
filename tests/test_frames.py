"""Panel -> survival frame / counting process on hand-made panels with known answers."""

import pandas as pd
import pytest

from analysis.frames import attrition_panel, counting_process, survival_frame


def _panel(spec):
    """spec: {customer: (first_tenure, [tier...], [n_products...], [outflow...], closed_last)}."""
    rows = []
    for cid, (t0, tiers, prods, outs, closed) in spec.items():
        for i, tier in enumerate(tiers):
            rows.append(
                dict(
                    customer_id=cid,
                    month=pd.Timestamp("2024-01-01") + pd.DateOffset(months=i),
                    tenure_months=t0 + i,
                    aum=1000.0 * tier,
                    deposit_balance=500.0,
                    loan_balance=0.0,
                    n_products=prods[i],
                    tier=tier,
                    segment="deposit",
                    profit=10.0,
                    outflow=bool(outs[i]),
                    closed=closed and i == len(tiers) - 1,
                )
            )
    return pd.DataFrame(rows)


def _customers(ids):
    return pd.DataFrame(
        {
            "customer_id": ids,
            "branch": "A",
            "open_date": pd.Timestamp("2020-01-01"),
            "age_at_open": 40,
            "gender": "F",
            "engagement": 0.0,
        }
    )


SPEC = {
    "c1": (10, [3, 3, 3], [1, 1, 2], [0, 0, 0], True),  # closes in its 3rd month
    "c2": (0, [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], False),  # censored, entered at 0
    "c3": (5, [3, 3, 2, 2, 2], [2] * 5, [0] * 5, False),  # value attrition at 3rd month
    "c4": (5, [4, 2, 3, 3], [2] * 4, [0] * 4, False),  # a one-month dip: no value event
    "c5": (5, [3, 3, 2], [2] * 3, [0] * 3, False),  # dip at the end, unconfirmed
    "c7": (5, [3, 3], [2] * 2, [0] * 2, True),  # closes while still tier 3
}


@pytest.fixture
def data():
    panel = _panel(SPEC)
    return panel, _customers(list(SPEC))


def _row(frame, cid):
    return frame.set_index("customer_id").loc[cid]


def test_closure_frame(data):
    frame, excluded = survival_frame(*data, attrition="closure")
    assert len(frame) == 6 and excluded.empty
    c1 = _row(frame, "c1")
    assert (c1.entry, c1.duration, c1.event) == (10, 13, 1)
    assert (c1.n_products_entry, c1.n_products_last) == (1, 2)
    c2 = _row(frame, "c2")
    assert (c2.entry, c2.duration, c2.event) == (0, 4, 0)
    assert frame["event"].sum() == 2  # c1, c7
    assert _row(frame, "c1").age_entry == pytest.approx(40 + 10 / 12)


def test_value_attrition_frame(data):
    frame, excluded = survival_frame(*data, attrition="value", k=2)
    assert excluded["customer_id"].tolist() == ["c2"]  # tier 1 at entry: not high-value
    assert "below tier 3" in excluded["reason"].iloc[0]
    got = {c: (r.entry, r.duration, r.event) for c, r in frame.set_index("customer_id").iterrows()}
    assert got["c3"] == (5, 8, 1)  # dated at the first month below (tenure 7 -> event at 8)
    assert got["c4"] == (5, 9, 0)  # the dip lasted 1 < k months
    assert got["c5"] == (5, 7, 0)  # censored before an unconfirmed drop
    assert got["c7"] == (5, 7, 1)  # closure counts as value attrition
    assert got["c1"] == (10, 13, 1)


def test_value_attrition_k1_counts_any_drop(data):
    frame, _ = survival_frame(*data, attrition="value", k=1)
    got = frame.set_index("customer_id")
    assert (got.loc["c4", "duration"], got.loc["c4", "event"]) == (7, 1)
    assert (got.loc["c5", "duration"], got.loc["c5", "event"]) == (8, 1)


def test_as_of_censors(data):
    frame, _ = survival_frame(*data, as_of="2024-02-01")
    c1 = _row(frame, "c1")
    assert (c1.duration, c1.event) == (12, 0)  # its closure in March is after the as-of date


def test_counting_process_collapse_and_lag(data):
    panel, customers = data
    spec = {"d1": (5, [3] * 4, [1, 1, 2, 2], [1, 0, 0, 0], True)}
    panel, customers = _panel(spec), _customers(["d1"])
    cp = counting_process(panel, customers, collapse=False)
    assert cp["start"].tolist() == [5, 6, 7, 8] and cp["stop"].tolist() == [6, 7, 8, 9]
    assert cp["event"].tolist() == [0, 0, 0, 1]
    assert cp["outflow_3m"].tolist() == [0, 1, 1, 1]  # outflow in month 1 flags the next 3
    cp = counting_process(panel, customers, collapse=True)
    assert cp[["start", "stop", "event", "n_products"]].values.tolist() == [
        [5, 6, 0, 1],
        [6, 7, 0, 1],
        [7, 9, 1, 2],
    ]  # split at 6 because outflow_3m changes there
    lagged = counting_process(panel, customers, collapse=False, lag=1)
    # only products are lagged; the first month has no lagged value and is not at risk
    assert lagged["start"].tolist() == [6, 7, 8]
    assert lagged["n_products"].tolist() == [1, 1, 2]
    assert lagged["outflow_3m"].tolist() == [1, 1, 1]  # the month's own flag, not lagged
    lag2 = counting_process(panel, customers, collapse=False, lag=2)
    assert lag2["start"].tolist() == [7, 8] and lag2["n_products"].tolist() == [1, 1]
    assert lag2["outflow_3m"].tolist() == [1, 1]


def test_counting_process_matches_frame(data):
    cp = counting_process(*data)
    frame, _ = survival_frame(*data)
    per = cp.groupby("customer_id").agg(entry=("start", "min"), duration=("stop", "max"), event=("event", "sum"))
    merged = frame.set_index("customer_id")[["entry", "duration", "event"]]
    pd.testing.assert_frame_equal(per.sort_index(), merged.sort_index(), check_dtype=False)


def test_bad_parameters(data):
    with pytest.raises(ValueError, match="attrition must be one of"):
        survival_frame(*data, attrition="churn")
    with pytest.raises(ValueError, match="k"):
        survival_frame(*data, attrition="value", k=0)
    with pytest.raises(ValueError, match="lag"):
        counting_process(*data, lag=-1)


def test_attrition_panel_marks_event_rows(data):
    at_risk, _ = attrition_panel(data[0], attrition="value", k=2)
    c3 = at_risk[at_risk.customer_id == "c3"]
    assert c3["event"].tolist() == [False, False, True]


def test_parquet_input_gives_same_frame(data, tmp_path):
    panel, customers = data
    panel.to_parquet(tmp_path / "panel.parquet")
    customers.to_parquet(tmp_path / "customers.parquet")
    a, _ = survival_frame(panel, customers)
    b, _ = survival_frame(tmp_path / "panel.parquet", tmp_path / "customers.parquet")
    pd.testing.assert_frame_equal(a, b)
