"""Benchmark: customer lifetime value and value at risk of a large book (report 05's engine).

On a synthetic book of ``--customers`` x 36 months (Parquet parts, generated once with
``analysis synth`` into ``--work``): the monthly models fitted on a seeded sample of
``config.VALUE_FIT_CUSTOMERS`` customers, every customer's as-of state in SQL, the natural-course
projection of every customer (lifetime value over 60 months, value at risk over 12 months)
and their sums by branch and tier; then the cost of one bootstrap replicate (refit + the
subsample projection of ``config.VALUE_BOOT_CUSTOMERS`` customers). Time and peak memory of this
process; results merged into ``benchmarks/results/value.json``.

Run (not in CI)::

    .venv/bin/python benchmarks/bench_value.py --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results" / "value.json"


def main(argv=None) -> dict:
    import numpy as np

    from analysis import config
    from analysis.frames import read_sql
    from analysis.stats.projection import NATURAL
    from analysis.studies.value.estimate import Assumptions, Projector, _frame
    from bench_scale import book

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "analysis_scale",
                    help="folder of the generated books (shared with bench_scale.py)")
    args = ap.parse_args(argv)
    folder, gen_s = book(args.work, args.customers, args.months)
    panel, customers = folder / "panel", folder / "customers"
    if not panel.exists():  # a single-file book
        panel, customers = folder / "panel.parquet", folder / "customers.parquet"
    as_of = read_sql("SELECT MAX(month) AS m FROM {src}", panel)["m"].iloc[0]
    a = Assumptions()
    t0 = time.perf_counter()
    proj = Projector(panel, customers, as_of, a)
    t_fit = time.perf_counter() - t0
    res = proj.run(proj.models, {"natural": NATURAL}, seed=a.seed)["natural"]
    frame = _frame(proj.state, proj.money).assign(clv=res["clv"], lost12=res["lost12"])
    by_branch = frame.groupby("branch")["lost12"].sum()
    by_tier = frame.groupby("tier")["clv"].mean()
    t_point = time.perf_counter() - t0
    # one bootstrap replicate: refit every model, project the subsample
    rng = np.random.default_rng(1)
    sub = np.sort(rng.choice(len(frame), min(config.VALUE_BOOT_CUSTOMERS, len(frame)),
                             replace=False))
    t1 = time.perf_counter()
    models = proj.refit(rng)
    proj.run(models, {"natural": NATURAL}, sub, seed=a.seed + 10, light=True)
    t_rep = time.perf_counter() - t1
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    out = {"customers": int(len(frame)), "book_customers": args.customers,
           "months": args.months, "fit_customers": proj.fit_size,
           "seconds_fit_and_state": round(t_fit, 1),
           "seconds_clv_and_value_at_risk": round(t_point, 1),
           "seconds_per_bootstrap_replicate": round(t_rep, 1),
           "peak_memory_gb": round(peak_gb, 2),
           "mean_clv": float(frame["clv"].mean()),
           "value_at_risk_12m": float(frame["lost12"].sum()),
           "value_at_risk_by_branch": {k: float(v) for k, v in by_branch.items()},
           "clv_by_tier": {str(k): float(v) for k, v in by_tier.items()},
           "generated_seconds": round(gen_s, 1)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old[str(args.customers)] = out
    RESULTS.write_text(json.dumps(old, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if not isinstance(v, dict)}, indent=2))
    return out


if __name__ == "__main__":
    main()
