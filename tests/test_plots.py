"""Tests for analysis.plots: figures are built headless (Agg) and checked through their artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis.plots.estimates import forest_plot
from analysis.plots.survival import hazard_plot, km_plot, lorenz_plot, rate_plot
from analysis.plots.base import set_style
from analysis.stats.rates import attrition_rates, hazard_by_tenure
from analysis.stats.km import km_table
from analysis.stats.concentration import lorenz_curve


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def two_groups() -> pd.DataFrame:
    """Two small groups with left truncation.

    Group a: (entry, duration, event) = (0,2,1) (0,3,0) (1,3,1) (2,4,1) (3,5,0)
    Group b: (0,1,0) (0,4,1) (0,6,0) (2,6,1)
    """
    return pd.DataFrame(
        {
            "grp": list("aaaaa") + list("bbbb"),
            "entry": [0, 0, 1, 2, 3, 0, 0, 0, 2],
            "duration": [2, 3, 3, 4, 5, 1, 4, 6, 6],
            "event": [1, 0, 1, 1, 0, 0, 1, 0, 1],
        }
    )


def _by_gid(ax, prefix):
    return {ln.get_gid(): ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)}


def test_set_style_applies_house_rc():
    with matplotlib.rc_context():
        set_style()
        assert plt.rcParams["axes.spines.top"] is False
        assert plt.rcParams["axes.grid"] is True
        assert plt.rcParams["legend.frameon"] is False


def test_km_plot_curves_bands_and_censor_marks(two_groups):
    km = km_table(two_groups, entry="entry", group="grp")
    ax = km_plot(km, at_risk_times=[0, 2, 4, 6])
    curves = _by_gid(ax, "km:")
    assert sorted(curves) == ["km:a", "km:b"]
    a = km[km["group"] == "a"]
    np.testing.assert_allclose(curves["km:a"].get_xdata(), a["time"])
    np.testing.assert_allclose(curves["km:a"].get_ydata(), a["survival"])
    assert curves["km:a"].get_drawstyle() == "steps-post"
    marks = _by_gid(ax, "censor:")
    # group a censored at 3 (S = 4/9) and 5 (S = 2/9); group b at 1 and 6
    np.testing.assert_allclose(marks["censor:a"].get_xdata(), [3, 5])
    np.testing.assert_allclose(marks["censor:a"].get_ydata(), [4 / 9, 2 / 9])
    np.testing.assert_allclose(marks["censor:b"].get_xdata(), [1, 6])
    assert marks["censor:a"].get_marker() == "+"
    assert len(ax.collections) == 2  # one confidence band per group
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_km_plot_risk_table_honours_left_truncation(two_groups):
    km = km_table(two_groups, entry="entry", group="grp")
    times = [0, 2, 4, 6]
    ax = km_plot(km, at_risk_times=times, title="Retention")
    tables = [a for a in ax.figure.axes if a.get_label() == "risk_table"]
    assert len(tables) == 1 and tables[0] is ax.risk_table_ax
    tax = tables[0]
    got = {}
    for text in tax.texts:
        got.setdefault(text.get_gid(), []).append((text.get_position()[0], int(text.get_text())))
    # brute force: #(entry < t <= duration); at t = 0 those entering at 0
    expected = {}
    for g, sub in two_groups.groupby("grp"):
        e, d = sub["entry"].to_numpy(), sub["duration"].to_numpy()
        row = [(0.0, int((e == 0).sum()))]
        row += [(float(t), int(((e < t) & (t <= d)).sum())) for t in times[1:]]
        expected[f"risk:{g}"] = row
    assert got == expected
    assert expected["risk:a"] == [(0.0, 2), (2.0, 3), (4.0, 2), (6.0, 0)]
    assert [t.get_text() for t in tax.get_yticklabels()] == ["b", "a"]  # first group on top
    assert ax.get_title() == "Retention"


def test_km_plot_options_and_default_times(two_groups):
    km = km_table(two_groups, duration="duration", event="event")
    fig, given = plt.subplots()
    ax = km_plot(km, ax=given, ci=False, censor_marks=False)
    assert ax is given
    assert len(ax.collections) == 0 and not _by_gid(ax, "censor:")
    assert len(_by_gid(ax, "km:")) == 1
    assert ax.get_legend() is None  # one group: no legend
    texts = ax.risk_table_ax.texts
    xs = [t.get_position()[0] for t in texts]
    assert len(texts) >= 3 and all(0 <= x <= 6 for x in xs)
    assert [t.get_text() for t in texts][0] == "9"  # everybody at time 0 without truncation
    ax2 = km_plot(km, risk_table=False)
    assert len(ax2.figure.axes) == 1


def test_km_plot_rejects_wrong_frame():
    with pytest.raises(ValueError, match="survival"):
        km_plot(pd.DataFrame({"group": ["a"], "time": [0.0]}))


def test_hazard_plot(two_groups):
    haz = hazard_by_tenure(two_groups, entry="entry", group="grp", bandwidth=2)
    ax = hazard_plot(haz, scale=100)
    smooth = _by_gid(ax, "smooth:")
    raw = _by_gid(ax, "raw:")
    assert sorted(smooth) == ["smooth:a", "smooth:b"] and len(raw) == 2
    a = haz[haz["group"] == "a"]
    np.testing.assert_allclose(smooth["smooth:a"].get_ydata(), 100 * a["hazard_smooth"])
    np.testing.assert_allclose(raw["raw:a"].get_ydata(), 100 * a["hazard"])
    assert len(ax.collections) == 2
    assert "100" in ax.get_ylabel()


def test_lorenz_plot_marks_top_20():
    ax = lorenz_plot(lorenz_curve([1, 1, 1, 1, 16]))
    lines = _by_gid(ax, "")
    assert {"lorenz", "equality", "top_point"} <= set(lines)
    np.testing.assert_allclose(lines["equality"].get_xdata(), [0, 1])
    np.testing.assert_allclose(lines["lorenz"].get_ydata(), [0, 0.05, 0.1, 0.15, 0.2, 1.0])
    np.testing.assert_allclose(lines["top_point"].get_xydata(), [[0.8, 0.2]])
    notes = [t.get_text() for t in ax.texts]
    assert any("top 20%" in s and "80%" in s for s in notes)


def test_rate_plot_error_bars():
    df = pd.DataFrame(
        {"tier": [1, 1, 1, 2, 2, 3], "duration": [12, 24, 6, 12, 12, 30],
         "event": [1, 0, 1, 0, 1, 0]}
    )
    rates = attrition_rates(df, by="tier")
    ax = rate_plot(rates, x="tier")
    est = _by_gid(ax, "estimates")["estimates"]
    np.testing.assert_allclose(est.get_ydata(), rates["rate_per_100_person_years"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    # error bar segments span the Garwood interval
    segs = ax.collections[0].get_segments()
    np.testing.assert_allclose([s[:, 1].min() for s in segs], rates["rate_ci_low"])
    np.testing.assert_allclose([s[:, 1].max() for s in segs], rates["rate_ci_high"])
    ax2 = rate_plot(rates, x="tier", y="share_leaving", low="share_ci_low",
                    high="share_ci_high")
    assert ax2.get_ylabel() == "Share of customers who left"


def test_forest_plot():
    table = pd.DataFrame(
        {"term": ["products 2", "products 3+", "tier 4-5"], "hr": [0.8, 0.6, 1.3],
         "ci_low": [0.7, 0.5, 1.05], "ci_high": [0.92, 0.72, 1.6]}
    )
    ax = forest_plot(table)
    assert ax.get_xscale() == "log"
    top_to_bottom = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]),
                           reverse=True)
    assert [label for _, label in top_to_bottom] == ["products 2", "products 3+", "tier 4-5"]
    est = _by_gid(ax, "estimates")["estimates"]
    np.testing.assert_allclose(est.get_xdata(), [0.8, 0.6, 1.3])
    np.testing.assert_allclose(est.get_ydata(), [2, 1, 0])  # first row on top
    ref = _by_gid(ax, "reference")["reference"]
    assert ref.get_xdata()[0] == 1.0
    assert [t.get_text() for t in ax.texts] == ["0.80 (0.70-0.92)", "0.60 (0.50-0.72)",
                                                "1.30 (1.05-1.60)"]
    lin = forest_plot(table.assign(hr=[-0.2, 0.1, 0.3], ci_low=[-0.4, 0, 0.1],
                                   ci_high=[0, 0.2, 0.5]), log=False, ref=0.0, annotate=False)
    assert lin.get_xscale() == "linear" and not lin.texts
    with pytest.raises(ValueError, match="positive"):
        forest_plot(table.assign(ci_low=[0.0, 0.5, 1.0]))


def test_dollar_signs_in_data_labels_are_text_not_mathtext(tmp_path):
    """A level like "b $\\frac{$ c" would fail the figure (and the report) as mathtext."""
    import matplotlib.pyplot as plt

    from analysis import plots

    plots.set_style()
    fig, ax = plt.subplots()
    ax.set_title(r"b $\frac{$ c")
    ax.plot([0, 1], [0, 1], label="$x^2$")
    ax.legend()
    fig.savefig(tmp_path / "f.png")  # raises ParseSyntaxException with mathtext on
    plt.close(fig)
    assert ax.get_title() == r"b $\frac{$ c"


def test_km_plot_counts_sit_under_the_ticks_and_the_tail_is_cut():
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"duration": rng.integers(1, 261, n), "event": rng.random(n) < 0.5,
                       "grp": rng.choice(["x", "y"], n)})
    km = km_table(df, group="grp")
    # the tail stops where fewer than 10 customers remain in every group
    last = km.loc[km["at_risk"] >= 10, "time"].max()
    ax = km_plot(km, at_risk_times=[0, 12, 24, 36])  # crowded on a ~250-month axis
    assert ax.get_xlim()[1] == pytest.approx(last) and last < km["time"].max()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    xs = sorted({t.get_position()[0] for t in ax.risk_table_ax.texts})
    assert xs == pytest.approx(ticks) and len(ticks) >= 4 and 12 not in xs
    plt.close("all")
    ax = km_plot(km, at_risk_times=[0, 60, 120, 180])  # these fit: they become the ticks
    assert list(ax.get_xticks()) == [0, 60, 120, 180]
    assert sorted({t.get_position()[0] for t in ax.risk_table_ax.texts}) == [0, 60, 120, 180]
    # the legend is outside the plot area
    bbox = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert bbox.x0 >= 1.0


def test_report_figures_are_sharp_and_compact(two_groups):
    import io

    from PIL import Image

    from analysis.plots.base import figure_png

    km = km_table(two_groups, entry="entry", group="grp")
    fig = km_plot(km).figure
    png, meta = figure_png(fig)
    img = Image.open(io.BytesIO(png))
    assert img.mode == "P"  # 256-colour palette
    assert abs(img.width - 2 * meta["width"]) <= 1 and abs(img.height - 2 * meta["height"]) <= 1
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=200, bbox_inches="tight")
    assert len(png) < 0.6 * len(full.getvalue())
    # a dense scatter over the byte budget is drawn again at a lower resolution
    rng = np.random.default_rng(0)
    dense, ax = plt.subplots(figsize=(8, 6))
    ax.scatter(rng.normal(size=20000), rng.normal(size=20000), s=2, alpha=0.3)
    small, m = figure_png(dense, budget=60_000)
    big, m2 = figure_png(dense, budget=10**9)
    assert len(small) < len(big) and m == m2  # same display size, fewer pixels
    assert Image.open(io.BytesIO(small)).width < Image.open(io.BytesIO(big)).width


def test_ipython_shows_figures_through_the_compact_png():
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure

    from analysis.plots.base import figure_png

    shell = InteractiveShell.instance()
    try:
        set_style()
        fmt = shell.display_formatter.formatters["image/png"]
        assert fmt.lookup_by_type(Figure) is figure_png
        data, meta = shell.display_formatter.format(plt.figure(figsize=(4, 3)))
        # shown at the size of a 100-dpi figure (4 in + the tight bbox's padding)
        assert 380 <= meta["image/png"]["width"] <= 440 and data["image/png"]
    finally:
        InteractiveShell.clear_instance()


def test_chinese_labels_render_without_missing_glyphs(tmp_path):
    import warnings

    from analysis.plots.base import CJK_FONT, register_cjk_font

    assert register_cjk_font(), "mplfonts (the CJK font) is a dependency"
    set_style()
    assert plt.rcParams["font.family"][-1] == CJK_FONT
    fig, ax = plt.subplots()
    ax.set_title("北京分行 客户流失 attrition")  # Chinese and Latin in one label
    ax.bar(["东区", "West"], [1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise
        fig.savefig(tmp_path / "cjk.png", dpi=50)
    used = {t.get_fontname() for t in [ax.title, *ax.get_xticklabels()]}
    assert used == {"DejaVu Sans"}  # the first family; CJK glyphs come from the fallback
