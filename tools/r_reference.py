"""Refit report 02's Cox models in R (survival) from the rows the package fitted, and compare.

    .venv/bin/python tools/r_reference.py                  # default book: export, R, compare
    .venv/bin/python tools/r_reference.py --update-fixture # also store R's numbers for the tests

Models: the time-varying Cox (products lagged, branch strata) and its categorical version, the
nested model of the linearity test (linear in min(products, 4)), the adjusted Cox at entry
(delayed entry), the IPW Cox (weights, robust SE by customer) and the marginal structural Cox
(the MSM's person-month rows with the package's weights, robust SE by customer). R refits the
Cox models on the same rows and weights; the weight models themselves (continuation-ratio
logits, checked against statsmodels' GLM in tests/test_msm.py) and the g-formula (no R
reference: CRAN's gfoRmula is not reachable from this machine) are not refitted.
``tests/test_r_reference.py`` compares the package with the stored R numbers
(``tests/fixtures/r/report02_r_results.csv``) on every run, and reruns R when ``Rscript`` is
installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "fixtures" / "r" / "report02_reference.R"
FIXTURE = ROOT / "tests" / "fixtures" / "r" / "report02_r_results.csv"
DUMMY_LEVEL = {"2": 1.0, "3": 2.0, "4+": 3.0}


def _rows(fit, covariates=None) -> tuple[pd.DataFrame, dict]:
    """The rows of a CoxResult in the R script's columns, and its manifest entry."""
    spec, d = fit.spec, fit.data
    covs = list(covariates or fit.covariates)
    out = pd.DataFrame({
        "start": d[spec["entry"]].to_numpy(float) if spec.get("entry") else 0.0,
        "stop": d[spec["duration"]].to_numpy(float),
        "event": d[spec["event"]].to_numpy(int),
        "w": d[spec["weights"]].to_numpy(float) if spec.get("weights") else 1.0,
        "cl": d[spec["cluster"]].to_numpy() if spec.get("cluster") else np.arange(len(d)),
        "st": (d[spec["strata"]].astype(str).agg("|".join, axis=1) if spec.get("strata")
               else "all"),
    })
    for c in covs:
        out[c] = d[c].to_numpy(float)
    entry = {"covariates": " ".join(covs), "weighted": int(bool(spec.get("weights"))),
             "robust": int(bool(spec.get("cluster"))), "stratified": int(bool(spec.get("strata")))}
    return out, entry


def reference_fits(pe) -> dict:
    """The CoxResults R refits, by model name (those the report could fit)."""
    from analysis.stats.msm import fit_msm_cox

    fits = {n: pe.fits.get(n) for n in ("time_varying", "time_varying_categorical",
                                         "adjusted_linear")}
    if fits["time_varying_categorical"] is not None:
        fits["linearity_nested"] = nested_linearity_fit(fits["time_varying_categorical"])
    if pe.ipw is not None:
        fits["iptw"] = pe.ipw.cox
    if pe.causal is not None:
        m = pe.causal["msm_rows"]
        fits["msm"] = fit_msm_cox(m, m["w"].to_numpy(), treatment="a").cox
    return {name: fit for name, fit in fits.items() if fit is not None}


def python_results(pe) -> pd.DataFrame:
    """The package's numbers for the models R refits: model, term, coef, se, loglik."""
    rows = [{"model": name, "term": r["term"], "coef": r["coef"], "se": r["se"],
             "loglik": fit.log_likelihood}
            for name, fit in reference_fits(pe).items() for _, r in fit.summary.iterrows()]
    return pd.DataFrame(rows)


def nested_linearity_fit(cat):
    """The nested model of report 02's linearity test, as ``_shape`` fits it."""
    from analysis.stats.cox.fit import fit_cox
    from analysis.studies.product_effect.frames import DUMMIES

    inv = {v: k for k, v in DUMMIES.items()}
    d = cat.data.copy()
    dummies = [c for c in cat.covariates if c in inv]
    d["level"] = 1.0 + sum(DUMMY_LEVEL[inv[c]] * d[c] for c in dummies)
    others = [c for c in cat.covariates if c not in inv]
    s = cat.spec
    return fit_cox(d, ["level"] + others, duration=s["duration"], event=s["event"],
                   entry=s["entry"], strata=s["strata"], alpha=cat.alpha)


def export(pe, folder: Path) -> None:
    """Write manifest.csv and model_<name>.csv for the R script."""
    manifest = []
    for name, fit in reference_fits(pe).items():
        rows, entry = _rows(fit)
        rows.to_csv(folder / f"model_{name}.csv", index=False, float_format="%.17g")
        manifest.append({"model": name, **entry})
    pd.DataFrame(manifest).to_csv(folder / "manifest.csv", index=False)


def run_r(pe) -> pd.DataFrame:
    """Export, run the R script, return R's results."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise FileNotFoundError("Rscript is not installed (Debian: r-base-core r-cran-survival)")
    with tempfile.TemporaryDirectory() as tmp:
        export(pe, Path(tmp))
        subprocess.run([rscript, str(SCRIPT), tmp], check=True, capture_output=True, text=True,
                       timeout=600)
        return pd.read_csv(Path(tmp) / "r_results.csv")


def compare(ours: pd.DataFrame, r: pd.DataFrame) -> pd.DataFrame:
    """Join on (model, term): differences of coefficients, SEs and log-likelihoods."""
    j = ours.merge(r, on=["model", "term"], suffixes=("", "_r"), how="outer", indicator=True)
    j["coef_diff"] = (j["coef"] - j["coef_r"]).abs()
    j["se_rel_diff"] = (j["se"] / j["se_r"] - 1).abs()
    j["loglik_diff"] = (j["loglik"] - j["loglik_r"]).abs()
    return j


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update-fixture", action="store_true",
                    help=f"store R's numbers in {FIXTURE.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    import warnings

    from analysis.data import generate_portfolio
    from analysis.studies.product_effect.estimate import estimate_product_effect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pe = estimate_product_effect(generate_portfolio())
    r = run_r(pe)
    j = compare(python_results(pe), r)
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(j[["model", "term", "coef", "coef_r", "coef_diff", "se_rel_diff", "loglik_diff"]])
    worst = j[["coef_diff", "se_rel_diff", "loglik_diff"]].max()
    print("largest differences:", worst.to_dict())
    if args.update_fixture:
        r.to_csv(FIXTURE, index=False, float_format="%.12g")
        print("wrote", FIXTURE.relative_to(ROOT))
    ok = (j["_merge"] == "both").all() and worst["coef_diff"] < 1e-6 \
        and worst["se_rel_diff"] < 1e-5 and worst["loglik_diff"] < 1e-6
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
