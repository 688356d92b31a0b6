"""Shared test helpers: the Chinese language for one test, the literal ``tr`` messages, and the
check that a report's messages and Markdown cells are all translated."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from analysis.i18n import set_language


def pytest_configure(config):
    """Make the embedded default books before any test runs when tests run in several
    processes (``make test``: pytest-xdist): two processes must not write them at once."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    from analysis.data import ensure_default_data

    for scenario in ("default", "feedback"):
        ensure_default_data(scenario=scenario)


@pytest.fixture
def zh():
    """Run the test with the report language set to Chinese."""
    set_language("zh")
    try:
        yield
    finally:
        set_language("en")


def tr_literals(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of every ``tr("...")`` call of a Python file whose message is a literal."""
    out = []
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr"
                and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value))
    return out


def assert_translated(messages, notebook: Path, minimum: int) -> dict[str, str]:
    """Every message of a report and every Markdown cell of its notebook has its Chinese, with
    the same placeholders and no English prose (code spans and placeholders aside).
    Returns the catalogue."""
    import nbformat

    from analysis.i18n import catalogue, english_words, placeholders

    cat = catalogue("zh")
    assert len(messages) > minimum
    missing = sorted(m for m in messages if m not in cat)
    assert missing == []
    for m in messages:
        assert placeholders(m) == placeholders(cat[m]), m
    nb = nbformat.read(notebook, as_version=4)
    cells = [c.source.strip() for c in nb.cells if c.cell_type == "markdown"]
    assert [c.split("\n", 1)[0] for c in cells if c not in cat] == []
    for text in [*(cat[m] for m in messages), *(cat[c] for c in cells)]:
        prose = re.sub(r"`[^`]*`|\{[^}]*\}", "", text)  # code spans and placeholders
        assert english_words(prose) == [], text
    return cat


def rendered_text(notebook: Path, tmp_path: Path, **parameters) -> str:
    """Run a report notebook with ``parameters`` and return the visible text of its HTML page."""
    import nbformat
    import papermill as pm

    from analysis.report.html import notebook_to_html, visible_text

    out = Path(tmp_path) / "out.ipynb"
    pm.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name="python3",
                        progress_bar=False, log_output=False)
    return visible_text(notebook_to_html(nbformat.read(out, as_version=4)))
