"""The CLI's handling of unusual inputs and of its own bugs: example files without `expect`,
inline examples, playbooks without examples, and the last-resort handler (exit 70)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from playbook.cases import is_example, read_case
from playbook.cli import EXIT_INTERNAL

PB = """
id: tiny
version: 1
title: Tiny
stages:
  - id: a
    exit: [{id: a-done, when: "a_done == true"}]
  - id: b
    entry: [{id: b-in, when: "b_in == true"}]
"""

BOOM_PLUGIN = '''
import click
from playbook import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("boom")
    def boom():
        """Fails the way a bug would."""
        raise RuntimeError("kaboom\\n  on two lines")
'''


@pytest.fixture
def boom_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "boom_plugin_xyz.py").write_text(BOOM_PLUGIN, encoding="utf-8")
    return {"PYTHONPATH": str(tmp_path), "PLAYBOOK_PLUGINS": "boom_plugin_xyz"}


def test_an_unexpected_exception_is_one_line_and_exit_70(run_subprocess: Any, boom_env: dict[str, str]) -> None:
    result = run_subprocess("boom", env=boom_env)
    assert result.returncode == EXIT_INTERNAL == 70
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.strip() == ("internal error: RuntimeError: kaboom on two lines — please report; "
                                     "--debug shows the traceback")


@pytest.mark.parametrize("how", [("--debug", "boom"), ("boom",)])
def test_debug_shows_the_traceback_of_an_internal_error(run_subprocess: Any, boom_env: dict[str, str],
                                                        how: tuple[str, ...]) -> None:
    env = {**boom_env, **({} if "--debug" in how else {"PLAYBOOK_DEBUG": "1"})}
    result = run_subprocess(*how, env=env)
    assert result.returncode not in (0, 2, EXIT_INTERNAL)  # Python's own exit for an uncaught exception
    assert "Traceback" in result.stderr and "RuntimeError: kaboom" in result.stderr


def test_the_exit_codes_are_in_the_help(run_cli: Any) -> None:
    assert "70 internal error" in run_cli("--help").stdout


# ---------------------------------------------------------------------------------------------
# example files read by `playbook check`


@pytest.mark.parametrize(("data", "example"), [
    ({"case": {"a": 1}}, True),
    ({"case": {"a": 1}, "today": "2026-01-01", "stage": "a", "name": "n", "description": "d"}, True),
    ({"case": {"a": 1}, "expect": {}}, True),
    ({"case": {"a": 1}, "a_done": True}, False),  # facts next to `case`: a case with a `case` section
    ({"case": "text"}, False),
    ({"a_done": True}, False),
    (["case"], False),
])
def test_what_counts_as_an_example_file(data: Any, example: bool) -> None:
    assert is_example(data) is example


def test_an_example_file_without_expect_is_checked_with_its_today_and_stage(tmp_path: Path, run_cli: Any,
                                                                            write_file: Any) -> None:
    pb = write_file("tiny.yaml", PB)
    ex = tmp_path / "ex.yaml"
    ex.write_text("today: 2026-02-01\nstage: b\ncase: {id: ex, a_done: true}\n", encoding="utf-8")
    case = read_case(str(ex))
    assert (case.case_id, str(case.today), case.stage, case.facts) == ("ex", "2026-02-01", "b", {"id": "ex",
                                                                                                 "a_done": True})
    report = json.loads(run_cli("check", pb, ex, "--format", "json").stdout)
    assert (report["today"], report["stage"]["declared"]) == ("2026-02-01", "b")
    # the command line wins over the example (documented)
    report = json.loads(run_cli("check", pb, ex, "--format", "json", "--today", "2026-03-05",
                                "--stage", "a").stdout)
    assert (report["today"], report["stage"]["declared"]) == ("2026-03-05", "a")


# ---------------------------------------------------------------------------------------------
# playbook test: inline examples, no examples


def test_an_unreadable_inline_example_is_located_and_the_rest_run(run_cli: Any, write_file: Any,
                                                                   text_position: Any) -> None:
    pb = write_file("inline.yaml", PB + textwrap.dedent("""
        examples:
          - {name: ok, case: {a_done: true, b_in: true}, expect: {complete: true}}
          - {case: {}, expect: {blocking: a-done}}
          - {name: bad-key, case: {}, expcet: {}}
          - {name: wrong, case: {}, expect: {current: b}}
        """))
    result = run_cli("test", pb, "--format", "json")
    assert result.exit_code == 1
    entries = {e["name"]: e for e in json.loads(result.stdout)["playbooks"][0]["examples"]}
    assert entries["ok"]["passed"] is True
    assert entries["wrong"]["differences"] == ["current: expected 'b', got 'a'"]
    line, col = text_position(pb, "a-done}}")
    assert entries["inline-2"]["location"] == f"{pb}:{line}:{col}"  # at the mistyped expectation
    assert "expect.blocking: expected a list of criterion ids, got 'a-done'" in entries["inline-2"]["differences"][0]
    line, col = text_position(pb, "{name: bad-key")
    assert entries["bad-key"]["location"] == f"{pb}:{line}:{col}"
    assert "unknown key(s) in example: expcet" in entries["bad-key"]["differences"][0]
    text = run_cli("test", pb)
    assert "1 passed, 3 failed" in text.stdout and f"FAIL tiny/wrong  ({pb}:" in text.stdout


def test_inline_examples_of_a_base_playbook_are_located_at_the_child_file(run_cli: Any, write_file: Any) -> None:
    write_file("base.yaml", PB + "examples:\n  - {name: typo, case: {}, expect: {complete: maybe}}\n")
    child = write_file("child.yaml", "id: child\nversion: 1\ntitle: Child\nextends: base.yaml\n")
    result = run_cli("test", child, "--format", "json")
    entry = json.loads(result.stdout)["playbooks"][0]["examples"][0]
    assert result.exit_code == 1 and entry["name"] == "typo" and entry["location"] == str(child)
    assert entry["differences"] == ["cannot read the example: expect.complete: expected true or false, got 'maybe'"]


def test_a_playbook_without_examples_passes_unless_coverage_is_required(run_cli: Any, write_file: Any) -> None:
    pb = write_file("tiny.yaml", PB)
    plain = run_cli("test", pb)
    assert plain.exit_code == 0 and "NONE tiny: no examples found" in plain.stdout
    assert "criteria exercised both ways: 0/2" in plain.stdout
    assert run_cli("test", pb, "--require-coverage").exit_code == 1


@pytest.mark.parametrize("command", ["validate", "test", "show"])
def test_a_broken_plugin_is_reported_in_a_real_process(run_subprocess: Any, write_file: Any, command: str) -> None:
    pb = write_file("tiny.yaml", PB)
    result = run_subprocess("-p", "no_such_plugin_module_xyz", command, pb)
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "no_such_plugin_module_xyz" in result.stderr
