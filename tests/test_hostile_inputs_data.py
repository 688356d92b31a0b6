"""Hostile and careless inputs to the data layer (issue 9): each case with the exact promised
message or behaviour.

YAML (alias bombs, encodings, duplicate keys, unbounded values), extracts (encodings, Excel,
Parquet, empty and header-only files, Chinese names end to end), privacy (masked ids, personal
columns) and panel validation (file rows, one pass, no garbled lines, bounded messages).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.data import generate_portfolio, load_source, validate_source, write_portfolio
from analysis.data.mapping import read_mapping
from analysis.data.privacy import mask_id
from analysis.data.schemas import DataValidationError
from analysis.data.yaml_files import YamlFileError, load_yaml
from analysis.report.schedule import ScheduleError, load_schedule

FIXTURE = Path(__file__).parent / "fixtures" / "gb18030"
ROWS = "(row numbers count the file's data rows from 1, header line excluded)"
ANCHORS = "YAML anchors and aliases are not allowed"


# ------------------------------------------------------------------------------------------
# YAML


def _bomb(size: int) -> str:
    """A "billion laughs" mapping file of exactly ``size`` bytes: 9**levels strings once expanded."""
    levels = 7 if size < 350 else 8  # 9**7 = 4.8 million, 9**8 = 43 million "lol"s
    lines = ["path: x.csv", "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    names = "abcdefghij"
    for prev, name in zip(names[: levels - 2], names[1 : levels - 1]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("duration: [" + ",".join([f"*{names[levels - 2]}"] * 9) + "]")
    text = "\n".join(lines) + "\n"
    pad = size - len(text.encode())
    assert pad >= 2, pad
    return text + "#" * (pad - 1) + "\n"


@pytest.mark.parametrize("size", [333, 368])
def test_alias_bomb_refused_fast_small_and_short(tmp_path, size):
    path = tmp_path / "bomb.yml"
    path.write_text(_bomb(size), encoding="utf-8")
    assert path.stat().st_size == size
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(YamlFileError) as err:
        read_mapping(path)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) * 1024
    msg = str(err.value)
    assert msg == f"{path}, line 2: {ANCHORS} (found &a); write the value out in full"
    assert seconds < 2 and peak < 200e6 and grown < 200e6 and len(msg.encode()) < 1024


def test_alias_bomb_in_a_schedule_is_a_schedule_error(tmp_path):
    path = tmp_path / "schedule.yml"
    path.write_text(_bomb(368).replace("path: x.csv", "reports: []"), encoding="utf-8")
    with pytest.raises(ScheduleError) as err:
        load_schedule(path)
    assert str(err.value) == f"{path}, line 2: {ANCHORS} (found &a); write the value out in full"


def test_alias_alone_and_merge_key_refused(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("path: x.csv\nduration: t\nevent: *e\n", encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"m\.yml, line 3: YAML anchors and aliases are not allowed \(found \*e\)"):
        read_mapping(path)
    path.write_text("event:\n  <<: *base\n", encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"line 2: YAML anchors and aliases are not allowed \(found \*base\)"):
        load_yaml(path)


def test_mapping_files_are_utf8_with_or_without_bom(tmp_path):
    path = tmp_path / "m.yml"
    path.write_bytes(b"\xef\xbb\xbf" + "name: 网点 Süd\n".encode("utf-8"))
    assert load_yaml(path) == {"name": "网点 Süd"}
    path.write_bytes("name: 网点\nduration: 月\n".encode("gbk"))  # saved in a Chinese locale
    with pytest.raises(YamlFileError) as err:
        read_mapping(path)
    assert str(err.value) == f"{path}, line 1: not UTF-8 (byte 0xcd); save the file as UTF-8"


def test_duplicate_key_refused_with_both_lines(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("path: a.csv\nduration: t\npath: b.csv\n", encoding="utf-8")
    with pytest.raises(YamlFileError) as err:
        read_mapping(path)
    assert str(err.value) == f"{path}, line 3: key 'path' given twice (first on line 1)"


def test_huge_values_are_echoed_short(tmp_path):
    path = tmp_path / "m.yml"
    long = "x" * 100_000
    many = ", ".join(str(i) for i in range(20_000))
    path.write_text(
        f"format: {long}\npath: [{many}]\nduration: t\nevent: e\nencoding: {long}\n{long[:1000]}: 1\nsheet: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(DataValidationError) as err:
        read_mapping(path)
    msg = str(err.value)
    assert len(msg.encode()) < 2000, len(msg)
    lines = msg.splitlines()
    x60 = "'" + "x" * 27 + "..." + "x" * 28 + "'"  # reprlib: at most 60 characters of a value
    assert lines[0] == f"{path}: 5 problem(s) found:"
    assert lines[1].startswith(f"  - key {x60}: unknown key; known keys: allow_personal, as_of, ")
    assert lines[2] == f"  - key 'format': must be 'snapshot' or 'panel', got {x60}"
    assert lines[3] == "  - key 'path': expected a column name or path (text), got [0, 1, 2, 3, 4, 5, ...]"
    assert lines[4].startswith("  - key 'encoding': 'xxxxxx") and lines[4].endswith(
        " is not supported; one of utf-8, utf-8-sig, gb18030, gbk, big5, utf-16"
    )
    assert lines[5].startswith("  - key 'sheet': only for Excel files (.xlsx, .xlsm), the path is '[0, 1, 2, 3, 4, 5")


def test_oversized_yaml_file_refused_unread(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    with pytest.raises(YamlFileError) as err:
        load_yaml(path)
    assert str(err.value) == f"{path}: 1,048,579 bytes; a mapping or schedule file is at most 1,048,576 bytes"


# ------------------------------------------------------------------------------------------
# Extracts: encodings, file types, empty files, Chinese end to end


def _mapping(folder: Path, path: str, extra: str = "") -> Path:
    m = folder / "m.yml"
    m.write_text(textwrap.dedent(f"""\
        path: {path}
        id: 编号
        duration: 月数
        event: {{column: 状态, churned: [流失], active: [正常]}}
        branch: 分行
        """) + extra, encoding="utf-8")
    return m


@pytest.fixture
def chinese():
    return pd.DataFrame({
        "编号": ["a1", "a2", "a3", "a4"],
        "月数": [3, 5, 0, 7],
        "状态": ["流失", "正常", "正常", "流失"],
        "分行": ["北京", "上海", "北京", "上海"],
    })


def test_gb18030_fixture_validates_with_the_key(tmp_path):
    text = validate_source(FIXTURE / "bank_gb18030.yml").to_text().splitlines()
    assert text[1:6] == [
        "kind          : snapshot",
        "customers     : 240",
        "columns       : duration, entry, event, n_products, 客户类型, 年龄, 资产, branch",
        "branches      : 3 (上海分行, 北京分行, 广州分行)",
        "events        : 133 customers left (55.4%)",
    ]
    p = load_source(FIXTURE / "bank_gb18030.yml")
    assert sorted(p.snapshot["客户类型"].unique()) == ["存款", "贷款"]
    assert "客户姓名" not in p.snapshot  # dropped: personal


def test_gb18030_without_the_key_names_file_key_and_encoding(tmp_path):
    shutil.copy(FIXTURE / "bank_gb18030.csv", tmp_path)
    text = (FIXTURE / "bank_gb18030.yml").read_text(encoding="utf-8").replace("encoding: gb18030\n", "")
    (tmp_path / "m.yml").write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        validate_source(tmp_path / "m.yml")
    assert str(err.value) == (
        f"{tmp_path / 'bank_gb18030.csv'}: 1 problem(s) found:\n"
        "  - cannot be read as utf-8 (line 1): set 'encoding:' in the mapping file m.yml to the file's "
        "encoding, one of utf-8, utf-8-sig, gb18030, gbk, big5, utf-16; it looks like gb18030"
    )


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "big5", "utf-16", "utf-8-sig"])
def test_each_encoding_reads_and_is_guessed(tmp_path, chinese, encoding):
    # Traditional characters, which Big5 (and GBK, GB18030) can write.
    traditional = {"编号": "編號", "月数": "月數", "状态": "狀態", "北京": "臺北", "上海": "高雄"}
    frame = chinese.rename(columns=traditional).replace(traditional)
    frame.to_csv(tmp_path / "x.csv", index=False, encoding=encoding)

    def _mapping(folder, path, extra=""):
        m = folder / "m.yml"
        text = globals()["_mapping"](folder, path, extra).read_text(encoding="utf-8")
        for simple, trad in traditional.items():
            text = text.replace(simple, trad)
        m.write_text(text, encoding="utf-8")
        return m

    p = load_source(_mapping(tmp_path, "x.csv", f"encoding: {encoding}\n"))
    assert p.branches == ["臺北", "高雄"] and p.snapshot["customer_id"].tolist() == ["a1", "a2", "a3", "a4"]
    if encoding == "utf-8-sig":  # the default reads a UTF-8 byte-order mark too
        assert load_source(_mapping(tmp_path, "x.csv")).branches == ["臺北", "高雄"]
        return
    with pytest.raises(DataValidationError) as err:
        load_source(_mapping(tmp_path, "x.csv"))
    guess = "gb18030" if encoding == "gbk" else encoding  # GB18030 reads every GBK file
    assert str(err.value).endswith(f"big5, utf-16; it looks like {guess}")


def test_encoding_value_checked_with_suggestion(tmp_path, chinese):
    chinese.to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataValidationError) as err:
        read_mapping(_mapping(tmp_path, "x.csv", "encoding: GB-18030\n"))
    assert str(err.value).splitlines()[1] == (
        "  - key 'encoding': 'GB-18030' is not supported (did you mean 'gb18030'?); "
        "one of utf-8, utf-8-sig, gb18030, gbk, big5, utf-16"
    )


def test_xlsx_snapshot_with_sheet_by_name_position_and_default(tmp_path, chinese):
    with pd.ExcelWriter(tmp_path / "x.xlsx") as w:
        pd.DataFrame({"说明": ["导出"]}).to_excel(w, sheet_name="说明", index=False)
        chinese.to_excel(w, sheet_name="客户", index=False)
    for sheet in ("客户", 2):
        p = load_source(_mapping(tmp_path, "x.xlsx", f"sheet: {sheet}\n"))
        assert p.snapshot["customer_id"].tolist() == ["a1", "a2", "a3", "a4"]
        assert p.snapshot["duration"].tolist() == [3.0, 5.0, 0.5, 7.0]
    with pytest.raises(DataValidationError) as err:
        load_source(_mapping(tmp_path, "x.xlsx"))  # the first sheet is the wrong one: said so
    assert str(err.value).splitlines()[-1] == "  - note: x.xlsx: read sheet '说明', the first of 2; set 'sheet:' to choose"
    with pytest.raises(DataValidationError) as err:
        load_source(_mapping(tmp_path, "x.xlsx", "sheet: Kunden\n"))
    assert str(err.value) == f"{tmp_path / 'x.xlsx'}: 1 problem(s) found:\n  - key 'sheet': no sheet 'Kunden' (sheets: '说明', '客户')"
    with pytest.raises(DataValidationError, match=r"key 'sheet': 3 but the workbook has 2 sheet\(s\) \(counted from 1\)"):
        load_source(_mapping(tmp_path, "x.xlsx", "sheet: 3\n"))


def test_xlsx_ids_keep_their_text(tmp_path, chinese):
    chinese.assign(编号=["007", "008", "009", "010"]).to_excel(tmp_path / "x.xlsx", index=False)
    p = load_source(_mapping(tmp_path, "x.xlsx"))
    assert p.snapshot["customer_id"].tolist() == ["007", "008", "009", "010"]


def test_workbook_or_parquet_under_a_csv_name(tmp_path, chinese):
    chinese.to_excel(tmp_path / "x.xlsx", index=False)
    shutil.copy(tmp_path / "x.xlsx", tmp_path / "x.csv")
    with pytest.raises(DataValidationError) as err:
        load_source(_mapping(tmp_path, "x.csv"))
    assert str(err.value).splitlines()[1] == (
        "  - the file is an Excel .xlsx workbook (or another zip archive): give it the suffix .xlsx"
    )
    chinese.to_parquet(tmp_path / "x.csv")
    with pytest.raises(DataValidationError, match="the file is a Parquet file: give it the suffix .parquet"):
        load_source(_mapping(tmp_path, "x.csv"))
    (tmp_path / "x.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 60)
    with pytest.raises(DataValidationError, match=r"old Excel \.xls workbooks are not read: save it as \.xlsx or CSV"):
        load_source(_mapping(tmp_path, "x.xls"))


def test_parquet_snapshot_and_broken_parquet(tmp_path, chinese):
    chinese.to_parquet(tmp_path / "x.parquet", index=False)
    assert load_source(_mapping(tmp_path, "x.parquet")).branches == ["上海", "北京"]
    (tmp_path / "y.parquet").write_text("编号,月数\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"y\.parquet: 1 problem\(s\) found:\n  - not a readable Parquet file \("):
        load_source(_mapping(tmp_path, "y.parquet"))


@pytest.mark.parametrize(
    "content, what",
    [
        (b"", "the file is empty (no header line, no rows)"),
        (b"\n\n", "the file is empty (no header line, no rows)"),
        ("编号,月数,状态,分行\n".encode(), "the file has a header (4 columns) but no data rows"),
    ],
)
def test_empty_and_header_only_extracts_refused_at_validate(tmp_path, content, what):
    (tmp_path / "x.csv").write_bytes(content)
    with pytest.raises(DataValidationError) as err:
        validate_source(_mapping(tmp_path, "x.csv"))
    assert str(err.value) == f"{tmp_path / 'x.csv'}: 1 problem(s) found:\n  - {what}"


def test_header_only_parquet_and_empty_sheet(tmp_path, chinese):
    chinese.iloc[:0].to_parquet(tmp_path / "x.parquet")
    with pytest.raises(DataValidationError, match="the file has a header \\(4 columns\\) but no data rows"):
        validate_source(_mapping(tmp_path, "x.parquet"))
    pd.DataFrame().to_excel(tmp_path / "x.xlsx")
    with pytest.raises(DataValidationError, match="sheet 'Sheet1' is empty \\(no header row, no rows\\)"):
        validate_source(_mapping(tmp_path, "x.xlsx"))


@pytest.fixture(scope="module")
def book():
    return generate_portfolio(60, months=6, seed=3)


def test_panel_folder_empty_header_only_and_encoding(tmp_path, book):
    book.customers.to_csv(tmp_path / "customers.csv", index=False)
    (tmp_path / "panel.csv").write_bytes(b"")
    with pytest.raises(DataValidationError) as err:
        validate_source(tmp_path)
    assert str(err.value) == f"{tmp_path / 'panel.csv'}: 1 problem(s) found:\n  - the file is empty (no header line, no rows)"
    book.panel.iloc[:0].to_csv(tmp_path / "panel.csv", index=False)
    with pytest.raises(DataValidationError, match=r"panel\.csv: 1 problem\(s\) found:\n  - the file has a header \(13 columns\) but no data rows"):
        validate_source(tmp_path)
    book.panel.to_csv(tmp_path / "panel.csv", index=False)
    book.customers.assign(branch="北京分行").to_csv(tmp_path / "customers.csv", index=False, encoding="gb18030")
    with pytest.raises(DataValidationError) as err:
        validate_source(tmp_path)
    assert str(err.value).splitlines()[1] == (
        "  - cannot be read as utf-8 (line 2): describe the folder with a mapping file (format: panel, "
        "path: FOLDER) and set 'encoding:' in it to the file's encoding, one of utf-8, utf-8-sig, gb18030, "
        "gbk, big5, utf-16; it looks like gb18030"
    )
    book.panel.to_csv(tmp_path / "panel.csv", index=False, encoding="gb18030")
    (tmp_path / "panel.yml").write_text(f"format: panel\npath: {tmp_path.name}\nencoding: gb18030\n", encoding="utf-8")
    shutil.move(tmp_path / "panel.yml", tmp_path.parent / f"{tmp_path.name}.yml")
    p = load_source(tmp_path.parent / f"{tmp_path.name}.yml")
    assert p.branches == ["北京分行"] and len(p.panel) == len(book.panel)


def test_chinese_extract_renders_report_01(tmp_path):
    from analysis.report.runner import render

    sched = tmp_path / "schedule.yml"
    sched.write_text(yaml.safe_dump({"reports": [{"notebook": "01_attrition_overview", "per_branch": True}]}))
    result = render(sched, data=str(FIXTURE / "bank_gb18030.yml"), out_dir=tmp_path / "out", jobs=2,
                    progress=False, as_of="2026-03-31", branches=["北京分行"])
    assert result.ok, [(r.name, r.error) for r in result.failed]
    folder = tmp_path / "out" / "2026-03-31"
    pages = {p.stem: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}
    assert len(pages) == 2
    branch = next(text for name, text in pages.items() if not name.endswith("__bank"))
    assert "北京分行" in branch and "客户类型" in branch
    headline = json.loads(next(folder.glob("*__bank.json")).read_text(encoding="utf-8"))
    assert headline["overview"]["n"] == 240 and headline["overview"]["events"] == 133
    assert all("KH00001" not in text and "张伟" not in text for text in pages.values())


# ------------------------------------------------------------------------------------------
# Privacy


def test_ids_in_messages_are_masked_salted_and_stable_with_the_env_salt(tmp_path, chinese):
    chinese.assign(编号=["KH-secret", "a2", "KH-secret", "a4"]).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataValidationError) as err:
        load_source(_mapping(tmp_path, "x.csv"))
    msg = str(err.value)
    h = mask_id("KH-secret")
    assert msg.splitlines()[1] == f"  - column '编号': duplicate ids in 2 row(s), e.g. row(s) 1, 3 (ids, masked: {h})"
    assert "KH-secret" not in msg
    code = "from analysis.data.privacy import mask_id; print(mask_id('KH-secret'))"
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"ANALYSIS_ID_SALT": salt, "PATH": ""}).stdout
        for salt in ("s1", "s1", "s2")
    ]
    assert runs[0] == runs[1] != runs[2] and runs[0].startswith("id#") and len(runs[0].strip()) == 11


def test_unknown_panel_customers_are_masked(tmp_path, book):
    write_portfolio(book, tmp_path)
    gone = book.customers.customer_id.iloc[0]
    book.customers.iloc[1:].to_parquet(tmp_path / "customers.parquet", index=False)
    with pytest.raises(DataValidationError) as err:
        load_source(tmp_path)
    rows = np.flatnonzero(book.panel.customer_id.to_numpy() == gone) + 1
    assert str(err.value).splitlines()[1] == (
        f"  - column 'customer_id': panel customers missing from the customers table in {len(rows)} row(s), "
        f"e.g. row(s) {', '.join(map(str, rows[:5]))}{' and %d more' % (len(rows) - 5) if len(rows) > 5 else ''}"
        f" (ids, masked: {mask_id(gone)})"
    )
    assert gone not in str(err.value)


@pytest.mark.parametrize(
    "column, key, reason",
    [("Surname", "groups", "surname"), ("Customer_Phone_Number", "groups", "phonenumber"),
     ("客户姓名", "branch", "姓名"), ("E-mail", "groups", "email"), ("身份证号", "groups", "身份证")],
)
def test_personal_column_refused_unless_allowed(tmp_path, chinese, column, key, reason):
    chinese.assign(**{column: ["p", "q", "p", "q"]}).to_csv(tmp_path / "x.csv", index=False)
    extra = f"groups: [{column}]\n" if key == "groups" else ""
    m = _mapping(tmp_path, "x.csv", extra)
    if key == "branch":
        m.write_text(m.read_text(encoding="utf-8").replace("branch: 分行", f"branch: {column}"), encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_source(m)
    assert str(err.value).splitlines()[1] == (
        f"  - column '{column}' (key '{key}'): named like a personal field ({reason}); its values would be "
        f"printed in every report: use another column, or list it under 'allow_personal: [{column}]' if it is not personal"
    )
    m.write_text(m.read_text(encoding="utf-8") + f"allow_personal: [{column}]\n", encoding="utf-8")
    assert len(load_source(m).snapshot) == 4


def test_not_personal_names_pass():
    from analysis.data.privacy import personal_reason

    for name in ("PhoneService", "MobileBanking", "Branch name", "Geography", "IsActiveMember", "网点", "客户类型"):
        assert personal_reason(name) is None, name


def test_one_level_per_customer_refused_over_20_rows(tmp_path):
    n = 20
    frame = pd.DataFrame({
        "编号": [f"c{i}" for i in range(n)], "月数": range(1, n + 1), "状态": ["流失", "正常"] * (n // 2),
        "分行": ["北京", "上海"] * (n // 2), "Kennung": [f"K{i // 2 if i < 2 else i}" for i in range(n)],
    })
    frame.to_csv(tmp_path / "x.csv", index=False)
    m = _mapping(tmp_path, "x.csv", "groups: [Kennung]\n")
    with pytest.raises(DataValidationError) as err:
        load_source(m)
    assert str(err.value).splitlines()[1] == (
        "  - column 'Kennung' (key 'groups'): 19 distinct values in 20 rows, nearly one per customer, so reports "
        "would list customers one by one: use another column, or list it under 'allow_personal: [Kennung]' if it is not personal"
    )
    frame.iloc[:19].to_csv(tmp_path / "x.csv", index=False)  # 19 rows: too few to judge
    assert len(load_source(m).snapshot) == 19
    # Exactly half distinct is allowed (the rule is "more than 50%").
    frame.assign(Kennung=[f"K{i % 10}" for i in range(n)]).to_csv(tmp_path / "x.csv", index=False)
    assert len(load_source(m).snapshot) == 20


def test_panel_branch_with_one_level_per_customer_refused(tmp_path, book):
    write_portfolio(book, tmp_path)
    book.customers.assign(branch=book.customers.customer_id).to_parquet(tmp_path / "customers.parquet", index=False)
    with pytest.raises(DataValidationError) as err:
        load_source(tmp_path)
    assert str(err.value).splitlines()[1] == (
        "  - column 'branch' (key 'branch'): 60 distinct values in 60 rows, nearly one per customer, so reports "
        "would list customers one by one: use another column, or list it under 'allow_personal: [branch]' if it is not personal"
    )


# ------------------------------------------------------------------------------------------
# Panel validation


def test_rows_are_file_rows_even_in_a_shuffled_file(tmp_path, book):
    write_portfolio(book, tmp_path)
    panel = book.panel.sample(frac=1, random_state=5).reset_index(drop=True)  # file order != sorted
    panel.loc[10, "aum"] = -1.0
    cid = panel.customer_id[panel.customer_id.map(panel.customer_id.value_counts()) > 2].iloc[0]
    own = panel.index[panel.customer_id == cid]
    second = panel.loc[own].sort_values("month").index[1]
    panel = panel.drop(index=second)  # a gap: the month after it is flagged
    panel.to_csv(tmp_path / "panel.csv", index=False)
    (tmp_path / "panel.parquet").unlink()
    with pytest.raises(DataValidationError) as err:
        load_source(tmp_path)
    file_rows = pd.read_csv(tmp_path / "panel.csv")
    flagged = file_rows[(file_rows.customer_id == cid)].sort_values("month").index[1] + 1
    neg = int(np.flatnonzero(file_rows.aum < 0)[0]) + 1
    assert str(err.value).splitlines() == [
        f"{tmp_path / 'panel.csv'}: 2 problem(s) found {ROWS}:",
        f"  - column 'aum': negative values in 1 row(s), e.g. row(s) {neg} (values: -1.0)",
        f"  - column 'month': a gap in a customer's months (months must be consecutive) in 1 row(s), e.g. row(s) {flagged}",
    ]


def test_every_problem_class_of_both_files_in_one_pass(tmp_path, book):
    write_portfolio(book, tmp_path)
    cust = book.customers.copy()
    cust.loc[2, "age_at_open"] = 200.0
    panel = book.panel.copy().astype({"n_products": object})
    panel.loc[4, "n_products"] = "two"  # schema (wrong type, with pandera's TypeError line)
    panel.loc[[3, 7], "aum"] = -5.0  # schema (negative)
    cid = panel.customer_id.iloc[0]
    rows = panel.index[panel.customer_id == cid]
    panel.loc[rows[0], "closed"] = True  # consistency (closed before the last month)
    panel = pd.concat([panel, panel.loc[[rows[1]]]], ignore_index=True)  # consistency (duplicate)
    cust.to_parquet(tmp_path / "customers.parquet", index=False)
    panel.astype({"n_products": str}).to_parquet(tmp_path / "panel.parquet", index=False)
    with pytest.raises(DataValidationError) as err:
        load_source(tmp_path)
    dup = len(panel)
    assert str(err.value).splitlines() == [
        f"{tmp_path}: 5 problem(s) found {ROWS}:",
        "  - customers.parquet: column 'age_at_open': values out of range [in_range(16, 120)] in 1 row(s), e.g. row(s) 3 (values: 200.0)",
        "  - panel.parquet: column 'aum': negative values in 2 row(s), e.g. row(s) 4, 8 (values: -5.0, -5.0)",
        "  - panel.parquet: column 'n_products': values of the wrong type (expected whole numbers) in 1 row(s), e.g. row(s) 5 (values: 'two')",
        f"  - panel.parquet: column 'month': the same customer and month appear twice in 2 row(s), e.g. row(s) {rows[1] + 1}, {dup}",
        f"  - panel.parquet: column 'closed': the relationship is marked closed but months follow (closed must be the last month) in 1 row(s), e.g. row(s) {rows[0] + 1}",
    ]


def test_no_garbled_or_duplicated_pandera_lines(tmp_path, book):
    write_portfolio(book, tmp_path)
    panel = book.panel.copy().astype({"tier": object, "month": object})
    panel.loc[2, "tier"] = "x"  # wrong type: also fails isin, reported once
    panel.loc[5, "month"] = "not a date"
    panel.astype({"tier": str, "month": str}).to_parquet(tmp_path / "panel.parquet", index=False)
    with pytest.raises(DataValidationError) as err:
        load_source(tmp_path)
    msg = str(err.value)
    assert msg.splitlines()[1:] == [
        "  - column 'month': values of the wrong type (expected dates) in 1 row(s), e.g. row(s) 6 (values: 'not a date')",
        "  - column 'tier': values of the wrong type (expected whole numbers) in 1 row(s), e.g. row(s) 3 (values: 'x')",
    ]
    assert "TypeError" not in msg and "0 row(s)" not in msg


def test_messages_are_bounded(tmp_path, book):
    write_portfolio(book, tmp_path)
    panel = book.panel.copy()
    panel["aum"] = -1.0
    panel["segment"] = "s" * 10_000
    for i in range(40):
        panel[f"extra{i}"] = 0
    panel.drop(columns=["profit"]).to_parquet(tmp_path / "panel.parquet", index=False)
    with pytest.raises(DataValidationError) as err:
        load_source(tmp_path)
    lines = str(err.value).splitlines()
    assert len(str(err.value)) < 1500
    assert lines[1].startswith("  - column(s) 'profit': column is missing (columns present: 'customer_id', 'month', ")
    assert lines[1].endswith("'extra7' and 32 more)")
    n = len(panel)
    assert lines[2] == f"  - column 'aum': negative values in {n} row(s), e.g. row(s) 1, 2, 3, 4, 5 and {n - 5} more (values: -1.0, -1.0, -1.0, -1.0, -1.0 and {n - 5} more)"
    assert lines[3].startswith("  - column 'segment': values outside the allowed set [isin(['deposit', 'loan'])] in ")
    assert lines[3].count("s") < 400


def test_at_most_20_problems_listed(tmp_path):
    rows = "\n".join(f"{k}: 1" for k in (f"key{i}" for i in range(30)))
    (tmp_path / "m.yml").write_text(rows + "\npath: x.csv\nduration: d\nevent: e\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        read_mapping(tmp_path / "m.yml")
    lines = str(err.value).splitlines()
    assert lines[0].endswith(": 30 problem(s) found:") and len(lines) == 22
    assert lines[-1] == "  - and 10 more problem(s)"
    assert len(err.value.problems) == 30


def test_parts_folder_rows_name_the_part(tmp_path, book):
    write_portfolio(book, tmp_path)
    (tmp_path / "panel.parquet").unlink()
    (tmp_path / "panel").mkdir()
    half = len(book.panel) // 2
    bad = book.panel.copy()
    bad.loc[half + 2, "aum"] = -3.0
    bad.iloc[:half].to_parquet(tmp_path / "panel" / "part-0.parquet", index=False)
    bad.iloc[half:].to_parquet(tmp_path / "panel" / "part-1.parquet", index=False)
    with pytest.raises(DataValidationError) as err:
        load_source(tmp_path)
    assert str(err.value).splitlines()[1] == "  - column 'aum': negative values in 1 row(s), e.g. row(s) part-1.parquet:3 (values: -3.0)"


def test_cli_validate_prints_the_one_line_yaml_refusal(tmp_path, capsys):
    from analysis.cli import main

    path = tmp_path / "bomb.yml"
    path.write_text(_bomb(333), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{path}, line 2: {ANCHORS} (found &a); write the value out in full")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_unknown_branch_message_is_bounded(tmp_path):
    n = 60
    frame = pd.DataFrame({
        "编号": [f"c{i}" for i in range(n)], "月数": range(1, n + 1), "状态": ["流失", "正常"] * (n // 2),
        "分行": [f"分行{i % 25:02d}" for i in range(n)],
    })
    frame.to_csv(tmp_path / "x.csv", index=False)
    p = load_source(_mapping(tmp_path, "x.csv"))
    with pytest.raises(ValueError) as err:
        p.for_branch("x" * 10_000)
    msg = str(err.value)
    assert msg.endswith("known branches: " + ", ".join(f"分行{i:02d}" for i in range(20)) + " and 5 more")
    assert len(msg) < 400
