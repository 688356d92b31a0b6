"""Report 04 at scale: score every active customer of a large book for one as-of month.

Usage: .venv/bin/python benchmarks/bench_early_warning.py [--customers N] [--months T]
The book is generated once into ``benchmarks/.data/`` (Parquet parts). Timed: reading the panel
of the last 19 months, building the signals, fitting the risk model on a 20,000-customer sample
and scoring everybody (:func:`analysis.studies.early_warning.estimate.score_book`), in a fresh
subprocess so its peak memory is its own. Target: under 60 s on 2 cores for 1M customers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import resource, sys, time
import pandas as pd
import pyarrow.dataset as ds
from analysis.studies.early_warning.estimate import score_book
folder = sys.argv[1]
t = time.perf_counter()
panel = ds.dataset(folder + "/panel").to_table().to_pandas()
last = panel["month"].max()
panel = panel[panel["month"] >= last - pd.DateOffset(months=19)]
customers = ds.dataset(folder + "/customers").to_table().to_pandas()
read = time.perf_counter() - t
out = score_book(panel, customers)
secs = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
print(f"{secs:.2f} {read:.2f} {rss:.2f} {len(out)}", flush=True)
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
    res = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True,
                         text=True, check=True)
    secs, read, gb, n = res.stdout.strip().splitlines()[-1].split()
    row = {"customers": args.customers, "seconds": float(secs), "read_seconds": float(read),
           "peak_gb": float(gb), "scored": int(n)}
    print(f"scored {int(n):,} customers in {float(secs):.1f} s (reading {float(read):.1f} s), "
          f"peak {float(gb):.2f} GB")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "early_warning.json").write_text(json.dumps(row, indent=2))
    print("target (< 60 s):", "met" if float(secs) < 60 else "NOT met")


if __name__ == "__main__":
    main()
