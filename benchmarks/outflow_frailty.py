"""Why the outflow hazard ratio falls short of 8 in the feedback scenario: the frailty.

Runs report 03's time-varying model (the one every report quotes for the outflow warning) on
feedback books with a chosen frailty variance and prints the mean log bias against the
generator's individual-level HR (8) and the coverage of the 95% intervals. With the frailty
switched off the bias goes away; with it (variance 0.25, the scenario's) every hazard ratio
estimated across customers is attenuated, because customers still at risk after an outflow are
the less frail ones (see ``docs/causal_truth.md``).

Run (not in CI; about 5 s per seed)::

    .venv/bin/python benchmarks/outflow_frailty.py --frailty 0 --seeds 60
    .venv/bin/python benchmarks/outflow_frailty.py --frailty 0.25 --seeds 60
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from coverage import report03  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frailty", type=float, default=0.0, help="frailty variance")
    ap.add_argument("--seeds", type=int, default=60)
    ap.add_argument("--customers", type=int, default=6000)
    args = ap.parse_args(argv)
    from analysis.data import generate_portfolio

    est, cover = [], []
    for seed in range(1, args.seeds + 1):
        book = generate_portfolio(args.customers, seed=seed, scenario="feedback",
                                  frailty_variance=args.frailty)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            leaf = report03(book)["tv_cox_outflow_3m"]
        truth = book.truth["hr"]["outflow_3m"]
        est.append(np.log(leaf["estimate"]) - np.log(truth))
        cover.append(leaf["ci_low"] <= truth <= leaf["ci_high"])
    n = len(est)
    c = float(np.mean(cover))
    print(f"frailty variance {args.frailty:g}, {n} seeds: mean log bias {np.mean(est):+.3f}, "
          f"SD {np.std(est, ddof=1):.3f}, coverage {c:.1%} (MC SE {np.sqrt(c * (1 - c) / n):.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
