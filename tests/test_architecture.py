"""The house rules of docs/architecture.md, checked on the source: layers and module size.

Data flows one way (data -> frames -> stats -> studies -> plots/report): a module may import
only from its own layer or the layers listed for it below. The test reads imports with ``ast``
(also imports inside functions), so a lazy import cannot sneak past it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "analysis"

# layer -> the layers it may import from (besides itself)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": set(),
    "data": {"errors", "config"},
    "frames": {"errors", "config"},
    "stats": {"errors", "config"},
    "i18n": set(),  # the report language: every layer that shows words may use it
    "studies": {"errors", "config", "data", "frames", "stats", "i18n"},
    "plots": {"errors", "config", "stats", "i18n"},
    "report": {"errors", "config", "data", "i18n"},
    "cli": {"errors", "config", "data", "report", "studies", "i18n"},  # `watchlist` runs a study
    "__init__": set(),
}
MAX_LINES = 700


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "analysis":
                out += [(node.lineno, n) for n in names[1:]]
            elif node.module.startswith("analysis."):
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("analysis.")]
    return out


MODULES = sorted(SRC.rglob("*.py"))


def test_every_module_has_a_layer():
    layers = {_layer(p) for p in MODULES}
    assert layers <= set(ALLOWED), f"modules outside the known layers: {layers - set(ALLOWED)}"


def violations(layer: str, source: str) -> list[str]:
    """Imports in ``source`` (a module of ``layer``) that reach a layer it may not use."""
    bad = []
    for line, target in _imports(source):
        parts = target.split(".")
        target_layer = parts[1] if len(parts) > 1 else "__init__"
        if target_layer == "__version__":
            continue
        if target_layer != layer and target_layer not in ALLOWED[layer]:
            bad.append(f"line {line}: imports {target} ({target_layer} may not be used by {layer})")
    return bad


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path):
    bad = violations(_layer(path), path.read_text(encoding="utf-8"))
    assert not bad, f"{path.relative_to(SRC)}: " + "; ".join(bad)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_small(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines (> {MAX_LINES}): split it by role"


def test_layer_check_can_fail():
    """The rule is not vacuous: upward imports, also lazy ones inside functions, are caught."""
    src = "import numpy\nfrom analysis.stats import km\ndef f():\n    from analysis.studies import population\n"
    assert violations("stats", src) == [
        "line 4: imports analysis.studies (studies may not be used by stats)"]
    assert violations("studies", src) == []
    assert violations("plots", "from analysis import report\n") == [
        "line 1: imports analysis.report (report may not be used by plots)"]
