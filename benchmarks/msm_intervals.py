"""Which bootstrap interval covers the MSM's marginal hazard ratio per product?

``docs/coverage.md`` finds report 02's MSM interval (a t interval from the SD of 20 customer
resamples) too narrow: SD/SE about 1.3, coverage 91-92% over 200 seeds. This script fits the MSM
of ``estimate_causal`` on ``--seeds`` synthetic books, draws ``--boot`` customer resamples per
book (every weight model refitted, as the report), keeps the replicates' log HRs and compares,
over the books, the coverage of the truth by several intervals built from the same replicates:

- ``t20``: the report's interval (SD of the first 20 replicates, t with 19 df);
- ``normal``: SD of all ``B`` replicates, normal quantile;
- ``percentile``: the 2.5% and 97.5% quantiles of the replicates;
- ``basic``: the percentile interval reflected about the estimate (``2 b - q``);
- ``bias_corrected``: the normal interval centred at ``2 b - mean(replicates)``;
- ``bc_percentile``: Efron's bias-corrected percentile interval (BCa without acceleration).

Output: one JSON line per book in ``--out`` (default
``benchmarks/results/msm_intervals_<scenario>.jsonl``; a rerun resumes it), then a summary table
and, for the books with the largest weights (top fifth of the maximum weight) and the rest, the
SD of the estimate's error against the mean bootstrap SD: if the error is wide only where the
weights are extreme, no interval built from the replicates can fix it. ``--summarise`` only
reads the JSON lines back.

Run (not in CI; about 12 s per book at ``--boot 100``)::

    .venv/bin/python benchmarks/msm_intervals.py --scenario default --seeds 200 --boot 100 --jobs 2
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def one_book(scenario: str, seed: int, boot: int, customers: int = 6000) -> dict:
    """The MSM's log HR on one book, its truth and ``boot`` bootstrap replicates."""
    from analysis.data.synthetic import generate_portfolio
    from analysis.stats.gformula import BOOT_STEPS
    from analysis.stats.msm import MSMBootstrap, fit_msm_cox
    from analysis.studies.product_effect.causal import person_months

    book = generate_portfolio(customers, seed=seed, scenario=scenario)
    pm, baseline = person_months(book, max_months=36)
    # the weight models of estimate_causal
    den = ["a_prev", "a_prev_sq", *baseline, "log_aum_prev", "tier_prev", "recent", "t12"]
    num = ["a_prev", "a_prev_sq", "t12"]
    pmw = pm.assign(a_prev_sq=pm["a_prev"] ** 2, t12=pm["time"] / 12.0)
    m = MSMBootstrap(pmw, treatment="a", previous="a_prev", numerator=num, denominator=den,
                     entry_numerator=(), entry_denominator=baseline, ipcw_group="new",
                     truncate=None, steps=BOOT_STEPS)
    w = m.weights()
    b = float(np.log(fit_msm_cox(pm, w, treatment="a").effect["hr"]))
    n = len(m.customers)
    rng = np.random.default_rng([seed, 2026])
    reps = [m.replicate(rng.multinomial(n, np.full(n, 1.0 / n)), init=b)["log_hr"]
            for _ in range(boot)]
    return {"scenario": scenario, "seed": seed,
            "truth": float(np.log(book.truth["causal"]["marginal_hr_per_product"])),
            "estimate": b, "max_weight": float(w.max()), "replicates": reps}


def intervals(b: float, reps: np.ndarray, alpha: float = 0.05) -> dict:
    """The candidate intervals (log scale) from one book's estimate and replicates."""
    z = stats.norm.ppf(1 - alpha / 2)
    r20 = reps[:20]
    s20 = np.std(r20, ddof=1)
    t20 = stats.t.ppf(1 - alpha / 2, r20.size - 1)
    sd = np.std(reps, ddof=1)
    lo_q, hi_q = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    centre = 2 * b - reps.mean()
    # bias-corrected percentile (Efron's BC: BCa without the acceleration)
    z0 = stats.norm.ppf(np.clip(np.mean(reps < b), 0.5 / reps.size, 1 - 0.5 / reps.size))
    bc = np.quantile(reps, stats.norm.cdf([2 * z0 - z, 2 * z0 + z]))
    return {"t20": (b - t20 * s20, b + t20 * s20), "normal": (b - z * sd, b + z * sd),
            "percentile": (lo_q, hi_q), "basic": (2 * b - hi_q, 2 * b - lo_q),
            "bias_corrected": (centre - z * sd, centre + z * sd),
            "bc_percentile": (bc[0], bc[1])}


def summarise(rows: list[dict]) -> list[dict]:
    """Coverage (MC SE), share missed above/below and mean width of each interval."""
    out = []
    kinds = intervals(0.0, np.zeros(20) + np.arange(20)).keys()
    for kind in kinds:
        cover, above, below, width = [], [], [], []
        for r in rows:
            lo, hi = intervals(r["estimate"], np.asarray(r["replicates"], dtype=float))[kind]
            t = r["truth"]
            cover.append(lo <= t <= hi)
            above.append(lo > t)
            below.append(hi < t)
            width.append(hi - lo)
        c = float(np.mean(cover))
        out.append({"interval": kind, "n": len(rows), "coverage": c,
                    "coverage_mc_se": float(np.sqrt(c * (1 - c) / len(rows))),
                    "missed_above": float(np.mean(above)), "missed_below": float(np.mean(below)),
                    "mean_width": float(np.mean(width))})
    return out


def by_weight(rows: list[dict], top: float = 0.2) -> list[dict]:
    """SD of the log-HR error and mean bootstrap SD, books with the largest weights vs the rest."""
    wmax = np.array([r["max_weight"] for r in rows])
    cut = np.quantile(wmax, 1 - top)
    out = []
    for name, keep in ((f"top {100 * top:.0f}% max weight", wmax >= cut),
                       ("the rest", wmax < cut)):
        sel = [r for r, k in zip(rows, keep) if k]
        err = np.array([r["estimate"] - r["truth"] for r in sel])
        boot_sd = np.array([np.std(r["replicates"], ddof=1) for r in sel])
        out.append({"books": name, "n": len(sel), "error_sd": float(np.std(err, ddof=1)),
                    "mean_boot_sd": float(boot_sd.mean())})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=("default", "feedback"), default="default")
    ap.add_argument("--seeds", type=int, default=200, help="books: seeds 1..N")
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--summarise", action="store_true", help="only summarise --out")
    args = ap.parse_args(argv)
    out = args.out or RESULTS / f"msm_intervals_{args.scenario}.jsonl"
    if not args.summarise:
        done = set()
        if out.exists():
            done = {json.loads(line)["seed"] for line in out.read_text().splitlines() if line}
        todo = [s for s in range(1, args.seeds + 1) if s not in done]
        out.parent.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(args.jobs) as pool, out.open("a") as fh:
            for row in pool.map(one_book, [args.scenario] * len(todo), todo,
                                [args.boot] * len(todo)):
                fh.write(json.dumps(row) + "\n")
                fh.flush()
    rows = [json.loads(line) for line in out.read_text().splitlines() if line]
    print("| interval | n | coverage (MC SE) | missed above / below | mean width (log) |")
    print("|---|---|---|---|---|")
    for s in summarise(rows):
        print(f"| {s['interval']} | {s['n']} | {100 * s['coverage']:.1f}% "
              f"({100 * s['coverage_mc_se']:.1f}%) | {100 * s['missed_above']:.1f}% / "
              f"{100 * s['missed_below']:.1f}% | {s['mean_width']:.3f} |")
    print()
    print("| books | n | SD of log-HR error | mean bootstrap SD |")
    print("|---|---|---|---|")
    for s in by_weight(rows):
        print(f"| {s['books']} | {s['n']} | {s['error_sd']:.3f} | {s['mean_boot_sd']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
