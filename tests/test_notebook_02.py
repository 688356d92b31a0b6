"""Notebook 02 (product effect): clean file, runs on a branch and on thin data.

The default run (whole bank, embedded data) is executed by nbval (see pyproject's addopts), which
also compares the headline numbers printed by its ``# NBVAL_CHECK_OUTPUT`` cell.
"""

import json
import time

import nbformat
import pytest

from analysis.config import NOTEBOOKS_DIR
from analysis.report.headline import extract

NB = NOTEBOOKS_DIR / "02_product_retention_effect.ipynb"
PARAMETERS = [
    'data = "synthetic"', "branch = None", "as_of = None", 'attrition = "closure"', "k = 3",
    "horizons = [12, 24, 36]", "lag = 1", "landmarks = [6, 12, 24]", "n_boot = 20",
    "mc_size = 2000", "show_ids = False", 'lang = "en"',
]


def _run(tmp_path, **params):
    import papermill as pm

    out = tmp_path / "out.ipynb"
    start = time.perf_counter()
    pm.execute_notebook(str(NB), str(out), parameters=params, kernel_name="python3",
                        progress_bar=False, log_output=False)
    return nbformat.read(out, as_version=4), time.perf_counter() - start


def _markdown_outputs(nb) -> str:
    texts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            texts.append(o.get("data", {}).get("text/markdown", ""))
    return "\n".join(texts)


def _all_text(nb) -> str:
    texts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            texts.append(o.get("text", "") if isinstance(o.get("text"), str) else "")
            texts.extend(str(v) for v in o.get("data", {}).values())
    return "\n".join(texts)


def test_notebook_is_stored_clean():
    nb = nbformat.read(NB, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    params = nb.cells[1]
    assert "parameters" in params.metadata["tags"]
    lines = [ln.split("#")[0].strip() for ln in params.source.splitlines() if ln.strip()]
    assert lines == PARAMETERS
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" in cell.source:  # the one stored output nbval compares
            assert cell.execution_count == 1 and len(cell.outputs) == 1
        else:
            assert cell.execution_count is None and cell.outputs == []
        assert not cell.source.rstrip().endswith(";")


@pytest.mark.slow
def test_runs_on_a_branch(tmp_path):
    nb, seconds = _run(tmp_path, branch="North", n_boot=5, mc_size=500)
    head = extract(nb)["product_effect"]
    # the g-formula's sizes are parameters, stated in the report and the headline
    assert head["gformula"]["settings"]["n_boot"] == 5
    assert head["gformula"]["settings"]["mc_size"] == 500
    assert "g-formula and MSM: 5 replicates, 500 simulated customers each" in _all_text(nb)
    # figures: palette PNGs at 2x resolution (1.5x or 1x for a figure over the byte budget),
    # shown at the size of a 1x figure
    import base64
    import io

    from PIL import Image

    figs = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert figs
    scales = []
    for o in figs:
        img = Image.open(io.BytesIO(base64.b64decode(o["data"]["image/png"])))
        assert img.mode == "P"
        scales.append(round(2 * img.width / o["metadata"]["image/png"]["width"]) / 2)
    assert set(scales) <= {1.0, 1.5, 2.0} and 2.0 in scales
    assert 900 < head["n"] < 1200 and head["events"] > 100
    assert head["cox_time_varying"]["ci_low"] < head["cox_time_varying"]["hr"] < 1
    assert head["iptw"]["truth"] is not None  # the branch's own truth on synthetic data
    assert "branch North" in _markdown_outputs(nb)
    assert seconds < 60


@pytest.mark.slow
def test_thin_data_shows_notes_instead_of_crashing(tmp_path):
    # East in the first two months: 12 departures, none among customers with 4+ products
    nb, _ = _run(tmp_path, branch="East", as_of="2023-02-01")
    text = _markdown_outputs(nb)
    assert "4+ products: not estimable, none of its" in text
    assert "**Note.**" in text
    head = extract(nb)["product_effect"]
    assert head["events"] == 12
    assert head["cox_unadjusted_categorical"]["4+"]["hr"] is None
    json.dumps(head, allow_nan=False)
