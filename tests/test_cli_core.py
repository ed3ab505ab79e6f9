"""The core CLI (list/show/validate/check/plugins/test) through CliRunner and a real subprocess.

Exit codes: 0 ran and ready/complete, 1 ran and something blocks (or tests failed), 2 bad input
or usage, with a one-line reason per problem on stderr (a traceback only with --debug).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from playbook.resources import load_schema

CORE = Path(__file__).resolve().parent / "fixtures" / "core"
MINI = CORE / "mini.yaml"
BROKEN = CORE / "broken"


def _json_error_column() -> int:
    """Where this Python's json module places the error in malformed.json (3.13 points at the
    trailing comma, earlier versions at the '}' after it)."""
    import json

    try:
        json.loads((BROKEN / "malformed.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return exc.colno
    raise AssertionError("malformed.json parsed")


_JSON_COLUMN = _json_error_column()
COMPLETE = CORE / "cases" / "complete.yaml"
BLOCKED = CORE / "cases" / "blocked.json"
SALES_EXAMPLE = Path(__file__).resolve().parents[1] / "playbooks" / "examples" / "six-step-sales"


def assert_one_line_errors(stderr: str, count: int | None = None) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "expected an error message on stderr"
    assert "Traceback" not in stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors, stderr
    if count is not None:
        assert len(errors) == count, stderr
    return errors


# -- list / show / plugins -----------------------------------------------------------------------


def test_list(run_cli):
    result = run_cli("list", "--lang", "en")
    assert result.exit_code == 0, result
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert {"six-step-sales", "hall-marketing", "account-lifecycle"} <= set(rows)
    assert rows["six-step-sales"].split()[1] == "v1"
    assert "Six-step key-account sales" in rows["six-step-sales"]
    assert rows["six-step-sales"].endswith("[core]")
    zh = run_cli("list", "--lang", "zh")
    assert "大客户销售六步法" in zh.stdout


def test_list_json(run_cli):
    result = run_cli("list", "--json", "--lang", "en")
    assert result.exit_code == 0
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    sales = rows["six-step-sales"]
    assert (sales["version"], sales["plugin"], sales["title"]) == (1, "core", "Six-step key-account sales")
    assert sales["stages"] == 6 and Path(sales["path"]).is_file()


def test_show(run_cli):
    result = run_cli("show", str(MINI), "--lang", "en")
    assert result.exit_code == 0, result
    out = result.stdout
    assert out.startswith("Mini playbook (mini v2)\n")
    assert "1. Qualify [qualify]" in out and "3. Close [close]" in out
    assert "   entry is-target: Target account  — account.is_target" in out
    assert "   entry has-region (recommended): Region known" in out
    assert "   action profile (enter, checklist): Collect the profile" in out
    assert "outcome won (won): Won — deal.status == 'won'" in out
    zh = run_cli("show", str(MINI), "--lang", "zh").stdout
    assert zh.startswith("迷你打法 (mini v2)")


def test_show_json_is_the_merged_document(run_cli):
    result = run_cli("show", "six-step-sales", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["id"] == "six-step-sales" and len(data["stages"]) == 6
    assert not any(key.startswith("_") for key in data)


def test_plugins(run_cli):
    result = run_cli("plugins")
    assert result.exit_code == 0
    assert result.stdout.startswith("core (playbook.builtin)\n")
    assert "  actions: checklist, task, template, lookup" in result.stdout
    data = json.loads(run_cli("plugins", "--json").stdout)
    assert data["plugins"][0]["name"] == "core"
    assert "today" in data["plugins"][0]["registered"]["functions"]


# -- validate -------------------------------------------------------------------------------------


def test_validate_ok(run_cli):
    result = run_cli("validate", str(MINI), "six-step-sales")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [f"ok: {MINI} (3 stages, 8 criteria)",
                                          "ok: six-step-sales (6 stages, 31 criteria)"]


def test_validate_reports_every_problem_located(run_cli):
    result = run_cli("validate", str(MINI), str(BROKEN / "several-problems.yaml"), str(BROKEN / "malformed.yaml"))
    assert result.exit_code == 2
    assert f"ok: {MINI}" in result.stdout
    errors = assert_one_line_errors(result.stderr, count=4)
    assert errors[0].startswith(f"error: {BROKEN / 'several-problems.yaml'}:7:24: ")
    assert "unknown function 'nope'" in errors[0]
    assert f"{BROKEN / 'malformed.yaml'}:7:3: malformed YAML" in errors[3]


def test_validate_json(run_cli):
    result = run_cli("validate", "--json", str(MINI), str(BROKEN / "unknown-rule.yaml"))
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert [r["valid"] for r in data] == [True, False]
    assert data[0]["criteria"] == 8
    assert ":8:15: criterion 'a': unknown rule 'nosuch.rule-name'" in data[1]["problems"][0]


def test_validate_needs_an_argument(run_cli):
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


# -- check ----------------------------------------------------------------------------------------


def test_check_complete_exits_0(run_cli):
    result = run_cli("check", str(MINI), str(COMPLETE), "--lang", "en", "--today", "2026-03-01")
    assert result.exit_code == 0, result
    assert "Complete: every gate passes." in result.stdout
    assert result.stdout.startswith("Playbook: Mini playbook (mini v2)\nCase: acme-complete    as of 2026-03-01\n")


def test_check_blocked_exits_1(run_cli):
    result = run_cli("check", str(MINI), str(BLOCKED), "--lang", "en", "--today", "2026-03-01")
    assert result.exit_code == 1, result
    assert "Blocked: 2 criterion(s) hold the gate." in result.stdout
    assert result.stderr == ""


def test_check_json_matches_the_schema(run_cli):
    result = run_cli("check", str(MINI), str(BLOCKED), "--format", "json", "--lang", "zh", "--today", "2026-03-01")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema("report"), format_checker=jsonschema.FormatChecker()).validate(report)
    assert report["lang"] == "zh" and report["case"]["id"] == "acme-blocked"
    assert [b["criterion"] for b in report["blocking"]] == ["budget-known", "buyer-known"]


def test_check_stage_option_overrides_the_case(run_cli, write_file):
    case = write_file("declared.yaml", f"stage: close\n{COMPLETE.read_text().replace('proposal_sent: true', 'proposal_sent: false')}")
    ahead = json.loads(run_cli("check", str(MINI), str(case), "--format", "json").stdout)
    assert ahead["stage"]["declared"] == "close" and ahead["stage"]["inferred"] == "propose"
    assert len(ahead["warnings"]) == 1
    behind = run_cli("check", str(MINI), str(case), "--format", "json", "--stage", "qualify")
    report = json.loads(behind.stdout)
    assert report["stage"]["current"] == "qualify" and report["stage"]["ready_to_advance"] is True
    assert behind.exit_code == 0


def test_check_outcome_counts_as_done(run_cli, write_file):
    case = write_file("lost.yaml", "id: gone\naccount: {is_target: true}\ndeal: {amount: 0, status: lost}\n")
    result = run_cli("check", str(MINI), str(case), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["stage"]["outcome"] == "lost"


def test_check_case_id_defaults_to_the_file_name(run_cli, write_file):
    case = write_file("my-account.yaml", "account: {is_target: true}\n")
    report = json.loads(run_cli("check", str(MINI), str(case), "--format", "json").stdout)
    assert report["case"]["id"] == "my-account"


@pytest.mark.parametrize(("text", "case_id"), [
    ("account: {is_target: true}\ndeal: {amount: 5}\n", "stdin"),
    ('{"id": "from-json", "account": {"is_target": true}}', "from-json"),
])
def test_check_reads_stdin(run_cli, text, case_id):
    result = run_cli("check", str(MINI), "-", "--format", "json", input=text)
    assert result.exit_code == 1, result
    report = json.loads(result.stdout)
    assert report["case"]["id"] == case_id
    assert report["stage"]["entered"] is True


def test_check_an_example_file_uses_its_today_and_stage(run_cli):
    example = SALES_EXAMPLE / "declared-ahead.yaml"
    report = json.loads(run_cli("check", "six-step-sales", str(example), "--format", "json").stdout)
    assert report["today"] == "2026-03-01"
    assert (report["stage"]["declared"], report["stage"]["inferred"]) == ("present-value", "build-trust")
    assert len(report["warnings"]) == 1


@pytest.mark.parametrize(("args", "fragment"), [
    (["check", "no-such-playbook", str(COMPLETE)], "unknown playbook 'no-such-playbook'"),
    (["check", str(MINI), "does-not-exist.yaml"], "no such file: does-not-exist.yaml"),
    (["check", str(MINI), str(CORE / "cases" / "not-a-mapping.yaml")], "a case must be a mapping of facts"),
    (["check", str(MINI), str(CORE / "cases" / "bad-stage.yaml")], "unknown stage 'nowhere'"),
    (["check", str(MINI), str(COMPLETE), "--stage", "nowhere"], "unknown stage 'nowhere'"),
    (["check", str(BROKEN / "bad-when.yaml"), str(COMPLETE)], "bad-when.yaml:8:15"),
    (["check", str(BROKEN / "malformed.json"), str(COMPLETE)], f"malformed.json:6:{_JSON_COLUMN}: malformed JSON"),
    (["check", str(MINI), str(BROKEN / "malformed.yaml")], "malformed.yaml:7:3: malformed YAML"),
])
def test_check_bad_input_exits_2_with_one_line_errors(run_cli, args, fragment):
    result = run_cli(*args)
    assert result.exit_code == 2, result
    errors = assert_one_line_errors(result.stderr)
    assert any(fragment in e for e in errors), result.stderr
    assert result.stdout == ""
    assert result.exception is None


@pytest.mark.parametrize("args", [
    ["check", str(MINI)],
    ["check", str(MINI), str(COMPLETE), "--format", "yaml"],
    ["check", str(MINI), str(COMPLETE), "--today", "01/03/2026"],
    ["check", str(MINI), str(COMPLETE), "--lang", "fr"],
    ["no-such-command"],
])
def test_usage_errors_exit_2(run_cli, args):
    result = run_cli(*args)
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr and result.stderr.strip()


def test_check_duplicate_keys_in_a_json_case(run_cli):
    result = run_cli("check", str(MINI), "-", input='{"account": {"is_target": true,\n  "is_target": false}}')
    assert result.exit_code == 2
    (error,) = assert_one_line_errors(result.stderr)
    assert error == "error: <stdin>:2:3: duplicate key 'is_target' (the second value would silently replace the first)"


def test_check_malformed_stdin(run_cli):
    result = run_cli("check", str(MINI), "-", input="a: [unclosed\n")
    assert result.exit_code == 2
    (error,) = assert_one_line_errors(result.stderr)
    assert error.startswith("error: <stdin>:") and "malformed YAML" in error


# -- playbook test ----------------------------------------------------------------------------------


def test_test_command_passes_with_coverage(run_cli):
    result = run_cli("test", str(MINI), "--require-coverage", "-v")
    assert result.exit_code == 0, result
    assert "PASS mini/01-complete" in result.stdout
    assert "mini: 3/3 examples passed; criteria exercised both ways: 8/8" in result.stdout


def test_test_command_reports_differences(run_cli):
    result = run_cli("test", str(MINI), "--examples", str(CORE / "examples-failing"))
    assert result.exit_code == 1
    out = result.stdout
    assert "FAIL mini/wrong" in out
    assert "    entered: expected False, got True" in out
    assert "expected but not blocking: signed" in out
    assert "passing: budget-known failed" in out
    assert "derived.man.class: expected 'M+A+N', got (missing)" in out
    assert "0 passed, 1 failed" in out


def test_test_command_coverage_gaps_fail_only_when_required(run_cli, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "complete.yaml").write_text((CORE / "examples" / "mini" / "01-complete.yaml").read_text())
    relaxed = run_cli("test", str(MINI), "--examples", str(folder))
    assert relaxed.exit_code == 0
    assert "never failing in any example: is-target" in relaxed.stdout
    strict = run_cli("test", str(MINI), "--examples", str(folder), "--require-coverage", "--format", "json")
    assert strict.exit_code == 1
    data = json.loads(strict.stdout)
    assert data["passed"] == 1 and data["failed"] == 0 and data["uncovered"] == 8
    assert data["playbooks"][0]["coverage"]["never_failed"][0] == "is-target"


# -- a real subprocess --------------------------------------------------------------------------------


def test_subprocess_check_exit_codes_and_output(run_subprocess):
    done = run_subprocess("check", MINI, COMPLETE, "--lang", "en", "--today", "2026-03-01")
    assert done.returncode == 0, done.stderr
    assert "Complete: every gate passes." in done.stdout
    blocked = run_subprocess("check", MINI, BLOCKED, "--format", "json")
    assert blocked.returncode == 1
    assert json.loads(blocked.stdout)["blocking"][0]["criterion"] == "budget-known"
    bad = run_subprocess("check", BROKEN / "unknown-function.yaml", COMPLETE)
    assert bad.returncode == 2
    (error,) = assert_one_line_errors(bad.stderr)
    assert ":8:36: criterion 'a' `when`: unknown function 'frobnicate'" in error
    assert bad.stdout == ""


def test_subprocess_stdin_and_chinese(run_subprocess):
    result = run_subprocess("check", "six-step-sales", "-", "--lang", "zh", "--today", "2026-03-01",
                            input=(SALES_EXAMPLE / "not-entered.yaml").read_text(encoding="utf-8"))
    assert result.returncode == 1, result.stderr
    assert "打法：大客户销售六步法" in result.stdout and "未进入" in result.stdout


def test_subprocess_debug_shows_the_traceback(run_subprocess):
    plain = run_subprocess("check", MINI, "missing-case.yaml")
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    assert plain.stderr.strip() == "error: missing-case.yaml: no such file: missing-case.yaml"
    debug = run_subprocess("--debug", "check", MINI, "missing-case.yaml")
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert "CaseError" in debug.stderr or "PlaybookError" in debug.stderr


def test_subprocess_validate_and_test(run_subprocess):
    ok = run_subprocess("validate", "six-step-sales", MINI)
    assert ok.returncode == 0 and ok.stdout.count("ok: ") == 2
    bad = run_subprocess("validate", BROKEN / "schema-violation.yaml")
    assert bad.returncode == 2
    errors = assert_one_line_errors(bad.stderr, count=2)
    assert ":9:16: stages[0].entry[0].level" in errors[0]
    assert ":11:" in errors[1] and "unknown key 'colour'" in errors[1]
    tested = run_subprocess("test", MINI, "--require-coverage")
    assert tested.returncode == 0 and "3 passed, 0 failed" in tested.stdout


def test_subprocess_version_and_help(run_subprocess):
    version = run_subprocess("--version")
    assert version.returncode == 0 and "playbook" in version.stdout
    helped = run_subprocess("--help")
    assert helped.returncode == 0
    for command in ("check", "list", "plugins", "show", "test", "validate"):
        assert command in helped.stdout
