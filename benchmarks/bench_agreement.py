"""Does the large-book engine give the full Cox model's product effect? (issue 10's check)

On one synthetic book (default 100,000 customers x 36 months, generated once into ``--work``)
report 02's time-varying model (products lagged one month; tier, loan segment, large outflow of
the month; age, tenure and assets at entry, engagement; branches as strata) is fitted four ways:

- ``rows``: the reference, the package's Efron Cox on every customer's monthly rows (the book
  loaded whole in pandas);
- ``cells_monthly``: Efron Cox from counts per month of tenure and covariate cell (continuous
  covariates in 10 quantile bins), straight from the Parquet files;
- ``piecewise_exponential``: what report 02 shows on a large book, the Poisson model from
  counts per 6-month band of tenure and cell (:data:`CELL_BAND_MONTHS`);
- ``sample``: the row fit on the seeded model sample (50,000 customers), what report 02's other
  models use on a large book.

For each: the product HR with its 95% CI, the relative difference from ``rows``, the share of
``rows``' interval that the two intervals share, whether the interval covers the generator's
truth (0.80), seconds and number of cells. Results: ``benchmarks/results/agreement.json``.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_agreement.py --customers 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import book  # noqa: E402  (one book generator for the benchmarks)

RESULTS = Path(__file__).resolve().parent / "results" / "agreement.json"


def _entry(fit, seconds: float, cells: int | None, ref=None, truth: float | None = None) -> dict:
    t = fit.term("n_products")
    out = {"hr": round(t["hr"], 5), "ci_low": round(t["ci_low"], 5),
           "ci_high": round(t["ci_high"], 5), "seconds": round(seconds, 1), "cells": cells}
    if ref is not None:
        overlap = min(t["ci_high"], ref["ci_high"]) - max(t["ci_low"], ref["ci_low"])
        out["relative_difference"] = round(t["hr"] / ref["hr"] - 1, 5)
        out["ci_overlap_share"] = round(max(overlap, 0) / (ref["ci_high"] - ref["ci_low"]), 3)
    if truth is not None:
        out["covers_truth"] = bool(t["ci_low"] <= truth <= t["ci_high"])
    return out


def main(argv=None) -> int:
    from analysis.data import load_source
    from analysis.data.large_book import load_sample, open_book
    from analysis.frames import exposure_cells
    from analysis.stats.cox.cells import fit_cox_cells, fit_piecewise_exponential
    from analysis.stats.cox.fit import fit_cox_time_varying
    from analysis.studies.product_effect.frames import (
        ADJUST_TIME_VARYING,
        CELL_BAND_MONTHS,
        CELL_BINS,
        prepare_product_frames,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--sample", type=int, default=50_000)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "analysis_scale")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    folder, _ = book(args.work, args.customers, args.months)
    truth = json.loads((folder / "truth.json").read_text()).get("hr_per_product")
    covs = ["n_products", *ADJUST_TIME_VARYING, "engagement"]
    res: dict = {"customers": args.customers, "months": args.months,
                 "date": time.strftime("%Y-%m-%d"), "truth_hr_per_product": truth,
                 "covariates": covs, "bins": CELL_BINS, "band_months": CELL_BAND_MONTHS}

    t = time.perf_counter()
    whole = load_source(folder)
    _, iv, _ = prepare_product_frames(whole, lag=1)
    del whole
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    rows = fit_cox_time_varying(iv, covs, strata=["branch"])
    res["rows"] = _entry(rows, time.perf_counter() - t, None, truth=truth)
    res["rows"].update(load_and_frame_s=round(load_s, 1), intervals=len(iv))
    del iv
    ref = rows.term("n_products")
    panel, customers = (folder / n if (folder / n).is_dir() else folder / f"{n}.parquet"
                        for n in ("panel", "customers"))
    for key, band, fitter in (("cells_monthly", 1, None),
                              ("piecewise_exponential", CELL_BAND_MONTHS, fit_piecewise_exponential)):
        t = time.perf_counter()
        cells = exposure_cells(panel, customers, lag=1, bins=CELL_BINS, band_months=band)
        fit = (fitter(cells, covs, strata=["branch"]) if fitter else
               fit_cox_cells(cells, covs, time="stop", strata=["branch"]))
        res[key] = _entry(fit, time.perf_counter() - t, len(cells), ref, truth)
    t = time.perf_counter()
    sample = load_sample(open_book(folder), args.sample)
    _, siv, _ = prepare_product_frames(sample, lag=1)
    res["sample"] = _entry(fit_cox_time_varying(siv, covs, strata=["branch"]),
                           time.perf_counter() - t, None, ref, truth)
    res["sample"]["sample"] = args.sample
    print(json.dumps(res, indent=2))
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": []}
    saved["runs"] = [r for r in saved["runs"]
                     if (r["customers"], r["months"]) != (args.customers, args.months)] + [res]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
