"""Portfolio checks (``playbook check PLAYBOOK --input ...``) against what real portfolio exports
look like: Excel CSV (BOM, CRLF, ; separators, trailing empty columns, GBK), JSONL with CRLF and
junk lines, JSON arrays with NaN or absurd nesting, folders with everything in them, .gz files
that are not, parallel runs with bad records, hostile names in the HTML, Ctrl-C.

Every test asserts the documented behaviour (README "Exit codes", ``playbook check --help``,
``playbook.batch`` and ``playbook.batch.csvfacts`` docstrings) and that no traceback ever shows.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from playbook.batch import EXIT_INTERRUPTED, EXIT_REJECTED, EXIT_STOPPED, readers, worker
from playbook.cli import cli

TODAY = "2026-03-01"

PLAYBOOK = textwrap.dedent("""\
    id: export-funnel
    version: 2
    title: {zh: 大客户漏斗 <测试> & "引号", en: Key accounts <test> & "quotes"}
    facts:
      visit:
        type: object
        properties:
          count: {type: integer}
    stages:
      - id: qualify
        title: {zh: 资格确认, en: Qualify}
        entry:
          - {id: is-target, title: {zh: 目标客户, en: Target account}, when: "account.is_target == true"}
        exit:
          - {id: big-enough, title: {zh: "金额<b>够大</b>", en: "Amount <b>big</b> enough"},
             when: "opportunity.amount >= 100000",
             hint: {zh: "扩大范围 <script>alert(1)</script>", en: "Grow the scope <script>alert(1)</script>"}}
          - {id: visited, title: {zh: 拜访过, en: Visited}, level: recommended, when: "visit.count >= 1"}
      - id: propose
        title: {zh: 提交方案, en: Propose}
        entry:
          - {id: has-dm, title: {zh: 有决策者, en: Decision maker known},
             when: 'count(stakeholders, role == "decision_maker") >= 1'}
        exit:
          - {id: signed, title: {zh: 已签约, en: Signed}, when: "opportunity.contract.signed == true"}
    """)


@pytest.fixture
def pb(tmp_path: Path) -> Path:
    path = tmp_path / "export-funnel.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return path


def case(i: int, *, amount: int = 200_000, dm: bool = True, signed: bool = False, **extra: Any) -> dict:
    c: dict = {"id": f"c{i}", "account": {"is_target": True},
               "opportunity": {"amount": amount, "contract": {"signed": signed}},
               "stakeholders": [{"role": "decision_maker"}] if dm else []}
    c.update(extra)
    return c


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def run(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    """The CLI in-process; a traceback or an internal error fails the test whatever the exit code."""
    result = CliRunner().invoke(cli, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


def check(pb: Path, *args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    return run("check", str(pb), "--today", TODAY, *args, input=input)


def summary(pb: Path, *args: str, input: str | bytes | None = None) -> tuple[int, dict, str]:
    code, out, err = check(pb, *args, "--format", "summary-json", input=input)
    return code, json.loads(out), err


def reports(pb: Path, *args: str, input: str | bytes | None = None) -> tuple[int, list[dict], str]:
    code, out, err = check(pb, *args, "--format", "jsonl", input=input)
    return code, [json.loads(line) for line in out.splitlines()], err


def rejected_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rejected: ")]


def values(report: dict) -> dict[str, Any]:
    """criterion id -> the fact values the report shows for it."""
    return {c["id"]: c["values"] for st in report["stages"] for c in st["entry"] + st["exit"]}


def passed(report: dict) -> dict[str, bool]:
    return {c["id"]: c["passed"] for st in report["stages"] for c in st["entry"] + st["exit"]}


def subprocess_check(*args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "playbook", "check", *args], capture_output=True, text=True,
                          timeout=120, **kwargs)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


# -- CSV from spreadsheets ------------------------------------------------------------------
EXCEL_ROWS = [
    ["id", "account.is_target", "opportunity.amount", "opportunity.contract.signed", "stakeholders.0.role",
     "account.name", "visit.count", "", ""],
    ["甲-001", "TRUE", "250000", "是", "decision_maker", "华为, 深圳", "2", "", ""],
    ["乙-002", "FALSE", "1.5E+05", "否", "", "中兴\n（两行名称）", "", "", ""],
    ["丙-003", "yes", "90000", "no", "decision_maker", '名称含"引号"', "0", "", ""],
]


def _excel_csv(sep: str) -> bytes:
    """What Excel writes for "CSV UTF-8": a BOM, CRLF, cells with the separator, quotes or a
    newline quoted, and empty columns past the data written as trailing separators."""
    def cell(text: str) -> str:
        if any(ch in text for ch in (sep, '"', "\n")):
            return '"' + text.replace('"', '""') + '"'
        return text

    body = "\r\n".join(sep.join(cell(c) for c in row) for row in EXCEL_ROWS) + "\r\n"
    return b"\xef\xbb\xbf" + body.encode("utf-8")


@pytest.mark.parametrize("sep", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_excel_csv_utf8_with_bom_crlf_any_separator_and_trailing_empty_columns(pb: Path, tmp_path: Path,
                                                                                sep: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(_excel_csv(sep))
    code, out, err = reports(pb, "--input", str(path), "-j", "1")
    assert (code, err) == (0, "")
    by_id = {r["case"]["id"]: r for r in out}
    assert list(by_id) == ["甲-001", "乙-002", "丙-003"]  # the BOM is not part of the first column's name
    a, b, c = by_id.values()
    assert values(a)["big-enough"] == {"opportunity.amount": 250000}  # a number, not the text "250000"
    assert a["stage"]["complete"] is True  # TRUE, 是, decision_maker in stakeholders.0.role all understood
    assert values(b)["big-enough"] == {"opportunity.amount": 150000.0} and b["stage"]["entered"] is False
    assert passed(c) == {"is-target": True, "big-enough": False, "visited": False, "has-dm": True, "signed": False}


def test_a_tsv_file_is_read_as_csv_without_an_option(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.tsv"
    path.write_bytes(_excel_csv("\t"))
    code, out, err = reports(pb, "--input", str(path))
    assert (code, err) == (0, "") and len(out) == 3 and out[0]["stage"]["complete"] is True


def test_a_value_in_a_column_without_a_name_rejects_that_record_only(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id,account.is_target,,\nok,yes,,\nstray,yes,,forgotten note\nok2,yes, ,\n", encoding="utf-8")
    code, out, err = reports(pb, "--input", str(path))
    assert code == EXIT_REJECTED
    assert [r["case"]["id"] for r in out] == ["ok", "ok2"]
    assert rejected_lines(err) == [f"rejected: {path}:3: column #4 has no name in the header but holds "
                                   "'forgotten note'; name the column (e.g. opportunity.amount) or empty it"]


def test_id_and_stage_cells_lose_the_spaces_a_spreadsheet_keeps(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id,stage,account.is_target\n  a-1 , propose ,yes\nb-2,,yes\n", encoding="utf-8")
    code, out, _ = reports(pb, "--input", str(path))
    assert code == 0
    assert [(r["case"]["id"], r["stage"]["declared"]) for r in out] == [("a-1", "propose"), ("b-2", None)]


def test_a_list_column_without_an_item_number_skips_the_file_with_the_fix(pb: Path, tmp_path: Path) -> None:
    # stakeholders is a list in the case schema: stakeholders.role would silently become a mapping
    path = tmp_path / "export.csv"
    path.write_text("id,account.is_target,stakeholders.role\na,yes,decision_maker\n", encoding="utf-8")
    code, s, err = summary(pb, "--input", str(path))
    assert code == EXIT_REJECTED and s["cases"] == 0 and s["rejected"]["count"] == 1
    (line,) = rejected_lines(err)
    assert line.startswith(f"rejected: {path}:1: column 'stakeholders.role': stakeholders is a list in the "
                           "case schema; number its items: stakeholders.0.role, stakeholders.1.role")
    assert line.endswith("the file is skipped (name columns like opportunity.amount)")


def test_a_field_of_a_number_column_skips_the_file(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id,opportunity.amount.value\na,5\n", encoding="utf-8")
    code, _, err = summary(pb, "--input", str(path))
    assert code == EXIT_REJECTED
    assert "opportunity.amount is a number in the case schema, it has no fields" in err


@pytest.mark.parametrize("header, reason", [
    ("id,id,opportunity.amount", "column 'id' appears twice in the header"),
    ("id,opportunity..amount", "empty path segment in column name 'opportunity..amount'"),
    (",,", "the first line (the header) names no columns"),
    ("id,opportunity,opportunity.amount", "column 'opportunity' is a value but 'opportunity.amount' treats it"),
])
def test_headers_that_cannot_map_skip_the_file_once(pb: Path, tmp_path: Path, header: str, reason: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(header + "\n" + "a,1,2\n" * 50, encoding="utf-8")
    code, s, err = summary(pb, "--input", str(path))
    assert code == EXIT_REJECTED and s["cases"] == 0 and s["rejected"]["count"] == 1
    (line,) = rejected_lines(err)
    assert line.startswith(f"rejected: {path}:1: {reason}")


def test_an_unclosed_quote_says_which_lines_it_swallowed(pb: Path, tmp_path: Path) -> None:
    # Before: the cell grew to csv's 128 KB limit, ~8,000 rows vanished under ONE rejection
    # ("field larger than field limit"), and the rows after were checked as if nothing happened.
    rows = ["id,account.is_target,account.name"] + [f"c{i},yes,name {i}" for i in range(20_000)]
    rows[6] = 'c5,yes,"Acme, Inc'
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, s, err = summary(pb, "--input", str(path))
    assert code == EXIT_REJECTED
    assert s["cases"] == 5 and s["rejected"]["count"] == 1
    assert rejected_lines(err) == [f'rejected: {path}:7: invalid CSV: a quoted cell is never closed (a " is '
                                   f"missing); the rest of the file (lines 7-20001) is skipped"]


def test_long_cells_are_read_and_a_runaway_quote_names_its_lines(pb: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(f"id,account.is_target,account.notes\na,yes,{'x' * 300_000}\nb,yes,\"{'y' * 300_000}\"\n",
                    encoding="utf-8")
    code, out, err = reports(pb, "--input", str(path))
    assert (code, err) == (0, "") and [r["case"]["id"] for r in out] == ["a", "b"]
    # past the cell limit (64 MB; 1 KB here) the quote is reported with the lines it took
    monkeypatch.setattr(readers, "CSV_FIELD_LIMIT", 1024)
    import csv

    old = csv.field_size_limit(1024)
    try:
        rows = ["id,account.is_target,account.notes", 'a,yes,"never closed'] + [f"r{i},yes,n" for i in range(200)]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        code, s, err = summary(pb, "--input", str(path))
    finally:
        csv.field_size_limit(old)
    assert code == EXIT_REJECTED
    (line,) = rejected_lines(err)
    assert re.fullmatch(rf'rejected: {re.escape(str(path))}:2: invalid CSV: a cell longer than 0 MB starting on '
                        r'line 2, most likely a " that is never closed; lines 2-\d+ skipped', line), line
    skipped_to = int(line.rsplit("-", 1)[1].split()[0])
    assert s["cases"] == 202 - skipped_to  # every row after the skipped lines is still checked


def test_gbk_csv_from_chinese_excel_is_refused_once_with_the_way_out(pb: Path, tmp_path: Path) -> None:
    text = "id,account.is_target,account.name\r\n" + "".join(f"客户{i},是,华为{i}\r\n" for i in range(3000))
    path = tmp_path / "客户.csv"
    path.write_bytes(text.encode("gb18030"))
    code, out, err = check(pb, "--input", str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"error: {path}: not UTF-8 text (it looks like GBK/GB18030, as Excel saves 'CSV' on Chinese Windows) "
        f"(save it as 'CSV UTF-8' (Excel: File > Save As), or convert it: iconv -f GB18030 -t UTF-8 {path} > "
        f"utf8-客户.csv)"]
    # the way out works: the same rows as UTF-8 are all checked
    path.write_text(text, encoding="utf-8")
    code, s, _ = summary(pb, "--input", str(path))
    assert code == 0 and s["cases"] == 3000


def test_a_utf8_file_with_one_damaged_record_keeps_the_others(pb: Path, tmp_path: Path) -> None:
    rows = [json.dumps(case(i, account={"is_target": True, "name": "华为"}), ensure_ascii=False).encode()
            for i in range(5)]
    rows[2] = rows[2].replace("华".encode(), b"\xff\xfe")
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    code, s, err = summary(pb, "--input", str(path))
    assert code == EXIT_REJECTED and s["cases"] == 4
    assert rejected_lines(err) == [f"rejected: {path}:3: not UTF-8 text (save the file as UTF-8)"]


def test_gbk_jsonl_is_refused_too_but_a_stray_line_or_two_is_rejected_alone(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [json.dumps(case(i, account={"is_target": True, "name": "中兴"}), ensure_ascii=False) for i in range(3)]
    path.write_bytes("\n".join(rows).encode("gbk") + b"\n")
    code, _, err = check(pb, "--input", str(path))
    assert code == 2 and "not UTF-8 text (it looks like GBK/GB18030) (convert it: iconv" in err
    path.write_bytes("\n".join(rows[:2] + [json.dumps(case(5))]).encode("gbk") + b"\n")
    code, s, err = summary(pb, "--input", str(path))
    assert code == EXIT_REJECTED and s["cases"] == 1 and len(rejected_lines(err)) == 2


@pytest.mark.parametrize("name", ["portfolio.xlsx", "portfolio.xls", "renamed.csv", "renamed.jsonl"])
def test_a_workbook_is_refused_with_how_to_save_it_as_csv(pb: Path, tmp_path: Path, name: str) -> None:
    import zipfile

    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:  # an .xlsx is a ZIP archive
        z.writestr("xl/worksheets/sheet1.xml", os.urandom(20_000))
    code, out, err = check(pb, "--input", str(path))
    assert code == 2 and out == "" and len(err.splitlines()) == 1  # once, not a line per "record"
    assert "CSV UTF-8" in err and "opportunity.amount" in err


def test_csv_and_json_array_from_stdin(pb: Path) -> None:
    data = "\ufeffid;account.is_target;opportunity.amount\r\ns1;是;300000\r\n"
    code, out, err = reports(pb, "--input", "-", "--input-format", "csv", input=data.encode("utf-8"))
    assert (code, err) == (0, "") and [r["case"]["id"] for r in out] == ["s1"]
    assert values(out[0])["big-enough"] == {"opportunity.amount": 300000}
    code, s, _ = summary(pb, "--input", "-", "--input-format", "json", input="\ufeff" + json.dumps([case(1), case(2)]))
    assert code == 0 and s["cases"] == 2 and s["inputs"] == ["<stdin>"]


# -- JSONL and JSON arrays ------------------------------------------------------------------
def test_jsonl_crlf_bom_blank_lines_junk_lines_and_no_final_newline(pb: Path, tmp_path: Path) -> None:
    body = ("\ufeff" + json.dumps(case(1)) + "\r\n"      # 1 BOM + CRLF
            "\r\n"                                        # 2 blank
            "   \t \r\n"                                  # 3 whitespace only
            "null\r\n"                                    # 4
            '"just text"\r\n'                             # 5
            "42\r\n"                                      # 6
            + json.dumps([case(7), case(8)]) + "\r\n"     # 7 a JSON array on one line
            + json.dumps(case(9)))                        # 9 (no newline at the end)
    path = tmp_path / "p.jsonl"
    path.write_bytes(body.encode("utf-8"))
    code, out, err = reports(pb, "--input", str(path))
    assert code == EXIT_REJECTED
    assert [r["case"]["id"] for r in out] == ["c1", "c9"]
    assert rejected_lines(err) == [
        f"rejected: {path}:4: a case must be a JSON object (a mapping of facts), got null",
        f"rejected: {path}:5: a case must be a JSON object (a mapping of facts), got a string",
        f"rejected: {path}:6: a case must be a JSON object (a mapping of facts), got a number",
        f"rejected: {path}:7: a case must be a JSON object (a mapping of facts), got an array; one case per "
        "line: a JSON array of cases belongs in a .json file (or give --input-format json)",
    ]


def test_a_line_without_end_is_capped_not_read_into_memory(pb: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "MAX_DOCUMENT", 4096)  # 64 MB in real life
    monkeypatch.setattr(readers, "READ_SIZE", 1000)
    big = json.dumps(case(2, notes="x" * 50_000))
    path = jsonl(tmp_path / "p.jsonl", [case(1), big, case(3)])
    code, out, err = reports(pb, "--input", str(path), "-j", "1")
    assert code == EXIT_REJECTED
    assert [r["case"]["id"] for r in out] == ["c1", "c3"]  # the line after the long one is intact
    assert rejected_lines(err) == [f"rejected: {path}:2: a line longer than 0 MB is not one case; it is skipped "
                                   "(one case per line; a JSON array of cases belongs in a .json file)"]


def test_nan_is_not_json_in_any_reader(pb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = jsonl(tmp_path / "p.jsonl", [case(1), '{"id": "n", "opportunity": {"amount": NaN}}', case(3)])
    code, out, err = reports(pb, "--input", str(lines))
    assert code == EXIT_REJECTED and [r["case"]["id"] for r in out] == ["c1", "c3"]
    assert f"rejected: {lines}:2: invalid JSON" in err
    # a JSON array is read with Python's json, which takes NaN: only that element is rejected
    array = tmp_path / "p.json"
    array.write_text('[\n{"id": "a", "account": {"is_target": true}},\n{"id": "n",\n "opportunity": {"amount": '
                     'Infinity, "x": [NaN]}},\n{"id": "b"}\n]\n', encoding="utf-8")
    code, out, err = reports(pb, "--input", str(array))
    assert code == EXIT_REJECTED and [r["case"]["id"] for r in out] == ["a", "b"]
    assert rejected_lines(err) == [f"rejected: {array}:3: Infinity is not a JSON value "
                                   "(write null for an unknown number)"]
    # and the standard-library fallback of JSONL parsing (no orjson) refuses it as well
    monkeypatch.setattr(worker, "loads", worker._loads_json)
    code, out, err = reports(pb, "--input", str(lines), "-j", "1")
    assert code == EXIT_REJECTED and [r["case"]["id"] for r in out] == ["c1", "c3"]
    assert f"rejected: {lines}:2: invalid JSON: NaN is not a JSON value" in err


def test_absurd_nesting_is_a_rejected_record_not_a_crash(pb: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    array = tmp_path / "p.json"
    array.write_text(f'[{json.dumps(case(1))},\n{{"id": "deep", "x": {deep}}},\n{json.dumps(case(3))}]',
                     encoding="utf-8")
    code, s, err = summary(pb, "--input", str(array))  # before: internal error (RecursionError), exit 70
    assert code == EXIT_REJECTED and s["cases"] == 1
    assert rejected_lines(err) == [f"rejected: {array}:2: a case nested too deeply to read (thousands of levels); "
                                   "the rest of the file is skipped"]
    lines = jsonl(tmp_path / "p.jsonl", [case(1), '{"id": "deep", "x": ' + deep + "}", case(3)])
    for loads in (worker.loads, worker._loads_json):  # orjson, and the json fallback
        monkeypatch.setattr(worker, "loads", loads)
        code, out, err = reports(pb, "--input", str(lines), "-j", "1")
        assert code == EXIT_REJECTED and [r["case"]["id"] for r in out] == ["c1", "c3"]
        assert f"rejected: {lines}:2: invalid JSON" in err


def test_duplicate_and_missing_ids_are_all_checked_and_told_apart(pb: Path, tmp_path: Path) -> None:
    no_id = case(0)
    del no_id["id"]
    path = jsonl(tmp_path / "p.jsonl", [case(1), case(1, amount=5), no_id, case(2, id=None), case(3, id=17)])
    code, out, _ = reports(pb, "--input", str(path))
    assert code == 0  # a duplicate id is not bad input: both records are checked, both reported
    assert [r["case"]["id"] for r in out] == ["c1", "c1", f"{path}:3", f"{path}:4", "17"]
    assert [r["stage"]["ready_to_advance"] for r in out[:2]] == [False, False]
    assert passed(out[0])["big-enough"] is True and passed(out[1])["big-enough"] is False


# -- folders --------------------------------------------------------------------------------
def test_a_folder_as_people_keep_it(pb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "cases"
    for sub in ("east", "west/locked", ".git", ".hidden-dir", "empty"):
        (d / sub).mkdir(parents=True)
    (d / "a.json").write_text(json.dumps(case(1)), encoding="utf-8")
    (d / "B.YAML").write_text("account: {is_target: true}\nopportunity: {amount: 5}\n", encoding="utf-8")
    (d / "east" / "c.yml").write_text("id: east-c\naccount: {is_target: true}\n", encoding="utf-8")
    (d / "west" / "locked" / "d.yaml").write_text("id: never-read\n", encoding="utf-8")
    (d / ".git" / "e.yaml").write_text("id: git\n", encoding="utf-8")
    (d / ".hidden-dir" / "f.yaml").write_text("id: hidden\n", encoding="utf-8")
    (d / ".~lock.a.json#").write_text("lock", encoding="utf-8")
    (d / ".DS_Store").write_bytes(b"\x00\x01")
    (d / "~$portfolio.xlsx").write_bytes(b"PK\x03\x04")
    (d / "README.md").write_text("# notes", encoding="utf-8")
    (d / "empty.yaml").write_text("", encoding="utf-8")
    (d / "west" / "more.jsonl").write_text(json.dumps(case(9)) + "\n", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:  # a folder the user may not read (root reads everything)
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = reports(pb, "--input", str(d))
    assert code == EXIT_REJECTED
    assert [r["case"]["id"] for r in out] == ["B", "c1", "east-c"]  # sorted by name, subfolders after files
    assert rejected_lines(err) == [
        f"rejected: {d / 'empty.yaml'}: the case is empty (write the facts as key: value pairs "
        "(see schemas/case.schema.json))",
        f"rejected: {d}: {d / 'west' / 'more.jsonl'}: a portfolio file inside a folder is not read as cases; "
        "give it as its own --input",
        f"rejected: {d}: {d / 'west' / 'locked'}: cannot read the folder: Permission denied; its cases are not "
        "checked",
    ]


# -- .gz and other files that are not what their name says ----------------------------------
def test_gz_inputs(pb: Path, tmp_path: Path) -> None:
    rows = "".join(json.dumps(case(i)) + "\n" for i in range(2000)).encode()
    good = tmp_path / "ok.jsonl.gz"
    good.write_bytes(gzip.compress(rows))
    assert summary(pb, "--input", str(good))[1]["cases"] == 2000
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_bytes(rows)
    empty = tmp_path / "empty.csv.gz"
    empty.write_bytes(b"")
    arr = tmp_path / "arr.json.gz"
    arr.write_bytes(b"[{}]")
    code, out, err = check(pb, "--input", str(good), "--input", str(plain), "--input", str(empty), "--input", str(arr))
    assert code == 2 and out == ""  # before: plain.jsonl.gz ran the batch and ended in exit 3, arr.json.gz exit 2
    hint = "(copy it again, or rename it without .gz if it is plain text)"
    assert err.splitlines() == [
        f"error: {plain}: is not gzip-compressed, though its name ends in .gz {hint}",
        f"error: {empty}: is empty (an interrupted copy or download?), though its name ends in .gz {hint}",
        f"error: {arr}: is not gzip-compressed, though its name ends in .gz {hint}",
    ]
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(rows)[:3000])
    code, s, err = summary(pb, "--input", str(cut))
    assert code == EXIT_REJECTED and 0 < s["cases"] < 2000 and s["rejected"]["count"] == 1
    assert rejected_lines(err) == [f"rejected: {cut}: the compressed file is truncated; the rest of the file is "
                                   "lost (copy or download it again)"]


def test_the_same_input_twice_would_count_every_case_twice(pb: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = jsonl(tmp_path / "p.jsonl", [case(1)])
    monkeypatch.chdir(tmp_path)
    code, out, err = check(pb, "--input", "p.jsonl", "--input", "./p.jsonl")
    assert code == 2 and out == ""
    assert err == "error: ./p.jsonl: given twice (also as p.jsonl) (give each input once)\n"
    assert path.read_text()  # untouched


# -- outputs ----------------------------------------------------------------------------------
def test_outputs_that_would_be_read_back_or_destroy_the_input(pb: Path, tmp_path: Path) -> None:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "a.yaml").write_text("id: a\naccount: {is_target: true}\n", encoding="utf-8")
    data = jsonl(tmp_path / "p.jsonl", [case(1)])
    link = tmp_path / "link.jsonl"
    link.symlink_to(data)
    for target in (f"jsonl={d / 'reports.jsonl'}", f"json={d / 'summary.json'}", f"jsonl={link}"):
        code, out, err = check(pb, "--input", str(d), "--input", str(data), "--write", target)
        assert code == 2 and out == "", target
        assert len(err.splitlines()) == 1 and ("inside the input folder" in err or "is also an --input" in err)
    assert sorted(p.name for p in d.iterdir()) == ["a.yaml"]  # nothing was created in the folder
    assert json.loads(data.read_text()) == case(1)
    # a file the folder reader ignores (HTML) may live there
    code, _, _ = check(pb, "--input", str(d), "--write", f"html={d / 'funnel.html'}")
    assert code == 0 and (d / "funnel.html").read_text().startswith("<!DOCTYPE html>")
    code, s, _ = summary(pb, "--input", str(d))
    assert s["cases"] == 1  # and it is not read as a case on the next run


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
@pytest.mark.parametrize("fmt", ["jsonl", "summary-text", "html"])
def test_a_full_disk_is_one_line_and_exit_2(pb: Path, tmp_path: Path, fmt: str) -> None:
    data = jsonl(tmp_path / "p.jsonl", [case(i) for i in range(600)])
    code, _, err = check(pb, "--input", str(data), "--format", fmt, "-o", "/dev/full")
    assert code == 2 and err == "error: /dev/full: cannot write: No space left on device\n"


def test_an_output_under_a_file_or_missing_folder_costs_nothing(pb: Path, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "p.jsonl", [case(1)])
    code, _, err = check(pb, "--input", str(data), "--write", f"html={data}/funnel.html")
    assert code == 2 and "the folder does not exist" in err


# -- parallel runs, bad records, --max-errors -----------------------------------------------
def _mixed(tmp_path: Path, n: int = 2000) -> tuple[Path, list[int]]:
    rows: list[Any] = [case(i, amount=(i * 7919) % 300_000, dm=i % 3 != 0, signed=i % 7 == 0) for i in range(n)]
    bad = [3, 257, 258, 700, 1023, 1024, 1999]  # chunk edges included (chunks of 256)
    for k, i in enumerate(bad):
        rows[i] = ["{broken", "[]", '{"id": "s", "stage": "nowhere"}', "7"][k % 4]
    return jsonl(tmp_path / "p.jsonl", rows), [i + 1 for i in bad]


def test_parallel_output_and_rejections_keep_input_order(pb: Path, tmp_path: Path) -> None:
    data, bad_lines = _mixed(tmp_path)
    seen = {}
    for jobs in ("1", "2", "3"):
        out_file = tmp_path / f"r{jobs}.jsonl"
        code, s, err = summary(pb, "--input", str(data), "-j", jobs, "--write", f"jsonl={out_file}")
        assert code == EXIT_REJECTED
        assert [int(line.split(":")[2]) for line in rejected_lines(err)] == bad_lines
        ids = [json.loads(line)["case"]["id"] for line in out_file.read_text().splitlines()]
        assert ids == [f"c{i}" for i in range(2000) if i + 1 not in bad_lines]
        seen[jobs] = (s, err, out_file.read_text())
    assert seen["1"] == seen["2"] == seen["3"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_max_errors_1_stops_at_the_first_bad_record(pb: Path, tmp_path: Path, jobs: str) -> None:
    data, bad_lines = _mixed(tmp_path)
    code, s, err = summary(pb, "--input", str(data), "--max-errors", "1", "-j", jobs)
    assert code == EXIT_STOPPED
    assert s["cases"] == bad_lines[0] - 1 and s["rejected"]["count"] == 1
    assert s["stopped"] == {"reason": "max_errors", "max_errors": 1}
    assert len(rejected_lines(err)) == 1


def test_max_errors_0_is_a_usage_error(pb: Path, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "p.jsonl", [case(1)])
    code, out, err = check(pb, "--input", str(data), "--max-errors", "0")
    assert code == 2 and out == "" and "--max-errors" in err


# -- what people read: every format, both languages, hostile text ---------------------------
HOSTILE_ID = '<script>alert("id")</script>'


def _hostile_inputs(tmp_path: Path) -> list[str]:
    d = tmp_path / "x<img src=x onerror=alert(1)>"
    d.mkdir()
    csv_file = d / "a&b.csv"
    csv_file.write_text("id,account.is_target,opportunity.amount\n"
                        f'"{HOSTILE_ID.replace(chr(34), chr(34) * 2)}",yes,50000\n'
                        "ok,yes,</svg><script>alert(2)</script>\n", encoding="utf-8")
    lines = jsonl(d / "c.jsonl", [case(1), case(2, signed=True), "{<script>alert(3)</script>"])
    return ["--input", str(csv_file), "--input", str(lines)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_escapes_every_name_and_matches_the_json(pb: Path, tmp_path: Path, lang: str) -> None:
    inputs = _hostile_inputs(tmp_path)
    html_file, json_file = tmp_path / "f.html", tmp_path / "f.json"
    code, _, err = check(pb, *inputs, "--lang", lang, "--format", "html", "-o", str(html_file),
                         "--write", f"json={json_file}")
    assert code == EXIT_REJECTED
    page = html_file.read_text(encoding="utf-8")
    s = json.loads(json_file.read_text(encoding="utf-8"))
    assert not re.search(r"<(script|img|b)\b", page, re.I)  # markup from data never becomes markup
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "&amp;" in page
    assert "Content-Security-Policy" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    title = {"en": 'Key accounts &lt;test&gt; &amp; &quot;quotes&quot;', "zh": "大客户漏斗 &lt;测试&gt; &amp; &quot;引号&quot;"}
    assert title[lang] in page
    assert ("客户组合漏斗" in page) == (lang == "zh") and ("Portfolio funnel" in page) == (lang == "en")
    metrics = dict(re.findall(r'data-metric="([^"]+)" data-value="(\d+)"', page))
    assert int(metrics["cases"]) == s["cases"] == 3
    assert int(metrics["rejected"]) == s["rejected"]["count"] == 2
    for st in s["stages"]:
        assert int(metrics[f"stage.{st['id']}.cases"]) == st["cases"]
        assert int(metrics[f"funnel.{st['id']}.reached"]) == st["reached"]
    for b in s["blocking"]:
        assert int(metrics[f"blocking.{b['criterion']}"]) == b["cases"]
    assert len(rejected_lines(err)) == 2


@pytest.mark.parametrize("lang, words, absent", [
    ("zh", ["客户组合漏斗", "大客户漏斗", "资格确认", "因输入有误被拒绝", "最常见的卡关条件", "金额<b>够大</b>"],
     ["Portfolio funnel", "Qualify"]),
    ("en", ["Portfolio funnel", "Key accounts", "Qualify", "rejected as bad input", "Amount <b>big</b> enough"],
     ["客户组合漏斗", "资格确认"]),
])
def test_every_format_speaks_the_chosen_language(pb: Path, tmp_path: Path, lang: str, words: list[str],
                                                 absent: list[str]) -> None:
    data = jsonl(tmp_path / "p.jsonl", [case(1, amount=5), case(2), "nope"])
    outs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("summary-text", "summary-json", "html", "jsonl")}
    code, stdout, _ = check(pb, "--input", str(data), "--lang", lang,
                            *[a for fmt, path in outs.items() for a in ("--write", f"{fmt}={path}")])
    assert code == EXIT_REJECTED
    text = outs["summary-text"].read_text(encoding="utf-8")
    assert stdout == text  # the default format on stdout is the same summary
    for word in words:
        assert word in text
    for word in absent:
        assert word not in text
    s = json.loads(outs["summary-json"].read_text(encoding="utf-8"))
    assert s["lang"] == lang and s["stages"][0]["title"] == ("资格确认" if lang == "zh" else "Qualify")
    assert all(json.loads(line)["lang"] == lang for line in outs["jsonl"].read_text().splitlines())
    page = outs["html"].read_text(encoding="utf-8")
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in page and words[0] in page


def test_control_characters_never_break_the_one_line_per_rejection(pb: Path, tmp_path: Path) -> None:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "evil\nrejected: forged.yaml").mkdir()
    (d / "evil\nrejected: forged.yaml" / "x.yaml").write_text("- not a mapping\n", encoding="utf-8")
    csv_file = tmp_path / "p.csv"
    csv_file.write_text('id,opportunity.amount\na,"12\x1b]0;pwned\x07\n34"\n', encoding="utf-8")
    code, s, err = summary(pb, "--input", str(d), "--input", str(csv_file))
    assert code == EXIT_REJECTED and s["rejected"]["count"] == 2
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith("rejected: ") for line in lines)
    assert "\\nrejected: forged.yaml" in lines[0]
    assert "\x1b" not in err and "\\x1b]0;pwned\\x07\\n34" in lines[1]


# -- Ctrl-C -----------------------------------------------------------------------------------
def test_ctrl_c_in_process_stops_cleanly_with_130(pb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = jsonl(tmp_path / "p.jsonl", [case(i) for i in range(2000)])
    from playbook.batch import runner

    calls = {"n": 0}
    real = runner.Checker.run  # the class the runner uses (another test may have reloaded ``worker``)

    def interrupted(self: Any, chunk: Any, budget: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, chunk, budget)

    monkeypatch.setattr(runner.Checker, "run", interrupted)
    out_file = tmp_path / "r.jsonl"
    html = tmp_path / "old.html"
    html.write_text("previous report", encoding="utf-8")
    code, out, err = check(pb, "--input", str(data), "-j", "1", "--write", f"jsonl={out_file}",
                           "--write", f"html={html}")
    assert code == EXIT_INTERRUPTED == 130
    assert out == "" and html.read_text() == "previous report"  # no partial summary over a good one
    assert err == ("interrupted: 512 case(s) checked and 0 rejected before Ctrl-C; no summary was written and "
                   "per-case JSONL output stops there\n")
    assert len(out_file.read_text().splitlines()) == 512


def test_ctrl_c_on_a_parallel_run_in_a_real_terminal_process_group(pb: Path, tmp_path: Path) -> None:
    data = jsonl(tmp_path / "p.jsonl", [case(i, amount=i % 300_000) for i in range(150_000)])
    out_file = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "playbook", "check", str(pb), "--input", str(data), "-j", "2",
                             "--format", "jsonl", "-o", str(out_file), "--today", TODAY],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out_file.exists() and out_file.stat().st_size > 100_000:  # workers are busy
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == EXIT_INTERRUPTED, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text  # workers stay quiet
    assert re.fullmatch(r"interrupted: [\d,]+ case\(s\) checked and 0 rejected before Ctrl-C; no summary was "
                        r"written and per-case JSONL output stops there\n", text), text
    checked = int(text.split()[1].replace(",", ""))
    assert 0 < checked < 150_000
    assert len(out_file.read_text().splitlines()) == checked  # every checked case is in the output


def test_progress_bar_is_wiped_before_a_rejection_is_printed() -> None:
    import io

    from playbook.batch.progress import Progress
    from playbook.batch.readers import Meter

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = Progress(Meter(None), stream)
    bar.clear()
    assert stream.getvalue() == ""  # nothing drawn yet, nothing to wipe
    bar.update(10, 0, force=True)
    bar.clear()
    stream.write("rejected: p.jsonl:3: invalid JSON\n")
    bar.update(20, 1)  # drawn again at once, not after the interval
    lines = stream.getvalue().split("\n")
    assert lines[0].endswith("\r\x1b[Krejected: p.jsonl:3: invalid JSON")
    assert "20 cases" in lines[1]


# -- real processes -----------------------------------------------------------------------------
def test_real_process_semicolon_csv_and_gbk(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(_excel_csv(";"))
    proc = subprocess_check(str(pb), "--input", str(path), "--format", "summary-json", "--today", TODAY, "-j", "2")
    assert proc.returncode == 0 and proc.stderr == ""
    s = json.loads(proc.stdout)
    assert s["cases"] == 3 and s["complete"] == 1 and s["not_entered"] == 1
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("id,account.name\n甲,华为\n乙,中兴\n丙,联想\n".encode("gbk"))
    proc = subprocess_check(str(pb), "--input", str(gbk), "--lang", "zh")
    assert proc.returncode == 2 and proc.stdout == "" and len(proc.stderr.splitlines()) == 1
    assert "GBK/GB18030" in proc.stderr and "iconv -f GB18030 -t UTF-8" in proc.stderr


def test_more_jobs_than_the_system_allows_is_a_usage_error_not_a_hang(pb: Path, tmp_path: Path) -> None:
    # Before: the pool failed half-started ("internal error: OSError: Too many open files") and the
    # process then waited forever at exit for the workers it had started.
    import resource

    data = jsonl(tmp_path / "p.jsonl", [case(i) for i in range(600)])

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc = subprocess_check(str(pb), "--input", str(data), "-j", "60", "--today", TODAY, preexec_fn=few_files)
    assert proc.returncode == 2 and proc.stdout == ""
    assert re.fullmatch(r"error: cannot start 60 worker processes: Too many open files \(give a smaller --jobs "
                        r"\(this machine has \d+ core\(s\) for it\)\)\n", proc.stderr), proc.stderr
