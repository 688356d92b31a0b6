"""Schedule parsing, parameter checks and expansion to jobs (no kernel needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from analysis.report.schedule import (
    ScheduleError,
    expand,
    job_name,
    load_schedule,
    notebook_parameters,
    parse_schedule,
)

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
STANDARD = {"data", "branch", "as_of", "attrition", "horizons", "show_ids"}


@pytest.fixture
def nb_dir(tmp_path):
    d = tmp_path / "notebooks"
    d.mkdir()
    shutil.copy(FIXTURES / "fixture_report.ipynb", d / "fixture_report.ipynb")
    return d


def write_schedule(tmp_path, nb_dir, reports, **top):
    path = tmp_path / "schedule.yml"
    path.write_text(yaml.safe_dump({"notebooks_dir": str(nb_dir), **top, "reports": reports}))
    return path


def test_fixture_notebooks_are_clean():
    """Stored fixture notebooks carry no outputs and no execution counts."""
    paths = sorted(FIXTURES.glob("*.ipynb"))
    assert paths
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], path.name
                assert cell.execution_count is None, path.name
        assert STANDARD <= set(notebook_parameters(path)), path.name


def test_notebook_parameters_reads_defaults():
    params = notebook_parameters(FIXTURES / "fixture_report.ipynb")
    assert params == {
        "data": "synthetic",
        "branch": None,
        "as_of": None,
        "attrition": "closure",
        "horizons": [12, 24, 36],
        "show_ids": False,
        "fail_branch": None,
    }


def test_notebook_parameters_sees_lines_papermill_cannot_parse(tmp_path):
    # papermill's inspector drops a line holding two '=' (here in a comment)
    nb = new_notebook(cells=[new_code_cell("a = 1  # x == y\nb: int = 2", metadata={"tags": ["parameters"]})])
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert notebook_parameters(tmp_path / "n.ipynb") == {"a": 1, "b": 2}


def test_expand_whole_bank_and_per_branch(tmp_path, nb_dir):
    path = write_schedule(
        tmp_path,
        nb_dir,
        [
            {"notebook": "fixture_report", "parameters": {"attrition": "closure"}, "per_branch": True},
            {"notebook": "fixture_report", "parameters": {"attrition": "value", "horizons": [12, 24]}},
        ],
    )
    jobs = expand(load_schedule(path), data="/data/x", as_of="2024-06-30", branches=["North", "South East"])
    assert [j.name for j in jobs] == [
        "fixture_report__bank",
        "fixture_report__branch-North",
        "fixture_report__branch-South-East",
        "fixture_report__attrition-value__horizons-12-24__bank",
    ]
    assert jobs[1].parameters == {"attrition": "closure", "data": "/data/x", "as_of": "2024-06-30", "branch": "North"}
    assert jobs[0].parameters["branch"] is None
    assert "branch" not in jobs[3].parameters  # notebook default (whole bank)
    assert jobs[0].path == nb_dir / "fixture_report.ipynb"


def test_branches_come_from_the_data_layer(tmp_path, nb_dir, monkeypatch):
    import analysis.report.schedule as sched

    seen = []
    monkeypatch.setattr(sched, "_list_branches", lambda data: seen.append(data) or ["A", "B"])
    path = write_schedule(tmp_path, nb_dir, [{"notebook": "fixture_report", "per_branch": True}])
    jobs = expand(load_schedule(path), data="synthetic", as_of="2024-01-01")
    assert seen == ["synthetic"]
    assert [j.name for j in jobs] == ["fixture_report__bank", "fixture_report__branch-A", "fixture_report__branch-B"]


def test_only_filters_by_notebook_or_report_name(tmp_path, nb_dir):
    shutil.copy(nb_dir / "fixture_report.ipynb", nb_dir / "other.ipynb")
    path = write_schedule(
        tmp_path, nb_dir, [{"notebook": "fixture_report", "per_branch": True}, {"notebook": "other"}]
    )
    schedule = load_schedule(path)
    kw = dict(data="synthetic", as_of="2024-01-01", branches=["N"])
    assert [j.name for j in expand(schedule, only=["other"], **kw)] == ["other__bank"]
    assert [j.name for j in expand(schedule, only=["fixture_report__branch-N"], **kw)] == ["fixture_report__branch-N"]
    with pytest.raises(ScheduleError, match="'othr' is not a scheduled notebook.*did you mean 'other'"):
        expand(schedule, only=["othr"], **kw)


def test_misspelled_parameter_is_an_error(tmp_path, nb_dir):
    path = write_schedule(tmp_path, nb_dir, [{"notebook": "fixture_report", "parameters": {"atrition": "value"}}])
    schedule = load_schedule(path)
    with pytest.raises(ScheduleError) as info:
        expand(schedule, data="synthetic", as_of="2024-01-01")
    msg = str(info.value)
    assert "'atrition'" in msg and "did you mean 'attrition'" in msg
    assert "fixture_report" in msg and "reports[1]" in msg
    for known in STANDARD | {"fail_branch"}:
        assert known in msg


def test_notebook_without_parameters_cell_is_an_error(tmp_path, nb_dir):
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), nb_dir / "bare.ipynb")
    path = write_schedule(tmp_path, nb_dir, [{"notebook": "bare"}])
    with pytest.raises(ScheduleError, match="bare.ipynb has no code cell tagged 'parameters'"):
        expand(load_schedule(path), data="synthetic", as_of="2024-01-01")


@pytest.mark.parametrize(
    "reports, top, message",
    [
        ([{"notebook": "fixture_report", "per_branh": True}], {}, r"unknown key 'per_branh' \(did you mean 'per_branch'\?\)"),
        ([{"notebook": "fixture_reprt"}], {}, r"notebook 'fixture_reprt' not found.*did you mean 'fixture_report'"),
        ([{"parameters": {}}], {}, r"'notebook' is required"),
        ([{"notebook": "fixture_report", "parameters": {"as_of": "2024-01-01"}}], {}, r"'as_of' is set by the run"),
        ([{"notebook": "fixture_report", "parameters": {"data": "x"}}], {}, r"'data' is set by the run"),
        ([{"notebook": "fixture_report", "per_branch": True, "parameters": {"branch": "N"}}], {}, r"'branch' cannot"),
        ([{"notebook": "fixture_report", "per_branch": "yes"}], {}, r"'per_branch' must be true or false"),
        ([{"notebook": "fixture_report", "parameters": [1]}], {}, r"'parameters' must be a mapping"),
        ([], {}, r"'reports' must be a non-empty list"),
        ([{"notebook": "fixture_report"}], {"report": []}, r"unknown top-level key 'report'"),
    ],
)
def test_schedule_errors(tmp_path, nb_dir, reports, top, message):
    path = write_schedule(tmp_path, nb_dir, reports, **top)
    with pytest.raises(ScheduleError, match=message):
        load_schedule(path)


def test_duplicate_output_names_are_an_error(tmp_path, nb_dir):
    path = write_schedule(tmp_path, nb_dir, [{"notebook": "fixture_report"}, {"notebook": "fixture_report"}])
    with pytest.raises(ScheduleError, match="both be written as 'fixture_report__bank'"):
        expand(load_schedule(path), data="synthetic", as_of="2024-01-01")


def test_missing_or_invalid_schedule_file(tmp_path):
    with pytest.raises(ScheduleError, match="schedule file not found"):
        load_schedule(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("reports: [\n")
    with pytest.raises(ScheduleError, match="not valid YAML"):
        load_schedule(bad)
    with pytest.raises(ScheduleError, match="schedule is empty"):
        parse_schedule(None)


def test_job_name_slug():
    assert job_name("01_x", {"branch": None, "data": "d", "as_of": "a"}) == "01_x__bank"
    assert job_name("01_x", {"branch": "Nord/Ost"}) == "01_x__branch-Nord-Ost"
    assert (
        job_name("01_x", {"attrition": "value", "show_ids": True, "branch": "N"}, {"attrition": "closure"})
        == "01_x__attrition-value__show_ids-true__branch-N"
    )


def test_default_schedule_lists_the_overview_per_branch():
    from analysis.config import DEFAULT_SCHEDULE

    raw = yaml.safe_load(DEFAULT_SCHEDULE.read_text())
    assert raw["reports"][0] == {
        "notebook": "01_attrition_overview",
        "parameters": {"attrition": "closure"},
        "per_branch": True,
    }


def test_languages_render_every_report_once_per_language(tmp_path, nb_dir):
    from analysis.report.schedule import check_parameters

    nb = nbformat.read(nb_dir / "fixture_report.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += '\nlang = "en"'
    nbformat.write(nb, nb_dir / "fixture_report.ipynb")
    assert check_parameters(nb_dir / "fixture_report.ipynb", ["lang"])["lang"] == "en"
    path = write_schedule(tmp_path, nb_dir, [{"notebook": "fixture_report", "per_branch": True}],
                          languages=["en", "zh"])
    jobs = expand(load_schedule(path), data="synthetic", as_of="2024-06-30", branches=["North"])
    assert [j.name for j in jobs] == ["fixture_report__bank", "fixture_report__branch-North",
                                      "fixture_report__lang-zh__bank",
                                      "fixture_report__lang-zh__branch-North"]
    assert "lang" not in jobs[0].parameters and jobs[3].parameters["lang"] == "zh"
    only_en = expand(load_schedule(path), data="synthetic", branches=["North"], languages=["en"])
    assert [j.name for j in only_en] == ["fixture_report__bank", "fixture_report__branch-North"]


def test_a_notebook_without_lang_cannot_be_rendered_in_chinese(tmp_path, nb_dir):
    path = write_schedule(tmp_path, nb_dir, [{"notebook": "fixture_report"}], languages=["zh"])
    with pytest.raises(ScheduleError, match="lang"):
        expand(load_schedule(path), data="synthetic")
    bad = write_schedule(tmp_path, nb_dir, [{"notebook": "fixture_report"}], languages=["fr"])
    with pytest.raises(ScheduleError, match="unknown language 'fr'"):
        load_schedule(bad)


def _job(notebook, branch=None, lang=None, **params):
    from analysis.report.schedule import Job

    p = {"data": "synthetic", "as_of": "2025-12-01", "branch": branch, **params}
    if lang:
        p["lang"] = lang
    return Job(name=job_name(notebook, p, {"attrition": "closure"}), notebook=notebook,
               path=Path(notebook), parameters=p)


def test_navigation_links_a_scopes_reports_and_the_other_language():
    from analysis.report.schedule import navigation

    jobs = [_job("01_attrition_overview", attrition="closure"),
            _job("01_attrition_overview", branch="North", attrition="closure"),
            _job("01_attrition_overview", attrition="value"),
            _job("02_product_retention_effect"), _job("02_product_retention_effect", "North"),
            _job("01_attrition_overview", "North", "zh", attrition="closure"),
            _job("02_product_retention_effect", "North", "zh")]
    nav = navigation(jobs)
    north = nav["01_attrition_overview__branch-North"]
    assert [(x["kind"], x["href"], x["current"]) for x in north] == [
        ("report", "01_attrition_overview__branch-North.html", True),
        ("report", "02_product_retention_effect__branch-North.html", False),
        ("language", "01_attrition_overview__lang-zh__branch-North.html", False)]
    # the value-attrition variant links to the reports that share its parameters only
    value = nav["01_attrition_overview__attrition-value__bank"]
    assert [x["href"] for x in value] == ["01_attrition_overview__attrition-value__bank.html",
                                          "02_product_retention_effect__bank.html"]
    zh = nav["02_product_retention_effect__lang-zh__branch-North"]
    assert [x["lang"] for x in zh] == ["zh", "zh", "en"]


def test_the_report_header_carries_the_navigation():
    from analysis.report.html import header_html

    links = [{"kind": "report", "notebook": "01_attrition_overview", "lang": "zh",
              "href": "a.html", "current": True},
             {"kind": "report", "notebook": "02_product_retention_effect", "lang": "zh",
              "href": "b <x>.html", "current": False},
             {"kind": "language", "notebook": "01_attrition_overview", "lang": "en",
              "href": "c.html", "current": False}]
    page = header_html("T", {}, "zh", links)
    assert '<a href="../index.zh.html">&larr; 全部报告</a>' in page
    assert "<strong>流失概览</strong>" in page and '<a href="b%20%3Cx%3E.html">产品效应</a>' in page
    assert '<a href="c.html" hreflang="en">English</a>' in page
