"""Diagnostics of report 02's marginal structural Cox model (MSM) on single synthetic books.

``docs/coverage.md`` finds the MSM's 95% intervals too narrow (SD/SE about 1.3, coverage 91-92%
over 200 seeds). Per seed this script prints, as JSON lines, the MSM log hazard ratio per
product as ``estimate_causal`` fits it (stabilised weights x censoring weights) and variants:
without censoring weights, truncated at the 1st/99th percentiles (a different estimand), unweighted;
the largest weight; the truth; and, with ``--boot B``, the customer-bootstrap SD of the log HR
with the weight models refitted in 2 Newton steps (as the report) and in 50.

Run (not in CI)::

    .venv/bin/python benchmarks/msm_weights.py --scenario default --seeds 9 70 150 --boot 40
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402


def diagnose(scenario: str, seed: int, boot: int = 0, customers: int = 6000) -> dict:
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
    truth = book.truth["causal"]["marginal_hr_per_product"]
    out = {"scenario": scenario, "seed": seed, "truth": float(np.log(truth))}

    def model(ipcw, steps=BOOT_STEPS):
        return MSMBootstrap(pmw, treatment="a", previous="a_prev", numerator=num,
                            denominator=den, entry_numerator=(), entry_denominator=baseline,
                            ipcw_group=ipcw, truncate=None, steps=steps)

    for name, ipcw in (("msm", "new"), ("no_ipcw", None)):
        w = model(ipcw).weights()
        out[name] = float(np.log(fit_msm_cox(pm, w, treatment="a").effect["hr"]))
        out[name + "_truncated"] = float(np.log(
            fit_msm_cox(pm, w, treatment="a", truncate=(1, 99)).effect["hr"]))
        out[name + "_max_weight"] = float(w.max())
    out["unweighted"] = float(np.log(
        fit_msm_cox(pm, np.ones(len(pm)), treatment="a").effect["hr"]))
    if boot:
        for steps in (BOOT_STEPS, 50):
            m = model("new", steps)
            n = len(m.customers)
            rng = np.random.default_rng([seed, 1000])
            reps = [m.replicate(rng.multinomial(n, np.full(n, 1.0 / n)), init=out["msm"])["log_hr"]
                    for _ in range(boot)]
            out[f"boot_sd_steps{steps}"] = float(np.std(reps, ddof=1))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=("default", "feedback"), default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--boot", type=int, default=0, help="bootstrap resamples (0: none)")
    ap.add_argument("--customers", type=int, default=6000)
    args = ap.parse_args(argv)
    for seed in args.seeds:
        print(json.dumps(diagnose(args.scenario, seed, args.boot, args.customers)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
