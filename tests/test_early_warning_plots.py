"""Figures of report 04 (plots/ranking.py): the drawn data are the input's."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_list_curve_plot_draws_each_method_against_k():
    curves = pd.DataFrame({"method": ["model"] * 3 + ["random"] * 3, "k": [1, 2, 3] * 2,
                           "precision": [0.5, 0.4, 0.3, 0.1, 0.2, 0.1]})
    ax = plots.list_curve_plot(curves, "precision", list_size=2, labels={"model": "risk model"})
    lines = {ln.get_gid(): ln for ln in ax.get_lines()}
    np.testing.assert_array_equal(lines["model"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines["model"].get_ydata(), [0.5, 0.4, 0.3])
    np.testing.assert_array_equal(lines["random"].get_ydata(), [0.1, 0.2, 0.1])
    assert lines["list_size"].get_xdata()[0] == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["risk model", "random"]
    with pytest.raises(ValueError, match="lacks column"):
        plots.list_curve_plot(curves, "profit")


def test_lead_time_plot_bar_heights_are_the_departures():
    lead = pd.DataFrame({"method": ["model", "model", "rule"], "lead": [1, 3, 1],
                         "departures": [5, 2, 7]})
    ax = plots.lead_time_plot(lead)
    bars = {m: [p for p in ax.patches if p.get_gid() == m] for m in ("model", "rule")}
    assert [b.get_height() for b in bars["model"]] == [5, 2]
    assert [b.get_height() for b in bars["rule"]] == [7]
    # side by side: the model's bar left of the rule's at lead 1
    assert bars["model"][0].get_x() < bars["rule"][0].get_x()
