"""environment.yml (conda users) lists the same dependencies, with the same ranges, as pyproject."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return req.replace(" ", "").lower()


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(map(_norm, project["dependencies"] + project["optional-dependencies"]["test"]
                          + project["optional-dependencies"]["spark"]))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert set(map(_norm, pip)) == wanted
    assert "python=3.11" in env["dependencies"]


def test_pandas_below_3_for_lifelines():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("pandas") and "<3" in d for d in deps)
    assert any(d.startswith("lifelines>=0.30.3") for d in deps)
