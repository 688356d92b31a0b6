"""Shared by the notebook generators: write a clean notebook with stable cell ids."""

import nbformat as nbf
from nbformat.v4 import new_notebook


def write_notebook(cells, path: str) -> None:
    """Write ``cells`` to ``path`` with ids c00, c01, ... (no diff noise on regeneration)."""
    for i, cell in enumerate(cells):
        cell.id = f"c{i:02d}"
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbf.write(nb, path)
