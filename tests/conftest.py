"""Shared test helpers: the Chinese language for one test, and the literal ``tr`` messages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analysis.i18n import set_language


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
