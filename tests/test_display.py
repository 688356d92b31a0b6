import pandas as pd

from analysis.report.display import nice_table


def test_nice_table_rounds_and_shows_shares_as_percent():
    df = pd.DataFrame({"share_leaving": [0.2771, 0.1], "n": [1, 2], "rate_ci": [1.2345, 2.0], "note": ["", ""]})
    out = nice_table(df, digits=2)
    assert list(out.columns) == ["share leaving (%)", "n", "rate ci"]  # empty note column dropped
    assert out["share leaving (%)"].tolist() == [27.7, 10.0]
    assert out["rate ci"].tolist() == [1.23, 2.0]
