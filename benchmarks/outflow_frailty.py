"""Why the outflow hazard ratio falls short of 8 in the feedback scenario: the frailty.

Runs report 03's time-varying model (the one every report quotes for the outflow warning) on
feedback books with a chosen frailty variance and prints the mean log bias against the
generator's individual-level HR (8) and the coverage of the 95% intervals. With the frailty
switched off the bias goes away; with it (variance 0.25, the scenario's) every hazard ratio
estimated across customers is attenuated, because customers still at risk after an outflow are
the less frail ones (see ``docs/causal_truth.md``).

``--gamma`` also runs report 03's outflow warning for a given customer (the time-varying model
with a gamma frailty, :mod:`analysis.studies.drivers.frailty`): once with the frailty variance
estimated, once fixed at the generator's.
The first shows whether the data identify the frailty; the second what a model that knew it
would give.

Run (not in CI; about 5 s per seed, 15 s with ``--gamma``)::

    .venv/bin/python benchmarks/outflow_frailty.py --frailty 0 --seeds 60
    .venv/bin/python benchmarks/outflow_frailty.py --frailty 0.25 --seeds 60
    .venv/bin/python benchmarks/outflow_frailty.py --frailty 0.25 --seeds 20 --gamma
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
    ap.add_argument("--gamma", action="store_true", help="also fit the gamma-frailty model")
    args = ap.parse_args(argv)
    from analysis.data import generate_portfolio

    res: dict[str, tuple[list, list]] = {}
    thetas = []
    for seed in range(1, args.seeds + 1):
        book = generate_portfolio(args.customers, seed=seed, scenario="feedback",
                                  frailty_variance=args.frailty)
        truth = book.truth["hr"]["outflow_3m"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r03 = report03(book, args.frailty if args.gamma else None)
        leaves = {"Cox (report 03)": r03["tv_cox_outflow_3m"]}
        if args.gamma:
            thetas.append(r03["frailty_estimated_outflow_3m"]["theta"])
            leaves["gamma frailty, variance estimated"] = r03["frailty_estimated_outflow_3m"]
            leaves["gamma frailty, variance fixed at the generator's"] = (
                r03[f"frailty_{args.frailty:g}_outflow_3m"])
        for name, leaf in leaves.items():
            e, c = res.setdefault(name, ([], []))
            e.append(np.log(leaf["estimate"]) - np.log(truth))
            c.append(leaf["ci_low"] <= truth <= leaf["ci_high"])
    for name, (est, cover) in res.items():
        n = len(est)
        c = float(np.mean(cover))
        print(f"{name}: frailty variance {args.frailty:g}, {n} seeds: mean log bias "
              f"{np.mean(est):+.3f}, SD {np.std(est, ddof=1):.3f}, coverage {c:.1%} "
              f"(MC SE {np.sqrt(c * (1 - c) / n):.1%})")
    if thetas:
        t = np.asarray(thetas)
        print(f"estimated frailty variance: median {np.median(t):.3f}, zero in "
              f"{np.mean(t < 1e-6):.0%} of books (generator: {args.frailty:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
