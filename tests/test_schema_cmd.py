"""playbook schema: the playbook schema for editors, and the case schema (core + plugins + facts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from jsonschema import Draft202012Validator

from playbook.cli import cli
from playbook.resources import data_dir
from playbook.sourcefile import read_document

CLEAN = Path(__file__).parent / "fixtures" / "lint" / "clean.yaml"


def test_playbook_schema_validates_bundled_playbooks() -> None:
    proc = subprocess.run([sys.executable, "-m", "playbook", "schema"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for path in sorted(data_dir("playbooks").glob("*.yaml")):
        assert not list(validator.iter_errors(read_document(path).data)), path
    assert list(validator.iter_errors({"id": "x"}))  # incomplete playbook is rejected


def test_case_schema_with_playbook_facts(tmp_path: Path) -> None:
    pb = tmp_path / "pb.yaml"
    pb.write_text(CLEAN.read_text(encoding="utf-8").replace(
        "stages:", "facts:\n  visitor:\n    type: object\n    properties: {rich: {type: boolean}}\nstages:", 1),
        encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["schema", "--case", "--playbook", str(pb)])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["visitor"]["properties"]["rich"] == {"type": "boolean"}
    assert "account" in schema["properties"]
    validator = Draft202012Validator(schema)
    assert list(validator.iter_errors({"visitor": {"rich": "yes"}}))
    assert not list(validator.iter_errors({"visitor": {"rich": True}, "account": {"name": "Acme"}}))


def test_output_file_and_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "playbook.schema.json"
    assert runner.invoke(cli, ["schema", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "Playbook"
    assert runner.invoke(cli, ["schema", "--playbook", str(CLEAN)]).exit_code == 2
