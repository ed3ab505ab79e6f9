"""Adversarial review of the authoring tools (``playbook graph | doc | diff | lint``): hostile
playbooks and portfolios a consultant produces. Each test pins a bug found in review."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "review2"
MULTILINE = FIXTURES / "multiline-titles.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _mermaid_statements(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_mermaid_labels_and_title_stay_on_one_line(lang: str) -> None:
    code, out, _ = run("graph", str(MULTILINE), "--format", "mermaid", "--lang", lang)
    assert code == 0
    statements = _mermaid_statements(out)
    # a newline in a title must not start a new Mermaid statement (`click …`, a second `flowchart`)
    assert not any(s.startswith(("click", "flowchart LR")) for s in statements), out
    assert sum(s.startswith("flowchart") for s in statements) == 1
    known = re.compile(r"^(%%|flowchart|start|done|s_|o_|anystage|classDef|class )")
    assert all(known.match(s) for s in statements), [s for s in statements if not known.match(s)]


def test_mermaid_through_a_real_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-m", "playbook", "graph", str(MULTILINE), "--lang", "en"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "\nclick " not in proc.stdout


def test_markdown_handbook_headings_are_one_line_and_markup_is_text() -> None:
    code, out, _ = run("doc", str(MULTILINE), "--format", "md", "--lang", "en")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("# Multi-line click start href")  # the whole title in the heading
    assert not any(ln.startswith("click ") for ln in lines)
    assert "## 1. First flowchart LR" in lines
    # `<` outside code spans is escaped; inside a code span it stays as written
    assert "amount \\<1M" in out
    assert "`opportunity.amount < 1000000`" in out
    code, out_zh, _ = run("doc", str(MULTILINE), "--format", "md", "--lang", "zh")
    prose = re.sub(r"```mermaid.*?```", "", out_zh, flags=re.S)  # a code block shows text as is
    assert "<script>" not in prose.replace("\\<script>", "")
    assert "金额\\<100万" in out_zh


@pytest.mark.parametrize(("lang", "wrong", "right"), [("en", "How to work this stage", "What to do"),
                                                      ("zh", "工作方法", "怎么做")])
def test_outcome_table_header_is_not_the_stage_guidance_label(lang: str, wrong: str, right: str) -> None:
    code, out, _ = run("doc", str(MULTILINE), "--format", "md", "--lang", lang)
    assert code == 0
    header = next(ln for ln in out.splitlines() if ln.startswith("| ") and ("Outcome" in ln or "结果" in ln))
    assert right in header and wrong not in header


def test_diff_input_format_option_exists_as_its_error_message_says(tmp_path: Path) -> None:
    portfolio = tmp_path / "cases.txt"
    portfolio.write_text(json.dumps({"id": "c1", "opportunity": {"amount": 5}}) + "\n", encoding="utf-8")
    code, _, err = run("diff", str(MULTILINE), str(MULTILINE), "--input", str(portfolio))
    assert code == 2 and "--input-format" in err  # the hint names an option ...
    code, out, err = run("diff", str(MULTILINE), str(MULTILINE), "--input", str(portfolio),
                         "--input-format", "jsonl", "--format", "json", "--today", "2026-03-01")
    assert code == 0, err  # ... that exists
    assert json.loads(out)["impact"]["unchanged_cases"] == 1


def test_diff_reports_the_line_inside_a_bad_case_file(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "good.yaml").write_text("id: g\nopportunity: {amount: 5}\n", encoding="utf-8")
    (folder / "bad.yaml").write_text("id: b\nopportunity:\n  amount: [1,\n", encoding="utf-8")
    (folder / "empty.yaml").write_text("", encoding="utf-8")
    code, out, _ = run("diff", str(MULTILINE), str(MULTILINE), "--input", str(folder), "--today", "2026-03-01")
    assert code == 0
    bad = next(ln for ln in out.splitlines() if "bad.yaml" in ln)
    assert re.search(r"bad\.yaml:\d+: ", bad), bad
    empty = next(ln for ln in out.splitlines() if "empty.yaml" in ln)
    assert "empty.yaml:0" not in empty  # no meaningless line 0
