"""A deterministic synthetic bank portfolio with a known ground truth.

The model (configuration, time-fixed draws and the ONE monthly step, with the hazard model in
its docstring) lives in :mod:`analysis.data.dynamics`, its truth in :mod:`analysis.data.truth`;
this module runs the model chunk by chunk from each customer's opening (up to 20 years before
the window, so the book is left-truncated as a real one) and assembles the customers and
monthly panel frames.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.dynamics import (  # noqa: F401  (re-exported: the public face of the book)
    DEFAULT_BRANCHES,
    REASON_FEATURES,
    SCENARIOS,
    REASON_MODEL,
    BookState,
    SyntheticConfig,
    _draw_baseline,
    _draw_reasons,
    baseline_hazard,
    monthly_step,
    reason_shares,
    scenario_config,
    tier_from_aum,
)
from analysis.data.portfolio import Portfolio
from analysis.data.truth import (  # noqa: F401  (re-exported)
    ground_truth,
    intervention_truth,
    model_hash,
    simulate_intervention_truth,
    truth_cache_key,
)

__all__ = [
    "SyntheticConfig",
    "generate_portfolio",
    "write_portfolio",
    "write_portfolio_parts",
    "iter_chunks",
    "baseline_hazard",
    "tier_from_aum",
    "REASON_MODEL",
    "reason_shares",
    "intervention_truth",
    "simulate_intervention_truth",
    "truth_cache_key",
    "scenario_config",
    "SCENARIOS",
]


def _simulate_chunk(rng: np.random.Generator, k: int, cfg: SyntheticConfig, id_offset: int,
                    reason_rng: np.random.Generator | None = None):
    """Simulate ``k`` candidate customers from opening; return those on book in the window.

    ``reason_rng`` (a separate stream, so the other draws do not change) draws the reason of
    each closure inside the window (see :data:`REASON_MODEL`).
    """
    b = _draw_baseline(rng, k, cfg)
    open_offset = b["open_offset"]
    deposit_share, loan_bal, loan_term = b["deposit_share"], b["loan_bal"], b["loan_term"]

    state = BookState.opening(b, balances=True, feedback=cfg.feedback)
    rows = []
    for m in range(open_offset.min(), cfg.months):
        # One generator for every draw, in the model's order (see monthly_step).
        mo = monthly_step(state, m, cfg, lambda idx: rng.random(idx.size), balance_rng=rng)
        if mo is None or m < 0:
            continue
        idx, tenure, event, recent = mo.idx, mo.tenure, mo.event, mo.recent
        aum = state.aum(idx)
        reason = np.full(idx.size, -1, dtype=np.int8)
        if reason_rng is not None and event.any():
            reason[event] = _draw_reasons(
                reason_rng,
                high_aum=aum[event] >= cfg.tier_thresholds[2],
                recent_outflow=recent[event],
                age_65plus=(b["age_at_open"][idx] + tenure / 12.0)[event] >= 65,
            )
        remaining = np.clip(1 - tenure / loan_term[idx], 0, 1)
        lb = loan_bal[idx] * remaining
        rows.append(
            dict(
                row=idx,
                m=np.full(idx.size, m, dtype=np.int16),
                tenure=tenure.astype(np.int16),
                aum=aum,
                deposit=aum * deposit_share[idx],
                loan=lb,
                n=mo.n,
                outflow=mo.outflow,
                closed=event,
                reason=reason,
            )
        )

    seen = np.zeros(k, dtype=bool)
    for r in rows:
        seen[r["row"]] = True
    keep = np.flatnonzero(seen)  # candidate order = deterministic customer order
    return dict(
        keep=keep,
        rows=rows,
        state=state,  # end of the window: the value truth continues each customer from here
        open_offset=open_offset,
        branch_idx=b["branch_idx"],
        age_at_open=b["age_at_open"],
        gender=b["gender"],
        engagement=b["engagement"],
        unmeasured=b["unmeasured"],
        frailty=b["frailty"],
        loan=b["loan"],
    )


def _assemble(sim: dict, take: np.ndarray, cfg: SyntheticConfig, id_offset: int):
    """Turn one simulated chunk into customers and panel frames, keeping candidates ``take``."""
    base = pd.Timestamp(cfg.window_start).to_period("M")
    k = sim["open_offset"].size
    new_id = np.full(k, -1, dtype=np.int64)
    new_id[take] = id_offset + np.arange(take.size)
    ids = np.array([f"C{i:07d}" for i in range(id_offset, id_offset + take.size)], dtype=object)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "branch": pd.Categorical(
                np.asarray(cfg.branches, dtype=object)[sim["branch_idx"][take]],
                categories=list(cfg.branches),
            ).astype(str),
            "open_date": pd.PeriodIndex(
                [base + int(o) for o in sim["open_offset"][take]], freq="M"
            ).to_timestamp(),
            "age_at_open": sim["age_at_open"][take],
            "gender": sim["gender"][take],
            "engagement": np.round(sim["engagement"][take], 4),
        }
    )
    parts = []
    for r in sim["rows"]:
        sel = new_id[r["row"]] >= 0
        if not sel.any():
            continue
        parts.append({key: val[sel] for key, val in r.items()})
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    cid = new_id[cols["row"]]
    months = pd.PeriodIndex([base + i for i in range(cfg.months)], freq="M").to_timestamp()
    loan_flag = sim["loan"][cols["row"]]
    aum = np.round(cols["aum"], 2)
    loan_bal = np.round(cols["loan"], 2)
    n = cols["n"].astype(np.int16)
    panel = pd.DataFrame(
        {
            "customer_id": ids[cid - id_offset],
            "month": months[cols["m"]],
            "tenure_months": cols["tenure"].astype(np.int32),
            "aum": aum,
            "deposit_balance": np.round(cols["deposit"], 2),
            "loan_balance": loan_bal,
            "n_products": n,
            "tier": tier_from_aum(aum, cfg.tier_thresholds),
            "segment": np.where(loan_flag, "loan", "deposit"),
            # Monthly profit: margin on assets and loans plus product fees.
            "profit": np.round(0.0012 * aum + 0.0008 * loan_bal + 1.0 * n, 2),
            "outflow": cols["outflow"],
            "closed": cols["closed"],
        }
    )
    if "reason" in cols:  # departure reason on the closing month, null otherwise
        names = np.array(list(REASON_MODEL), dtype=object)
        code = cols["reason"].astype(int)
        panel["reason"] = np.where(code >= 0, names[np.maximum(code, 0)], None)
    panel = panel.sort_values(["customer_id", "month"], kind="stable").reset_index(drop=True)
    unmeasured = pd.DataFrame({"customer_id": ids, "unmeasured": sim["unmeasured"][take]})
    if cfg.feedback:
        unmeasured["frailty"] = sim["frailty"][take]
    return customers, panel, unmeasured


def iter_chunks(cfg: SyntheticConfig):
    """Yield ``(customers, panel, hidden)`` frames chunk by chunk (bounded memory at any size).

    Chunk ``i`` draws from ``default_rng([seed, i])``, so the result depends only on the config.
    """
    for _, sim, take, got in _iter_simulated(cfg):
        yield _assemble(sim, take, cfg, got)


def _iter_simulated(cfg: SyntheticConfig, reasons: bool = True):
    """Yield ``(chunk, sim, take, id_offset)``: each simulated chunk and the candidates kept.

    Shared by :func:`iter_chunks` and the value truth (:mod:`analysis.data.value_truth`), so
    both see the same customers; ``reasons=False`` skips the reason draws (a stream of its own).
    """
    if cfg.n_customers < 1 or cfg.months < 1:
        raise ValueError("n_customers and months must be positive")
    if len(cfg.branch_hr) != len(cfg.branches):
        raise ValueError("branch_hr needs one hazard ratio per branch")
    got, chunk = 0, 0
    while got < cfg.n_customers:
        rng = np.random.default_rng([cfg.seed, chunk])
        k = min(cfg.chunk_size, max(2 * (cfg.n_customers - got), 1000))
        reason_rng = np.random.default_rng([cfg.seed, chunk, 1]) if reasons else None
        sim = _simulate_chunk(rng, k, cfg, got, reason_rng=reason_rng)
        take = sim["keep"][: cfg.n_customers - got]
        yield chunk, sim, take, got
        got += take.size
        chunk += 1


def write_portfolio_parts(out_dir: str | Path, **params) -> Path:
    """Generate a (large) synthetic book straight to Parquet parts, one chunk at a time.

    Writes ``customers/part-NNNNN.parquet``, ``panel/part-NNNNN.parquet`` and ``truth.json``
    under ``out_dir``; loaders and frames read such folders like single files.
    """
    cfg = SyntheticConfig(**params)
    out = Path(out_dir)
    for name in ("customers", "panel"):
        (out / name).mkdir(parents=True, exist_ok=True)
    for i, (c, p, _) in enumerate(iter_chunks(cfg)):
        c.to_parquet(out / "customers" / f"part-{i:05d}.parquet", index=False)
        p.to_parquet(out / "panel" / f"part-{i:05d}.parquet", index=False)
    (out / "truth.json").write_text(json.dumps(ground_truth(cfg), indent=2))
    return out


def generate_portfolio(
    n_customers: int = SyntheticConfig.n_customers,
    months: int = SyntheticConfig.months,
    seed: int = SyntheticConfig.seed,
    *,
    scenario: str = "default",
    **params,
) -> Portfolio:
    """Generate the synthetic book: customers, monthly panel and ground truth.

    Parameters
    ----------
    n_customers : int
        Customers on book at some time inside the window (exactly this many).
    months : int
        Length of the observation window in months.
    seed : int
        Random seed; the same arguments always give the same data.
    scenario : {"default", "feedback"}
        Named scenario (:meth:`SyntheticConfig.scenario`): ``"feedback"`` switches on the
        feedback of products on AUM and tier, of tier on adoption, a frailty and a non-linear
        engagement effect (:mod:`analysis.data.dynamics`); ``params`` override its fields.
    **params
        Any other field of :class:`SyntheticConfig` (true hazard ratios, rates...).

    Returns
    -------
    Portfolio
        With ``truth`` holding the true log hazard ratios and the configuration.

    Examples
    --------
    >>> p = generate_portfolio(500, months=12, seed=1)
    >>> len(p.customers), p.panel["month"].nunique()
    (500, 12)
    """
    cfg = SyntheticConfig.scenario(scenario, n_customers=n_customers, months=months, seed=seed,
                                   **params)
    customers, panels, hidden = [], [], []
    for c, p, u in iter_chunks(cfg):
        customers.append(c)
        panels.append(p)
        hidden.append(u)
    customers_df = pd.concat(customers, ignore_index=True)
    panel_df = pd.concat(panels, ignore_index=True)
    truth = ground_truth(cfg)
    portfolio = Portfolio(
        customers=customers_df,
        panel=panel_df,
        truth=truth,
        source="synthetic" if not cfg.feedback else "synthetic-feedback",
        fingerprint=_fingerprint(customers_df, panel_df),
    )
    # The unmeasured factor never goes into the data; tests and sensitivity analyses may read it.
    portfolio.hidden = pd.concat(hidden, ignore_index=True)  # type: ignore[attr-defined]
    return portfolio


def _fingerprint(customers: pd.DataFrame, panel: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for df in (customers, panel):
        h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()[:12]


def write_portfolio(portfolio: Portfolio, out_dir: str | Path) -> list[Path]:
    """Write ``customers.parquet``, ``panel.parquet`` and ``truth.json`` to ``out_dir``.

    Files are written to temporary names first and renamed, so a reader never sees half a file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("customers", portfolio.customers), ("panel", portfolio.panel)):
        tmp = out / f".{name}.parquet.tmp"
        df.to_parquet(tmp, index=False)
        tmp.replace(out / f"{name}.parquet")
        written.append(out / f"{name}.parquet")
    if portfolio.truth is not None:
        tmp = out / ".truth.json.tmp"
        tmp.write_text(json.dumps(portfolio.truth, indent=2))
        tmp.replace(out / "truth.json")
        written.append(out / "truth.json")
    return written
