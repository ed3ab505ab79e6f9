"""playbook lint: every rule has a playbook that triggers it and one (clean.yaml) that does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.authoring.findings import RULES
from playbook.authoring.lint import lint_ref
from playbook.cli import cli
from playbook.errors import PlaybookError
from playbook.plugins import get_registry
from playbook.resources import data_dir

FIXTURES = Path(__file__).parent / "fixtures" / "lint"
CLEAN = FIXTURES / "clean.yaml"


def _trigger(code: str) -> list[Path]:
    return sorted(FIXTURES.glob(f"{code.lower()}-*.yaml"))


def codes(path: Path) -> set[str]:
    return {f.code for f in lint_ref(str(path), get_registry())}


def test_every_rule_has_a_trigger_fixture() -> None:
    for code in RULES:
        assert _trigger(code), f"no fixture triggers {code}"


def test_clean_playbook_has_no_finding() -> None:
    assert lint_ref(str(CLEAN), get_registry()) == []


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_triggers_and_clean_does_not(code: str) -> None:
    for fixture in _trigger(code):
        found = lint_ref(str(fixture), get_registry())
        hits = [f for f in found if f.code == code]
        assert hits, f"{fixture.name} should trigger {code}: {[str(f) for f in found]}"
        for hit in hits:
            assert hit.location is not None
            if code in ("PB701", "PB702"):  # located in the example file
                assert f"examples/lint-{fixture.stem}/" in hit.location.file.replace("\\", "/")
            else:
                assert hit.location.file.endswith(fixture.name)
            if code not in ("PB701", "PB702", "PB703"):
                assert hit.location.line, f"{code} finding without a line: {hit}"
            assert hit.severity in ("error", "warning", "info")
    assert code not in codes(CLEAN)


def test_findings_point_at_the_right_line() -> None:
    found = {f.code: f for f in lint_ref(str(FIXTURES / "pb201-unknown-fact.yaml"), get_registry())}
    finding = found["PB201"]
    line = (FIXTURES / "pb201-unknown-fact.yaml").read_text(encoding="utf-8").splitlines()[finding.location.line - 1]
    assert "account.is_targte" in line
    assert "did you mean 'is_target'" in finding.message


def test_item_fields_inside_count_are_checked() -> None:
    found = [f for f in lint_ref(str(FIXTURES / "pb201-unknown-item-field.yaml"), get_registry())
             if f.code == "PB201"]
    assert len(found) == 1 and "`rol`" in found[0].message and "stakeholders" in found[0].message
    assert "did you mean 'role'" in found[0].message


def test_load_errors_keep_file_and_line() -> None:
    (finding,) = lint_ref(str(FIXTURES / "pb101-unknown-rule.yaml"), get_registry())
    lines = (FIXTURES / "pb101-unknown-rule.yaml").read_text(encoding="utf-8").splitlines()
    assert finding.severity == "error" and "rule: nope.no-such-rule" in lines[finding.location.line - 1]
    assert "nope.no-such-rule" in finding.message


def test_unknown_playbook_is_unusable_input() -> None:
    with pytest.raises(PlaybookError):
        lint_ref(str(FIXTURES / "does-not-exist.yaml"), get_registry())


def test_bundled_playbooks_are_lint_clean() -> None:
    files = sorted(data_dir("playbooks").glob("*.yaml"))
    assert files
    for path in files:
        found = lint_ref(str(path), get_registry())
        assert found == [], "\n".join(str(f) for f in found)


def test_bundled_playbooks_are_strict_about_translations(tmp_path: Path) -> None:
    """The same text problem is a warning in a user's playbook and an error in a bundled one."""
    found = lint_ref(str(FIXTURES / "pb501-missing-translation.yaml"), get_registry())
    assert [f.severity for f in found if f.code == "PB501"] == ["warning"]
    from playbook.authoring.lint import Linter
    from playbook.authoring.source import load_located

    linter = Linter(load_located(str(FIXTURES / "pb501-missing-translation.yaml"), get_registry()),
                    get_registry(), examples=False)
    linter.installed = True  # what is_installed() says for a registered playbook
    assert [f.severity for f in linter.run() if f.code == "PB501"] == ["error"]
    bundled = data_dir("playbooks") / "six-step-sales.yaml"
    from playbook.authoring.lint import is_installed

    assert is_installed(bundled, get_registry())
    assert not is_installed(FIXTURES / "clean.yaml", get_registry())


def test_cli_text_json_and_exit_codes() -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["lint", str(CLEAN)])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(cli, ["lint", str(FIXTURES / "pb301-never-passes.yaml"), "--format", "json"])
    assert bad.exit_code == 1
    data = json.loads(bad.output)
    assert {"file", "line", "column", "code", "rule", "severity", "message"} <= set(data["findings"][0])
    assert data["counts"]["error"] >= 1
    warn_only = runner.invoke(cli, ["lint", str(FIXTURES / "pb302-always-passes.yaml")])
    assert warn_only.exit_code == 0 and "PB302" in warn_only.output
    hidden = runner.invoke(cli, ["lint", str(FIXTURES / "pb302-always-passes.yaml"), "--min-severity", "error"])
    assert "PB302" not in hidden.output
    missing = runner.invoke(cli, ["lint", str(FIXTURES / "nope.yaml")])
    assert missing.exit_code == 2


def test_cli_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-m", "playbook", "lint", str(FIXTURES / "pb201-unknown-fact.yaml"),
                           "--no-examples"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "pb201-unknown-fact.yaml:10:" in proc.stdout and "PB201" in proc.stdout
    assert "PB703" not in proc.stdout  # --no-examples
