"""Adversarial review of portfolio checks (``playbook check PLAYBOOK --input ...``): hostile inputs
and output paths a sales director's team produces. Each test pins a bug found in review."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.batch import EXIT_REJECTED
from playbook.cli import cli

PLAYBOOK = """\
id: review-funnel
version: 1
title: {zh: 复核漏斗, en: Review funnel}
stages:
  - id: qualify
    title: {zh: 资格确认, en: Qualify}
    entry:
      - {id: is-target, title: {zh: 目标客户, en: Target account}, when: "account.is_target == true"}
    exit:
      - {id: big-enough, title: {zh: 金额够大, en: Big enough}, when: "opportunity.amount >= 100000"}
  - id: propose
    title: {zh: 提交方案, en: Propose}
    exit:
      - {id: signed, title: {zh: 已签约, en: Signed}, when: "opportunity.contract.signed == true"}
"""
TODAY = "2026-03-01"


def case(i: int) -> dict:
    return {"id": f"c{i}", "account": {"is_target": True}, "opportunity": {"amount": 200_000}}


@pytest.fixture
def pb(tmp_path: Path) -> Path:
    path = tmp_path / "pb.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--today", TODAY])
    return result.exit_code, result.stdout, result.stderr


def summary(*args: str) -> tuple[int, dict, str]:
    code, out, err = run(*args, "--format", "summary-json")
    assert not out.startswith("Traceback"), out
    return code, json.loads(out), err


# -- outputs -------------------------------------------------------------------------------------
def test_output_never_overwrites_an_input(pb: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    original = "".join(json.dumps(case(i)) + "\n" for i in range(3))
    cases.write_text(original, encoding="utf-8")
    code, _, err = run("check", str(pb), "--input", str(cases), "--format", "jsonl",
                       "-o", str(tmp_path / "." / "cases.jsonl"))
    assert code == 2
    assert "is also an --input" in err
    assert cases.read_text(encoding="utf-8") == original  # the portfolio is intact


def test_same_output_spelled_two_ways_is_refused(pb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(case(1)) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run("check", str(pb), "--input", "cases.jsonl", "--format", "html", "-o", "f.html",
                       "--write", "html=./f.html")
    assert code == 2 and "two outputs write to the same place" in err


def test_output_that_is_a_folder_fails_before_the_batch(pb: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(case(1)) + "\n" + "{bad\n", encoding="utf-8")
    code, out, err = run("check", str(pb), "--input", str(cases), "--write", f"html={tmp_path}")
    assert code == 2
    assert "is a folder" in err
    assert "rejected:" not in err and out == ""  # nothing ran


def test_jsonl_output_write_failure_is_an_error_not_a_traceback(pb: Path, tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(case(i)) + "\n" for i in range(5)), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "playbook", "check", str(pb), "--input", str(cases),
                           "--write", "jsonl=/dev/full", "--today", TODAY],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "/dev/full: cannot write" in proc.stderr


# -- JSON arrays ---------------------------------------------------------------------------------
def test_content_after_the_array_is_reported(pb: Path, tmp_path: Path) -> None:
    # two exports pasted together: the second array's cases must not vanish in silence
    path = tmp_path / "two.json"
    path.write_text(json.dumps([case(1)]) + "\n" + json.dumps([case(2), case(3)]), encoding="utf-8")
    code, data, err = summary("check", str(pb), "--input", str(path))
    assert code == EXIT_REJECTED
    assert data["cases"] == 1 and data["rejected"]["count"] == 1
    assert f"{path}:2: unexpected '['" in err


def test_pretty_printed_single_object_gives_one_clear_error(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(case(1), indent=2), encoding="utf-8")
    code, data, err = summary("check", str(pb), "--input", str(path))
    assert code == EXIT_REJECTED
    assert data["rejected"]["count"] == 1  # not one rejection per line of the object
    assert "expected a JSON array of cases" in err and "one JSON object" in err


def test_one_case_per_line_in_a_json_file_is_still_jsonl(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text("".join(json.dumps(case(i)) + "\n" for i in range(3)), encoding="utf-8")
    code, data, _ = summary("check", str(pb), "--input", str(path))
    assert code == 0 and data["cases"] == 3


def test_non_utf8_element_in_a_json_array_rejects_only_that_element(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    body = b"[\n" + json.dumps(case(1)).encode() + b",\n" + b'{"id": "c2", "account": {"name": "Caf\xe9"}},\n' \
        + json.dumps(case(3)).encode() + b"\n]\n"
    path.write_bytes(body)
    code, data, err = summary("check", str(pb), "--input", str(path))
    assert code == EXIT_REJECTED
    assert data["cases"] == 2 and data["rejected"]["count"] == 1
    assert data["rejected"]["shown"][0]["line"] == 3
    assert "not UTF-8" in err


# -- CSV -----------------------------------------------------------------------------------------
def test_unclosed_quote_in_csv_is_reported_not_swallowed(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,account.is_target,account.name\nc1,true,"unterminated\nc2,true,ok\nc3,true,ok\n',
                    encoding="utf-8")
    code, data, err = summary("check", str(pb), "--input", str(path))
    assert code == EXIT_REJECTED
    assert data["rejected"]["count"] == 1
    assert f"{path}:2:" in err and "never closed" in err


def test_non_utf8_csv_row_rejects_that_row_and_keeps_the_rest(pb: Path, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(b"id,account.is_target,account.name\nc1,true,ok\n"
                     + "c2,true,招商银行\n".encode("gbk") + b"c3,true,ok\n")
    code, data, err = summary("check", str(pb), "--input", str(path))
    assert code == EXIT_REJECTED
    assert data["cases"] == 2 and data["rejected"]["count"] == 1
    assert f"{path}:3: not UTF-8" in err


# -- folders and stdin ---------------------------------------------------------------------------
def test_portfolio_files_inside_a_folder_are_not_skipped_in_silence(pb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(case(1)), encoding="utf-8")
    (folder / "more.jsonl").write_text(json.dumps(case(2)) + "\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not a case", encoding="utf-8")
    code, data, err = summary("check", str(pb), "--input", str(folder))
    assert code == EXIT_REJECTED
    assert data["cases"] == 1 and data["rejected"]["count"] == 1
    assert "more.jsonl" in err and "own --input" in err


def test_stdin_twice_is_a_usage_error(pb: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(pb), "--input", "-", "--input", "-"],
                                input=json.dumps(case(1)) + "\n")
    assert result.exit_code == 2
    assert "stdin" in result.stderr and "twice" in result.stderr


@pytest.mark.parametrize("name", ["cases.jsonl.gz", "cases.csv.gz"])
def test_truncated_gzip_is_reported_not_aborted(pb: Path, tmp_path: Path, name: str) -> None:
    import gzip

    if name.startswith("cases.csv"):
        text = "id,account.is_target,opportunity.amount\n" + "".join(f"c{i},true,200000\n" for i in range(2000))
    else:
        text = "".join(json.dumps(case(i)) + "\n" for i in range(2000))
    packed = gzip.compress(text.encode("utf-8"))
    path = tmp_path / name
    path.write_bytes(packed[: len(packed) // 2])  # an interrupted download
    code, data, err = summary("check", str(pb), "--input", str(path))
    assert code == EXIT_REJECTED, err  # click turned the EOFError into "Aborted!" (exit 1)
    assert "truncated" in err
    assert data["cases"] > 0 and data["rejected"]["count"] >= 1
