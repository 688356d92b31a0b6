"""Hostile and careless runs (issue 9): run state, file names, paths, ``--out``.

The catalogue: each case states the promised behaviour or message, and the test checks exactly
that.

| case | what is done | what is promised |
|---|---|---|
| out-file | ``--out`` names a file (render, index, synth) | ``analysis: error: --out X: is a file, not a folder``, exit 2, no traceback |
| out-under-file | ``--out`` lies below a file | ``--out X/r: X is a file, not a folder``, exit 2 |
| out-unwritable | ``--out`` cannot be written | ``--out X: folder is not writable``, exit 2 |
| index-missing | ``analysis index --out`` a missing folder | ``--out X: no such folder``, exit 2 (nothing created) |
| wait-negative | ``--wait -1`` | argparse: ``expected a number of seconds >= 0``, exit 2 |
| busy | a second render while one holds ``--out`` | waits ``--wait`` s, then ``another render is writing to X (pid P, started T, run R); waited 0.3 s (use --wait SECONDS to wait longer)``, exit 3 |
| busy-then-free | the other render ends within ``--wait`` | this one runs |
| index-busy | ``analysis index`` while a render runs | ``a render is writing to X (pid P, ...); it rebuilds X/index.html itself after every report``, exit 0, the page left to the render |
| full-disk | writing a staged file fails (ENOSPC) | that report FAILED with the OS message; the previous files untouched, still listed (``kept_previous``); the others published |
| silent-truncation | a staged file reads back empty, or half of it | ``<name>.html: empty file (0 bytes); not published`` / ``...: truncated page (no closing </html>)...``; previous files kept |
| invalid-output | a notebook, JSON or page that does not parse | ``r.ipynb: not a valid notebook (NotJSONError); not published`` and the like |
| publish-oserror | moving one report's file fails (EACCES) | that report FAILED (``publishing failed: ...``), listed without files; the run goes on, no exception |
| long-branch | a 300-character branch name (ASCII, and Chinese) | renders as ``..__branch-<80 bytes>-<8 hex>``; every other report there too |
| clashing-branches | ``Nord/Ost`` and ``Nord Ost``; ``north`` and ``North`` | distinct names ending in ``-<8 hex>``, the same for either branch order; all published |
| paths | data in a folder outside the working directory | manifest, index, header, executed notebook and error messages name it ``book``; no absolute path anywhere under ``--out``; the kernel still reads the data |
| stale-files | temporary files and staging leftovers of a killed run | removed when the next render starts (links in staging not followed) |
| interrupted | a run left ``running`` (killed) | ``analysis index`` marks it ``interrupted`` and the index says INTERRUPTED |
| old-manifest | a manifest of the former format (no runs, no checksums) | its entries stay listed as they were; the new runs are added |
| kill-every-step | a re-render on new data killed before each rename it makes | after each: every listed file exists and matches its SHA-256 and fingerprint; the next render recovers |
| kill -9 | ``analysis render`` killed with SIGKILL after a publish and mid-report | the same, then a re-render: no leftovers, all listed, run ``finished`` |
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from test_report_runner import FIXTURES, fake_data_module, fake_execute

import analysis.report.publish as publish
import analysis.report.runner as runner
from analysis.cli import main
from analysis.report.lock import RenderLock

AS_OF = "2024-06-30"
UNLISTED = ("pending", "publishing", "interrupted")


# --------------------------------------------------------------------------------------------
# helpers


def write_schedule(path: Path, notebooks_dir: Path = FIXTURES, notebook: str = "fixture_report") -> Path:
    entry = {"notebook": notebook, "per_branch": True}
    path.write_text(yaml.safe_dump({"notebooks_dir": str(notebooks_dir), "reports": [entry]}))
    return path


def use_data(monkeypatch, branches=("North",), fingerprint="fp-v1"):
    mod = fake_data_module(branches=branches, fingerprint=fingerprint)
    monkeypatch.setitem(sys.modules, "analysis.data", mod)
    return mod


def _header_fingerprint(page: str) -> str:
    return re.search(r"<th>Data fingerprint</th><td>([^<]*)</td>", page).group(1)


def assert_consistent(root: Path) -> dict[str, dict]:
    """Every file a manifest or the index lists exists and matches its SHA-256 and fingerprint.

    Returns ``{as_of: manifest}``.
    """
    manifests = {}
    for path in sorted(root.glob("*/manifest.json")):
        folder = path.parent
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifests[folder.name] = manifest
        for e in manifest["reports"]:
            listed = [k for k in ("html", "json", "ipynb") if e.get(k)]
            if e["status"] in UNLISTED:
                assert listed == [] and e["files"] == {}, e
            for kind in listed:
                data = (folder / e[kind]).read_bytes()
                if "files" not in e:  # an entry of the former format: no checksum to compare
                    continue
                assert hashlib.sha256(data).hexdigest() == e["files"][kind]["sha256"], (e["name"], kind)
                if kind == "html":
                    assert _header_fingerprint(data.decode()) == e["data_fingerprint"], e["name"]
                if kind == "ipynb":
                    nbformat.validate(nbformat.reads(data.decode(), as_version=4))
    index = root / "index.html"
    if index.exists():
        page = index.read_text(encoding="utf-8")
        for row in re.findall(r"<tr class=.*?</tr>", page, re.S):
            cells = re.findall(r"<td>(.*?)</td>", row, re.S)
            fingerprint = re.fullmatch(r"<code>(.*)</code>", cells[5]).group(1)
            for href in re.findall(r'href="([^"]+)"', row):
                assert (root / unquote(href)).is_file(), href
            for href, sha in re.findall(r'<a href="([^"]+)" title="SHA-256 ([0-9a-f]{64})"', row):
                data = (root / unquote(href)).read_bytes()
                assert hashlib.sha256(data).hexdigest() == sha, href
                if href.endswith(".html"):
                    assert _header_fingerprint(data.decode()) == fingerprint, href
    return manifests


def no_leftovers(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.name != ".render.lock" and (p.name.startswith(".") or ".tmp" in p.name or ".staging" in p.parts)
    )


def tiny_notebook(folder: Path, name: str = "tiny") -> Path:
    """A report notebook that costs nothing: it sleeps when TINY_PAUSE names its branch
    (``North=20``), raises when TINY_FAIL does, and reports whether it found its data."""
    params = (
        'data = "synthetic"\nbranch = None\nas_of = None\nattrition = "closure"\n'
        "horizons = [12, 24, 36]\nshow_ids = False\n"
    )
    body = (
        "import os, time\nfrom pathlib import Path\nfrom analysis.report.headline import publish\n"
        'def _names(var):\n    return dict(p.split("=", 1) for p in os.environ.get(var, "").split(",") if p)\n'
        'time.sleep(float(_names("TINY_PAUSE").get(str(branch), "0")))\n'
        'found = data == "synthetic" or Path(data).exists()\n'
        'print(f"DATA {data} found={found}")\n'
        'if str(branch) in _names("TINY_FAIL"):\n'
        '    raise FileNotFoundError(f"no {Path(data).resolve() / \'missing.csv\'}")\n'
        '_ = publish({"scope": branch or "bank", "data_found": found})\n'
    )
    nb = new_notebook(cells=[
        new_markdown_cell("# Tiny report"),
        new_code_cell(params, metadata={"tags": ["parameters"]}),
        new_code_cell(body),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


# --------------------------------------------------------------------------------------------
# --out and other command-line misuse


@pytest.mark.parametrize("command", [["render", "--no-progress"], ["index"], ["synth", "--customers", "10"]])
def test_out_is_a_file(tmp_path, capsys, command):
    target = tmp_path / "reports.txt"
    target.write_text("not a folder")
    assert main([*command, "--out", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"analysis: error: --out {target}: is a file, not a folder\n"
    assert captured.out == "" and target.read_text() == "not a folder"


def test_out_below_a_file(tmp_path, capsys):
    target = tmp_path / "reports.txt"
    target.write_text("x")
    assert main(["render", "--no-progress", "--out", str(target / "r")]) == 2
    assert capsys.readouterr().err == f"analysis: error: --out {target / 'r'}: {target} is a file, not a folder\n"


def test_out_not_writable(tmp_path, capsys, monkeypatch):
    import analysis.report.lock as lock

    monkeypatch.setattr(lock.os, "access", lambda path, mode: False)
    assert main(["render", "--no-progress", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"analysis: error: --out {tmp_path}: folder is not writable\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_out_not_writable_for_real(tmp_path, capsys):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["index", "--out", str(locked)]) == 2
        assert capsys.readouterr().err == f"analysis: error: --out {locked}: folder is not writable\n"
    finally:
        locked.chmod(0o755)


def test_index_of_a_missing_folder(tmp_path, capsys):
    assert main(["index", "--out", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"analysis: error: --out {tmp_path / 'nope'}: no such folder\n"
    assert not (tmp_path / "nope").exists()


def test_negative_wait_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["render", "--wait", "-1"])
    assert info.value.code == 2
    assert "argument --wait: expected a number of seconds >= 0, got -1" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# one render per --out


def test_second_render_stops_with_the_holder_named(tmp_path, capsys, monkeypatch):
    use_data(monkeypatch)
    monkeypatch.setattr(runner, "_execute", lambda *a, **k: pytest.fail("must not run"))
    out = tmp_path / "reports"
    out.mkdir()
    holder = {"started": "2024-07-01T06:00:00+00:00", "id": "20240701T060000-4242-abcdef"}
    with RenderLock(out, info=holder):
        t0 = time.monotonic()
        code = main(["render", "--schedule", str(write_schedule(tmp_path / "s.yml")), "--out", str(out),
                     "--no-progress", "--wait", "0.3"])
        waited = time.monotonic() - t0
    assert code == 3 and 0.3 <= waited < 5
    assert capsys.readouterr().err == (
        f"analysis: error: another render is writing to {out} (pid {os.getpid()}, "
        "started 2024-07-01T06:00:00+00:00, run 20240701T060000-4242-abcdef); waited 0.3 s "
        "(use --wait SECONDS to wait longer)\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [".render.lock"]  # nothing touched


def test_index_leaves_the_page_to_a_running_render(tmp_path, capsys):
    with RenderLock(tmp_path, info={"started": "2024-07-01T06:00:00+00:00", "id": "run-9"}):
        assert main(["index", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        f"a render is writing to {tmp_path} (pid {os.getpid()}, started 2024-07-01T06:00:00+00:00, run run-9); "
        f"it rebuilds {tmp_path / 'index.html'} itself after every report\n"
    )
    assert not (tmp_path / "index.html").exists()


def test_second_render_waits_for_the_first(tmp_path, monkeypatch):
    use_data(monkeypatch)
    monkeypatch.setattr(runner, "_execute", fake_execute())
    out = tmp_path / "reports"
    out.mkdir()
    lock = RenderLock(out).acquire()
    threading.Timer(0.5, lock.release).start()
    t0 = time.monotonic()
    result = runner.render(write_schedule(tmp_path / "s.yml"), out_dir=out, progress=False, wait=10)
    assert result.ok and time.monotonic() - t0 >= 0.5
    assert_consistent(out)


# --------------------------------------------------------------------------------------------
# never replace a good file by a bad one


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A reports folder with two good reports (v1), and the data switched to v2."""
    use_data(monkeypatch, fingerprint="fp-v1")
    monkeypatch.setattr(runner, "_execute", fake_execute())
    out = tmp_path / "reports"
    first = runner.render(write_schedule(tmp_path / "s.yml"), out_dir=out, progress=False)
    assert first.ok
    use_data(monkeypatch, fingerprint="fp-v2")
    before = {p.name: p.read_bytes() for p in (out / AS_OF).iterdir()}
    return out, tmp_path / "s.yml", before


def _fail_writes(monkeypatch, name: str, kind: str, how: str) -> None:
    real = publish._write_bytes

    def write(path, data):
        if path.name == f"{name}.{kind}":
            if how == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            data = b"" if how == "empty" else data[: len(data) // 2]  # lost without an error
        real(path, data)

    monkeypatch.setattr(publish, "_write_bytes", write)


@pytest.mark.parametrize("how, message", [
    ("enospc", "[Errno 28] No space left on device: 'fixture_report__bank.html'"),
    ("empty", "fixture_report__bank.html: empty file (0 bytes); not published"),
    ("half", "fixture_report__bank.html: truncated page (no closing </html>); not published"),
])
def test_a_failed_write_keeps_the_previous_report(published, monkeypatch, how, message):
    out, schedule, before = published
    _fail_writes(monkeypatch, "fixture_report__bank", "html", how)
    result = runner.render(schedule, out_dir=out, progress=False)
    bank, north = result.reports
    assert (bank.status, north.status) == ("failed", "ok")
    assert bank.kept_previous and bank.error["message"] == message
    folder = out / AS_OF
    for kind in ("html", "json", "ipynb"):  # byte for byte the v1 report, still listed
        assert (folder / f"fixture_report__bank.{kind}").read_bytes() == before[f"fixture_report__bank.{kind}"]
    manifests = assert_consistent(out)
    entries = {e["name"]: e for e in manifests[AS_OF]["reports"]}
    assert entries["fixture_report__bank"]["data_fingerprint"] == "fp-v1"
    assert entries["fixture_report__bank"]["kept_previous"] is True
    assert entries["fixture_report__branch-North"]["data_fingerprint"] == "fp-v2"
    page = (out / "index.html").read_text()
    assert "the files listed are the previous report's (this attempt published nothing)" in page
    assert no_leftovers(out) == []


@pytest.mark.parametrize("kind, data, message", [
    ("ipynb", b'{"cells": [', "r.ipynb: not a valid notebook (NotJSONError); not published"),
    ("ipynb", b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "bogus"}]}',
     "r.ipynb: not a valid notebook (ValidationError); not published"),
    ("json", b"[1]", "r.json: expected a JSON object, got list; not published"),
    ("json", b'{"a": ', "r.json: not valid JSON (Expecting value, line 1); not published"),
    ("html", b"\xff<html></html>", "r.html: not UTF-8 (invalid start byte at byte 0); not published"),
    ("html", b"  \n", "r.html: empty file (3 bytes); not published"),
])
def test_what_is_not_published(kind, data, message):
    with pytest.raises(publish.InvalidOutput) as info:
        publish.validate_output(kind, data, name="r")
    assert str(info.value) == message


def test_an_oserror_in_one_report_is_that_reports_failure(published, monkeypatch):
    out, schedule, _ = published
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("fixture_report__bank.json"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    result = runner.render(schedule, out_dir=out, progress=False)  # does not raise
    bank, north = result.reports
    assert north.ok and bank.status == "failed" and not bank.kept_previous
    assert bank.error["type"] == "PermissionError"
    assert bank.error["message"].startswith("publishing failed: [Errno 13] Permission denied: ")
    assert "FAILED  fixture_report__bank" in result.summary()
    manifests = assert_consistent(out)
    entry = next(e for e in manifests[AS_OF]["reports"] if e["name"] == "fixture_report__bank")
    assert entry["status"] == "failed" and entry["files"] == {} and entry["html"] is None
    assert manifests[AS_OF]["runs"][0]["status"] == "finished"


# --------------------------------------------------------------------------------------------
# file names


def test_a_300_character_branch_renders_and_nothing_is_lost(tmp_path, monkeypatch):
    """Real papermill runs: the file names are bounded, every report is published."""
    ascii_name, chinese_name = "Branch " + "x" * 293, "北京分行" * 75
    use_data(monkeypatch, branches=(ascii_name, chinese_name))
    out = tmp_path / "reports"
    result = runner.render(write_schedule(tmp_path / "s.yml"), out_dir=out, jobs=2, progress=False)
    assert result.ok, result.summary()
    names = [r.name for r in result.reports]
    assert names[0] == "fixture_report__bank"
    assert re.fullmatch(r"fixture_report__branch-Branch-x{73}-[0-9a-f]{8}", names[1])
    assert re.fullmatch(r"fixture_report__branch-(北京分行){6}北京-[0-9a-f]{8}", names[2])
    for name in names:
        assert len(f"{name}.ipynb".encode()) <= 255 - 20
        assert (out / AS_OF / f"{name}.html").is_file()
    headline = json.loads((out / AS_OF / f"{names[2]}.json").read_text(encoding="utf-8"))
    assert headline["scope"] == chinese_name.upper()  # the notebook got the whole name
    assert len(assert_consistent(out)[AS_OF]["reports"]) == 3


def test_branches_that_clash_get_distinct_names(tmp_path, monkeypatch):
    use_data(monkeypatch)
    monkeypatch.setattr(runner, "_execute", fake_execute())
    schedule = write_schedule(tmp_path / "s.yml")
    branches = ["Nord/Ost", "Nord Ost", "north", "North", "South"]
    first = runner.render(schedule, out_dir=tmp_path / "a", progress=False, branches=branches)
    again = runner.render(schedule, out_dir=tmp_path / "b", progress=False, branches=branches[::-1])
    assert first.ok and again.ok
    names = {r.parameters["branch"]: r.name for r in first.reports}
    assert names == {r.parameters["branch"]: r.name for r in again.reports}  # order does not matter
    assert names[None] == "fixture_report__bank" and names["South"] == "fixture_report__branch-South"
    for branch in ("Nord/Ost", "Nord Ost"):
        assert re.fullmatch(r"fixture_report__branch-Nord-Ost-[0-9a-f]{8}", names[branch])
    for branch in ("north", "North"):
        assert re.fullmatch(rf"fixture_report__branch-{branch}-[0-9a-f]{{8}}", names[branch])
    assert len({n.casefold() for n in names.values()}) == 6
    assert len(assert_consistent(tmp_path / "a")[AS_OF]["reports"]) == 6


# --------------------------------------------------------------------------------------------
# no absolute paths


def test_no_absolute_path_reaches_any_output(tmp_path, monkeypatch):
    """Real papermill runs on data in a folder outside the working directory."""
    book = tmp_path / "exports" / "book"
    book.mkdir(parents=True)
    (book / "customers.parquet").write_bytes(b"x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    mod = use_data(monkeypatch)
    monkeypatch.setenv("TINY_FAIL", "North=1")
    tiny_notebook(tmp_path / "nb")
    out = tmp_path / "reports"
    result = runner.render(write_schedule(tmp_path / "s.yml", tmp_path / "nb", "tiny"), data=book, out_dir=out,
                           progress=False)
    assert ("load_source", str(book)) in mod.calls  # the runner itself reads the real path
    bank, north = result.reports
    assert bank.ok and result.data == "book"
    # the kernel found the data under the name it was given
    assert json.loads((out / AS_OF / "tiny__bank.json").read_text()) == {"scope": "bank", "data_found": True}
    nb = nbformat.read(out / AS_OF / "tiny__bank.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters["data"] == "book"
    assert nb.metadata.papermill.output_path == "tiny__bank.ipynb"
    printed = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert "DATA book found=True\n" in printed
    page = (out / AS_OF / "tiny__bank.html").read_text()
    assert "<tr><th>Data</th><td>book</td></tr>" in page
    # a traceback naming the data's real path shows it relative to the data
    assert north.status == "failed" and north.error["message"] == "no book/missing.csv"
    manifest = json.loads((out / AS_OF / "manifest.json").read_text())
    assert manifest["data"] == "book" and manifest["runs"][0]["data"] == "book"
    assert {e["parameters"]["data"] for e in manifest["reports"]} == {"book"}
    assert manifest["schedule"] == "s.yml"
    leaks = [str(tmp_path), str(Path.home()), os.path.realpath(tmp_path)]
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not [leak for leak in leaks if leak in text], path


# --------------------------------------------------------------------------------------------
# recovery


def test_stale_files_are_removed_on_start(tmp_path, monkeypatch):
    use_data(monkeypatch)
    monkeypatch.setattr(runner, "_execute", fake_execute())
    out = tmp_path / "reports"
    (out / AS_OF).mkdir(parents=True)
    stale = [
        out / AS_OF / ".fixture_report__bank.0123456789ab.tmp.ipynb",  # the former runner's papermill file
        out / AS_OF / ".manifest.json.0123456789ab.tmp",
        out / ".index.html.0123456789ab.tmp",
        out / ".staging" / "20240101T000000-1-abcdef" / "fixture_report__bank.run.ipynb",
    ]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("data")
    (out / ".staging" / "20240101T000000-1-abcdef" / "kernel").mkdir()
    (out / ".staging" / "20240101T000000-1-abcdef" / "kernel" / "book").symlink_to(precious)
    result = runner.render(write_schedule(tmp_path / "s.yml"), out_dir=out, progress=False)
    assert result.ok
    assert no_leftovers(out) == [] and not any(p.exists() for p in stale)
    assert (precious / "keep.txt").read_text() == "data"  # the link was removed, not followed


def test_index_marks_a_killed_run_interrupted(tmp_path, capsys):
    folder = tmp_path / AS_OF
    folder.mkdir()
    (folder / "r1.html").write_text("<html></html>")
    manifest = {
        "format": 2, "as_of": AS_OF, "data": "synthetic",
        "runs": [{"id": "run-1", "pid": 999999, "started": "2024-07-01T06:00:00+00:00", "status": "running",
                  "reports": 2, "published": 0, "failed": 0}],
        "reports": [
            {"name": "r1", "status": "publishing", "run": "run-1", "files": {}, "html": None},
            {"name": "r2", "status": "pending", "run": "run-1", "files": {}},
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["index", "--out", str(tmp_path)]) == 0
    saved = json.loads((folder / "manifest.json").read_text())
    assert saved["runs"][0]["status"] == "interrupted"
    assert [e["status"] for e in saved["reports"]] == ["interrupted", "interrupted"]
    assert saved["reports"][0]["error"]["message"] == (
        "the render (run run-1, pid 999999) stopped before this report was published"
    )
    assert not (folder / "r1.html").exists()  # half published: not trustworthy, not listed
    page = (tmp_path / "index.html").read_text()
    assert "was INTERRUPTED: 0 published, 0 failed of 2." in page
    assert page.count('<span class="status-failed">INTERRUPTED</span>') == 2


def test_a_manifest_of_the_former_format_is_carried_over(tmp_path, monkeypatch):
    use_data(monkeypatch)
    monkeypatch.setattr(runner, "_execute", fake_execute())
    folder = tmp_path / AS_OF
    folder.mkdir()
    (folder / "old_report__bank.html").write_text("<html></html>")
    old = {"as_of": AS_OF, "data": "/home/someone/book", "reports": [
        {"name": "old_report__bank", "status": "ok", "html": "old_report__bank.html", "data_fingerprint": "fp0"}]}
    (folder / "manifest.json").write_text(json.dumps(old))
    result = runner.render(write_schedule(tmp_path / "s.yml"), out_dir=tmp_path, progress=False)
    assert result.ok
    manifest = assert_consistent(tmp_path)[AS_OF]
    assert manifest["format"] == 2 and manifest["data"] == "synthetic"
    assert [e["name"] for e in manifest["reports"]] == [
        "fixture_report__bank", "fixture_report__branch-North", "old_report__bank"]
    assert manifest["reports"][2] == old["reports"][0]  # untouched, still listed
    assert 'href="2024-06-30/old_report__bank.html"' in (tmp_path / "index.html").read_text()


class Killed(BaseException):
    """Stands for SIGKILL: no handler runs, no later write happens."""


def cheap_html(nb, *, info, **kwargs):
    """A valid offline page with the header row the checks read (nbconvert is tested elsewhere)."""
    from analysis.report.html import CSP_META

    return (f"<!DOCTYPE html><html><head>{CSP_META}</head><body><table><tr><th>Data fingerprint</th>"
            f"<td>{info['Data fingerprint']}</td></tr></table></body></html>\n")


def test_kill_before_every_rename_leaves_a_consistent_folder(published, monkeypatch):
    import analysis.report.html

    out0, schedule, _ = published
    monkeypatch.setattr(analysis.report.html, "notebook_to_html", cheap_html)
    real = os.replace
    calls = []
    monkeypatch.setattr(os, "replace", lambda a, b: calls.append(b) or real(a, b))
    count_dir = out0.parent / "count"
    shutil.copytree(out0, count_dir)
    runner.render(schedule, out_dir=count_dir, progress=False)
    total = len(calls)
    # begin 2; per report: delist 2, three files, list 2; finish 2; each of the 6 index
    # writes among them renames two pages (index.html, index.zh.html)
    assert total == 24
    for k in range(total):
        out = out0.parent / f"kill{k}"
        shutil.copytree(out0, out)
        dead = []

        def replace(a, b, k=k, dead=dead):
            if len(dead) >= k:
                dead.append(b)
                raise Killed
            dead.append(b)
            real(a, b)

        monkeypatch.setattr(os, "replace", replace)
        with pytest.raises(Killed):
            runner.render(schedule, out_dir=out, progress=False)
        monkeypatch.setattr(os, "replace", real)
        manifests = assert_consistent(out)
        killed_run, state = (manifests[AS_OF]["runs"][0][key] for key in ("id", "status"))
        recovered = runner.render(schedule, out_dir=out, progress=False, wait=0)
        assert recovered.ok, (k, recovered.summary())
        manifests = assert_consistent(out)
        runs = {r["id"]: r["status"] for r in manifests[AS_OF]["runs"]}
        assert runs[recovered.run_id] == "finished"
        if killed_run != manifests[AS_OF]["runs"][-1]["id"]:  # the killed run had been recorded
            assert runs[killed_run] == {"running": "interrupted", "finished": "finished"}[state], k
        assert {e["data_fingerprint"] for e in manifests[AS_OF]["reports"]} == {"fp-v2"}
        assert no_leftovers(out) == [], k


# --------------------------------------------------------------------------------------------
# kill -9 of `analysis render`


def _render_cmd(tmp_path: Path, book: Path, out: Path, jobs: int = 1) -> list[str]:
    schedule = write_schedule(tmp_path / "s.yml", tmp_path / "nb", "tiny")
    return [
        sys.executable, "-m", "analysis.cli", "render", "--schedule", str(schedule), "--data", str(book),
        "--out", str(out), "--no-progress", "--wait", "0", "--jobs", str(jobs),
        "--notebook", "tiny__bank", "tiny__branch-Central",
    ]


def _kill_when(cmd: list[str], ready, env: dict[str, str], timeout: float = 45.0) -> None:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the render never reached the kill point"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _entries(out: Path) -> dict[str, dict]:
    entries = {}
    for path in out.glob("*/manifest.json"):  # written atomically: whole or absent
        entries.update({e["name"]: e for e in json.loads(path.read_text())["reports"]})
    return entries


def test_kill_9_during_render_then_recover(tmp_path):
    from analysis.data import generate_portfolio, write_portfolio

    books = {}
    for version, seed in (("v1", 1), ("v2", 2)):
        books[version] = tmp_path / f"book-{version}"
        write_portfolio(generate_portfolio(n_customers=300, months=12, seed=seed), books[version])
    tiny_notebook(tmp_path / "nb")
    out = tmp_path / "reports"
    env = {**os.environ, "TINY_PAUSE": "Central=20"}  # the second report takes its time
    staging = out / ".staging"

    # 1. killed right after its first report is published
    _kill_when(_render_cmd(tmp_path, books["v1"], out),
               lambda: any(e["status"] == "ok" for e in _entries(out).values()), env)
    [(as_of, manifest)] = assert_consistent(out).items()
    assert manifest["runs"][0]["status"] == "running"
    assert [e["status"] for e in manifest["reports"]] == ["ok", "pending"]
    assert "Run in progress" in (out / "index.html").read_text()
    fp1 = manifest["data_fingerprint"]

    # 2. a render on new data (it recovers the first run), killed in the middle of its second report
    first_run = {p.name for p in staging.iterdir()}  # the first run's leftovers (Central started)
    _kill_when(_render_cmd(tmp_path, books["v2"], out),
               lambda: any(p.parent.name not in first_run for p in staging.glob("*/tiny__branch-Central.run.ipynb")),
               env)
    manifest = assert_consistent(out)[as_of]
    assert [r["status"] for r in manifest["runs"]] == ["running", "interrupted"]
    bank, central = manifest["reports"]
    assert bank["status"] == "ok" and bank["data_fingerprint"] not in ("", fp1)
    assert central["status"] == "interrupted"  # never published; the first run's note
    assert len(list(staging.iterdir())) == 1  # the killed run's leftovers, until the next start

    # 3. the next render recovers: no leftovers, all listed, run finished
    done = subprocess.run(_render_cmd(tmp_path, books["v2"], out, jobs=2), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = assert_consistent(out)[as_of]
    assert [r["status"] for r in manifest["runs"]] == ["finished", "interrupted", "interrupted"]
    assert [e["status"] for e in manifest["reports"]] == ["ok", "ok"]
    assert {e["data_fingerprint"] for e in manifest["reports"]} == {bank["data_fingerprint"]}
    assert no_leftovers(out) == []
