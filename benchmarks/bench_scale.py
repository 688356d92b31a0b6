"""Scaling benchmark: time and peak memory of each bank-wide report on large synthetic books.

For each book size a synthetic book is generated once (``analysis synth``, Parquet, kept in
``--work`` for later runs) and each report is rendered on its own (``analysis render --notebook
<name>__bank``), so that its wall time and peak memory are its own: the peak is the largest
resident set of the render process and its kernel (``ru_maxrss`` of the children of a fresh
wrapper process). Results: ``benchmarks/results/scale.json`` (merged with earlier runs, one
entry per size and report) and a Markdown table printed for the README.

Run (not in CI; ``make bench-scale`` runs the 100k book)::

    .venv/bin/python benchmarks/bench_scale.py --customers 100000
    .venv/bin/python benchmarks/bench_scale.py --customers 1000000 --reports 01 02 03 --together
    .venv/bin/python benchmarks/bench_scale.py --customers 1000000 --schedule   # bank + branches

Books above the model sample (``ANALYSIS_MODEL_SAMPLE``, default
:data:`analysis.config.MODEL_SAMPLE`) are read as large books (:mod:`analysis.data.large_book`):
checked by SQL, counted in SQL, modelled on a seeded sample.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
REPORTS = {"01": "01_attrition_overview", "02": "02_product_retention_effect",
           "03": "03_attrition_drivers", "04": "04_early_warning"}

# Runs one command and prints its children's peak resident set (kB on Linux) as the last line.
_WRAPPER = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
sys.stderr.write(rc.stderr[-4000:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc.returncode)
"""


def book(work: Path, customers: int, months: int) -> tuple[Path, float]:
    """The synthetic book of this size (generated once); seconds spent generating it."""
    folder = work / f"book_{customers}x{months}"
    if (folder / "customers.parquet").exists() or (folder / "customers").is_dir():
        return folder, 0.0
    exe = Path(sys.executable).with_name("analysis")
    t = time.perf_counter()
    subprocess.run([str(exe), "synth", "--customers", str(customers), "--months", str(months),
                    "--out", str(folder)], check=True)
    return folder, time.perf_counter() - t


def render_one(data: Path, notebook, out: Path, jobs: int = 1) -> dict:
    """Wall seconds, peak memory (GB) and exit status of bank-wide reports rendered by one
    ``analysis render`` (one notebook name, or several: one run, one kernel, as the schedule;
    None: the whole default schedule, bank and branches, on ``jobs`` kernels at a time, whose
    peak is that of its largest process)."""
    exe = Path(sys.executable).with_name("analysis")
    names = [] if notebook is None else [notebook] if isinstance(notebook, str) else list(notebook)
    cmd = [sys.executable, "-c", _WRAPPER, str(exe), "render", "--data", str(data),
           "--out", str(out), "--no-progress", "--jobs", str(jobs)]
    for name in names:
        cmd += ["--notebook", f"{name}__bank"]
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t
    lines = res.stdout.strip().splitlines()
    peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else None
    return {"seconds": round(secs, 1), "peak_gb": None if peak_kb is None else round(peak_kb / 2**20, 2),
            "exit": res.returncode, "error": res.stderr[-600:] if res.returncode else ""}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, nargs="+", default=[100_000])
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--reports", nargs="+", default=["01", "02", "03"], choices=sorted(REPORTS))
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "analysis_scale",
                    help="folder for the generated books (kept for later runs)")
    ap.add_argument("--together", action="store_true",
                    help="also render the chosen reports in one run (one check of the book, one "
                         "kernel): the time and peak of the three bank-wide reports together")
    ap.add_argument("--together-only", action="store_true",
                    help="only the run of the chosen reports together (not each on its own)")
    ap.add_argument("--schedule", action="store_true",
                    help="only the whole default schedule (every report, bank and branches), "
                         "--jobs 2, as the scheduled job renders it")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": []}
    for n in args.customers:
        data, gen = book(args.work, n, args.months)
        jobs = ([] if args.together_only or args.schedule
                else [(REPORTS[key], REPORTS[key]) for key in args.reports])
        if (args.together or args.together_only) and not args.schedule:
            jobs.append(("+".join(args.reports) + " together", [REPORTS[k] for k in args.reports]))
        if args.schedule:
            jobs.append(("default schedule, --jobs 2", None))
        for label, notebooks in jobs:
            with tempfile.TemporaryDirectory() as out:
                r = render_one(data, notebooks, Path(out), jobs=2 if notebooks is None else 1)
            entry = {"customers": n, "months": args.months, "report": label,
                     "model_sample": os.environ.get("ANALYSIS_MODEL_SAMPLE") or "default",
                     "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                     "generate_seconds": round(gen, 1), **r}
            results["runs"] = [e for e in results["runs"]
                               if (e["customers"], e["months"], e["report"])
                               != (n, args.months, label)] + [entry]
            print(f"{n:>10,} {label:<32} {r['seconds']:>8.1f} s "
                  f"{r['peak_gb'] if r['peak_gb'] is not None else '?':>6} GB  exit {r['exit']}",
                  flush=True)
            if r["exit"]:
                print(r["error"], file=sys.stderr)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print("\n| customers | report | seconds | peak GB |\n|---|---|---|---|")
    for e in sorted(results["runs"], key=lambda e: (e["customers"], e["report"])):
        print(f"| {e['customers']:,} | {e['report']} | {e['seconds']} | {e['peak_gb']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
