"""The CLI as an account manager uses it: `playbook check consultative-sales CASE --lang zh`.

Needs the plugin installed in the running environment (pip install -e plugins/telecom), as an
integrator would have it: discovery goes through the entry point.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner
from playbook.cli import cli
from playbook.plugins import reset_registry

from conftest import PLAYBOOK_ID, example


@pytest.fixture
def authority_case(tmp_path):
    path = tmp_path / "branch.yaml"
    path.write_text(yaml.safe_dump(example("02-entrance-no-authority"), allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    monkeypatch.delenv("PLAYBOOK_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("PLAYBOOK_PLUGINS", raising=False)
    reset_registry()
    yield
    reset_registry()


def test_check_zh_names_the_missing_condition_and_what_to_do(authority_case):
    result = CliRunner().invoke(cli, ["check", PLAYBOOK_ID, str(authority_case), "--lang", "zh", "--today", "2026-03-02"])
    assert result.exit_code == 1, result.output
    blocking = result.output.split("卡住关口的条件：")[1].split("建议（推荐项")[0]
    assert "✗ 客户自己有决策权 — 我们接触的客户单位自己不能拍板" in blocking
    assert "→ 怎么做：弄清采购由谁拍板" in blocking
    for met in ("客户对我们的产品/服务有需求", "客户有采购预算", "客户有采购时间计划"):
        assert f"✗ {met}" not in blocking
    assert "### 销售商机评估表" in result.output


def test_check_json_report(authority_case):
    result = CliRunner().invoke(cli, ["check", PLAYBOOK_ID, str(authority_case), "--format", "json", "--lang", "en",
                                      "--today", "2026-03-02"])
    report = json.loads(result.output)
    assert [b["criterion"] for b in report["blocking"]] == ["qualified-authority", "project-committed"]
    assert report["blocking"][0]["message"].startswith("The customer unit we deal with cannot decide itself")
    assert report["derived"]["man"]["class"] == "M+a+N"
    assert report["errors"] == []


def test_playbook_test_with_coverage():
    result = CliRunner().invoke(cli, ["test", PLAYBOOK_ID, "--require-coverage"])
    assert result.exit_code == 0, result.output
    assert "criteria exercised both ways: 33/33" in result.output


def test_subprocess_list_plugins_and_check(authority_case):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "playbook", *args], capture_output=True, text=True,
                              encoding="utf-8", timeout=60)

    listed = run("list")
    assert listed.returncode == 0 and "consultative-sales" in listed.stdout and "[telecom]" in listed.stdout
    plugins = json.loads(run("plugins", "--json").stdout)
    telecom = next(p for p in plugins["plugins"] if p["name"] == "telecom")
    assert "telecom.effort-split" in telecom["registered"]["rules"]
    assert not [e for e in plugins["errors"] if "already registered" in e["message"]]
    checked = run("check", PLAYBOOK_ID, str(authority_case), "--lang", "zh", "--today", "2026-03-02")
    assert checked.returncode == 1
    assert "客户自己有决策权 — 我们接触的客户单位自己不能拍板" in checked.stdout


def test_disabled_plugin_is_gone_and_says_so(authority_case, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_DISABLE_PLUGINS", "telecom")
    reset_registry()
    result = CliRunner().invoke(cli, ["check", PLAYBOOK_ID, str(authority_case)])
    assert result.exit_code == 2
    assert "unknown playbook 'consultative-sales'" in result.output
