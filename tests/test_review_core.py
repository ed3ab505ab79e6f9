"""Regressions found by an adversarial review of the core against the documented semantics
(docs/playbook-format.md, README, issues #2/#3), with playbooks and cases written from scratch."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from playbook.engine import evaluate
from playbook.errors import CaseError, PlaybookError
from playbook.loader import load_playbook

REVIEW = Path(__file__).resolve().parent / "fixtures" / "review"
STAGES = REVIEW / "stages.yaml"
TODAY = dt.date(2026, 3, 1)


def one_criterion(load_yaml: Any, when: str) -> Any:
    return load_yaml(f"""
        id: probe
        version: 1
        title: Probe
        stages:
          - id: only
            title: Only
            exit:
              - id: c
                title: C
                when: {json.dumps(when)}
        """)


def check(pb: Any, facts: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    return evaluate(pb, facts, today=TODAY).to_dict(lang)["stages"][0]["exit"][0]


# -- a missing fact never passes by accident -----------------------------------------------------

@pytest.mark.parametrize(("when", "path"), [
    ('not (a.grade in ["A", "B"])', "a.grade"),          # `in` a written list, negated
    ('(a.grade in ["A"]) == false', "a.grade"),
    ("not (a.missing or a.no)", "a.missing"),            # `or` with nothing true but a missing side
    ("(a.missing or a.no) == false", "a.missing"),
    ("[a.missing] != [1]", "a.missing"),                 # a written list holding a missing fact
    ('not (a.grade2 in [a.missing, "A"])', "a.missing"),  # not found among the known items
])
def test_a_missing_fact_fails_the_criterion_and_is_named(load_yaml: Any, when: str, path: str) -> None:
    item = check(one_criterion(load_yaml, when), {"a": {"no": False, "grade2": "B"}})
    assert item["passed"] is False
    assert item["message"] == f"missing fact: {path}"


@pytest.mark.parametrize("when", [
    "a.missing or a.yes", "a.yes or a.missing", 'a.grade2 in [a.missing, "B"]', 'not (a.grade2 in ["A"])',
    "not (a.no or a.zero)", "(a.no or 5) == 5", '[a.yes, 1] == [true, 1]',
])
def test_known_facts_still_decide(load_yaml: Any, when: str) -> None:
    item = check(one_criterion(load_yaml, when), {"a": {"yes": True, "no": False, "zero": 0, "grade2": "B"}})
    assert item["passed"] is True, item


def test_not_of_a_null_fact_fails_with_the_null_message(load_yaml: Any) -> None:
    pb = one_criterion(load_yaml, "not a.lost")
    assert check(pb, {"a": {"lost": None}}) | {"values": None} == {
        "id": "c", "title": "C", "level": "required", "passed": False,
        "message": "fact is empty (null): a.lost", "values": None}
    assert check(pb, {"a": {"lost": False}})["passed"] is True


def test_an_item_lacking_a_field_does_not_match_a_negated_membership(load_yaml: Any) -> None:
    pb = one_criterion(load_yaml, 'count(people, not (role in ["dm"])) == 1')
    assert check(pb, {"people": [{"role": "dm"}, {"name": "no role"}, {"role": "user"}]})["passed"] is True


# -- explanations a person can act on ------------------------------------------------------------

@pytest.mark.parametrize(("when", "en", "zh"), [
    ("a.n / a.zero > 1", "division by zero", "除数为零"),
    ("days_since(a.d) > 1", "invalid value: not an ISO date: '2026-13-45' (expected YYYY-MM-DD)",
     "无效的值：not an ISO date: '2026-13-45' (expected YYYY-MM-DD)"),
])
def test_arithmetic_and_date_errors_are_explained_without_python_names(load_yaml: Any, when: str, en: str,
                                                                       zh: str) -> None:
    pb = one_criterion(load_yaml, when)
    facts = {"a": {"n": 1, "zero": 0, "d": "2026-13-45"}}
    assert check(pb, facts)["message"] == en
    assert check(pb, facts, "zh")["message"] == zh


# -- JSON report ---------------------------------------------------------------------------------

def _report_validator() -> Any:
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "report.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_non_finite_numbers_in_a_case_still_give_strict_json(load_yaml: Any) -> None:
    pb = one_criterion(load_yaml, "a.x > 0 and a.y > 0")
    report = evaluate(pb, {"a": {"x": math.nan, "y": math.inf}}, today=TODAY).to_dict("en")
    text = json.dumps(report, allow_nan=False)  # raises on NaN/Infinity
    assert report["stages"][0]["exit"][0]["values"] == {"a.x": "nan", "a.y": "inf"}
    assert not list(_report_validator().iter_errors(json.loads(text)))


CASES: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    ({"a": {"in": True}}, None),
    ({"a": {"in": True}}, "third"),
    ({"a": {"in": True, "one": True, "two": True, "three_in": True}}, None),
    ({"a": {"in": True, "one": True, "two": True, "three_in": True, "status": "won"}}, None),
    ({"a": {"status": "lost"}}, None),
    ({"a": {"in": True, "one": True, "two": True}}, "first"),
    ({"a": {"in": None, "one": math.nan}}, "second"),
]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_report_on_the_review_playbook_matches_the_schema(lang: str) -> None:
    pb = load_playbook(STAGES)
    validator = _report_validator()
    for facts, stage in CASES:
        report = evaluate(pb, facts, today=TODAY, stage=stage).to_dict(lang)
        errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(report, allow_nan=False)))]
        assert not errors, (facts, stage, errors)


def test_report_language_is_checked_and_the_evaluation_date_normalised() -> None:
    pb = load_playbook(STAGES)
    result = evaluate(pb, {"a": {"in": True}}, today=dt.datetime(2026, 3, 1, 12, 30))
    assert result.to_dict("en")["today"] == "2026-03-01"
    assert evaluate(pb, {}, today="2026-03-01").ctx.today == TODAY  # type: ignore[arg-type]
    with pytest.raises(CaseError, match="YYYY-MM-DD"):
        evaluate(pb, {}, today="03/01/2026")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported report language 'fr'"):
        result.to_dict("fr")


# -- text report ---------------------------------------------------------------------------------

def _check_cli(run_cli: Any, write_file: Any, facts: dict[str, Any], *args: str) -> Any:
    case = write_file("case.json", json.dumps(facts))
    return run_cli("check", STAGES, case, "--today", "2026-03-01", *args)


def test_an_outcome_is_shown_by_its_title_and_nothing_blocks_a_closed_case(run_cli: Any, write_file: Any) -> None:
    zh = _check_cli(run_cli, write_file, {"a": {"in": True, "status": "lost"}}, "--lang", "zh")
    assert zh.exit_code == 0
    lines = zh.stdout.splitlines()
    assert lines[3] == "已到达结局：丢单（lost）"
    assert not any(line.startswith("受阻") for line in lines)
    en = _check_cli(run_cli, write_file, {"a": {"in": True, "status": "lost"}}, "--lang", "en")
    assert "Outcome reached: lost (Lost)" in en.stdout and "Blocked:" not in en.stdout


def test_a_declared_last_stage_with_skipped_gates_is_not_reported_as_blocked_by_nothing(
        run_cli: Any, write_file: Any) -> None:
    result = _check_cli(run_cli, write_file, {"stage": "third", "a": {"in": True}}, "--lang", "zh")
    assert result.exit_code == 0  # the spec: the current (last) stage's exit criteria all pass
    out = result.stdout
    assert "受阻：有 0 项" not in out
    assert "最后阶段的退出条件已满足，但之前有关口被跳过（见警告）。" in out
    # the stages whose gates were skipped are not shown as passed
    assert "    1. 第一步 — 关口被跳过（未满足）" in out and "    2. 第二步 — 关口被跳过（未满足）" in out
    assert "声明的阶段“第三步”（third）超前于推断阶段“第一步”（first）：跳过了关口（out1, out2, in3）" in out
    en = _check_cli(run_cli, write_file, {"stage": "third", "a": {"in": True}}, "--lang", "en").stdout
    assert "Blocked: 0" not in en and "1. First — gate skipped (not met)" in en


def test_the_chinese_date_line_has_a_colon(run_cli: Any, write_file: Any) -> None:
    out = _check_cli(run_cli, write_file, {"id": "c1", "a": {}}, "--lang", "zh").stdout
    assert out.splitlines()[1] == "案例：c1    评估日期：2026-03-01"


# -- bad input: one located line, exit 2, never a traceback --------------------------------------

def test_non_utf8_stdin_is_a_one_line_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "playbook", "check", str(STAGES), "-"], input=b"a: \xff\n",
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.decode() == "error: <stdin>: not UTF-8 text (byte 3) (send the case as UTF-8)\n"


def test_an_empty_case_says_so(run_cli: Any) -> None:
    result = run_cli("check", STAGES, "-", input="")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: <stdin>: the case is empty")


def test_an_unknown_declared_stage_points_at_the_case_file(run_cli: Any, write_file: Any) -> None:
    case = write_file("case.yaml", "id: x\nstage: nosuch\n")
    result = run_cli("check", STAGES, case)
    assert result.exit_code == 2
    assert result.stderr == f"error: {case}:2:8: unknown stage 'nosuch' for playbook 'review-stages' " \
                            "(stages: first, second, third)\n"
    example = write_file("ex.yaml", "today: 2026-03-01\ncase:\n  stage: nosuch\nexpect: {}\n")
    assert run_cli("check", STAGES, example).stderr.startswith(f"error: {example}:3:10: unknown stage")


def test_schema_errors_are_not_repeated(run_cli: Any, write_file: Any) -> None:
    path = write_file("pb.yaml", """
        id: x
        version: 1
        title: t
        stages: [{id: s, title: S}]
        outcomes:
          - {id: o, title: O}
        """)
    result = run_cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:6:5: outcome 'o': needs `kind` and `when` "
        "(only a child playbook may patch an inherited outcome by id alone)"]


def test_a_lookup_of_an_unknown_table_is_a_load_error(load_yaml: Any, tmp_path: Path, text_position: Any) -> None:
    with pytest.raises(PlaybookError) as info:
        load_yaml("""
            id: x
            version: 1
            title: t
            tables:
              - {id: grade, title: G, rules: [{when: "true", then: {grade: A}}]}
            stages:
              - id: s
                title: S
                actions:
                  - {id: ok, title: ok, do: lookup, with: {table: grade}}
                  - {id: typo, title: typo, do: lookup, with: {table: grdae}}
            """)
    assert len(info.value.problems) == 1
    problem = info.value.problems[0]
    assert problem.message == "action 'typo': lookup: unknown table 'grdae'"
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == text_position(tmp_path / "pb.yaml", "grdae")


# -- playbook test: expectations of the wrong type are reported, never iterated or crashed on ----

@pytest.mark.parametrize(("expect", "message"), [
    ("{blocking: out1}", "expect.blocking: expected a list of criterion ids, got 'out1'"),
    ("{derived: [1]}", "expect.derived: expected a mapping of dotted path -> expected value, got [1]"),
    ('{complete: "false"}', "expect.complete: expected true or false, got 'false'"),
    ("{warnings: yes}", "expect.warnings: expected a number, got True"),
    ("{current: 2}", "expect.current: expected an id (or null), got 2"),
])
def test_playbook_test_rejects_mistyped_expectations(run_cli: Any, tmp_path: Path, expect: str,
                                                     message: str) -> None:
    (tmp_path / "stages.yaml").write_text(STAGES.read_text(encoding="utf-8"), encoding="utf-8")
    folder = tmp_path / "examples" / "review-stages"
    folder.mkdir(parents=True)
    (folder / "bad.yaml").write_text(f"today: 2026-03-01\ncase: {{a: {{in: true}}}}\nexpect: {expect}\n",
                                     encoding="utf-8")
    result = run_cli("test", tmp_path / "stages.yaml")
    # A broken example fails alone (exit 1, like any failing test), located, with the reason.
    assert result.exit_code == 1 and result.exception is None
    assert f"FAIL review-stages/bad  ({folder / 'bad.yaml'}:3:{11 + expect.index(':')})" in result.stdout
    assert f"cannot read the example: {message}" in result.stdout


def test_show_lists_where_an_outcome_can_be_reached_from(run_cli: Any) -> None:
    out = run_cli("show", STAGES, "--lang", "en").stdout
    assert "outcome won (won): Won — a.status == 'won'  [from: third]" in out
    assert "outcome lost (lost): Lost — a.status == 'lost'\n" in out


def test_length_and_size_errors_say_what_is_wrong(run_cli: Any, write_file: Any) -> None:
    long_when = "a.b == 1 and " * 400 + "true"
    path = write_file("pb.yaml", f"""
        id: x
        version: 1
        title: t
        stages:
          - id: s
            title: S
            exit: [{{id: c, title: c, when: "{long_when}"}}]
        """)
    error = run_cli("validate", path).stderr
    assert error.startswith(f"error: {path}:7:36: stages[0].exit[0].when: ") and error.rstrip().endswith("… is longer than 5000 characters")
    empty = write_file("empty.yaml", "id: x\nversion: 1\ntitle: t\nstages: []\n")
    assert run_cli("validate", empty).stderr == f"error: {empty}:4:9: stages: must not be empty\n"
