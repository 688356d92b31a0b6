"""The data layer and report 02's product effect from Parquet, per engine: time and peak memory.

For one synthetic book (``analysis synth``, kept in ``--work``; or ``--book FOLDER``) and each
engine, a fresh process runs the survival frame, the exposure cells of report 02's large-book
engine (products lagged one month, 6-month bands of tenure, branches as strata) and the
piecewise-exponential fit from those cells, and prints wall seconds per step, the product HR
with its CI and the peak resident set of the process tree (the Spark JVM included), sampled
every 0.2 s. Results: ``benchmarks/results/engines.json``.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_engines.py --customers 100000 --engines duckdb spark
    # 10M customers on Spark (local mode): generate once, then
    ANALYSIS_SPARK_DRIVER_MEMORY=6g .venv/bin/python benchmarks/bench_engines.py \
        --customers 10000000 --engines spark
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import book  # noqa: E402  (one book generator for the benchmarks)

RESULTS = Path(__file__).resolve().parent / "results" / "engines.json"

_CHILD = """
import json, sys, time
from pathlib import Path
from analysis import frames
from analysis.stats.cox.cells import fit_piecewise_exponential
from analysis.studies.product_effect.frames import CELL_BAND_MONTHS, CELL_BINS
folder, engine = Path(sys.argv[1]), sys.argv[2]
panel, customers = (folder / n if (folder / n).is_dir() else folder / f"{n}.parquet"
                    for n in ("panel", "customers"))
out, t = {}, time.perf_counter()
frame, _ = frames.survival_frame(panel, customers, engine=engine)
out["survival_frame_s"] = time.perf_counter() - t; t = time.perf_counter()
n, events = len(frame), int(frame["event"].sum())
del frame
cells = frames.exposure_cells(panel, customers, lag=1, bins=CELL_BINS,
                              band_months=CELL_BAND_MONTHS, engine=engine)
out["exposure_cells_s"] = time.perf_counter() - t; t = time.perf_counter()
fit = fit_piecewise_exponential(cells, list(frames.CELL_COVARIATES), strata=["branch"])
out["fit_s"] = time.perf_counter() - t
out.update(customers_at_risk=n, events=events, cells=len(cells),
           customer_months=int(cells["at_risk"].sum()), band_months=CELL_BAND_MONTHS,
           product_hr={k: round(v, 6) for k, v in fit.term("n_products").items()})
print(json.dumps(out))
"""


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * 4096
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def run_peak(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd``; its result and the peak GB of its process tree."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.2)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), round(peak / 2**30, 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "analysis_scale")
    ap.add_argument("--book", type=Path, help="an existing book folder (of --customers)")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    folder = args.book or book(args.work, args.customers, args.months)[0]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": []}
    for engine in args.engines:
        t = time.perf_counter()
        res, peak = run_peak([sys.executable, "-c", _CHILD, str(folder), engine])
        if res.returncode:
            print(res.stderr[-3000:], file=sys.stderr)
            return 1
        entry = {"customers": args.customers, "months": args.months, "engine": engine,
                 "date": time.strftime("%Y-%m-%d"), "total_s": round(time.perf_counter() - t, 1),
                 "peak_gb": peak, **json.loads(res.stdout.strip().splitlines()[-1])}
        print(json.dumps(entry), flush=True)
        results["runs"] = [e for e in results["runs"] if (e["customers"], e["months"], e["engine"])
                           != (args.customers, args.months, engine)] + [entry]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
