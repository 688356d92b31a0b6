"""End to end: papermill runs of the fixture notebook, HTML, headline JSON, manifest, index.

One real render (three reports, two at a time, one failing on purpose) is shared by the module;
the data layer is replaced by a fake module so these tests do not depend on it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

import analysis

from analysis.report import atomic_write_text
from analysis.report.headline import extract
from analysis.report.html import find_external_urls

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
AS_OF = "2024-06-30"  # the fake data's window end
FINGERPRINT = "fake1234"


DATA_PACKAGE = str(Path(analysis.__file__).parent / "data")


def fake_data_module(branches=("North", "South"), fingerprint=FINGERPRINT):
    mod = types.ModuleType("analysis.data")
    mod.__path__ = [DATA_PACKAGE]  # its submodules (the YAML loader...) are the real ones
    mod.calls = []
    mod.list_branches = lambda data: mod.calls.append(("list_branches", data)) or list(branches)
    mod.ensure_default_data = lambda: mod.calls.append(("ensure_default_data",)) or Path("/nonexistent")
    mod.load_source = lambda data="synthetic": mod.calls.append(("load_source", data)) or types.SimpleNamespace(
        branches=list(branches), fingerprint=fingerprint, window_end=dt.datetime(2024, 6, 30), source=str(data)
    )
    return mod


@pytest.fixture
def fake_data(monkeypatch):
    mod = fake_data_module()
    monkeypatch.setitem(sys.modules, "analysis.data", mod)
    return mod


def write_schedule(path: Path, parameters=None) -> Path:
    entry = {"notebook": "fixture_report", "parameters": parameters or {"fail_branch": "South"}, "per_branch": True}
    path.write_text(yaml.safe_dump({"notebooks_dir": str(FIXTURES), "reports": [entry]}))
    return path


NAMES = [
    "fixture_report__fail_branch-South__bank",
    "fixture_report__fail_branch-South__branch-North",
    "fixture_report__fail_branch-South__branch-South",
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from analysis.report.runner import render

    tmp = tmp_path_factory.mktemp("render")
    with pytest.MonkeyPatch.context() as mp:
        mod = fake_data_module()
        mp.setitem(sys.modules, "analysis.data", mod)
        # A headless caller (cron, make) may set Agg: figures must still reach the report.
        mp.setenv("MPLBACKEND", "Agg")
        result = render(write_schedule(tmp / "schedule.yml"), out_dir=tmp / "reports", jobs=2, progress=False)
    return result, tmp / "reports", mod


def test_result_records_every_report_and_the_failure(rendered):
    result, root, mod = rendered
    assert result.as_of == AS_OF  # default: the data's window end
    assert ("ensure_default_data",) in mod.calls and ("load_source", "synthetic") in mod.calls
    assert [r.name for r in result.reports] == NAMES
    assert [r.status for r in result.reports] == ["ok", "ok", "failed"]
    assert not result.ok and [r.name for r in result.failed] == NAMES[2:]
    failed = result.failed[0]
    assert failed.error["type"] == "RuntimeError"
    assert failed.error["message"] == "planted failure for branch South"
    assert "raise RuntimeError" in failed.error["traceback"]
    assert "\x1b[" not in failed.error["traceback"]  # ANSI colours stripped
    assert "FAILED  " + NAMES[2] in result.summary()
    assert all(r.seconds > 0 for r in result.reports)


def test_files_written_for_good_reports_only(rendered):
    result, root, _ = rendered
    folder = root / AS_OF
    assert result.out_dir == folder
    for name in NAMES[:2]:
        for ext in ("ipynb", "html", "json"):
            assert (folder / f"{name}.{ext}").is_file(), (name, ext)
    # the failed notebook is kept (executed up to the error) for debugging; no HTML/JSON
    assert (folder / f"{NAMES[2]}.ipynb").is_file()
    assert not (folder / f"{NAMES[2]}.html").exists() and not (folder / f"{NAMES[2]}.json").exists()
    failed_nb = nbformat.read(folder / f"{NAMES[2]}.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in failed_nb.cells if c.cell_type == "code" for o in c.outputs)


def test_no_temporary_files_left(rendered):
    _, root, _ = rendered
    leftovers = [p.name for p in root.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]
    assert leftovers == [".render.lock"]  # the lock file stays (never stale: flock), blank
    assert (root / ".render.lock").read_text() == ""


def test_html_is_offline_codeless_and_has_the_figure(rendered):
    result, root, _ = rendered
    page = (root / AS_OF / f"{NAMES[1]}.html").read_text(encoding="utf-8")
    assert "CODE_ONLY_MARKER" not in page and "from analysis.report.headline" not in page
    assert "fail_branch = None" not in page  # parameters cell
    assert "VISIBLE_OUTPUT: 3 horizons for North" in page
    assert "STDERR_MARKER" not in page
    assert re.search(r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/=]{200,}', page)
    assert find_external_urls(page) == []
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "application/vnd.analysis.headline" not in page and "horizon_sum" not in page
    header = page[page.index('<header class="report-header">') : page.index("</header>")]
    assert NAMES[1] in header and AS_OF in header and FINGERPRINT in header
    assert "<code>branch=North</code>" in header and result.code_version in header


def test_headline_json_matches_the_notebook(rendered):
    _, root, _ = rendered
    folder = root / AS_OF
    text = (folder / f"{NAMES[1]}.json").read_text(encoding="utf-8")
    assert "NaN" not in text and '"48": null' in text
    headline = json.loads(text)
    # computed in the notebook from its parameters; second publish() merged into the first
    assert headline == {
        "scope": "NORTH",
        "as_of": AS_OF,
        "attrition": "closure",
        "retention": {"12": 0.88, "24": 0.76, "36": 0.64, "48": None},
        "n_horizons": 3,
        "horizon_sum": 72,
    }
    assert headline == extract(folder / f"{NAMES[1]}.ipynb")
    assert json.loads((folder / f"{NAMES[0]}.json").read_text())["scope"] == "BANK"


def test_executed_notebook_got_the_parameters(rendered):
    _, root, _ = rendered
    nb = nbformat.read(root / AS_OF / f"{NAMES[1]}.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters == {
        "fail_branch": "South",
        "data": "synthetic",
        "as_of": AS_OF,
        "branch": "North",
    }
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "branch = \"North\"" in injected[0].source
    # no absolute path: papermill's own paths become the notebook's place in the project and
    # the published name
    assert nb.metadata.papermill.input_path == "tests/fixtures/notebooks/fixture_report.ipynb"
    assert nb.metadata.papermill.output_path == f"{NAMES[1]}.ipynb"
    text = (root / AS_OF / f"{NAMES[1]}.ipynb").read_text(encoding="utf-8")
    assert str(root) not in text and str(FIXTURES.parents[2]) not in text


def test_manifest(rendered):
    result, root, _ = rendered
    manifest = json.loads((root / AS_OF / "manifest.json").read_text())
    assert result.manifest_path == root / AS_OF / "manifest.json"
    assert manifest["as_of"] == AS_OF and manifest["data_fingerprint"] == FINGERPRINT
    reports = {r["name"]: r for r in manifest["reports"]}
    assert list(reports) == NAMES
    assert manifest["data"] == "synthetic" and manifest["format"] == 2
    [run] = manifest["runs"]
    assert run["id"] == result.run_id and run["status"] == "finished" and run["pid"] > 0
    assert (run["reports"], run["published"], run["failed"]) == (3, 2, 1)
    assert dt.datetime.fromisoformat(run["started"]) <= dt.datetime.fromisoformat(run["finished"])
    for name in NAMES[:2]:
        r = reports[name]
        assert r["status"] == "ok" and r["error"] is None and r["run"] == result.run_id
        assert r["notebook"] == "fixture_report"
        assert (r["html"], r["json"], r["ipynb"]) == (f"{name}.html", f"{name}.json", f"{name}.ipynb")
        for key in ("html", "json", "ipynb"):
            data = (root / AS_OF / r[key]).read_bytes()
            assert r["files"][key] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        assert r["data_fingerprint"] == FINGERPRINT
        assert re.fullmatch(r"\d+\.\d+\.\d+ \(git .+\)", r["code_version"])
        assert dt.datetime.fromisoformat(r["started"]) <= dt.datetime.fromisoformat(r["finished"])
        assert r["seconds"] > 0
    bad = reports[NAMES[2]]
    assert bad["status"] == "failed" and bad["html"] is None and bad["json"] is None
    assert list(bad["files"]) == ["ipynb"]  # the notebook up to the failing cell
    assert bad["error"]["type"] == "RuntimeError" and "planted failure" in bad["error"]["message"]
    assert bad["parameters"]["branch"] == "South"


def test_index_links_every_report_and_marks_the_failure(rendered):
    result, root, _ = rendered
    assert result.index_path == root / "index.html"
    page = result.index_path.read_text(encoding="utf-8")
    assert find_external_urls(page, allow_links=False) == []
    hrefs = re.findall(r'href="([^"]+)"', page)
    for name in NAMES[:2]:
        assert f"{AS_OF}/{name}.html" in hrefs
    assert all((root / h).is_file() for h in hrefs)  # relative links that resolve
    failed_row = re.search(rf'<tr class="failed">.*?{re.escape(NAMES[2])}.*?</tr>', page, re.S).group(0)
    assert "FAILED" in failed_row and "planted failure for branch South" in failed_row
    assert f"{NAMES[2]}.html" not in page
    assert FINGERPRINT in page and result.code_version in page


def test_kernel_is_this_environment():
    from analysis.report.runner import _kernel_manager_class

    km = _kernel_manager_class()(kernel_name="python3")
    assert km.kernel_spec.argv[0] == sys.executable
    assert km.kernel_spec.language == "python"


def test_misspelled_parameter_fails_before_running(tmp_path, fake_data, monkeypatch):
    import analysis.report.runner as runner
    from analysis.report.schedule import ScheduleError

    monkeypatch.setattr(runner, "run_job", lambda *a, **k: pytest.fail("must not run"))
    schedule = write_schedule(tmp_path / "s.yml", parameters={"horizon": [12]})
    with pytest.raises(ScheduleError, match=r"'horizon' \(did you mean 'horizons'\?\).*parameters are: data, branch"):
        runner.render(schedule, out_dir=tmp_path / "reports", progress=False)
    assert not (tmp_path / "reports").exists()


def fake_execute(fail=(), fingerprint_note="", ename="ValueError", evalue="boom"):
    """Stand-in for the papermill run (``runner._execute``): writes a small executed notebook
    where papermill would, with a headline; reports of a branch in ``fail`` raise like papermill."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    from papermill.exceptions import PapermillExecutionError

    from analysis.report.headline import MIME_TYPE

    def execute(job, output_path, *, cwd, cell_timeout, pool=None):
        branch = job.parameters.get("branch")
        outputs = [
            new_output("display_data", data={MIME_TYPE: {"scope": branch or "bank", "note": fingerprint_note}}),
            new_output("stream", name="stdout", text=f"VISIBLE {branch or 'bank'}\n"),
        ]
        nb = new_notebook(cells=[new_markdown_cell("# Fake report"), new_code_cell("x = 1", outputs=outputs)])
        nb.metadata["papermill"] = {
            "parameters": dict(job.parameters), "input_path": str(job.path), "output_path": str(output_path),
        }
        if branch in fail:
            tb = [f"{ename}: {evalue}"]
            nb.cells.append(new_code_cell("raise", outputs=[new_output("error", ename=ename, evalue=evalue, traceback=tb)]))
            nbformat.write(nb, output_path)
            raise PapermillExecutionError(2, 2, "raise", ename, evalue, tb)
        nbformat.write(nb, output_path)
        return nb

    return execute


def test_rerun_merges_the_manifest(tmp_path, fake_data, monkeypatch):
    import analysis.report.runner as runner

    monkeypatch.setattr(runner, "_execute", fake_execute(fail={"South"}))
    schedule = write_schedule(tmp_path / "s.yml")
    first = runner.render(schedule, out_dir=tmp_path / "r", as_of="2024-05-31", progress=False)
    assert [r.status for r in first.reports] == ["ok", "ok", "failed"]
    monkeypatch.setattr(runner, "_execute", fake_execute())
    second = runner.render(
        schedule, out_dir=tmp_path / "r", as_of="2024-05-31", notebooks=[NAMES[2]], progress=False
    )
    assert second.ok and [r.name for r in second.reports] == [NAMES[2]]
    manifest = json.loads((tmp_path / "r" / "2024-05-31" / "manifest.json").read_text())
    assert [r["name"] for r in manifest["reports"]] == [NAMES[2], *NAMES[:2]]  # this run's first
    assert all(r["status"] == "ok" for r in manifest["reports"])
    assert [r["status"] for r in manifest["runs"]] == ["finished", "finished"]  # newest first
    assert manifest["runs"][0]["id"] == second.run_id
    runs = {r["name"]: r["run"] for r in manifest["reports"]}
    assert runs == {NAMES[2]: second.run_id, NAMES[0]: first.run_id, NAMES[1]: first.run_id}
    page = (tmp_path / "r" / "index.html").read_text()
    assert page.count("from an earlier run") == 2


def test_render_rejects_bad_arguments(tmp_path, fake_data):
    from analysis.report.runner import render, resolve_as_of

    schedule = write_schedule(tmp_path / "s.yml")
    with pytest.raises(ValueError, match="ISO date"):
        render(schedule, as_of="30/06/2024", out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        render(schedule, jobs=0, out_dir=tmp_path, progress=False)
    assert resolve_as_of(dt.datetime(2024, 6, 30, 12)) == "2024-06-30"
    assert resolve_as_of("2024-06-30T00:00:00") == "2024-06-30"


def test_atomic_write_leaves_no_temp_file_on_failure(tmp_path):
    target = tmp_path / "out.html"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_text(target, 123)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.html"]
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.html"]


def test_parallel_renders_share_the_cores_between_kernels(monkeypatch):
    import os

    from analysis.report import runner

    for var in runner.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    runner._share_cores(1)
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # one kernel: its libraries decide
    runner._share_cores(2)
    assert all(os.environ[v] == "1" for v in runner.THREAD_VARS)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    runner._share_cores(2)
    assert os.environ["OMP_NUM_THREADS"] == "4"  # the user's choice is kept


def _run_code(km, code: str) -> str:
    """Run ``code`` in the kernel of ``km``; its printed output."""
    from jupyter_client.utils import run_sync

    out: list[str] = []
    kc = km.client()
    kc.start_channels()
    try:
        run_sync(kc.wait_for_ready)(timeout=60)
        run_sync(kc.execute_interactive)(
            code, timeout=60,
            output_hook=lambda m: out.append(m["content"].get("text", ""))
            if m["msg_type"] == "stream" else None)
    finally:
        kc.stop_channels()
    return "".join(out)


def test_a_reused_kernel_starts_each_report_with_an_empty_namespace(tmp_path):
    """The pool reuses a worker's kernel (modules stay imported) but no variable of one report
    reaches the next; a discarded kernel (after a failure) is replaced by a new process."""
    from analysis.report.runner import KernelPool

    pool = KernelPool()
    try:
        km = pool.get(tmp_path)
        _run_code(km, "import json\nleaked = 'customer 42'")
        again = pool.get(tmp_path)
        assert again is km
        seen = _run_code(again, "import sys\nprint('leaked' in globals(), 'json' in sys.modules)")
        assert seen.split() == ["False", "True"]
        pool.discard()
        fresh = pool.get(tmp_path)
        assert fresh is not km
        assert _run_code(fresh, "import sys\nprint('json' in sys.modules)").strip() in ("True", "False")
    finally:
        pool.close()
