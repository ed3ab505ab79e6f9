"""playbook diff: structural changes (stages, criteria, thresholds, actions) and portfolio impact."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from playbook.authoring.diff import expression_change, portfolio_impact, structural_diff
from playbook.cli import cli
from playbook.loader import load_playbook

CLEAN = Path(__file__).parent / "fixtures" / "lint" / "clean.yaml"
TODAY = dt.date(2026, 3, 1)


def _variant(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(CLEAN.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "new.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _raise_threshold(data: dict) -> None:  # type: ignore[type-arg]
    data["version"] = 2
    signed = data["stages"][1]["exit"][0]
    signed["when"] = signed["when"].replace("100000", "500000")
    data["stages"][0]["exit"][0]["level"] = "recommended"
    data["stages"][1]["entry"].append({"id": "budget", "title": {"zh": "预算", "en": "Budget"},
                                       "when": "opportunity.budget_confirmed == true"})
    data["stages"][1]["actions"] = []
    data["stages"].insert(0, data["stages"].pop(1))  # reorder: close first


def test_expression_change_finds_thresholds() -> None:
    details, pairs = expression_change("x.amount >= 100000 and y < 3", "x.amount >= 200000 and y < 3")
    assert pairs == [(100000, 200000)] and details[0].startswith("threshold 100000 → 200000")
    details, pairs = expression_change("a >= 1", "b >= 1")
    assert pairs == [] and details == ["expression: `a >= 1` → `b >= 1`"]
    assert expression_change("a>=1", "a >= 1") == ([], [])  # whitespace only


def test_structural_diff(tmp_path: Path) -> None:
    old = load_playbook(str(CLEAN))
    new = load_playbook(str(_variant(tmp_path, _raise_threshold)))
    changes = {(c.kind, c.id): c for c in structural_diff(old, new)}
    signed = changes[("criterion", "signed")]
    assert signed.thresholds == [(100000, 500000)]
    assert changes[("criterion", "identified")].details == ["level: required → recommended"]
    assert changes[("criterion", "budget")].change == "added"
    assert changes[("action", "close/todo")].change == "removed"
    assert changes[("stage", "close")].details[0] == "order: 2 → 1"
    assert changes[("playbook", "lint-clean")].details == ["version: 1 → 2"]
    assert ("criterion", "target") not in changes  # unchanged criteria are not listed


def _portfolio(tmp_path: Path) -> Path:
    cases = [
        {"id": "big", "account": {"is_target": True}, "stakeholders": [{"role": "decision_maker"}],
         "opportunity": {"identified": True, "funded": True, "amount": 600000}},
        {"id": "mid", "account": {"is_target": True}, "stakeholders": [{"role": "decision_maker"}],
         "opportunity": {"identified": True, "funded": True, "amount": 200000}},
        {"id": "cold", "account": {"is_target": False}},
    ]
    path = tmp_path / "portfolio.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n[1, 2]\n{not json\n", encoding="utf-8")
    return path


def _threshold_only(data: dict) -> None:  # type: ignore[type-arg]
    signed = data["stages"][1]["exit"][0]
    signed["when"] = signed["when"].replace("100000", "500000")


def test_portfolio_impact_counts(tmp_path: Path) -> None:
    old = load_playbook(str(CLEAN))
    new = load_playbook(str(_variant(tmp_path, _threshold_only)))
    impact = portfolio_impact(old, new, [str(_portfolio(tmp_path))], TODAY)
    assert impact.cases == 3 and len(impact.rejected) == 2  # the array and the broken line
    assert [r[1] for r in impact.rejected] == [4, 5]
    (mid,) = impact.changed
    assert mid.case_id == "mid" and set(mid.changed) == {"ready", "blocking", "complete"}
    assert mid.before["ready"] is True and mid.after["ready"] is False
    assert mid.after["blocking"] == ["signed"]
    assert impact.counts["no_longer_ready"] == 1 and impact.counts["stage"] == 0


def test_portfolio_directory_and_removed_stage(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.yaml").write_text("account: {is_target: true}\nstage: close\n", encoding="utf-8")
    (folder / "b.yaml").write_text("- not a mapping\n", encoding="utf-8")

    def drop_close(data: dict) -> None:  # type: ignore[type-arg]
        data["stages"].pop(1)
        data["outcomes"][0]["from"] = ["qualify"]

    old = load_playbook(str(CLEAN))
    new = load_playbook(str(_variant(tmp_path, drop_close)))
    impact = portfolio_impact(old, new, [str(folder)], TODAY)
    assert impact.cases == 1 and len(impact.rejected) == 1
    (a,) = impact.changed
    assert a.case_id == "a" and "stage" in a.changed and "unknown stage 'close'" in a.after["error"]


def test_cli_text_json_and_subprocess(tmp_path: Path) -> None:
    new = _variant(tmp_path, _threshold_only)
    portfolio = _portfolio(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["diff", str(CLEAN), str(new), "--input", str(portfolio), "--today", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert "threshold 100000 → 500000" in result.output
    assert "portfolio: 3 case(s) checked, 1 affected, 2 unchanged, 2 rejected" in result.output
    assert "mid: ready True → False; blocking +signed" in result.output
    proc = subprocess.run([sys.executable, "-m", "playbook", "diff", str(CLEAN), str(new), "-i", str(portfolio),
                           "--format", "json", "--today", "2026-03-01"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["impact"]["changed_cases"] == 1 and data["impact"]["counts"]["ready"] == 1
    assert data["changes"][0]["thresholds"] == [{"old": 100000, "new": 500000}]
    missing = runner.invoke(cli, ["diff", str(CLEAN), str(new), "--input", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
