"""Adversarial tests of `playbook check / validate / test / lint / show` with playbooks and cases
written from scratch, the way a consultant would write their own (issues #2 and #3).

Every test asserts the documented behaviour (docs/playbook-format.md, README.md, the issues).
A test that fails because of a real bug is marked ``xfail(strict=True)`` with the bug in one
line, so the suite stays green and the bug stays visible: fixing the bug turns it into an
XPASS, which fails the run until the marker is removed. The bugs found so far are fixed; two
findings about the language itself (list forms stop at the first decisive item; booleans are
numbers) are documented in docs/playbook-format.md and asserted here as documented.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from playbook.engine import evaluate
from playbook.errors import CaseError, PlaybookError
from playbook.loader import load_playbook

REPO = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 3, 1)
REPORT_VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((REPO / "schemas" / "report.schema.json").read_text(encoding="utf-8")))

# A three-stage playbook with every kind of gate: no entry criteria on the first stage, a stage
# with only recommended exit criteria, a recommended entry criterion, an outcome with `from`.
THREE = """
id: three
version: 2
title: {zh: 三段}
facts:
  a_done: {type: boolean}
  nice: {type: boolean}
  b_in: {type: boolean}
  b_rec: {type: boolean}
  c_in: {type: boolean}
  c_done: {type: boolean}
  status: {type: string}
stages:
  - id: a
    title: {zh: 甲}
    exit:
      - {id: a-done, title: {zh: 甲完成}, when: "a_done == true", hint: {zh: 完成甲, en: Finish A}}
      - {id: a-nice, title: A nice, when: "nice", level: recommended}
  - id: b
    title: B
    entry:
      - {id: b-in, title: B in, when: "b_in"}
    exit:
      - {id: b-rec, title: B rec, when: "b_rec", level: recommended}
  - id: c
    title: {en: C}
    max_days: 10
    entry:
      - {id: c-in, title: C in, when: "c_in", level: recommended}
    exit:
      - {id: c-done, title: C done, when: "c_done"}
outcomes:
  - {id: lost, kind: lost, title: Lost, when: "status == 'lost'", from: [b]}
"""

ALL_PASS = {"a_done": True, "nice": True, "b_in": True, "b_rec": True, "c_in": True, "c_done": True}


def valid_report(report: dict[str, Any]) -> dict[str, Any]:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in REPORT_VALIDATOR.iter_errors(report)]
    assert not errors, errors
    return report


def no_traceback(result: Any) -> None:
    """A CliRunner result or a CompletedProcess: no Python traceback, no escaped exception."""
    assert "Traceback" not in (result.stderr or "")
    assert getattr(result, "exception", None) is None, repr(getattr(result, "exception", None))


def check_json(run_cli: Callable[..., Any], pb: Path | str, case: Path | str, *args: str,
               lang: str = "en", input: str | None = None) -> tuple[int, dict[str, Any]]:
    result = run_cli("check", pb, case, "--format", "json", "--lang", lang, "--today", "2026-03-01", *args,
                     input=input)
    no_traceback(result)
    assert result.exit_code in (0, 1), result
    report = valid_report(json.loads(result.stdout))
    stage = report["stage"]
    done = stage["ready_to_advance"] or stage["complete"] or stage["outcome"] is not None
    assert result.exit_code == (0 if done else 1), (result.exit_code, stage)  # exit code = report
    return result.exit_code, report


@pytest.fixture
def three(write_file: Callable[[str, str], Path]) -> Path:
    return write_file("three.yaml", THREE)


@pytest.fixture
def case_file(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str, facts: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(facts, ensure_ascii=False), encoding="utf-8")
        return path

    return write


def criterion_pb(when: str, *, extra: str = "") -> str:
    return f"""
        id: probe
        version: 1
        title: Probe
        {extra}
        stages:
          - id: only
            title: Only
            exit:
              - id: c
                title: C
                when: {json.dumps(when, ensure_ascii=False)}
        """


def one(load_yaml: Any, when: str, facts: dict[str, Any], *, today: dt.date = TODAY,
        lang: str = "en") -> dict[str, Any]:
    pb = load_yaml(criterion_pb(when))
    report = valid_report(evaluate(pb, facts, today=today).to_dict(lang))
    return report["stages"][0]["exit"][0]


# =============================================================================================
# valid but unusual playbooks


def test_a_single_stage_without_entry_criteria_takes_every_case(run_cli: Any, write_file: Any,
                                                                case_file: Any) -> None:
    pb = write_file("one.yaml", criterion_pb("x.done"))
    code, report = check_json(run_cli, pb, case_file("empty.json", {}))
    assert (code, report["stage"]["entered"], report["stage"]["current"]) == (1, True, "only")
    assert report["blocking"][0]["message"] == "missing fact: x.done"
    assert report["stage"]["next"] is None
    code, report = check_json(run_cli, pb, case_file("done.json", {"x": {"done": True}}))
    assert (code, report["stage"]["complete"], report["stage"]["ready_to_advance"]) == (0, True, True)


def test_a_playbook_without_any_criterion_is_complete_at_once(run_cli: Any, write_file: Any,
                                                              case_file: Any) -> None:
    pb = write_file("bare.yaml", """
        id: bare
        version: 1
        title: Bare
        stages: [{id: one}, {id: two}]
        """)
    code, report = check_json(run_cli, pb, case_file("c.json", {}))
    assert code == 0 and report["stage"]["complete"] and report["stage"]["current"] == "two"
    assert [s["title"] for s in report["stages"]] == ["one", "two"]  # no title: the id


@pytest.mark.parametrize(("facts", "current", "blocking", "code"), [
    ({}, "a", ["a-done", "b-in"], 1),
    ({"a_done": True}, "a", ["b-in"], 1),
    # stage b has only recommended exit criteria, stage c only a recommended entry criterion
    ({"a_done": True, "b_in": True}, "c", ["c-done"], 1),
    ({"a_done": True, "b_in": True, "c_done": True}, "c", [], 0),
])
def test_stages_with_only_recommended_criteria_never_hold_a_case(run_cli: Any, three: Path, case_file: Any,
                                                                 facts: dict[str, Any], current: str,
                                                                 blocking: list[str], code: int) -> None:
    got_code, report = check_json(run_cli, three, case_file("c.json", facts))
    assert (got_code, report["stage"]["current"]) == (code, current)
    assert [b["criterion"] for b in report["blocking"]] == blocking
    assert report["stage"]["entered"] is True


def test_recommended_criteria_are_advice_not_blocking(run_cli: Any, three: Path, case_file: Any) -> None:
    _, report = check_json(run_cli, three, case_file("c.json", {"a_done": True, "b_in": True, "nice": False}))
    assert report["stage"]["current"] == "c"
    assert [r["criterion"] for r in report["recommended"]] == []  # a-nice belongs to a passed stage
    _, report = check_json(run_cli, three, case_file("c.json", {"b_in": True}))
    assert [r["criterion"] for r in report["recommended"]] == ["a-nice"]
    assert "a-nice" not in [b["criterion"] for b in report["blocking"]]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_titles_as_plain_text_only_zh_or_only_en_fall_back(run_cli: Any, three: Path, case_file: Any,
                                                           lang: str) -> None:
    _, report = check_json(run_cli, three, case_file("c.json", {}), lang=lang)
    assert report["playbook"]["title"] == "三段"  # only zh: shown in en too
    assert [s["title"] for s in report["stages"]] == ["甲", "B", "C"]  # only en: shown in zh too
    assert report["blocking"][0]["hint"] == ("Finish A" if lang == "en" else "完成甲")


def test_criterion_ids_are_unique_across_stages(run_cli: Any, write_file: Any, text_position: Any) -> None:
    pb = write_file("dup.yaml", """
        id: dup
        version: 1
        title: Dup
        stages:
          - id: a
            exit: [{id: same, when: "x"}]
          - id: b
            exit: [{id: same, when: "y"}]
        """)
    result = run_cli("validate", pb)
    no_traceback(result)
    line, _ = text_position(pb, "{id: same", 2)
    assert result.exit_code == 2
    assert f"dup.yaml:{line}:" in result.stderr and "duplicate criterion id 'same'" in result.stderr


def test_a_json_playbook_checks_like_the_same_yaml(run_cli: Any, tmp_path: Path, three: Path,
                                                   case_file: Any) -> None:
    import yaml

    as_json = tmp_path / "three.json"
    as_json.write_text(json.dumps(yaml.safe_load(THREE), ensure_ascii=False, indent=1), encoding="utf-8")
    case = case_file("c.json", {"a_done": True, "b_in": True, "status": "lost", "stage": "b"})
    _, from_yaml = check_json(run_cli, three, case)
    _, from_json = check_json(run_cli, as_json, case)
    assert from_yaml == from_json
    assert from_json["stage"]["outcome"] == "lost"


def test_yaml_anchors_and_aliases_are_expanded(run_cli: Any, write_file: Any, case_file: Any) -> None:
    pb = write_file("anchors.yaml", """
        id: anchors
        version: 1
        title: &title {zh: 锚, en: Anchors}
        stages:
          - id: a
            title: *title
            exit:
              - {id: a1, title: A1, when: &cond "a_done", hint: &hint {zh: 做, en: Do it}}
              - {id: a2, title: A2, when: *cond, hint: *hint}
            actions:
              - &act {id: remind, do: task, with: {text: {zh: 提醒, en: Remind}}}
          - id: b
            actions: [*act]
        """)
    _, report = check_json(run_cli, pb, case_file("c.json", {}))
    assert report["playbook"]["title"] == "Anchors"
    assert [(b["criterion"], b["hint"]) for b in report["blocking"]] == [("a1", "Do it"), ("a2", "Do it")]
    assert report["actions"][0]["output"] == {"text": "Remind"}


def test_a_yaml_merge_key_can_be_overridden(write_file: Any) -> None:
    pb = load_playbook(write_file("merge.yaml", """
        id: merge
        version: 1
        title: Merge
        stages:
          - id: a
            exit:
              - &base
                id: a1
                title: Shared title
                when: "a1"
              - <<: *base
                id: a2
                when: "a2"
        """))
    assert [(c.id, c.title, c.when) for c in pb.criteria] == [("a1", "Shared title", "a1"),
                                                              ("a2", "Shared title", "a2")]


def test_extends_by_file_patch_remove_after_and_outcome_from(run_cli: Any, write_file: Any,
                                                             case_file: Any) -> None:
    write_file("base/base.yaml", """
        id: base
        version: 1
        title: Base
        stages:
          - id: a
            title: A
            exit:
              - {id: a1, title: A1, when: "a1", hint: Do A1}
              - {id: a2, title: A2, when: "a2"}
          - id: c
            title: C
            exit: [{id: c1, title: C1, when: "c1"}]
        outcomes:
          - {id: lost, kind: lost, title: Lost, when: "status == 'lost'"}
        """)
    child = write_file("child/child.yaml", """
        id: child
        version: 1
        title: Child
        extends: ../base/base.yaml
        stages:
          - id: a
            title: A prime
            exit:
              - {id: a2, remove: true}
              - {id: a1, when: "a1 == 'yes'"}
          - id: b
            after: a
            title: B
            entry: [{id: b1, title: B1, when: "b1"}]
        outcomes:
          - {id: lost, from: [c]}
        """)
    _, report = check_json(run_cli, child, case_file("c.json", {"a1": "yes", "status": "lost"}))
    assert [s["id"] for s in report["stages"]] == ["a", "b", "c"]
    assert report["stages"][0]["title"] == "A prime"
    assert [(c["id"], c["passed"], c["title"]) for c in report["stages"][0]["exit"]] == [("a1", True, "A1")]
    assert report["stage"]["outcome"] is None  # `lost` is only open from c now
    assert [b["criterion"] for b in report["blocking"]] == ["b1"]
    code, report = check_json(run_cli, child, case_file("c2.json", {"status": "lost"}), "--stage", "c")
    assert (code, report["stage"]["outcome"], report["stage"]["outcome_kind"]) == (0, "lost", "lost")
    shown = run_cli("show", child)
    assert shown.exit_code == 0 and "[from: c]" in shown.stdout and "A prime" in shown.stdout


def test_derivations_scorecards_and_tables_as_documented(run_cli: Any, write_file: Any, case_file: Any) -> None:
    pb = write_file("derived.json", json.dumps({
        "id": "derived", "version": 1, "title": "Derived",
        "derive": [{"id": "man", "use": "core.man"}],
        "scorecards": [{
            "id": "pv", "input": "scores",
            "scale": [{"value": -1, "label": "poor"}, {"value": 0, "label": "avg"}, {"value": 1, "label": "good"}],
            "dimensions": [{"id": "value", "factors": [{"id": "f", "indicators": [
                {"id": "roi"}, {"id": "demo", "weight": 2}]}],
                "bands": [{"id": "high", "min": 2}, {"id": "low"}]}]}],
        "tables": [
            {"id": "grade", "hit": "first", "default": {"grade": "C"}, "rules": [
                {"id": "a", "when": "derived.pv.dimensions.value.band == 'high'",
                 "then": {"grade": "A", "strategy": {"zh": "全力", "en": "All in"}}},
                {"id": "b", "when": "derived.man.class == 'M+A+N'", "then": {"grade": "B"}}]},
            {"id": "flags", "hit": "collect", "rules": [
                {"when": "amount > 100", "then": {"flag": "big"}},
                {"when": "amount > 10", "then": {"flag": "mid"}}]},
            {"id": "per_sh", "for_each": "stakeholders", "rules": [
                {"id": "champ", "when": "attitude == 'support' and amount > 0", "then": {"kind": "champion"}},
                {"when": "true", "then": {"kind": "other"}}]}],
        "stages": [{"id": "qualify", "exit": [
            {"id": "graded", "when": "derived.grade.grade in ['A', 'B']"},
            {"id": "champ", "when": "any(derived.per_sh, kind == 'champion')"}]}],
    }))
    case = case_file("c.json", {
        "amount": 150, "scores": {"roi": 1, "demo": 1},
        "qualification": {"money": True, "authority": True, "need": False},
        # the first item has no `amount`: the case's is used; the second has its own
        "stakeholders": [{"attitude": "support"}, {"attitude": "against", "amount": -5}, "not a mapping"],
    })
    code, report = check_json(run_cli, pb, case, lang="zh")
    derived = report["derived"]
    assert code == 0
    assert derived["man"]["class"] == "M+A+n" and derived["man"]["action"] == "track-until-need"
    assert derived["pv"]["dimensions"]["value"]["score"] == 3 and derived["pv"]["dimensions"]["value"]["band"] == "high"
    assert derived["grade"] == {"grade": "A", "strategy": "全力", "row": "a"}
    assert derived["flags"] == {"matches": [{"flag": "big"}, {"flag": "mid"}], "count": 2}
    assert [(r["index"], r["kind"]) for r in derived["per_sh"]] == [(0, "champion"), (1, "other"), (2, "other")]
    # a missing indicator is never counted as zero
    _, report = check_json(run_cli, pb, case_file("c2.json", {"scores": {"roi": 1}}))
    value = report["derived"]["pv"]["dimensions"]["value"]
    assert (value["band"], value["missing"], report["derived"]["grade"]["grade"]) == (None, ["demo"], "C")


def test_show_and_lint_on_an_unusual_playbook(run_cli: Any, three: Path) -> None:
    shown = run_cli("show", three, "--lang", "en")
    no_traceback(shown)
    assert shown.exit_code == 0
    assert "max 10 days" in shown.stdout and "c-in (recommended)" in shown.stdout
    assert "outcome lost (lost): Lost" in shown.stdout and "[from: b]" in shown.stdout
    as_json = run_cli("show", three, "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["stages"][2]["max_days"] == 10
    linted = run_cli("lint", three, "--format", "json", "--no-examples")
    no_traceback(linted)
    findings = json.loads(linted.stdout)["findings"]
    assert linted.exit_code == (1 if any(f["severity"] == "error" for f in findings) else 0)
    assert not [f for f in findings if f["code"] in ("PB100", "PB201")], findings  # facts: declared


# =============================================================================================
# the criteria language, evaluated directly

LANGUAGE_CASES = [
    # dotted paths and list indexes
    ("a.b[0].c == 1", {"a": {"b": [{"c": 1}]}}, True, "met"),
    ("a.b[-1].c == 2", {"a": {"b": [{"c": 1}, {"c": 2}]}}, True, "met"),
    ("a.b[5].c == 2", {"a": {"b": [{"c": 1}]}}, False, "missing fact: a.b[5].c"),
    ("a[b] == 1", {"a": {"k": 1}, "b": "k"}, True, "met"),
    ("a['my-key'] == 1", {"a": {"my-key": 1}}, True, "met"),
    ("a['x.y'] == 1", {"a": {"x.y": 1}}, True, "met"),
    ("a[1.5] == 1", {"a": [0, 1]}, False, "type mismatch"),
    # keywords as field names after a dot, and inside item forms through `it`
    ("a.class == 1 and a.from == 2 and a.not == 3", {"a": {"class": 1, "from": 2, "not": 3}}, True, "met"),
    ("count(m, it.from == 'x') == 1", {"m": [{"from": "x"}, {"from": "y"}]}, True, "met"),
    ("a.null == 1 and a.true == 2", {"a": {"null": 1, "true": 2}}, True, "met"),
    # unicode values and keys
    ("a == '是' and '中文' in b", {"a": "是", "b": ["中文"]}, True, "met"),
    ("a.名字 == 1", {"a": {"名字": 1}}, True, "met"),
    # `in` with lists, texts and mappings
    ("'x' in a", {"a": "xyz"}, True, "met"),
    ("'x' in a", {"a": {"x": 1}}, True, "met"),
    ("1 in a", {"a": "xyz"}, False, "type mismatch"),
    ("a in b", {"a": 1, "b": None}, False, "fact is empty (null): b"),
    ("a in [1, b]", {"a": 1}, True, "met"),
    ("a not in [2, b]", {"a": 1}, False, "missing fact: b"),
    # arithmetic, division by zero, bounded sizes
    ("a / b > 1", {"a": 1, "b": 0}, False, "division by zero"),
    ("a // b > 1", {"a": 1, "b": 0}, False, "division by zero"),
    ("a % b > 1", {"a": 1.5, "b": 0.0}, False, "division by zero"),
    ("a ** b > 1", {"a": 0, "b": -1}, False, "division by zero"),
    ("a ** 0.5 > 1", {"a": -4}, False, "type mismatch"),
    ("a * b > 0", {"a": [1], "b": 10**6}, False, "expression exceeds its limits"),
    # mismatched types
    ("a > 3", {"a": "abc"}, False, "type mismatch"),
    ("a == 3", {"a": "3"}, False, 'not met: a = "3"'),
    ("1 <= a <= 5", {"a": "3"}, False, "type mismatch"),
    ("a + 1 > 3", {"a": "x"}, False, "type mismatch"),
    ("a < b", {"a": None, "b": 1}, False, "fact is empty (null): a"),
    # booleans written as text are text
    ("a == true", {"a": "true"}, False, 'not met: a = "true"'),
    # null vs missing
    ("a == null", {"a": None}, True, "met"),
    ("a == null", {}, False, "missing fact: a"),
    ("a != 1", {}, False, "missing fact: a"),
    ("not a", {"a": None}, False, "fact is empty (null): a"),
    ("exists(a.b)", {"a": {"b": None}}, False, "not met"),
    ("exists(a.b.c)", {"a": 5}, False, "not met"),
    ("exists(a[0])", {"a": []}, False, "not met"),
    ("(a if b else c) == 1", {"a": 1, "b": False}, False, "missing fact: c"),
    # count/any/all/sum: item first, then the case; nested lists; non-mapping items
    ("count(a, x > 1) == 1", {"a": [{"x": 2}, {"x": 0}, {}]}, True, "met"),
    ("count(a, x > 1) == 1", {"a": [{"x": 2}, 5]}, True, "met"),
    ("count(a, x == 1) == 2", {"x": 1, "a": [{"x": 1}, {"y": 1}]}, True, "met"),
    ("count(a, x > 1) == 1", {"a": {"x": 2}}, False, "type mismatch: expected a list"),
    ("count(a, x > 1) == 1", {"a": None}, False, "fact is empty (null): a"),
    ("count(a, it > 1) == 1", {"a": [1, 2]}, True, "met"),
    ("any(a, count(b, c == x) > 0)", {"x": 2, "a": [{"x": 1, "b": [{"c": 1}]}]}, True, "met"),
    ("sum(a, v) == 3", {"a": [{"v": 1}, {"v": 2}, {}]}, True, "met"),
    ("sum(a, v) == 3", {"a": [{"v": 1}, {"v": "2"}]}, False, "type mismatch"),
    ("sum(a, v) == 0 and all(a, v)", {"a": []}, True, "met"),
    ("min_of(a, v) == 0", {"a": []}, False, "nothing to evaluate"),
    ("len(a) == 2 and len(b) == 3 and len(c) == 1", {"a": {"x": 1, "y": 2}, "b": "中文字", "c": [0]}, True, "met"),
    ("len(a) == 2", {"a": 5}, False, "type mismatch"),
    # dates: pinned today, date-times with zones, bad dates
    ("today() == '2026-03-01'", {}, True, "met"),
    ("days_since(d) == 1", {"d": "2026-02-28"}, True, "met"),
    ("days_since(d) == 1", {"d": "2026-02-28T23:00:00+08:00"}, True, "met"),
    ("days_since(d) == 1", {"d": "2026-02-28T23:00:00Z"}, True, "met"),
    ("days_until(d) == 1", {"d": "2026-03-02"}, True, "met"),
    ("date(d) == today()", {"d": "2026-03-01T10:00"}, True, "met"),
    ("days_since(d) == 1", {"d": "28/02/2026"}, False, "invalid value: not an ISO date"),
    ("days_since(d) == 1", {"d": "2026-02-30"}, False, "invalid value: not an ISO date"),
    ("days_since(d) == 1", {"d": 20260228}, False, "type mismatch"),
    ("days_since(d) == 1", {"d": None}, False, "fact is empty (null): d"),
    ("d > today()", {"d": 5}, False, "type mismatch"),
    # booleans are the numbers 1/0 in comparisons and arithmetic (docs/playbook-format.md,
    # "Booleans are numbers"); `== true` is the documented way to test a flag
    ("a > 0", {"a": True}, True, "met"),
    ("a == 1", {"a": True}, True, "met"),
    ("a + a == 2", {"a": True}, True, "met"),
    ("a == true", {"a": "yes"}, False, 'not met: a = "yes"'),
    ("a", {"a": "no"}, True, "met"),  # a bare path: any non-empty text is true
    # explanations stay in plain words, never Python internals
    ("a / b > 0", {"a": 10**400, "b": 1}, False, "number too large to compute"),
    ("a * 1.5 > 0", {"a": 10**400}, False, "number too large to compute"),
    ("round(a) == 2", {"a": "x"}, False, "type mismatch: round() needs a number, got text"),
    ("round(a) == 2", {"a": [2]}, False, "type mismatch: round() needs a number, got list"),
    ("round(a) == 2", {"a": None}, False, "fact is empty (null): a"),
    ("abs(a) == 2", {"a": "x"}, False, "type mismatch: abs() needs a number, got text"),
    ("round(a, 1) == 2.5", {"a": 2.46}, True, "met"),
]


@pytest.mark.parametrize(("when", "facts", "passed", "message"), LANGUAGE_CASES)
def test_the_criteria_language(load_yaml: Any, when: str, facts: dict[str, Any], passed: bool, message: str) -> None:
    item = one(load_yaml, when, facts)
    assert item["passed"] is passed, item
    assert item["message"].startswith(message), item
    assert "Error" not in item["message"] and "__" not in item["message"], item


MISMATCH = "type mismatch: '{op}' not supported between instances of text and number"


@pytest.mark.parametrize(("when", "forward", "backward"), [
    # documented (docs/playbook-format.md, "Order of evaluation"): the scan stops at the first
    # decisive item, so a mistyped item fails the criterion only when it is reached
    ("any(l, x > 1)", (True, "met"), (False, MISMATCH.format(op=">"))),
    ("count(l, x > 1) >= 1", (True, "met"), (False, MISMATCH.format(op=">"))),
    ("count(l, x > 1) == 0", (False, "not met"), (False, MISMATCH.format(op=">"))),
    ("all(l, x < 1)", (False, "not met"), (False, MISMATCH.format(op="<"))),
    # forms that read every item fail on the mistyped one whatever the order
    ("count(l, x > 1) == 1", (False, MISMATCH.format(op=">")), (False, MISMATCH.format(op=">"))),
    ("sum(l, x) > 0", (False, "type mismatch"), (False, "type mismatch")),
])
def test_list_forms_stop_at_the_first_decisive_item_in_list_order(load_yaml: Any, when: str,
                                                                  forward: tuple[bool, str],
                                                                  backward: tuple[bool, str]) -> None:
    items = [{"x": 2}, {"x": "text"}]
    for facts, (passed, message) in (({"l": items}, forward), ({"l": items[::-1]}, backward)):
        item = one(load_yaml, when, facts)
        assert item["passed"] is passed and item["message"].startswith(message), (facts, item)


@pytest.mark.parametrize(("when", "passed", "message"), [
    ("x.ok or x.amount > 'big'", True, "met"),  # the mistyped right side is never reached
    ("not x.ok and x.amount > 'big'", False, "not met: x.ok = true, x.amount = 3"),
    ("x.amount > 'big' or x.ok", False, "type mismatch: '>' not supported between instances of number and text"),
])
def test_and_or_stop_left_to_right_as_documented(load_yaml: Any, when: str, passed: bool, message: str) -> None:
    item = one(load_yaml, when, {"x": {"ok": True, "amount": 3}})
    assert (item["passed"], item["message"]) == (passed, message)


def test_the_item_first_trap_and_its_documented_remedy(load_yaml: Any) -> None:
    facts = {"email": "case@x", "contacts": [{"name": "a"}, {"name": "b", "email": "b@x"}]}
    assert one(load_yaml, "count(contacts, exists(email)) == 2", facts)["passed"] is True  # the case's email
    assert one(load_yaml, "count(contacts, exists(it.email)) == 1", facts)["passed"] is True


def test_messages_in_chinese_name_the_path(load_yaml: Any) -> None:
    item = one(load_yaml, "opportunity.amount >= 100000", {}, lang="zh")
    assert item["message"] == "缺少事实：opportunity.amount"


def test_evaluate_is_pure_and_repeatable(load_yaml: Any) -> None:
    pb = load_yaml(THREE)
    facts = {"a_done": True, "b_in": True, "stage": "c", "nested": {"list": [{"x": 1}]}}
    before = copy.deepcopy(facts)
    first = evaluate(pb, facts, today=TODAY).to_dict("en")
    second = evaluate(pb, facts, today=TODAY).to_dict("en")
    assert facts == before
    assert first == second


def test_the_evaluation_date_accepts_dates_datetimes_and_iso_text(load_yaml: Any) -> None:
    pb = load_yaml(criterion_pb("days_since(d) == 0"))
    for today in (TODAY, dt.datetime(2026, 3, 1, 23, 59), "2026-03-01"):
        assert evaluate(pb, {"d": "2026-03-01"}, today=today).passed == [True]
    with pytest.raises(CaseError, match="YYYY-MM-DD"):
        evaluate(pb, {"d": "2026-03-01"}, today="01/03/2026")


def test_syntax_errors_are_located_at_load_time(write_file: Any, text_position: Any) -> None:
    path = write_file("syntax.yaml", criterion_pb("a.b >= = 3"))
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    line, col = text_position(path, "= 3")
    assert str(err.value.problems[0].location) == f"{path}:{line}:{col}"


@pytest.mark.parametrize(("yaml_value", "name"), [
    ("'x == ''a'' and foo(1)'", "single-quoted with '' escapes"),
    ('"x == \\"a\\" and foo(1)"', "double-quoted with escapes"),
    ('"x == \\x22a\\u0022 and foo(1)"', "double-quoted with hex escapes"),
    ("\"x == 'a' and foo(1)\"", "double-quoted"),
    ("x == 'a' and foo(1)", "plain"),
    ("x == 'a' and\n                  foo(1)", "plain, folded over two lines"),
    ("'x == ''a'' and\n                  foo(1)'", "single-quoted, folded over two lines"),
    ('"x == \\"a\\" and \\\n                  foo(1)"', "double-quoted, escaped line break"),
    (">-\n                  x == 'a' and\n                  foo(1)", "folded block"),
    ("|\n                  x == 'a' and\n                    foo(1)", "literal block"),
    ("&cond !!str 'x == ''a'' and foo(1)'", "anchored and tagged"),
])
def test_unknown_function_column_points_at_the_call(write_file: Any, text_position: Any, yaml_value: str,
                                                    name: str) -> None:
    path = write_file("col.yaml", f"""
        id: col
        version: 1
        title: Col
        stages:
          - id: a
            exit:
              - id: c
                when: {yaml_value}
        """)
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    line, col = text_position(path, "foo(")
    assert "unknown function 'foo'" in err.value.problems[0].message
    assert str(err.value.problems[0].location) == f"{path}:{line}:{col}", name


def test_an_expression_that_ends_too_early_has_a_column() -> None:
    from playbook.criteria.compiler import parse
    from playbook.errors import CriteriaSyntaxError

    with pytest.raises(CriteriaSyntaxError) as err:
        parse("x ==")
    assert err.value.column == 5
    for text, column in (("  a and  ", 8), ("x == (1", 6), ("a.class ==", 11)):
        with pytest.raises(CriteriaSyntaxError) as err:
            parse(text)
        assert err.value.column == column, text


def test_an_expression_that_ends_too_early_is_located_at_its_end_in_the_file(write_file: Any) -> None:
    path = write_file("early.yaml", criterion_pb("x.y ==    "))
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "x.y ==" in text)
    column = path.read_text().splitlines()[line - 1].index("x.y ==") + len("x.y ==") + 1
    assert str(err.value.problems[0].location) == f"{path}:{line}:{column}"


def test_plugin_functions_errors_context_and_arity(write_file: Any, make_registry: Any, make_plugin: Any) -> None:
    def boom(x: Any) -> Any:
        raise RuntimeError(f"kaboom {x}")

    def register_functions(register: Any) -> None:
        register("adv.boom", boom)
        register("adv.year", lambda ctx, d: ctx.today.year - int(str(d)[:4]), needs_context=True)
        register("adv.two", lambda a, b: a + b)

    reg = make_registry(make_plugin("adv", register_functions=register_functions))
    path = write_file("plug.yaml", """
        id: plug
        version: 1
        title: Plug
        stages:
          - id: s
            exit:
              - {id: c1, when: "adv.boom(x) == 1"}
              - {id: c2, when: "adv.year(founded) == 26"}
              - {id: c3, when: "adv.two(x, missing) == 3"}
        """)
    pb = load_playbook(path, registry=reg)
    report = valid_report(evaluate(pb, {"x": 1, "founded": "2000-05-01"}, today=TODAY).to_dict("en"))
    items = {c["id"]: c for c in report["stages"][0]["exit"]}
    assert items["c1"]["passed"] is False and "kaboom 1" in items["c1"]["message"]
    assert items["c2"]["passed"] is True  # the pinned date reaches the function
    assert items["c3"]["message"] == "missing fact: missing"  # a missing argument never reaches it
    path.write_text(path.read_text().replace("adv.two(x, missing)", "adv.two(x)"))
    with pytest.raises(PlaybookError, match=r"plug.yaml:\d+:\d+: .*adv.two\(\) takes \(a, b\), got 1"):
        load_playbook(path, registry=reg)


# =============================================================================================
# declared stages


def test_a_declared_stage_ahead_is_a_warning_with_the_skipped_gates(run_cli: Any, three: Path,
                                                                    case_file: Any) -> None:
    code, report = check_json(run_cli, three, case_file("c.json", {"stage": "c"}), lang="zh")
    assert code == 1
    assert (report["stage"]["current"], report["stage"]["inferred"], report["stage"]["declared"]) == ("c", "a", "c")
    assert len(report["warnings"]) == 1
    assert [s["criterion"] for s in report["skipped"]] == ["a-done", "b-in"]
    assert [b["criterion"] for b in report["blocking"]] == ["c-done"]


def test_a_declared_stage_behind_is_no_warning_and_may_be_ready(run_cli: Any, three: Path, case_file: Any) -> None:
    code, report = check_json(run_cli, three, case_file("c.json", {**ALL_PASS, "stage": "a"}))
    assert code == 0
    assert (report["stage"]["current"], report["stage"]["inferred"]) == ("a", "c")
    assert report["stage"]["ready_to_advance"] is True and report["warnings"] == []
    assert [s["status"] for s in report["stages"]] == ["current", "pending", "pending"]


def test_the_stage_option_overrides_the_case_and_unknown_stages_exit_2(run_cli: Any, three: Path,
                                                                       case_file: Any) -> None:
    case = case_file("c.json", {"stage": "nope"})
    code, report = check_json(run_cli, three, case, "--stage", "b")
    assert report["stage"]["declared"] == "b"
    for args in (("--stage", "B"), ()):
        result = run_cli("check", three, case, *args)
        no_traceback(result)
        assert result.exit_code == 2 and "unknown stage" in result.stderr and "stages: a, b, c" in result.stderr
    assert "c.json:1:" in run_cli("check", three, case).stderr  # located in the case file


def test_an_empty_stage_option_is_rejected_as_with_input(run_cli: Any, three: Path, case_file: Any,
                                                         tmp_path: Path) -> None:
    portfolio = tmp_path / "p.jsonl"
    portfolio.write_text("{}\n")
    assert run_cli("check", three, "--input", portfolio, "--stage", "").exit_code == 2
    single = run_cli("check", three, case_file("c.json", {"stage": "b"}), "--stage", "")
    no_traceback(single)
    assert single.exit_code == 2 and single.stdout == ""
    assert "unknown stage ''" in single.stderr and "stages: a, b, c" in single.stderr


def test_an_outcome_only_closes_from_its_stages(run_cli: Any, three: Path, case_file: Any) -> None:
    code, report = check_json(run_cli, three, case_file("c.json", {"status": "lost"}))
    assert (code, report["stage"]["outcome"]) == (1, None)  # the case is in a, `lost` is from b
    code, report = check_json(run_cli, three, case_file("c.json", {"status": "lost", "a_done": True}))
    assert (code, report["stage"]["current"], report["stage"]["outcome"]) == (1, "a", None)
    code, report = check_json(run_cli, three, case_file("c.json", {"status": "lost", "stage": "b"}))
    assert (code, report["stage"]["outcome"], report["blocking"]) == (0, "lost", [])


# =============================================================================================
# case files


@pytest.mark.parametrize(("name", "content", "case_id", "current"), [
    ("c.yaml", "id: yaml-case\na_done: true\n", "yaml-case", "a"),
    ("c.json", '{"a_done": true, "b_in": true}', "c", "c"),
    ("bom-crlf.yaml", "\ufeffid: bom\r\na_done: true\r\nb_in: true\r\n", "bom", "c"),
    ("bom.json", '\ufeff{"id": 7, "a_done": true}', "7", "a"),
    ("playbook-as-case.yaml", THREE, "three", "a"),  # a playbook is a mapping of (useless) facts
])
def test_case_files(run_cli: Any, three: Path, tmp_path: Path, name: str, content: str, case_id: str,
                    current: str) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    _, report = check_json(run_cli, three, path)
    assert (report["case"]["id"], report["stage"]["current"]) == (case_id, current)


@pytest.mark.parametrize(("text", "case_id"), [
    ('{"id": "j", "a_done": true}', "j"),
    ("a_done: true\nb_in: true\n", "stdin"),
    ("\ufeff{\"a_done\": true}\r\n", "stdin"),
    ("{a_done: true, b_in: true}", "stdin"),
    ("{id: flow, a_done: true, b_in: true,}", "flow"),
])
def test_case_from_stdin(run_cli: Any, three: Path, text: str, case_id: str) -> None:
    _, report = check_json(run_cli, three, "-", input=text)
    assert report["case"]["id"] == case_id
    if "b_in" in text:
        assert report["stage"]["current"] == "c"


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"a_done": true,, "b": 1}', "<stdin>:1:17: malformed JSON: Expecting property name"),
    ('{"a": [1, 2}', "<stdin>:1:12: malformed JSON"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
])
def test_stdin_that_is_neither_json_nor_yaml_reports_the_json_error(run_cli: Any, three: Path, text: str,
                                                                     fragment: str) -> None:
    result = run_cli("check", three, "-", input=text)
    no_traceback(result)
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("content", "fragment"), [
    ("", "the case is empty"),
    ("# only a comment\n", "the case is empty"),
    ("[1, 2]", "a case must be a mapping of facts (got a list)"),
    ("just text", "a case must be a mapping of facts (got a text)"),
    ("a: [1, 2\n", "malformed YAML"),
    ("a: 1\na: 2\n", "duplicate key 'a'"),
])
def test_unusable_case_files_exit_2_with_one_line(run_cli: Any, three: Path, tmp_path: Path, content: str,
                                                  fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    result = run_cli("check", three, path)
    no_traceback(result)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {path}") and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_huge_flat_case_and_a_moderately_deep_one_are_fine(run_cli: Any, three: Path, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"a_done": true, "x": ' + '{"y": ' * 200 + "1" + "}" * 200 + "}")
    _, report = check_json(run_cli, three, path)
    assert report["stage"]["current"] == "a"


@pytest.mark.parametrize(("name", "text"), [
    ("deep.json", '{"a": ' + "[" * 1500 + "]" * 1500 + "}"),
    ("deep.yaml", "a: " + "[" * 1500 + "]" * 1500 + "\n"),
])
def test_a_deeply_nested_case_is_a_one_line_error(run_cli: Any, three: Path, tmp_path: Path, name: str,
                                                  text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = run_cli("check", three, path)
    no_traceback(result)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {path}") and "nested too deeply" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_very_deeply_nested_yaml_case_does_not_kill_the_process(run_subprocess: Any, three: Path,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "deeper.yaml"
    path.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = run_subprocess("check", three, path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: {path}:1:" in result.stderr and "nested too deeply" in result.stderr


def test_reading_a_large_json_case_costs_about_a_json_parse(tmp_path: Path) -> None:
    from playbook.cases import read_case

    path = tmp_path / "big.json"
    text = json.dumps({"stakeholders": [{"name": f"s{i}", "attitude": "support", "tags": ["a", "b"]}
                                        for i in range(4000)]})
    path.write_text(text)

    def best(fn: Callable[[], Any]) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    ratio = best(lambda: read_case(str(path))) / best(lambda: json.loads(text))
    assert ratio < 10, f"read_case takes {ratio:.0f}x json.loads"


def test_an_example_file_without_expect_is_still_an_example(run_cli: Any, three: Path, tmp_path: Path) -> None:
    path = tmp_path / "ex.yaml"
    path.write_text("today: 2026-02-01\ncase: {id: ex, a_done: true}\n")
    result = run_cli("check", three, path, "--format", "json")
    report = json.loads(result.stdout)
    assert (report["case"]["id"], report["today"], report["stage"]["current"]) == ("ex", "2026-02-01", "a")
    assert [b["criterion"] for b in report["blocking"]] == ["b-in"]


def test_an_example_file_is_checked_with_its_today_and_stage(run_cli: Any, three: Path, tmp_path: Path) -> None:
    path = tmp_path / "ex.yaml"
    path.write_text("today: 2026-02-01\nstage: b\ncase: {id: ex, a_done: true}\nexpect: {}\n")
    result = run_cli("check", three, path, "--format", "json")
    report = valid_report(json.loads(result.stdout))
    assert (report["case"]["id"], report["today"], report["stage"]["declared"]) == ("ex", "2026-02-01", "b")
    assert result.exit_code == 0  # b has only recommended exits, c only a recommended entry


# =============================================================================================
# broken playbooks: a clear located message and exit 2, never a traceback

BROKEN = {
    "malformed-yaml": ("stages:\n  - id: a\n    exit: [{id: c, when: \"x\"\n", r"malformed YAML"),
    "schema": (THREE.replace("max_days: 10", "max_days: ten"), r"max_days: expected integer"),
    "unknown-key": (THREE.replace("level: recommended}", "levle: recommended}", 1), r"unknown key 'levle'"),
    "unknown-rule": (criterion_pb("x").replace('when: "x"', "rule: acme.nothing"), r"unknown rule 'acme.nothing'"),
    "unknown-function": (criterion_pb("frobnicate(x)"), r"unknown function 'frobnicate'"),
    "bad-with": (criterion_pb("x").replace('when: "x"', "rule: core.playbook-passes\n"
                                           "                with: {playbok: six-step-sales}"),
                 r"`with`: .*'playbook'"),
    "syntax": (criterion_pb("a.b >= = 3"), r"syntax error: invalid syntax \(column 8 of the expression\)"),
    "keyword-at-top": (criterion_pb("class == 1"), r"syntax error"),
    "python-attr": (criterion_pb("a.__class__ == 1"), r"names starting with '__' are not allowed"),
    "lambda": (criterion_pb("(lambda: 1)() == 1"), r"only named functions can be called"),
    "comprehension": (criterion_pb("[x for x in a] == []"), r"a list comprehension is not allowed"),
    "duplicate-stage": (THREE.replace("  - id: b\n", "  - id: a\n"), r"duplicate stage id 'a'"),
    "duplicate-yaml-key": (THREE.replace("version: 2\n", "version: 2\nversion: 3\n"), r"duplicate key 'version'"),
    "unknown-action": (THREE.replace("    max_days: 10\n", "    max_days: 10\n    actions: [{id: x, do: frob}]\n"),
                       r"unknown action 'frob'"),
    "outcome-from": (THREE.replace("from: [b]", "from: [zz]"), r"unknown stage\(s\) in `from`: zz"),
    "stages-empty": ("id: e\nversion: 1\ntitle: E\nstages: []\n", r"stages: must not be empty"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("command", ["validate", "check", "show", "test"])
def test_broken_playbooks_are_one_located_line_and_exit_2(run_cli: Any, write_file: Any, case_file: Any,
                                                          name: str, command: str) -> None:
    import re
    import textwrap

    text, pattern = BROKEN[name]
    pb = write_file(f"{name}.yaml", textwrap.dedent(text))
    args = (pb, case_file("c.json", {})) if command == "check" else (pb,)
    result = run_cli(command, *args)
    no_traceback(result)
    assert result.exit_code == 2, result
    first = result.stderr.splitlines()[0]
    assert re.match(rf"error: {re.escape(str(pb))}:\d+(:\d+)?: ", first), first
    assert re.search(pattern, result.stderr), result.stderr


def test_broken_playbooks_in_a_real_process(run_subprocess: Any, write_file: Any, case_file: Any) -> None:
    import textwrap

    pb = write_file("syntax.yaml", textwrap.dedent(BROKEN["syntax"][0]))
    result = run_subprocess("check", pb, case_file("c.json", {}))
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    ok = run_subprocess("validate", pb, "six-step-sales")
    assert ok.returncode == 2 and "ok: six-step-sales" in ok.stdout and "syntax.yaml:" in ok.stderr


def test_a_check_in_a_real_process_zh_and_stdin(run_subprocess: Any, three: Path) -> None:
    done = run_subprocess("check", three, "-", "--lang", "zh", "--today", "2026-03-01",
                          input=json.dumps({**ALL_PASS, "id": "全部"}, ensure_ascii=False))
    assert done.returncode == 0 and "案例：全部" in done.stdout and "已完成" in done.stdout
    blocked = run_subprocess("check", three, "-", "--format", "json", "--lang", "zh", input="{}")
    assert blocked.returncode == 1
    assert valid_report(json.loads(blocked.stdout))["blocking"][0]["hint"] == "完成甲"


# =============================================================================================
# every report we can produce matches the report schema, in both languages

MATRIX_CASES: list[dict[str, Any]] = [
    {},
    ALL_PASS,
    {**ALL_PASS, "stage": "a"},
    {"stage": "c", "status": "lost"},
    {"stage": "b", "status": "lost"},
    {"id": None, "a_done": "true", "nice": float("nan")},
    {"id": ["odd", "id"], "a_done": 1, "b_in": [], "c_done": {"x": 1}},
    {"id": "", "a_done": True, "b_in": "yes", "c_in": None, "extra": {"中文": "值"}},
]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("index", range(len(MATRIX_CASES)))
def test_reports_match_the_schema_and_the_exit_code(run_cli: Any, three: Path, tmp_path: Path, lang: str,
                                                    index: int) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(MATRIX_CASES[index], ensure_ascii=False))  # NaN written as NaN
    check_json(run_cli, three, path, lang=lang)
    text = run_cli("check", three, path, "--lang", lang, "-v")
    no_traceback(text)
    assert text.exit_code in (0, 1) and text.stdout


# =============================================================================================
# playbook test

EXAMPLES = {
    "01-start.yaml": """
        description: nothing yet
        today: 2026-03-01
        case: {id: s1}
        expect:
          entered: true
          current: a
          ready_to_advance: false
          blocking: [a-done, b-in]
          failing: [a-nice]
        """,
    "02-complete.yaml": """
        stage: c
        case: {id: s3, a_done: true, b_in: true, c_done: true, nice: true, b_rec: true, c_in: true,
               status: won}
        expect: {complete: true, current: c, next: null, declared: c, ready_to_advance: true,
                 outcome: null, blocking: [], warnings: 0}
        """,
}


@pytest.fixture
def with_examples(write_file: Any) -> Path:
    pb = write_file("pb/three.yaml", THREE)
    for name, text in EXAMPLES.items():
        write_file(f"pb/examples/three/{name}", text)
    return pb


def test_playbook_test_passes_with_full_coverage(run_cli: Any, with_examples: Path) -> None:
    result = run_cli("test", with_examples, "--require-coverage", "-v")
    no_traceback(result)
    assert result.exit_code == 0, result
    assert "PASS three/01-start" in result.stdout and "criteria exercised both ways: 6/6" in result.stdout


def test_playbook_test_shows_a_diff_and_fails(run_cli: Any, with_examples: Path, write_file: Any) -> None:
    write_file("pb/examples/three/03-wrong.yaml", """
        case: {id: s2, a_done: true}
        expect:
          current: b
          blocking: [b-in, c-in]
          passing: [a-done, nope]
          derived: {x.y: 1}
          warnings: 1
        """)
    result = run_cli("test", with_examples)
    no_traceback(result)
    assert result.exit_code == 1
    assert "FAIL three/03-wrong" in result.stdout
    for line in ("current: expected 'b', got 'a'", "blocking: expected but not blocking: c-in",
                 "passing: unknown criterion id(s) 'nope'", "derived.x.y: expected 1, got (missing)",
                 "warnings: expected 1, got 0", "2 passed, 1 failed"):
        assert line in result.stdout, line
    as_json = json.loads(run_cli("test", with_examples, "--format", "json").stdout)
    assert (as_json["passed"], as_json["failed"]) == (2, 1)


def test_playbook_test_require_coverage_fails_on_a_gap(run_cli: Any, with_examples: Path) -> None:
    (with_examples.parent / "examples" / "three" / "02-complete.yaml").unlink()
    plain = run_cli("test", with_examples)
    assert plain.exit_code == 0 and "never passing in any example: a-done" in plain.stdout
    strict = run_cli("test", with_examples, "--require-coverage")
    assert strict.exit_code == 1


def test_an_unknown_stage_in_an_example_fails_that_example_only(run_cli: Any, with_examples: Path,
                                                                write_file: Any) -> None:
    write_file("pb/examples/three/03-stage.yaml", "stage: zz\ncase: {}\nexpect: {current: zz}\n")
    result = run_cli("test", with_examples)
    assert result.exit_code == 1 and "FAIL three/03-stage" in result.stdout and "unknown stage 'zz'" in result.stdout
    assert "2 passed, 1 failed" in result.stdout


def test_a_malformed_inline_example_fails_alone(run_cli: Any, write_file: Any, text_position: Any) -> None:
    pb = write_file("inline.yaml", """
        id: inline
        version: 1
        title: Inline
        stages:
          - id: a
            exit: [{id: a-done, when: "a_done"}]
        examples:
          - {name: good, case: {a_done: true}, expect: {complete: true}}
          - {name: typo, case: {a_done: false}, expect: {complete: yes-please}}
        """)
    result = run_cli("test", pb)
    no_traceback(result)
    assert result.exit_code == 1
    assert "FAIL inline/typo" in result.stdout and "1 passed, 1 failed" in result.stdout
    line, col = text_position(pb, "yes-please")
    assert f"FAIL inline/typo  ({pb}:{line}:{col})" in result.stdout
    assert "expect.complete: expected true or false, got 'yes-please'" in result.stdout


# =============================================================================================
# plugins that fail to load are reported by name by every command


@pytest.mark.parametrize("command", ["check", "lint", "validate", "test", "show"])
def test_a_plugin_that_fails_to_import_is_reported_by_name(run_cli: Any, three: Path, case_file: Any,
                                                           command: str) -> None:
    args = (three, case_file("c.json", {})) if command == "check" else (three,)
    result = run_cli("-p", "no_such_plugin_module_xyz", command, *args)
    no_traceback(result)
    assert "no_such_plugin_module_xyz" in result.stderr
