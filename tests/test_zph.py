"""Risk-set engine, the Cox fit and R's cox.zph test with left truncation.

References: lifelines ``CoxPHFitter`` (Efron; ``entry_col``), lifelines'
``proportional_hazard_test`` (the pre-3.0 R approximation, on data without truncation, where its
residuals are right) and an episode-split model in statsmodels ``PHReg`` (the score test of the
added ``x * g(t)`` covariates, computed independently of our risk-set sums).
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test
from statsmodels.duration.hazard_regression import PHReg

from analysis.errors import InsufficientDataError
from analysis.stats.cox.engine import riskset_pieces
from analysis.stats.cox.fit import fit_cox
from analysis.stats.cox.zph import _transform_times, cox_zph, zph_for


def _zph_at(cph, df, **kw):
    """cox_zph at a lifelines fit's own estimates (to compare residuals with lifelines')."""
    cols = list(cph.params_.index)
    entry = getattr(cph, "entry_col", None)
    return cox_zph(df[cols], cph.params_.to_numpy(), cph.variance_matrix_.loc[cols, cols].to_numpy(),
                   stop=df[cph.duration_col].to_numpy(), event=df[cph.event_col].to_numpy(),
                   start=None if entry is None else df[entry].to_numpy(), **kw)


def _data(n=300, seed=1, truncated=True):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": (rng.random(n) < 0.4).astype(float),
                       "x3": rng.normal(size=n), "g": rng.integers(0, 2, n)})
    df["entry"] = rng.integers(0, 6, n).astype(float) if truncated else 0.0
    t = np.ceil(rng.exponential(10 * np.exp(-0.5 * df["x1"] - 0.3 * df["x2"])))  # monthly ties
    follow = rng.integers(1, 25, n)
    df["stop"] = df["entry"] + np.minimum(t, follow)
    df["event"] = (t <= follow).astype(int)
    return df


COLS = ["x1", "x2", "x3"]


def test_engine_and_fit_match_lifelines_with_entry_ties_and_strata():
    df = _data()
    for strata in (None, ["g"]):
        ref = CoxPHFitter().fit(df[COLS + ["entry", "stop", "event"] + (strata or [])], "stop",
                                "event", entry_col="entry", strata=strata)
        ours = fit_cox(df, COLS, duration="stop", event="event", entry="entry", strata=strata)
        np.testing.assert_allclose(ours.params, ref.params_, atol=1e-6)
        np.testing.assert_allclose(ours.standard_errors, ref.standard_errors_, atol=1e-6)
        assert ours.log_likelihood == pytest.approx(ref.log_likelihood_, abs=1e-6)
        pieces = riskset_pieces(df[COLS].to_numpy(), ref.params_.to_numpy(), stop=df["stop"],
                                event=df["event"], start=df["entry"],
                                strata=None if strata is None else df["g"])
        assert pieces.loglik == pytest.approx(ref.log_likelihood_, abs=1e-8)
        np.testing.assert_allclose(pieces.score, 0, atol=1e-4)


def test_cox_fit_refuses_what_cannot_be_fitted():
    df = _data(80)
    df["const"] = 1.0
    with pytest.raises(InsufficientDataError):
        fit_cox(df, ["x1", "const"], duration="stop", event="event", entry="entry")
    df["event"] = 0
    with pytest.raises(InsufficientDataError, match="no customer left"):
        fit_cox(df, ["x1"], duration="stop", event="event", entry="entry")


def test_scaled_schoenfeld_and_approximate_test_match_lifelines_without_truncation():
    df = _data(truncated=False).drop(columns="entry")
    cph = CoxPHFitter().fit(df[COLS + ["stop", "event"]], "stop", "event")
    ours = _zph_at(cph, df, transform="km")
    ref = cph.compute_residuals(df[COLS + ["stop", "event"]], "scaled_schoenfeld")
    mine = ours.residuals.set_index("row")[COLS] - cph.params_.to_numpy()  # R adds beta
    mine.index = df.index[mine.index]
    np.testing.assert_allclose(mine.loc[ref.index].to_numpy(), ref.to_numpy(), atol=1e-10)
    # lifelines' statistic (R's pre-3.0 approximation) from our residuals, same time transform
    def km(t, c, w):  # R's transform on these (untruncated) data, as lifelines wants it
        return pd.Series(_transform_times("km", np.zeros(len(t)), np.asarray(t, float),
                                          np.asarray(c, bool)), index=t.index)

    lt = proportional_hazard_test(cph, df[COLS + ["stop", "event"]], time_transform=km)
    r = ours.residuals
    g = r["gtime"] - r["gtime"].mean()
    s = r[COLS] - cph.params_.to_numpy()
    d = df["event"].sum()
    approx = (g.to_numpy()[:, None] * s.to_numpy()).sum(0) ** 2 / (
        d * np.diag(cph.variance_matrix_) * (g ** 2).sum())
    np.testing.assert_allclose(approx, lt.test_statistic, rtol=1e-10)


def _episode_split_score_test(df, beta, transform_values):
    """Score test of x*g(t) at (beta, 0) on episode-split data, by statsmodels."""
    times = np.unique(df.loc[df["event"] == 1, "stop"])
    rows = []
    for _, rw in df.iterrows():
        cuts = [t for t in times if rw["entry"] < t < rw["stop"]]
        bounds = [rw["entry"], *cuts, rw["stop"]]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            rows.append(dict(start=lo, stop=hi, event=int(rw["event"] == 1 and hi == rw["stop"]),
                             **{c: rw[c] for c in COLS}))
    sp = pd.DataFrame(rows)
    g = transform_values(sp["stop"].to_numpy())
    for c in COLS:
        sp["g_" + c] = sp[c] * g
    ex = sp[COLS + ["g_" + c for c in COLS]]
    # statsmodels counts a row at risk at its entry time: start just after (integer times)
    m = PHReg(sp["stop"], ex, status=sp["event"], entry=sp["start"] + 1e-6, ties="efron")
    par = np.r_[beta, np.zeros(3)]
    u, info = m.score(par), -m.hessian(par)
    u[:3] = 0
    out = []
    for j in range(3):
        kk = [0, 1, 2, 3 + j]
        out.append(u[kk] @ np.linalg.solve(info[np.ix_(kk, kk)], u[kk]))
    out.append(u @ np.linalg.solve(info, u))
    return np.array(out)


def test_score_test_matches_episode_split_model_with_left_truncation():
    df = _data(n=150, seed=4)
    cph = CoxPHFitter().fit(df[COLS + ["entry", "stop", "event"]], "stop", "event", entry_col="entry")
    ours = _zph_at(cph, df, transform="identity")
    mean_g = df.loc[df["event"] == 1, "stop"].mean()
    ref = _episode_split_score_test(df, cph.params_.to_numpy(), lambda t: t - mean_g)
    np.testing.assert_allclose(ours.table["chisq"].to_numpy(), ref, rtol=1e-6)
    assert list(ours.table.index) == COLS + ["GLOBAL"]
    assert ours.table.loc["GLOBAL", "df"] == 3


def test_terms_are_tested_jointly_and_km_transform_uses_delayed_entry():
    df = _data(seed=7)
    cph = fit_cox(df, COLS, duration="stop", event="event", entry="entry")
    res = zph_for(cph, df, terms={"x1": ["x1"], "x2+x3": ["x2", "x3"]})
    assert res.table.loc["x2+x3", "df"] == 2 and res.transform == "km"
    assert 0 <= res.table.loc["GLOBAL", "p"] <= 1
    # the km transform with entry differs from the one ignoring it
    g_entry = _transform_times("km", df["entry"].to_numpy(), df["stop"].to_numpy(),
                               df["event"].to_numpy().astype(bool))
    g_none = _transform_times("km", np.zeros(len(df)), df["stop"].to_numpy(),
                              df["event"].to_numpy().astype(bool))
    assert not np.allclose(g_entry, g_none)
    assert np.all(np.diff(g_entry[np.argsort(df["stop"].to_numpy())]) >= -1e-12)  # increasing


def test_cox_zph_checks_its_inputs():
    df = _data(50)
    with pytest.raises(ValueError, match="not in X"):
        cox_zph(df[COLS], np.zeros(3), np.eye(3), stop=df["stop"], event=df["event"],
                terms={"a": ["nope"]})
    with pytest.raises(ValueError, match="transform"):
        cox_zph(df[COLS], np.zeros(3), np.eye(3), stop=df["stop"], event=df["event"],
                transform="weird")


def test_lifelines_refuses_left_truncated_fits_which_is_why_we_compute_the_test():
    df = _data(seed=11)
    cols = COLS + ["entry", "stop", "event"]
    cph = CoxPHFitter().fit(df[cols], "stop", "event", entry_col="entry")
    with pytest.raises(NotImplementedError, match="entries"):
        proportional_hazard_test(cph, df[cols], time_transform="km")
    ours = zph_for(fit_cox(df, COLS, duration="stop", entry="entry"))
    assert np.isfinite(ours.table["p"]).all()
    # with entry at 0 for everyone, our residuals are lifelines' untruncated ones
    df0 = df.drop(columns="entry")
    cph0 = CoxPHFitter().fit(df0[COLS + ["stop", "event"]], "stop", "event")
    ref0 = cph0.compute_residuals(df0[COLS + ["stop", "event"]], "scaled_schoenfeld")
    ours0 = _zph_at(cph0, df0).residuals.set_index("row")[COLS] - cph0.params_.to_numpy()
    ours0.index = df0.index[ours0.index]
    np.testing.assert_allclose(ours0.loc[ref0.index].to_numpy(), ref0.to_numpy(), atol=1e-8)
