"""Data-layer transforms at scale: 1M customers x 36 months, DuckDB over Parquet parts.

Usage: .venv/bin/python benchmarks/bench_frames.py [--customers N] [--months T]
Each transform runs in a fresh subprocess so its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import resource, sys, time
from analysis.frames import survival_frame, counting_process
panel, customers, what = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
if what == "survival_frame":
    out, _ = survival_frame(panel, customers)
elif what == "survival_frame_value":
    out, _ = survival_frame(panel, customers, attrition="value", k=3)
else:
    out = counting_process(panel, customers, lag=1)
secs = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
print(f"{secs:.2f} {rss:.2f} {len(out)}", flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from analysis.data.synthetic import write_portfolio_parts

    folder = HERE / ".data" / f"book_{args.customers}_{args.months}_{args.seed}"
    if not (folder / "truth.json").exists():
        t = time.perf_counter()
        write_portfolio_parts(folder, n_customers=args.customers, months=args.months, seed=args.seed)
        print(f"generated {args.customers:,} customers in {time.perf_counter() - t:.1f} s -> {folder}")
    panel, customers = folder / "panel", folder / "customers"
    rows = []
    for what in ("survival_frame", "survival_frame_value", "counting_process"):
        res = subprocess.run(
            [sys.executable, "-c", CHILD, str(panel), str(customers), what],
            capture_output=True, text=True, check=True,
        )
        secs, gb, n = res.stdout.strip().splitlines()[-1].split()
        rows.append({"transform": what, "seconds": float(secs), "peak_gb": float(gb), "rows_out": int(n)})
        print(f"{what:22s} {float(secs):7.1f} s  {float(gb):5.2f} GB  {int(n):,} rows")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "frames.json").write_text(json.dumps({"customers": args.customers, "months": args.months, "results": rows}, indent=2))
    ok = all(r["seconds"] < 60 and r["peak_gb"] < 4 for r in rows)
    print("targets (< 60 s, < 4 GB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
