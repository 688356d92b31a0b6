"""Every figure of analysis.plots draws its input: data read back from the artists (Agg).

Each test draws one figure from a small frame with known numbers and checks what was drawn:
line and marker coordinates, error-bar segments, axis labels. The checks are written so that
a figure with swapped axes or columns fails (see ``test_calibration_check_fails_when_swapped``).
The survival figures (KM, hazard, rates, Lorenz, forest) are checked in ``test_plots.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from statsmodels.nonparametric.smoothers_lowess import lowess  # noqa: E402

import analysis.plots as plots  # noqa: E402
from analysis.plots.base import _ax, _log_ticks  # noqa: E402

PLOTS_DIR = Path(plots.__file__).parent


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _line(ax, gid):
    found = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, f"expected one line {gid!r}, found {len(found)}"
    return found[0]


def _collection(ax, gid):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, f"expected one collection {gid!r}, found {len(found)}"
    return found[0]


def _errorbar(ax, gid):
    """(data line, bar segments) of the error-bar container whose marker line has ``gid``."""
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer) and c.lines[0].get_gid() == gid:
            return c.lines[0], [np.asarray(s) for s in c.lines[2][0].get_segments()]
    raise AssertionError(f"no error bars {gid!r}")


def _ticklabels(labels):
    return [t.get_text() for t in labels]


# ------------------------------------------------------------------------------------------------
# calibration


@pytest.fixture
def calibration_input():
    groups = pd.DataFrame({"predicted": [0.05, 0.10, 0.20], "observed": [0.04, 0.12, 0.25],
                           "ci_low": [0.02, 0.08, 0.18], "ci_high": [0.07, 0.16, 0.33]})
    curve = pd.DataFrame({"predicted": [0.0, 0.1, 0.2, 0.3],
                          "observed": [0.0, 0.11, 0.24, 0.31]})
    return groups, curve


def _check_calibration(ax, groups, curve):
    """Predicted on x, observed on y, the observed interval vertical, the labels saying so."""
    pts, bars = _errorbar(ax, "groups")
    np.testing.assert_allclose(pts.get_xdata(), groups["predicted"])
    np.testing.assert_allclose(pts.get_ydata(), groups["observed"])
    np.testing.assert_allclose([s[:, 0] for s in bars],
                               np.repeat(groups["predicted"].to_numpy()[:, None], 2, axis=1))
    np.testing.assert_allclose([s[:, 1].min() for s in bars], groups["ci_low"])
    np.testing.assert_allclose([s[:, 1].max() for s in bars], groups["ci_high"])
    smooth = _line(ax, "curve")
    np.testing.assert_allclose(smooth.get_xdata(), curve["predicted"])
    np.testing.assert_allclose(smooth.get_ydata(), curve["observed"])
    assert ax.get_xlabel().startswith("Predicted")
    assert ax.get_ylabel().startswith("Observed")


def test_calibration_plot_draws_predicted_on_x_observed_on_y(calibration_input):
    groups, curve = calibration_input
    ax = plots.calibration_plot(groups, curve, title="12 months")
    _check_calibration(ax, groups, curve)
    diag = _line(ax, "diagonal")
    top = 0.33 * 1.08  # highest upper limit, 8% headroom (curve top 0.31 * 1.05 is lower)
    np.testing.assert_allclose(diag.get_xydata(), [[0, 0], [top, top]])
    np.testing.assert_allclose(ax.get_xlim(), (0, top))
    np.testing.assert_allclose(ax.get_ylim(), (0, top))
    assert ax.get_title() == "12 months"
    assert ax.figure.get_size_inches() == pytest.approx((4.6, 4.4))


def test_calibration_check_fails_when_swapped(calibration_input):
    """A calibration figure with predicted and observed swapped fails the check above."""
    groups, curve = calibration_input
    swap = {"predicted": "observed", "observed": "predicted"}
    ax = plots.calibration_plot(groups.rename(columns=swap), curve.rename(columns=swap))
    with pytest.raises(AssertionError):
        _check_calibration(ax, groups, curve)
    # right data, wrong labels: also fails
    ax = plots.calibration_plot(groups, curve)
    xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
    ax.set_xlabel(ylabel)
    ax.set_ylabel(xlabel)
    with pytest.raises(AssertionError):
        _check_calibration(ax, groups, curve)


def test_calibration_plot_without_curve_on_given_axes(calibration_input):
    groups, _ = calibration_input
    fig, given = plt.subplots()
    ax = plots.calibration_plot(groups, ax=given)
    assert ax is given
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "curve"]
    with pytest.raises(ValueError, match="observed"):
        plots.calibration_plot(groups.drop(columns="observed"))


def test_accuracy_plot_auc_left_brier_right():
    table = pd.DataFrame({"horizon": [12, 24, 36], "auc": [0.70, 0.72, 0.68],
                          "brier": [0.10, 0.15, 0.20], "brier_null": [0.12, 0.18, 0.24]})
    ax = plots.accuracy_plot(table)
    np.testing.assert_allclose(_line(ax, "auc").get_xydata(), table[["horizon", "auc"]])
    right = ax.brier_ax
    np.testing.assert_allclose(_line(right, "brier").get_xydata(), table[["horizon", "brier"]])
    np.testing.assert_allclose(_line(right, "brier_null").get_xydata(),
                               table[["horizon", "brier_null"]])
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "brier"]
    assert ax.get_ylabel() == "Time-dependent AUC"
    assert right.get_ylabel().startswith("Brier score")
    assert ax.get_xlabel().startswith("Horizon")
    np.testing.assert_allclose(ax.get_xticks(), [12, 24, 36])
    np.testing.assert_allclose(right.get_ylim(), (0, 0.3))  # 0.24 * 1.2 < 0.3
    assert _ticklabels(ax.get_legend().get_texts()) == [
        "AUC (left)", "Brier, model (right)", "Brier, no covariates (right)"]


# ------------------------------------------------------------------------------------------------
# competing risks


def test_cif_plot_one_step_curve_per_cause():
    cif = pd.DataFrame({
        "cause": ["price"] * 4 + ["service"] * 4,
        "time": [0, 10, 50, 130] * 2,
        "cif": [0, 0.1, 0.2, 0.3, 0, 0.05, 0.07, 0.09],
        "ci_low": [0, 0.08, 0.17, 0.26, 0, 0.03, 0.05, 0.06],
        "ci_high": [0, 0.12, 0.23, 0.34, 0, 0.07, 0.09, 0.12],
    })
    ax = plots.cif_plot(cif, max_time=120, title="Reasons")
    price, service = _line(ax, "cif:price"), _line(ax, "cif:service")
    np.testing.assert_allclose(price.get_xydata(), [[0, 0], [10, 0.1], [50, 0.2]])
    np.testing.assert_allclose(service.get_xydata(), [[0, 0], [10, 0.05], [50, 0.07]])
    assert price.get_drawstyle() == "steps-post"
    assert len(ax.collections) == 2  # one band per cause
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(0.23) and band[:, 0].max() == pytest.approx(50)
    assert ax.get_xlim() == (0, 120)
    assert ax.get_xlabel() == plots.TENURE_LABEL
    assert ax.get_ylabel().startswith("Cumulative incidence")
    assert _ticklabels(ax.get_legend().get_texts()) == ["price", "service"]
    assert len(plots.cif_plot(cif, ci=False).collections) == 0


def test_cause_forest_plot_rows_and_offsets():
    table = pd.DataFrame({"driver": ["high value", "outflow", "high value", "outflow"],
                          "cause": ["price", "price", "service", "service"],
                          "hr": [1.5, 2.0, 0.8, 3.0], "ci_low": [1.2, 1.5, 0.6, 2.0],
                          "ci_high": [1.9, 2.7, 1.1, 4.5]})
    ax = plots.cause_forest_plot(table)
    assert ax.get_xscale() == "log"
    # drivers top to bottom at y = 1, 0; two causes shifted by +-0.2 around each row
    price, price_bars = _errorbar(ax, "cause:price")
    service, service_bars = _errorbar(ax, "cause:service")
    np.testing.assert_allclose(price.get_xydata(), [[1.5, 1.2], [2.0, 0.2]])
    np.testing.assert_allclose(service.get_xydata(), [[0.8, 0.8], [3.0, -0.2]])
    np.testing.assert_allclose([s[:, 0] for s in service_bars], [[0.6, 1.1], [2.0, 4.5]])
    np.testing.assert_allclose([s[:, 0] for s in price_bars], [[1.2, 1.9], [1.5, 2.7]])
    ticks = dict(zip(ax.get_yticks(), _ticklabels(ax.get_yticklabels())))
    assert ticks == {1.0: "high value", 0.0: "outflow"}
    assert _line(ax, "reference").get_xdata()[0] == 1
    assert ax.get_xlabel().startswith("Cause-specific hazard ratio")


# ------------------------------------------------------------------------------------------------
# Cox


@pytest.fixture
def zph_residuals():
    """Residuals as cox_zph gives them: time, gtime (KM scale) and beta(t) per column."""
    rng = np.random.default_rng(3)
    time = np.sort(rng.uniform(1, 60, 40).round())
    gtime = 1 - np.exp(-time / 30)  # an increasing transform of tenure
    return pd.DataFrame({"row": np.arange(40), "time": time, "gtime": gtime,
                         "age": -0.3 + 0.5 * gtime + rng.normal(0, 0.2, 40),
                         "loan": 0.4 + rng.normal(0, 0.3, 40)})


def test_schoenfeld_plot_on_transformed_time(zph_residuals):
    r = zph_residuals
    ax = plots.schoenfeld_plot(r, "age", beta=-0.05, transform="km", title="Age")
    np.testing.assert_allclose(_collection(ax, "residuals").get_offsets(), r[["gtime", "age"]])
    smooth = _line(ax, "smooth")
    expected = lowess(r["age"], r["gtime"], frac=0.4, return_sorted=True)
    np.testing.assert_allclose(smooth.get_xydata(), expected)
    np.testing.assert_allclose(_line(ax, "beta").get_ydata(), [-0.05, -0.05])
    # ticks sit at transformed positions and read as tenure months
    labels = [float(s) for s in _ticklabels(ax.get_xticklabels())]
    np.testing.assert_allclose(ax.get_xticks(), np.interp(labels, r["time"], r["gtime"]))
    np.testing.assert_allclose(ax.get_xticks(), 1 - np.exp(-np.array(labels) / 30), atol=2e-3)
    assert labels == sorted(labels) and 1 <= labels[0] and labels[-1] <= 60
    assert ax.get_xlabel() == "Tenure at departure (months), km scale"
    assert ax.get_ylabel() == "beta(t) of age (log hazard ratio)"
    assert ax.get_title() == "Age"
    lo, hi = np.quantile(r["age"], [0.02, 0.98])
    np.testing.assert_allclose(ax.get_ylim(), (lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)))


def test_schoenfeld_plot_on_tenure_with_mean_as_constant(zph_residuals):
    """The product report's residuals (time, g, term; no gtime): tenure on x, mean as beta."""
    r = zph_residuals[["time", "loan"]].assign(g=zph_residuals["gtime"])
    ax = plots.schoenfeld_plot(r, "loan")
    np.testing.assert_allclose(_collection(ax, "residuals").get_offsets(), r[["time", "loan"]])
    np.testing.assert_allclose(_line(ax, "beta").get_ydata(), [r["loan"].mean()] * 2)
    assert ax.get_xlabel() == "Tenure at departure (months)"
    assert ax.get_legend() is not None
    _, panel = plt.subplots()
    assert plots.schoenfeld_plot(r, "loan", ax=panel).get_legend() is None  # a panel: no legend
    few = plots.schoenfeld_plot(r.head(4), "loan", x="g", legend=False)
    assert not [ln for ln in few.get_lines() if ln.get_gid() == "smooth"]  # < 5 events
    np.testing.assert_allclose(_collection(few, "residuals").get_offsets(),
                               r.head(4)[["g", "loan"]])
    assert few.get_legend() is None
    with pytest.raises(ValueError, match="no residuals for column 'age'"):
        plots.schoenfeld_plot(r, "age")


def test_partial_effect_plot():
    curve = pd.DataFrame({"x": [20, 30, 40, 50], "hr": [0.8, 0.9, 1.0, 1.3],
                          "ci_low": [0.6, 0.8, 1.0, 1.1], "ci_high": [1.05, 1.0, 1.0, 1.6]})
    ax = plots.partial_effect_plot(curve, xlabel="Age at entry")
    np.testing.assert_allclose(_line(ax, "effect").get_xydata(), curve[["x", "hr"]])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(0.6) and band[:, 1].max() == pytest.approx(1.6)
    assert _line(ax, "reference").get_ydata()[0] == 1
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Age at entry"
    assert ax.get_ylabel() == "Hazard ratio (vs the median)"


def test_dose_response_plot():
    shape = pd.DataFrame({"level": ["1", "2", "3", "4+"], "products": [1, 2, 3, 4],
                          "hr": [1.0, 0.8, 0.7, 0.65], "ci_low": [1.0, 0.7, 0.6, 0.5],
                          "ci_high": [1.0, 0.9, 0.82, 0.85],
                          "linear_hr": [1.0, 0.85, 0.85**2, 0.85**3]})
    ax = plots.dose_response_plot(shape)
    pts, bars = _errorbar(ax, "estimates")
    np.testing.assert_allclose(pts.get_xydata(), shape[["products", "hr"]])
    np.testing.assert_allclose([s[:, 1] for s in bars], shape[["ci_low", "ci_high"]])
    np.testing.assert_allclose([s[:, 0] for s in bars], np.repeat([[1], [2], [3], [4]], 2, 1))
    lin = _line(ax, "linear")
    # one HR per added product: 0.85 ** (products - 1)
    np.testing.assert_allclose(lin.get_ydata(), 0.85 ** (lin.get_xdata() - 1))
    assert lin.get_xdata()[0] == 1 and lin.get_xdata()[-1] == 4
    assert _ticklabels(ax.get_xticklabels()) == ["1", "2", "3", "4+"]
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Products held"
    assert ax.get_ylabel().startswith("Hazard ratio vs 1 product")
    no_lin = plots.dose_response_plot(shape.drop(columns="linear_hr"))
    assert not [ln for ln in no_lin.get_lines() if ln.get_gid() == "linear"]


# ------------------------------------------------------------------------------------------------
# IPW and estimates


def test_balance_plot_before_and_after():
    bal = pd.DataFrame({"covariate": ["age", "tier", "loan", "branch"],
                        "smd_before": [-0.30, 0.20, np.nan, 0.05],
                        "smd_after": [0.02, -0.04, np.nan, 0.01]})
    ax = plots.balance_plot(bal)
    # the row without a difference is left out; first row on top, absolute values
    np.testing.assert_allclose(_collection(ax, "before").get_offsets(),
                               [[0.30, 2], [0.20, 1], [0.05, 0]])
    np.testing.assert_allclose(_collection(ax, "after").get_offsets(),
                               [[0.02, 2], [0.04, 1], [0.01, 0]])
    ticks = dict(zip(ax.get_yticks(), _ticklabels(ax.get_yticklabels())))
    assert ticks == {2: "age", 1: "tier", 0: "branch"}
    assert _line(ax, "threshold").get_xdata()[0] == 0.1
    assert ax.get_xlabel().startswith("|standardised mean difference|")


def test_estimates_plot_rows_labels_and_truth():
    summary = pd.DataFrame({
        "method": ["Cox, unadjusted", "Cox, adjusted", "IPW", "AFT"],
        "contrast": ["per product", "per product", "2+ vs 1", "per product"],
        "hr": [0.6, 0.8, 0.75, np.nan], "ci_low": [0.55, 0.7, 0.6, np.nan],
        "ci_high": [0.66, 0.9, 0.95, np.nan], "truth": [0.8, 0.8, np.nan, 0.8]})
    ax = plots.estimates_plot(summary)
    pts, bars = _errorbar(ax, "estimates")
    np.testing.assert_allclose(pts.get_xydata(), [[0.6, 2], [0.8, 1], [0.75, 0]])
    np.testing.assert_allclose([s[:, 0] for s in bars], [[0.55, 0.66], [0.7, 0.9], [0.6, 0.95]])
    ticks = dict(zip(ax.get_yticks(), _ticklabels(ax.get_yticklabels())))
    assert ticks == {2: "Cox, unadjusted: per product", 1: "Cox, adjusted: per product",
                     0: "IPW: 2+ vs 1"}
    np.testing.assert_allclose(_collection(ax, "truth").get_offsets(), [[0.8, 2], [0.8, 1]])
    assert ax.get_xlabel() == "hazard ratio (log scale)"
    assert ax.get_xscale() == "log"


# ------------------------------------------------------------------------------------------------
# shared helpers and the public face


def test_ax_makes_a_figure_of_the_given_size_or_returns_the_given_axes():
    ax = _ax(None, figsize=(3.0, 2.0))
    assert tuple(ax.figure.get_size_inches()) == (3.0, 2.0)
    assert _ax(ax) is ax
    assert tuple(_ax(None).figure.get_size_inches()) == (7.0, 4.5)


def test_grid_panels():
    fig, axes = plots.grid(3, ncols=2, size=(4.0, 3.0))
    assert len(axes) == 3 and all(a.get_visible() for a in axes)
    assert [a.get_visible() for a in fig.axes] == [True, True, True, False]
    assert tuple(fig.get_size_inches()) == (8.0, 6.0)


@pytest.mark.parametrize("span, expected", [
    ((0.5, 2.0), [0.5, 0.7, 1, 1.5, 2]),                        # medium set (fine has 9)
    ((0.6, 1.05), [0.6, 0.7, 0.8, 0.9, 1]),                     # fine set
    ((0.01, 100), [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]),  # coarse
])
def test_log_ticks_pick_the_finest_readable_set(span, expected):
    ax = _ax(None)
    ax.set_xscale("log")
    _log_ticks(ax, "x", span=span)
    np.testing.assert_allclose(ax.xaxis.get_major_locator().tick_values(0, 1), expected)


def _defined(name: str) -> list[str]:
    """Modules of analysis.plots that define a function ``name``."""
    out = []
    for path in sorted(PLOTS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.walk(tree)):
            out.append(path.stem)
    return out


def test_each_figure_and_helper_is_defined_once():
    assert _defined("_ax") == ["base"]
    assert _defined("schoenfeld_plot") == ["cox"]
    for name in plots.__all__:
        obj = getattr(plots, name)
        if callable(obj):
            assert len(_defined(name)) == 1, name


def test_notebook_plot_calls_resolve():
    """Every ``plots.<name>`` a notebook calls exists in ``analysis.plots``."""
    import re
    from pathlib import Path

    used = set()
    for nb in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"):
        used |= set(re.findall(r"\bplots\.(\w+)\(", nb.read_text(encoding="utf-8")))
    assert {"km_plot", "schoenfeld_plot", "calibration_plot"} <= used
    assert sorted(n for n in used if not callable(getattr(plots, n, None))) == []
