"""Why customers leave: cumulative incidence by departure reason and cause-specific hazards.

With several reasons for leaving (competing risks), ``1 - Kaplan-Meier`` of one reason, treating
the others as censored, overstates that reason's probability: a customer who left for another
reason can no longer leave for this one. The Aalen-Johansen estimator (lifelines'
``AalenJohansenFitter``) gives the cumulative incidence of each reason, and the incidences of all
reasons add up to ``1 - KM`` of leaving for any reason.

Conventions (as in :mod:`analysis.stats.km`): tenure scale, a customer who entered observation at
tenure ``e`` is at risk at ``t`` when ``e < t <= duration``; censored customers are at risk at
their censoring time. lifelines counts entrants at ``t`` in the risk set at ``t`` and breaks tied
event times by random jitter (a censoring tied with a jittered event may then leave first), so
:func:`cumulative_incidence` moves every entry and every censoring time a little later (half the
smallest gap between distinct times) before calling it: this gives exactly the estimator with our
conventions (checked against a direct computation in the tests).

Cause-specific hazard ratios (:func:`cause_specific_cox`) come from one Cox model per reason,
customers leaving for other reasons censored at that time: they describe how covariates change
the *rate* of leaving for that reason among customers still on the book.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError

__all__ = [
    "event_types",
    "cumulative_incidence",
    "incidence_at",
    "cause_specific_cox",
    "aalen_johansen_direct",
    "NO_REASON",
    "VALUE_DROP",
]

NO_REASON = "reason not recorded"
VALUE_DROP = "value drop (still a customer)"


def event_types(frame: pd.DataFrame, *, event: str = "event", reason: str = "reason",
                attrition: str = "closure") -> pd.Series:
    """Event type of each customer: its departure reason, or ``None`` when censored.

    Events without a reason are ``"value drop (still a customer)"`` under value attrition
    (the customer fell below the tier but did not close) and ``"reason not recorded"`` otherwise.
    """
    if reason not in frame:
        raise InsufficientDataError("the data record no departure reasons")
    ev = frame[event].astype(int) == 1
    missing = VALUE_DROP if attrition == "value" else NO_REASON
    r = frame[reason].astype(object).where(frame[reason].notna(), missing)
    return r.where(ev, None)


def _shift(values: np.ndarray) -> float:
    u = np.unique(values)
    gaps = np.diff(u)
    gaps = gaps[gaps > 0]
    return 0.5 * float(gaps.min()) if gaps.size else 0.5


def cumulative_incidence(
    data: pd.DataFrame,
    *,
    cause: str = "cause",
    duration: str = "duration",
    entry: str | None = "entry",
    causes: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each cause (lifelines), with delayed entry.

    Parameters
    ----------
    data : DataFrame
        One row per customer; ``cause`` holds the event type (None/NaN = censored).
    causes : sequence of str, optional
        Causes to estimate (default: all present, most frequent first).

    Returns
    -------
    DataFrame
        ``cause, time, cif, ci_low, ci_high`` (one row per distinct event time of any cause,
        plus time 0 / first entry with 0), sorted by cause then time.
    """
    from lifelines import AalenJohansenFitter

    c = data[cause]
    if causes is None:
        causes = c.dropna().value_counts().index.tolist()
    if not len(causes):
        raise InsufficientDataError("no customer left in these data: no cumulative incidence")
    codes = {k: i + 1 for i, k in enumerate(causes)}
    code = c.map(codes).fillna(0).astype(int).to_numpy()
    dur = data[duration].to_numpy(dtype=float)
    ent = np.zeros_like(dur) if entry is None else data[entry].to_numpy(dtype=float)
    eps = _shift(np.r_[dur, ent])
    dur_s = np.where(code > 0, dur, dur + eps)  # censored: at risk at their time
    ent_s = ent + eps  # entrants: at risk only after their entry time
    jitter = min(1e-4, eps / 10)
    out = []
    for name, k in codes.items():
        ajf = AalenJohansenFitter(jitter_level=jitter, seed=12345, alpha=alpha)
        with warnings.catch_warnings():
            # lifelines announces that it jitters tied event times: expected, we ask for it
            # (jitter_level, seed) and map the result back to the original times below.
            warnings.filterwarnings("ignore", message="Tied event times were detected",
                                    category=Warning)
            ajf.fit(dur_s, code, event_of_interest=k, entry=ent_s if entry is not None else None)
        cif = ajf.cumulative_density_.iloc[:, 0]
        ci = ajf.confidence_interval_
        t = cif.index.to_numpy(dtype=float)
        # undo the jitter: report at the original (rounded) event times, last value per time
        # (lifelines 0.30 labels its two bounds the wrong way round: take min and max)
        bounds = ci.to_numpy() if ci is not None else np.full((len(t), 2), np.nan)
        frame = pd.DataFrame({"time": t, "cif": cif.to_numpy(),
                              "ci_low": np.min(bounds, axis=1), "ci_high": np.max(bounds, axis=1)})
        grid = np.unique(np.r_[dur[code > 0], ent.min()])
        pos = np.searchsorted(frame["time"].to_numpy(), grid + eps / 2, side="right") - 1
        pos = np.clip(pos, 0, len(frame) - 1)
        res = frame.iloc[pos].reset_index(drop=True)
        res["time"] = grid
        res.loc[res["cif"] <= 0, ["ci_low", "ci_high"]] = 0.0
        res.insert(0, "cause", name)
        out.append(res)
    return pd.concat(out, ignore_index=True)


def incidence_at(cif: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """Cumulative incidence of each cause at given times (step function read-off).

    Times beyond the last event time of the data keep the last value only up to the last
    follow-up; the caller decides what is estimable (here: ``NaN`` beyond the last time listed).
    """
    rows = []
    for name, sub in cif.groupby("cause", sort=False):
        tt = sub["time"].to_numpy()
        for t in times:
            i = np.searchsorted(tt, t, side="right") - 1
            if i < 0:
                rows.append(dict(cause=name, time=float(t), cif=0.0, ci_low=0.0, ci_high=0.0))
            else:
                r = sub.iloc[i]
                rows.append(dict(cause=name, time=float(t), cif=r["cif"], ci_low=r["ci_low"],
                                 ci_high=r["ci_high"]))
    return pd.DataFrame(rows)


def aalen_johansen_direct(duration, code, entry=None) -> pd.DataFrame:
    """Aalen-Johansen by its definition (for checks): ``CIF_k(t) = sum S(s-) d_k(s) / n(s)``.

    ``code``: 0 censored, 1..K the cause. At risk at ``s``: ``entry < s <= duration``.
    Returns a frame indexed by the distinct event times with one column per cause and ``km``.
    """
    dur = np.asarray(duration, dtype=float)
    code = np.asarray(code, dtype=int)
    ent = np.zeros_like(dur) if entry is None else np.asarray(entry, dtype=float)
    times = np.unique(dur[code > 0])
    K = code.max()
    s_prev = 1.0
    rows = []
    cif = np.zeros(K)
    for t in times:
        n = np.sum((ent < t) & (dur >= t))
        d = np.array([np.sum((dur == t) & (code == k)) for k in range(1, K + 1)])
        cif = cif + s_prev * d / n
        s_prev = s_prev * (1 - d.sum() / n)
        rows.append([t, *cif, s_prev])
    return pd.DataFrame(rows, columns=["time", *range(1, K + 1), "km"]).set_index("time")


def cause_specific_cox(
    data: pd.DataFrame,
    columns: Sequence[str],
    *,
    cause: str = "cause",
    causes: Sequence[str] | None = None,
    duration: str = "duration",
    entry: str | None = "entry",
    min_events: int = 10,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, list[str]]:
    """One Cox model per cause (Efron ties, delayed entry), other causes censored.

    Intervals have ``1 - alpha`` coverage.

    ``data`` may hold one row per customer or counting-process rows (``entry`` = start of the
    interval, ``cause`` set on the row where the event happens).

    Returns
    -------
    table : DataFrame
        ``cause, column, events, hr, ci_low, ci_high, p``.
    notes : list of str
        Causes skipped (fewer than ``min_events`` events) or not fitted.
    """
    from analysis.stats.cox.fit import fit_cox

    if causes is None:
        causes = data[cause].dropna().value_counts().index.tolist()
    cols = list(columns)
    rows, notes = [], []
    for name in causes:
        ev = (data[cause] == name).astype(int)
        n_ev = int(ev.sum())
        if n_ev < min_events:
            notes.append(f"'{name}': only {n_ev} departures, too few for a cause-specific model "
                         f"(at least {min_events} needed)")
            continue
        df = data[cols].copy()
        df["_t"] = data[duration].to_numpy(dtype=float)
        df["_e"] = ev.to_numpy()
        if entry is not None:
            df["_s"] = data[entry].to_numpy(dtype=float)
        keep = []
        for c in cols:  # a 0/1 covariate with no departure in one of its values: no finite HR
            x = df[c]
            binary = x.nunique() <= 2
            if binary and df.loc[df["_e"] == 1, c].nunique() < 2:
                notes.append(f"'{name}': {c} left out (all departures for this reason share one "
                             "value of it)")
                continue
            keep.append(c)
        try:
            cph = fit_cox(df, keep, duration="_t", event="_e",
                          entry="_s" if entry is not None else None, alpha=alpha)
        except InsufficientDataError as exc:
            notes.append(f"'{name}': {exc}")
            continue
        s = cph.summary.set_index("term")
        for c in keep:
            rows.append(dict(cause=name, column=c, events=n_ev, hr=s.loc[c, "hr"],
                             ci_low=s.loc[c, "ci_low"], ci_high=s.loc[c, "ci_high"],
                             p=s.loc[c, "p"]))
    return pd.DataFrame(rows, columns=["cause", "column", "events", "hr", "ci_low", "ci_high",
                                       "p"]), notes
