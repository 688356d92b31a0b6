"""Render the headline JSONs of a fixed set of runs, or compare two such sets number by number.

Used to show that a refactor leaves every headline number unchanged (issue 8):

    .venv/bin/python tools/compare_headlines.py render out/before     # on the old commit
    .venv/bin/python tools/compare_headlines.py render out/after      # on the new commit
    .venv/bin/python tools/compare_headlines.py compare out/before out/after

``render`` runs the default schedule on the embedded default data and, when ``../shared/data``
is present, the default schedule on each shipped public-dataset mapping. ``compare`` walks every
pair of JSON files with the same relative path and prints each number whose relative difference
exceeds ``--rtol`` (default 1e-9), each string that differs, and each key present on one side only.
Its exit code is 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ["bank_churn", "telco_churn", "saas_churn"]
# Keys that describe the run rather than the data (times, code version, paths).
VOLATILE = {"rendered_at", "code_version", "run_seconds", "seconds", "started", "finished",
            "generated_at", "duration_s", "elapsed_s"}


def render(out: Path, jobs: int = 2) -> int:
    exe = Path(sys.executable).with_name("analysis")
    runs = [("default", [])]
    if (ROOT.parent / "shared" / "data").is_dir():
        runs += [(m, ["--data", str(ROOT / "config" / "mappings" / f"{m}.yml")]) for m in MAPPINGS]
    status = 0
    for name, extra in runs:
        cmd = [str(exe), "render", "--jobs", str(jobs), "--out", str(out / name), *extra]
        print("+", " ".join(cmd), flush=True)
        status |= subprocess.call(cmd, cwd=ROOT)
    return status


def _walk(a, b, path: str, rtol: float, diffs: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key in VOLATILE:
                continue
            if key not in a:
                diffs.append(f"{path}.{key}: only after ({_short(b[key])})")
            elif key not in b:
                diffs.append(f"{path}.{key}: only before ({_short(a[key])})")
            else:
                _walk(a[key], b[key], f"{path}.{key}", rtol, diffs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: length {len(a)} -> {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}[{i}]", rtol, diffs)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        if math.isnan(a) and math.isnan(b):
            return
        scale = max(abs(a), abs(b))
        if abs(a - b) > rtol * scale and abs(a - b) > 1e-300:
            rel = abs(a - b) / scale if scale else float("inf")
            diffs.append(f"{path}: {a!r} -> {b!r} (rel {rel:.2e})")
    elif a != b:
        diffs.append(f"{path}: {_short(a)} -> {_short(b)}")


def _short(v, n: int = 120) -> str:
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= n else text[: n - 3] + "..."


def compare(before: Path, after: Path, rtol: float) -> int:
    # Keyed by run and file name: snapshot extracts take today's date as as-of, so the date
    # folder between them may differ from one day to the next.
    def files(root: Path) -> dict[Path, Path]:
        return {Path(p.relative_to(root).parts[0]) / p.name: p
                for p in root.rglob("*.json") if p.name != "manifest.json"}

    paths_a, paths_b = files(before), files(after)
    files_a, files_b = set(paths_a), set(paths_b)
    n_diff = 0
    for rel in sorted(files_a | files_b):
        if rel not in files_b:
            print(f"{rel}: missing after")
            n_diff += 1
            continue
        if rel not in files_a:
            print(f"{rel}: new after")
            n_diff += 1
            continue
        diffs: list[str] = []
        _walk(json.loads(paths_a[rel].read_text()), json.loads(paths_b[rel].read_text()),
              "$", rtol, diffs)
        for d in diffs:
            print(f"{rel}: {d}")
        n_diff += len(diffs)
    print(f"{len(files_a & files_b)} files compared, {n_diff} differences (rtol {rtol:g})")
    return 1 if n_diff else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("out", type=Path)
    r.add_argument("--jobs", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rtol", type=float, default=1e-9)
    args = p.parse_args(argv)
    if args.cmd == "render":
        return render(args.out.resolve(), args.jobs)
    return compare(args.before, args.after, args.rtol)


if __name__ == "__main__":
    sys.exit(main())
