import pandas as pd

from analysis.report.display import nice_table


def test_nice_table_rounds_and_shows_shares_as_percent():
    df = pd.DataFrame({"share_leaving": [0.2771, 0.1], "n": [1, 2], "rate_ci": [1.2345, 2.0], "note": ["", ""]})
    out = nice_table(df, digits=2)
    assert list(out.columns) == ["Share who left (%)", "Customers", "rate ci"]  # empty note column dropped
    assert out["Share who left (%)"].tolist() == [27.7, 10.0]
    assert out["rate ci"].tolist() == [1.23, 2.0]


def test_report_tables_show_numbers_as_a_reader_expects():
    from analysis.report.display import styled_table

    df = pd.DataFrame({"landmark": [6.0, 12.0], "p": [1.82e-25, 0.4612], "hr": [0.8123, -0.0001],
                       "person_months": [64526.0, 3.0], "share_x": [0.2771, 0.1],
                       "level": ["a", None]})
    html = styled_table(df).to_html()
    import re

    heads = re.findall(r'class="col_heading[^"]*" >([^<]*)</th>', html)
    data = re.findall(r'class="data row(\d+) col(\d+)" >([^<]*)</td>', html)
    cells = pd.DataFrame([[v for r2, _, v in data if int(r2) == r] for r in range(2)],
                         columns=heads).replace({"&lt;": "<"}, regex=True)
    assert cells.columns.tolist() == ["landmark", "p", "hr", "Customer-months observed", "share x (%)",
                                      "level"]
    assert cells["landmark"].tolist() == ["6", "12"]  # not 6.000
    assert cells["p"].tolist() == ["< 0.001", "0.46"]  # not 0.000 or 1.82e-25
    assert cells["hr"].tolist() == ["0.81", "0.00"]  # no negative zero
    assert cells["Customer-months observed"].tolist() == ["64,526", "3"]  # not 64,526.0
    assert cells["share x (%)"].tolist() == ["27.7", "10.0"]
    assert cells["level"].tolist() == ["a", "–"]
    for bad in ("0.000", "e-25", "-0.00", "6.000"):
        assert bad not in html
