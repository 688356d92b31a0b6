"""Command line: argument parsing, exit codes, wiring to the data layer and the runner.

The data layer and the papermill job are faked: the real render is tested in
test_report_runner.py.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import types
from pathlib import Path

import pytest
import yaml

import analysis
from analysis.cli import build_parser, main

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
DATA_PACKAGE = str(Path(analysis.__file__).parent / "data")


@pytest.fixture
def fake_data(monkeypatch):
    mod = types.ModuleType("analysis.data")
    mod.__path__ = [DATA_PACKAGE]  # its submodules (the YAML loader...) are the real ones
    mod.calls = []

    def generate_portfolio(**kwargs):
        mod.calls.append(("generate_portfolio", kwargs))
        return "PORTFOLIO"

    def write_portfolio(portfolio, out_dir):
        mod.calls.append(("write_portfolio", portfolio, out_dir))
        return [Path(out_dir) / "customers.parquet", Path(out_dir) / "panel.parquet"]

    def validate_source(data):
        if data == "broken":
            raise ValueError("panel.parquet: column 'aum' is missing")
        return types.SimpleNamespace(to_text=lambda: f"source {data}: 3 checks passed", ok=True)

    mod.generate_portfolio = generate_portfolio
    mod.write_portfolio = write_portfolio
    mod.validate_source = validate_source
    mod.list_branches = lambda data: ["North", "South"]
    mod.ensure_default_data = lambda: None
    mod.load_source = lambda data="synthetic": types.SimpleNamespace(
        branches=["North", "South"], fingerprint="fp42", window_end=dt.datetime(2024, 6, 30), source=data
    )
    monkeypatch.setitem(sys.modules, "analysis.data", mod)
    return mod


@pytest.fixture
def fake_jobs(monkeypatch):
    """Replace the papermill run: reports of branch 'South' fail."""
    import analysis.report.runner as runner
    from test_report_runner import fake_execute

    monkeypatch.setattr(runner, "_execute", fake_execute(fail={"South"}, ename="KeyError", evalue="'tier'"))


@pytest.fixture
def schedule(tmp_path):
    path = tmp_path / "schedule.yml"
    path.write_text(
        yaml.safe_dump(
            {"notebooks_dir": str(FIXTURES), "reports": [{"notebook": "fixture_report", "per_branch": True}]}
        )
    )
    return path


def test_parser_render_options(tmp_path):
    args = build_parser().parse_args(
        ["render", "--schedule", "s.yml", "--as-of", "2024-06-30", "--data", "d", "--notebook", "a", "b",
         "--notebook", "c", "--out", str(tmp_path), "--jobs", "2", "--no-progress"]
    )
    assert args.command == "render" and args.schedule == Path("s.yml") and args.as_of == "2024-06-30"
    assert args.data == "d" and args.notebooks == [["a", "b"], ["c"]] and args.out == tmp_path
    assert args.jobs == 2 and args.progress is False
    defaults = build_parser().parse_args(["render"])
    from analysis.config import DEFAULT_SCHEDULE, REPORTS_DIR

    assert defaults.schedule == DEFAULT_SCHEDULE and defaults.out == REPORTS_DIR
    assert defaults.as_of is None and defaults.data == "synthetic" and defaults.jobs == 1 and defaults.progress


def test_parser_synth_and_index():
    args = build_parser().parse_args(["synth", "--customers", "500", "--months", "24", "--seed", "7", "--out", "x"])
    assert (args.customers, args.months, args.seed, args.out) == (500, 24, 7, Path("x"))
    assert build_parser().parse_args(["index"]).command == "index"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["render", "--jobs", "0"], "expected a number >= 1"),
        (["render", "--as-of", "30/06/2024"], "ISO date"),
        (["synth", "--customers", "10"], "--out"),
        (["synth", "--customers", "many", "--out", "x"], "expected a whole number"),
        (["validate"], "data"),
        ([], "COMMAND"),
    ],
)
def test_parser_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_synth_calls_the_generator(fake_data, tmp_path, capsys):
    assert main(["synth", "--customers", "500", "--months", "24", "--seed", "7", "--out", str(tmp_path)]) == 0
    assert fake_data.calls[0] == ("generate_portfolio", {"n_customers": 500, "months": 24, "seed": 7})
    assert fake_data.calls[1] == ("write_portfolio", "PORTFOLIO", tmp_path)
    assert capsys.readouterr().out.split() == [str(tmp_path / "customers.parquet"), str(tmp_path / "panel.parquet")]
    main(["synth", "--out", str(tmp_path)])
    assert fake_data.calls[2] == ("generate_portfolio", {})  # unset options: the generator's defaults


def test_validate_prints_report_or_error_without_traceback(fake_data, capsys):
    assert main(["validate", "some/dir"]) == 0
    assert capsys.readouterr().out.strip() == "source some/dir: 3 checks passed"
    assert main(["validate", "broken"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == "analysis: error: panel.parquet: column 'aum' is missing"
    assert "Traceback" not in captured.err + captured.out


def test_render_exits_1_when_a_report_fails(fake_data, fake_jobs, schedule, tmp_path, capsys):
    out = tmp_path / "reports"
    code = main(["render", "--schedule", str(schedule), "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "FAILED  fixture_report__branch-South" in printed and "KeyError: 'tier'" in printed
    assert "2 of 3 report(s) rendered for as-of 2024-06-30" in printed
    manifest = json.loads((out / "2024-06-30" / "manifest.json").read_text())
    assert [r["status"] for r in manifest["reports"]] == ["ok", "ok", "failed"]
    assert manifest["data_fingerprint"] == "fp42"
    assert (out / "index.html").is_file()


def test_render_exits_0_when_all_succeed(fake_data, fake_jobs, schedule, tmp_path, capsys):
    code = main(
        ["render", "--schedule", str(schedule), "--out", str(tmp_path), "--as-of", "2024-05-31",
         "--notebook", "fixture_report__bank", "fixture_report__branch-North", "--no-progress", "--jobs", "2"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 of 2 report(s) rendered for as-of 2024-05-31" in printed
    assert (tmp_path / "2024-05-31" / "fixture_report__branch-North.html").is_file()


def test_render_schedule_error_exits_2_with_message(fake_data, tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        yaml.safe_dump(
            {"notebooks_dir": str(FIXTURES), "reports": [{"notebook": "fixture_report", "parameters": {"show_id": True}}]}
        )
    )
    assert main(["render", "--schedule", str(bad), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) for notebook fixture_report: 'show_id' (did you mean 'show_ids'?)" in err
    assert "Traceback" not in err
    assert main(["render", "--schedule", str(tmp_path / "missing.yml"), "--no-progress"]) == 2
    assert "schedule file not found" in capsys.readouterr().err


def test_index_command(tmp_path, capsys):
    (tmp_path / "2024-06-30").mkdir()
    (tmp_path / "2024-06-30" / "manifest.json").write_text(
        json.dumps({"as_of": "2024-06-30", "reports": [{"name": "r1", "status": "ok", "html": "r1.html"}]})
    )
    (tmp_path / "2024-05-31").mkdir()
    (tmp_path / "2024-05-31" / "manifest.json").write_text("{not json")
    assert main(["index", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "index.html")
    page = (tmp_path / "index.html").read_text()
    assert 'href="2024-06-30/r1.html"' in page
    assert "manifest.json unreadable" in page
    assert page.index("As of 2024-06-30") < page.index("As of 2024-05-31")  # newest first


def test_synth_large_book_writes_parts(tmp_path, monkeypatch):
    from analysis import cli
    from analysis.data import load_source

    monkeypatch.setattr(cli, "LARGE_BOOK", 100)
    assert cli.main(["synth", "--customers", "300", "--months", "6", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "panel").iterdir()) == ["part-00000.parquet"]
    p = load_source(tmp_path)
    assert len(p.customers) == 300 and p.panel["month"].nunique() == 6
