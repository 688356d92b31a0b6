"""Execute a notebook and store ONLY the outputs of cells marked ``# NBVAL_CHECK_OUTPUT``.

nbval (``--nbval-lax``) compares those stored outputs with a fresh run; every other cell stays
clean (no outputs, no execution counts), and the notebook metadata is reset to the kernel name
alone (JupyterLab adds the Python version and more after a run). Only outputs and metadata
change, so the ``py:percent`` twin stays in sync (tests/test_notebook_pairs.py). Usage::

    .venv/bin/python tools/store_checked_outputs.py notebooks/01_attrition_overview.ipynb
"""

import sys
import tempfile
from pathlib import Path

import nbformat
import papermill as pm

MARK = "# NBVAL_CHECK_OUTPUT"
CLEAN_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def main(path: str) -> None:
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        pm.execute_notebook(str(path), str(out), kernel_name="python3", cwd=str(path.parent), progress_bar=False)
        executed = nbformat.read(out, as_version=4)
    by_source = {c.source: c for c in executed.cells if c.cell_type == "code"}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []
        if cell.source.lstrip().startswith(MARK):
            ran = by_source[cell.source]
            cell.outputs = ran.outputs
            cell.execution_count = 1
            for o in cell.outputs:
                if "execution_count" in o:
                    o["execution_count"] = 1
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nb.metadata = nbformat.from_dict(CLEAN_METADATA)
    nbformat.write(nb, path)
    print(f"stored checked outputs in {path}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        main(arg)
