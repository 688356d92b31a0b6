"""Wall time of `analysis render` on the default schedule and data (after installation).

Usage: .venv/bin/python benchmarks/bench_render.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("analysis")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = subprocess.run([str(exe), "render", "--out", tmp, "--jobs", str(args.jobs), "--no-progress"])
        secs = time.perf_counter() - t
        n = len(list(Path(tmp).glob("*/*.html")))
    print(f"rendered {n} reports in {secs:.1f} s (jobs={args.jobs}); target < 180 s: {'met' if secs < 180 else 'NOT met'}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "render.json").write_text(json.dumps({"jobs": args.jobs, "reports": n, "seconds": secs, "exit": res.returncode}, indent=2))
    sys.exit(res.returncode)


if __name__ == "__main__":
    main()
