"""Portfolio checks: ``playbook check PLAYBOOK --input ...`` (readers, workers, outputs, exit codes)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.batch import EXIT_REJECTED, EXIT_STOPPED, readers, worker
from playbook.cli import cli

PLAYBOOK = textwrap.dedent("""\
    id: mini-funnel
    version: 1
    title: {zh: 迷你漏斗, en: Mini funnel}
    facts:
      visit:
        type: object
        properties:
          count: {type: integer}
          vip: {type: boolean}
    stages:
      - id: qualify
        title: {zh: 资格确认, en: Qualify}
        entry:
          - {id: is-target, title: {zh: 目标客户, en: Target account}, when: "account.is_target == true"}
        exit:
          - {id: big-enough, title: {zh: 金额够大, en: Big enough}, when: "opportunity.amount >= 100000",
             hint: {zh: 扩大范围, en: Grow the scope}}
          - {id: visited, title: {zh: 拜访过, en: Visited}, level: recommended, when: "visit.count >= 1"}
      - id: propose
        title: {zh: 提交方案, en: Propose}
        entry:
          - {id: has-dm, title: {zh: 有决策者, en: Decision maker known},
             when: 'count(stakeholders, role == "decision_maker") >= 1'}
        exit:
          - {id: signed, title: {zh: 已签约, en: Signed}, when: "opportunity.contract.signed == true"}
    outcomes:
      - {id: won, kind: won, title: {zh: 赢单, en: Won}, when: 'opportunity.status == "won"'}
    """)

TODAY = "2026-03-01"


def case(i: int, *, target: bool = True, amount: int = 200_000, dm: bool = True, signed: bool = False,
         **extra: object) -> dict:
    c: dict = {"id": f"c{i}", "account": {"is_target": target},
               "opportunity": {"amount": amount, "contract": {"signed": signed}},
               "stakeholders": [{"role": "decision_maker"}] if dm else [], "visit": {"count": 1}}
    c.update(extra)
    return c


@pytest.fixture
def playbook_file(tmp_path: Path) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def summary(*args: str) -> tuple[int, dict, str]:
    code, out, err = run(*args, "--format", "summary-json", "--today", TODAY)
    return code, json.loads(out), err


# -- JSONL ----------------------------------------------------------------------------------
def test_jsonl_bad_records_are_reported_with_line_and_counted(playbook_file: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "p.jsonl", [
        case(1), case(2, amount=10), "", '{"id": "broken", ', "[1, 2]",
        case(3, signed=True, opportunity={"amount": 200000, "contract": {"signed": True}, "status": "won"}),
        {"id": "bad-stage", "stage": "nowhere"},
    ])
    code, s, err = summary("check", str(playbook_file), "--input", str(data), "-j", "1")
    assert code == EXIT_REJECTED
    assert s["records"] == 6 and s["cases"] == 3 and s["rejected"]["count"] == 3
    assert [(r["line"], r["source"]) for r in s["rejected"]["shown"]] == [(4, str(data)), (5, str(data)), (7, str(data))]
    assert "invalid JSON" in s["rejected"]["shown"][0]["message"]
    assert "got an array" in s["rejected"]["shown"][1]["message"]
    assert "unknown stage 'nowhere'" in s["rejected"]["shown"][2]["message"]
    assert f"rejected: {data}:4: invalid JSON" in err
    stages = {st["id"]: st for st in s["stages"]}
    # c1: qualify passes, enters propose (dm) but not signed; c3 signed -> complete
    assert stages["qualify"]["cases"] == 1 and stages["qualify"]["blocked"] == 1  # c2 (amount)
    assert stages["propose"]["cases"] == 2 and stages["propose"]["ready_to_advance"] == 1
    assert s["complete"] == 1 and s["outcomes"] == [{"id": "won", "kind": "won", "title": "Won", "cases": 1}]
    assert s["blocking"][0]["criterion"] in {"big-enough", "signed"}
    assert {b["criterion"]: b["cases"] for b in s["blocking"]} == {"big-enough": 1, "signed": 1}


def test_clean_batch_exits_zero_even_when_cases_are_blocked(playbook_file: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "p.jsonl", [case(1, target=False), case(2, amount=1)])
    code, s, _ = summary("check", str(playbook_file), "--input", str(data))
    assert code == 0
    assert s["not_entered"] == 1 and s["entered"] == 1 and s["stages"][0]["reached"] == 1


def test_jsonl_output_is_the_single_case_report(playbook_file: Path, tmp_path: Path) -> None:
    cases = [case(1), case(2, amount=5), case(3, signed=True)]
    data = write_jsonl(tmp_path / "p.jsonl", cases)
    code, out, _ = run("check", str(playbook_file), "--input", str(data), "--format", "jsonl", "--today", TODAY,
                       "--lang", "zh")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["case"]["id"] for r in lines] == ["c1", "c2", "c3"]
    single = tmp_path / "c2.json"
    single.write_text(json.dumps(cases[1]))
    _, one, _ = run("check", str(playbook_file), str(single), "--format", "json", "--today", TODAY, "--lang", "zh")
    assert lines[1] == json.loads(one)


def test_case_id_defaults_to_source_and_line(playbook_file: Path, tmp_path: Path) -> None:
    c = case(1)
    del c["id"]
    data = write_jsonl(tmp_path / "p.jsonl", [c])
    _, out, _ = run("check", str(playbook_file), "--input", str(data), "--format", "jsonl", "--today", TODAY)
    assert json.loads(out)["case"]["id"] == f"{data}:1"


def test_stdin_and_several_inputs(playbook_file: Path, tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [case(1)])
    result = CliRunner().invoke(cli, ["check", str(playbook_file), "--input", str(a), "--input", "-",
                                      "--format", "summary-json"], input=json.dumps(case(2)) + "\n")
    s = json.loads(result.stdout)
    assert s["cases"] == 2 and s["inputs"] == [str(a), "<stdin>"]


# -- JSON array -----------------------------------------------------------------------------
def test_json_array_streams_with_line_numbers(playbook_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(readers, "READ_SIZE", 7)  # force many buffer refills mid-element
    body = "[\n" + ",\n".join(json.dumps(case(i), indent=1) for i in range(3)) + ",\n  42\n]\n"
    path = tmp_path / "p.json"
    path.write_text(body)
    code, s, _ = summary("check", str(playbook_file), "--input", str(path), "-j", "1")
    assert s["cases"] == 3 and code == EXIT_REJECTED
    assert s["rejected"]["shown"][0]["line"] == body[: body.index("42")].count("\n") + 1
    assert "got a number" in s["rejected"]["shown"][0]["message"]


def test_json_array_syntax_error_is_reported_and_the_rest_skipped(playbook_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('[\n{"id": "a", "account": {"is_target": true}},\n{"id": "b", oops},\n{"id": "c"}\n]')
    code, s, _ = summary("check", str(playbook_file), "--input", str(path))
    assert code == EXIT_REJECTED and s["cases"] == 1
    (rej,) = s["rejected"]["shown"]
    assert rej["line"] == 3 and "invalid JSON" in rej["message"] and "rest of the file is skipped" in rej["message"]


# -- CSV ------------------------------------------------------------------------------------
def test_csv_dotted_headers_are_typed_by_the_schemas(playbook_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "id,account.is_target,opportunity.amount,opportunity.contract.signed,stakeholders.0.role,"
        "stakeholders.1.role,visit.count,visit.vip,account.name\n"
        "a,yes,250000,是,decision_maker,user,2,false,007 Co\n"
        "b,no,100,false,,,,,\n"
        "c,true,lots,false,decision_maker,,1,,\n"
        "d,true,120000\n",
        encoding="utf-8",
    )
    code, out, err = run("check", str(playbook_file), "--input", str(path), "--format", "jsonl", "--today", TODAY)
    assert code == EXIT_REJECTED
    reports = {json.loads(line)["case"]["id"]: json.loads(line) for line in out.splitlines()}
    assert set(reports) == {"a", "b"}
    a = reports["a"]
    assert a["stage"]["complete"] is True  # amount parsed as a number, 是 as true, list built from .0/.1
    values = {c["id"]: c["values"] for st in a["stages"] for c in st["entry"] + st["exit"]}
    assert values["visited"] == {"visit.count": 2}
    assert values["has-dm"] == {"len(stakeholders)": 2}
    assert reports["b"]["stage"]["entered"] is False
    assert f"rejected: {path}:4: column opportunity.amount: expected a number, got 'lots'" in err
    assert f"rejected: {path}:5: expected 9 columns as in the header, got 3" in err


def test_csv_bad_header_skips_the_file_with_a_reason(playbook_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,opportunity,opportunity.amount\nx,1,2\n")
    code, s, _ = summary("check", str(playbook_file), "--input", str(path))
    assert code == EXIT_REJECTED and s["cases"] == 0
    assert "treats it as a mapping" in s["rejected"]["shown"][0]["message"]


def test_csv_converter_units() -> None:
    from playbook.batch.csvfacts import CellError, RowConverter, SchemaTypes

    types = SchemaTypes({"$defs": {"d": {"type": "number"}}, "properties": {
        "a": {"type": "object", "properties": {"n": {"$ref": "#/$defs/d"}, "tags": {"type": "array",
                                                                                  "items": {"type": "integer"}}}}}})
    conv = RowConverter(["a.n", "a.tags", "free"], types)
    assert conv(["1.5", "1; 2;3", '{"k": 1}']) == {"a": {"n": 1.5, "tags": [1, 2, 3]}, "free": {"k": 1}}
    assert conv(["", '["x"]', "text"]) == {"a": {"tags": ["x"]}, "free": "text"}
    with pytest.raises(CellError, match="a.tags"):
        conv(["1", "1;x", ""])


# -- directory of case files ----------------------------------------------------------------
def test_directory_of_case_files(playbook_file: Path, tmp_path: Path) -> None:
    d = tmp_path / "cases"
    (d / "sub").mkdir(parents=True)
    (d / "one.yaml").write_text("account: {is_target: true}\nopportunity: {amount: 500000}\n")
    (d / "sub" / "two.json").write_text(json.dumps(case(2)))
    (d / "broken.yaml").write_text("account:\n  is_target: true\n  - nope\n")
    (d / "notes.txt").write_text("ignored")
    code, out, err = run("check", str(playbook_file), "--input", str(d), "--format", "jsonl", "--today", TODAY)
    assert code == EXIT_REJECTED
    assert [json.loads(line)["case"]["id"] for line in out.splitlines()] == ["one", "c2"]
    assert f"rejected: {d / 'broken.yaml'}:3:" in err


# -- stopping, jobs, options ----------------------------------------------------------------
def test_max_errors_stops_exactly(playbook_file: Path, tmp_path: Path) -> None:
    rows: list[object] = []
    for i in range(600):
        rows.append("not json" if i % 100 == 50 else case(i))
    data = write_jsonl(tmp_path / "p.jsonl", rows)
    for jobs in ("1", "2"):
        code, s, err = summary("check", str(playbook_file), "--input", str(data), "--max-errors", "3", "-j", jobs)
        assert code == EXIT_STOPPED
        assert s["rejected"]["count"] == 3 and s["cases"] == 250 - 2  # stops right after line 251
        assert s["stopped"] == {"reason": "max_errors", "max_errors": 3}
        assert err.count("rejected:") == 3


def test_parallel_run_matches_in_process(playbook_file: Path, tmp_path: Path) -> None:
    rows = [case(i, amount=(i * 7919) % 300_000, dm=i % 3 != 0, signed=i % 5 == 0,
                 **({"stage": "propose"} if i % 11 == 0 else {})) for i in range(1500)]
    rows[700] = "{oops"
    data = write_jsonl(tmp_path / "p.jsonl", rows)
    outs = {}
    for jobs in ("1", "2"):
        out_file = tmp_path / f"j{jobs}.jsonl"
        code, s, _ = summary("check", str(playbook_file), "--input", str(data), "-j", jobs,
                             "--write", f"jsonl={out_file}")
        assert code == EXIT_REJECTED
        outs[jobs] = (s, out_file.read_text())
    assert outs["1"] == outs["2"]
    s = outs["1"][0]
    assert s["declared_ahead"]["cases"] > 0 and s["declared_ahead"]["by_stage"][0]["declared"] == "propose"
    assert len(outs["1"][1].splitlines()) == 1499


def test_write_several_formats_in_one_run(playbook_file: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "p.jsonl", [case(1), case(2, amount=3)])
    html, js = tmp_path / "f.html", tmp_path / "f.json"
    code, out, _ = run("check", str(playbook_file), "--input", str(data), "--lang", "zh",
                       "--write", f"html={html}", "--write", f"json={js}")
    assert code == 0
    assert "客户组合漏斗" in out and "迷你漏斗" in out  # summary-text on stdout, in Chinese
    assert json.loads(js.read_text())["cases"] == 2
    assert html.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("args, message", [
    (["c.yaml", "--input", "x.jsonl"], "either a CASE or --input"),
    (["c.yaml", "--jobs", "2"], "--jobs only applies with --input"),
    (["c.yaml", "--format", "html"], "applies to a portfolio"),
    (["--input", "missing.jsonl"], "missing.jsonl: no such file"),
    (["--input", "x.jsonl", "--write", "pdf=x.pdf"], "expected FORMAT=PATH"),
    (["--input", "x.jsonl", "--stage", "nowhere"], "no such stage"),
    (["--input", "x.jsonl", "-o", "/nonexistent-dir/out.html"], "the folder does not exist"),
])
def test_usage_errors_exit_2(playbook_file: Path, tmp_path: Path, monkeypatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "x.jsonl", [case(1)])
    (tmp_path / "c.yaml").write_text("account: {is_target: true}\n")
    code, out, err = run("check", str(playbook_file), *args)
    assert code == 2
    assert message in err


def test_single_case_exit_codes_unchanged(playbook_file: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps(case(1, signed=True)))
    blocked = tmp_path / "blocked.json"
    blocked.write_text(json.dumps(case(2, amount=1)))
    assert run("check", str(playbook_file), str(ready))[0] == 0
    assert run("check", str(playbook_file), str(blocked))[0] == 1
    assert run("check", str(playbook_file), str(tmp_path / "nope.json"))[0] == 2


def test_json_parser_falls_back_to_json_without_orjson(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson -> ImportError
    try:
        fallback = importlib.reload(worker)
        assert fallback.JSON_PARSER == "json"
        assert fallback.loads(b'{"a": [1, "\xc3\xa9"]}') == {"a": [1, "é"]}
        assert fallback.dumps({"a": "中"}) == '{"a":"中"}'
    finally:
        monkeypatch.delitem(sys.modules, "orjson")
        importlib.reload(worker)
    assert ("orjson" if importlib.util.find_spec("orjson") else "json") == worker.JSON_PARSER


def test_subprocess_batch(playbook_file: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "p.jsonl", [case(i) for i in range(300)] + ["nope"])
    proc = subprocess.run([sys.executable, "-m", "playbook", "check", str(playbook_file), "--input", str(data),
                           "--format", "summary-json", "--jobs", "2", "--today", TODAY],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_REJECTED
    s = json.loads(proc.stdout)
    assert s["cases"] == 300 and s["rejected"]["shown"][0]["line"] == 301
    assert proc.stderr.strip() == f"rejected: {data}:301: " + s["rejected"]["shown"][0]["message"]
    assert "\r" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_progress_bar_draws_only_on_a_terminal() -> None:
    import io

    from playbook.batch.progress import Progress
    from playbook.batch.readers import Meter

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Progress.wanted(io.StringIO()) is False and Progress.wanted(Tty()) is True
    meter = Meter(total_bytes=1000)
    meter.bytes = 500
    stream = Tty()
    bar = Progress(meter, stream)
    bar.update(1234, 2, force=True)
    bar.close(2000, 2)
    text = stream.getvalue()
    assert text.startswith("\r[") and " 50.0% 1,234 cases" in text and "2 rejected" in text
    assert text.endswith("\n") and "2,000 cases" in text
