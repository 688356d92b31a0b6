"""Every report ends with a glossary that explains the abbreviations its text uses."""

import ast
import re
from pathlib import Path

import pytest

from analysis.report.glossary import ABBREVIATIONS, GLOSSARY, glossary

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.py"))


def _glossary_terms(source: str) -> list[str]:
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) == "glossary"]
    assert len(calls) == 1, "one glossary per report"
    return [a.value for a in calls[0].args]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_report_explains_the_abbreviations_it_uses(path):
    source = path.read_text(encoding="utf-8")
    terms = _glossary_terms(source)
    assert terms and all(t in GLOSSARY for t in terms)
    text = source[:source.index("## Glossary")]
    used = {a for a in ABBREVIATIONS if re.search(rf"\b{re.escape(a)}\b", text)}
    assert used <= set(terms), f"{path.stem}: explain {sorted(used - set(terms))}"


def test_glossary_section_and_unknown_terms():
    md = glossary("HR", "RMST").data
    assert md.splitlines()[0].startswith("- **HR**: Hazard ratio")
    assert "HR 0.80 means 20% lower" in md
    with pytest.raises(KeyError, match="not in the glossary: XYZ"):
        glossary("XYZ")


def test_every_term_has_a_chinese_entry():
    from analysis.report.glossary import GLOSSARY_ZH

    assert set(GLOSSARY_ZH) == set(GLOSSARY)
    for term, (name, text) in GLOSSARY_ZH.items():
        assert re.search(r"[\u4e00-\u9fff]", name + text), term  # Chinese, not a copy
    assert "风险比（HR）" in glossary("HR", "CI", lang="zh").data
