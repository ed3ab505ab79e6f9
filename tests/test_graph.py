"""playbook graph: Mermaid and DOT carry stages, gates (required vs recommended), outcomes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from playbook.authoring.graph import flow, to_dot, to_mermaid, to_svg
from playbook.cli import cli
from playbook.loader import load_playbook

CLEAN = Path(__file__).parent / "fixtures" / "lint" / "clean.yaml"


def test_flow_model_gates_and_outcomes() -> None:
    pb = load_playbook(str(CLEAN))
    f = flow(pb, "en")
    assert [s for s, _ in f.stages] == ["qualify", "close"]
    # start -> qualify (entry of qualify), qualify -> close (exit of qualify + entry of close), close -> done
    assert [(g.source, g.target) for g in f.gates] == [(None, 0), (0, 1), (1, None)]
    assert [i.id for i in f.gates[1].items] == ["identified", "funded"]
    assert [i.gate for i in f.gates[1].items] == ["exit", "entry"]
    assert f.outcomes[0].id == "won" and f.outcomes[0].sources == [1]


def test_mermaid_marks_required_and_recommended() -> None:
    pb = load_playbook("six-step-sales")
    text = to_mermaid(flow(pb, "en"))
    assert text.startswith("flowchart TD")
    assert '-->|"● Target account locked"| s_customer_analysis' in text
    assert "○ Coach developed" in text  # recommended
    assert "s_win_commitment -.-> o_won" in text and "anystage -.-> o_dropped" in text
    assert "s_follow_up_service -->" in text and "| done" in text
    # every node used in an edge is declared
    declared = set(re.findall(r"^  (\w+)[\[\(\{]", text, flags=re.M))
    used = set(re.findall(r"^  (\w+) -", text, flags=re.M)) | set(re.findall(r"[|>] (\w+)$", text, flags=re.M))
    assert used <= declared, used - declared


def test_mermaid_chinese_labels() -> None:
    text = to_mermaid(flow(load_playbook("six-step-sales"), "zh"))
    assert "● 已锁定目标客户" in text and "客户分析" in text and "任一阶段" in text


def test_dot_is_well_formed() -> None:
    text = to_dot(flow(load_playbook("six-step-sales"), "en"))
    assert text.startswith('digraph "Six-step key-account sales" {') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    assert '"s:customer-analysis" -> "s:build-trust" [label="● Clear sales opportunity found\\l○ Coach developed' in text
    assert '"s:win-commitment" -> "o:won" [style=dashed];' in text
    # quotes inside labels are escaped
    assert '\\"is it a real opportunity?\\"' in text


def test_svg_has_every_stage_and_outcome() -> None:
    svg = to_svg(flow(load_playbook("six-step-sales"), "zh"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for title in ("1. 客户分析", "6. 跟进服务", "赢单", "丢单", "主动放弃"):
        assert title in svg
    assert "<script" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_cli_and_subprocess(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["graph", str(CLEAN), "--format", "dot", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert '"s:qualify" -> "s:close"' in result.output and "资格确认" in result.output
    out = tmp_path / "g.mmd"
    proc = subprocess.run([sys.executable, "-m", "playbook", "graph", "six-step-sales", "--lang", "en",
                           "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8").startswith("flowchart TD")
    bad = runner.invoke(cli, ["graph", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2
