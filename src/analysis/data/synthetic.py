"""A deterministic synthetic bank portfolio with a known ground truth.

The generator simulates each customer month by month from the day they opened (up to 20 years
before the observation window), so the book seen in the window is left-truncated exactly as a
real one: customers who left before the window are never seen, and survivors enter late.

Model (monthly, on the tenure time scale)::

    hazard(t) = h0(t) * exp( b_prod * (n_products(t) - 2)
                             + b_eng * engagement
                             + b_age * (age_at_open - 45) / 10
                             + b_loan * [segment == loan]
                             + b_out * [large outflow in the previous 3 months]
                             + b_u * unmeasured
                             + b_branch[branch] )

and an event in month t happens with probability ``1 - exp(-hazard(t))`` (grouped continuous-time
proportional hazards). Confounding: ``engagement`` raises product adoption *and* lowers the hazard,
so a naive product-count comparison overstates the retention effect; adjusting for the measured
``engagement`` removes it. An optional unmeasured factor (off by default) acts the same way but is
not written to the data, for sensitivity analyses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import TIER_THRESHOLDS
from analysis.data.portfolio import Portfolio

__all__ = [
    "SyntheticConfig",
    "generate_portfolio",
    "write_portfolio",
    "write_portfolio_parts",
    "iter_chunks",
    "baseline_hazard",
    "tier_from_aum",
]

DEFAULT_BRANCHES: tuple[str, ...] = ("Central", "East", "Harbour", "North", "South", "West")


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the synthetic book; every true effect is a parameter.

    Hazard ratios are given on the natural scale (``hr_*``); the truth returned with the data
    carries both the HR and its log.
    """

    n_customers: int = 6000
    months: int = 36
    seed: int = 2024
    window_start: str = "2023-01-01"
    max_prior_years: int = 20
    branches: tuple[str, ...] = DEFAULT_BRANCHES
    # True hazard ratios.
    hr_per_product: float = 0.80
    hr_engagement: float = 0.70  # per SD of engagement
    hr_age_per_10y: float = 0.92
    hr_loan_segment: float = 1.25
    hr_recent_outflow: float = 8.0  # large outflow in the previous 3 months
    hr_unmeasured: float = 1.0  # per SD of the unmeasured factor; 1 = off
    branch_hr: tuple[float, ...] = (1.0, 1.15, 0.85, 1.05, 1.3, 0.9)
    # Baseline monthly hazard scale (at 2 products, average covariates).
    baseline_scale: float = 0.009
    # Product dynamics: monthly adoption and drop probabilities; engagement raises adoption.
    adoption_rate: float = 0.012
    engagement_on_adoption: float = 0.6  # log-rate per SD
    unmeasured_on_adoption: float = 0.0  # log-rate per SD; 0 = off
    drop_rate: float = 0.003
    max_products: int = 10
    # Large fund outflows (early-warning signal).
    outflow_rate: float = 0.006
    engagement_on_outflow: float = -0.5
    tier_thresholds: tuple[float, ...] = TIER_THRESHOLDS
    chunk_size: int = 200_000

    def log_hr(self) -> dict[str, float]:
        return {
            "n_products": float(np.log(self.hr_per_product)),
            "engagement": float(np.log(self.hr_engagement)),
            "age_per_10y": float(np.log(self.hr_age_per_10y)),
            "segment_loan": float(np.log(self.hr_loan_segment)),
            "outflow_3m": float(np.log(self.hr_recent_outflow)),
            "unmeasured": float(np.log(self.hr_unmeasured)),
        }


def baseline_hazard(tenure_months: np.ndarray, scale: float) -> np.ndarray:
    """Monthly baseline hazard over tenure.

    High in the first year (new relationships are fragile), lower later, with a bump around
    30 months (introductory rates and fee waivers running out).
    """
    t = np.asarray(tenure_months, dtype=float)
    return scale * (0.7 + 1.0 * np.exp(-t / 9.0) + 0.6 * np.exp(-(((t - 30.0) / 6.0) ** 2)))


def tier_from_aum(aum: np.ndarray, thresholds: tuple[float, ...] = TIER_THRESHOLDS) -> np.ndarray:
    """Value tier 1-5 ("stars") from AUM and the lower bounds of tiers 2..5."""
    return (np.searchsorted(np.asarray(thresholds), np.asarray(aum), side="right") + 1).astype(
        np.int8
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _simulate_chunk(rng: np.random.Generator, k: int, cfg: SyntheticConfig, id_offset: int):
    """Simulate ``k`` candidate customers from opening; return those on book in the window."""
    prior = cfg.max_prior_years * 12
    # Opening month relative to the window start (negative = before the window). Account
    # openings grow slowly over time.
    u = rng.random(k)
    span = prior + cfg.months
    open_offset = np.floor(span * np.sqrt(u)).astype(int) - prior
    branch_idx = rng.integers(0, len(cfg.branches), k)
    age_at_open = np.clip(rng.normal(40.0, 13.0, k), 18, 85).round().astype(int)
    gender = np.where(rng.random(k) < 0.5, "F", "M")
    engagement = rng.normal(0.0, 1.0, k)
    unmeasured = rng.normal(0.0, 1.0, k)
    loan = rng.random(k) < _sigmoid(-0.5 + 0.03 * (45 - age_at_open))
    # Products at opening: 1-3, more for engaged customers; loan customers hold the loan too.
    n_prod = 1 + rng.binomial(2, _sigmoid(0.8 * engagement - 0.8)) + loan.astype(int)
    n_prod = n_prod.astype(np.int16)
    # AUM: heavy-tailed level, a random walk, and rare large outflows.
    log_aum = (
        9.7 + 0.35 * engagement + 0.012 * (age_at_open - 40) - 0.5 * loan + rng.normal(0, 1.85, k)
    )
    deposit_share = rng.beta(6, 3, k)
    loan_bal = np.where(loan, np.exp(rng.normal(11.8, 0.6, k)), 0.0)
    loan_term = rng.integers(120, 360, k)

    lh = cfg.log_hr()
    branch_lhr = np.log(np.asarray(cfg.branch_hr, dtype=float))[branch_idx]
    static_lp = (
        lh["engagement"] * engagement
        + lh["age_per_10y"] * (age_at_open - 45) / 10.0
        + lh["segment_loan"] * loan
        + lh["unmeasured"] * unmeasured
        + branch_lhr
    )
    adopt_lrate = (
        cfg.engagement_on_adoption * engagement + cfg.unmeasured_on_adoption * unmeasured
    )
    outflow_p = cfg.outflow_rate * np.exp(cfg.engagement_on_outflow * engagement)

    alive = np.ones(k, dtype=bool)
    last_outflow = np.full(k, -10_000, dtype=int)  # absolute month of the last large outflow
    rows = []
    for m in range(open_offset.min(), cfg.months):
        on = alive & (open_offset <= m)
        idx = np.flatnonzero(on)
        if idx.size == 0:
            continue
        tenure = m - open_offset[idx]
        started = tenure > 0
        # Products held this month: adoptions (saturating) and occasional drops.
        n = n_prod[idx]
        p_adopt = cfg.adoption_rate * np.exp(adopt_lrate[idx]) * (cfg.max_products - n) / cfg.max_products
        p_drop = np.where(n > 1, cfg.drop_rate, 0.0)
        r = rng.random(idx.size)
        change = np.where(r < p_adopt, 1, np.where(r > 1 - p_drop, -1, 0)) * started
        n = (n + change).astype(np.int16)
        n_prod[idx] = n
        # Balances.
        log_aum[idx] += started * rng.normal(0.004, 0.06, idx.size)
        out = started & (rng.random(idx.size) < outflow_p[idx])
        log_aum[idx[out]] += np.log(rng.uniform(0.15, 0.5, out.sum()))
        # Hazard this month: products now, any outflow in the previous 3 months.
        recent = (m - last_outflow[idx]) <= 3
        last_outflow[idx[out]] = m
        lp = static_lp[idx] + lh["n_products"] * (n - 2) + lh["outflow_3m"] * recent
        h = baseline_hazard(tenure, cfg.baseline_scale) * np.exp(lp)
        event = rng.random(idx.size) < -np.expm1(-h)
        alive[idx[event]] = False
        if m >= 0:
            aum = np.exp(log_aum[idx])
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
                    n=n,
                    outflow=out,
                    closed=event,
                )
            )

    seen = np.zeros(k, dtype=bool)
    for r in rows:
        seen[r["row"]] = True
    keep = np.flatnonzero(seen)  # candidate order = deterministic customer order
    return dict(
        keep=keep,
        rows=rows,
        open_offset=open_offset,
        branch_idx=branch_idx,
        age_at_open=age_at_open,
        gender=gender,
        engagement=engagement,
        unmeasured=unmeasured,
        loan=loan,
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
    panel = panel.sort_values(["customer_id", "month"], kind="stable").reset_index(drop=True)
    unmeasured = pd.DataFrame({"customer_id": ids, "unmeasured": sim["unmeasured"][take]})
    return customers, panel, unmeasured


def _truth(cfg: SyntheticConfig) -> dict:
    lh = cfg.log_hr()
    return {
        "generator": "analysis.data.synthetic",
        "hr_per_product": cfg.hr_per_product,
        "log_hr": lh,
        "hr": {k: float(np.exp(v)) for k, v in lh.items()},
        "branch_hr": dict(zip(cfg.branches, map(float, cfg.branch_hr))),
        "confounding": {
            "engagement_on_adoption": cfg.engagement_on_adoption,
            "engagement_log_hr": lh["engagement"],
            "unmeasured_on_adoption": cfg.unmeasured_on_adoption,
            "unmeasured_log_hr": lh["unmeasured"],
            "expected_naive_bias": "naive HR per product below the truth (overstated protection)"
            if cfg.engagement_on_adoption * lh["engagement"] < 0
            else "none or upward",
        },
        "hazard_model": (
            "grouped PH on tenure months: P(leave in month t) = 1 - exp(-h0(t) exp(lp)); "
            "lp = log_hr.n_products*(n_products-2) + log_hr.engagement*engagement "
            "+ log_hr.age_per_10y*(age_at_open-45)/10 + log_hr.segment_loan*[loan] "
            "+ log_hr.outflow_3m*[outflow in previous 3 months] + log_hr.unmeasured*U "
            "+ log(branch_hr)"
        ),
        "config": json.loads(json.dumps(asdict(cfg))),
    }


def iter_chunks(cfg: SyntheticConfig):
    """Yield ``(customers, panel, hidden)`` frames chunk by chunk (bounded memory at any size).

    Chunk ``i`` draws from ``default_rng([seed, i])``, so the result depends only on the config.
    """
    if cfg.n_customers < 1 or cfg.months < 1:
        raise ValueError("n_customers and months must be positive")
    if len(cfg.branch_hr) != len(cfg.branches):
        raise ValueError("branch_hr needs one hazard ratio per branch")
    got, chunk = 0, 0
    while got < cfg.n_customers:
        rng = np.random.default_rng([cfg.seed, chunk])
        k = min(cfg.chunk_size, max(2 * (cfg.n_customers - got), 1000))
        sim = _simulate_chunk(rng, k, cfg, got)
        take = sim["keep"][: cfg.n_customers - got]
        yield _assemble(sim, take, cfg, got)
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
    (out / "truth.json").write_text(json.dumps(_truth(cfg), indent=2))
    return out


def generate_portfolio(
    n_customers: int = SyntheticConfig.n_customers,
    months: int = SyntheticConfig.months,
    seed: int = SyntheticConfig.seed,
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
    cfg = SyntheticConfig(n_customers=n_customers, months=months, seed=seed, **params)
    customers, panels, hidden = [], [], []
    for c, p, u in iter_chunks(cfg):
        customers.append(c)
        panels.append(p)
        hidden.append(u)
    customers_df = pd.concat(customers, ignore_index=True)
    panel_df = pd.concat(panels, ignore_index=True)
    truth = _truth(cfg)
    portfolio = Portfolio(
        customers=customers_df,
        panel=panel_df,
        truth=truth,
        source="synthetic",
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
