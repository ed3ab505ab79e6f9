"""playbook doc: Markdown and a self-contained HTML handbook, checked in a real headless browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.authoring.handbook import render_html, render_markdown
from playbook.cli import cli
from playbook.loader import load_playbook

FIXTURES = Path(__file__).parent / "fixtures" / "lint"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class _Refs(HTMLParser):
    """Every URL-bearing attribute of a document (src, href, …)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data") and value:
                self.urls.append(value)


def test_markdown_en_has_every_part() -> None:
    pb = load_playbook("six-step-sales")
    md = render_markdown(pb, "en")
    assert md.startswith("# Six-step key-account sales")
    for stage in pb.stages:
        assert f"## {stage.index + 1}. {stage.title['en']}" in md
    assert "#### Entry criteria — to be in this stage" in md
    assert "- **Target account locked** *(required)*" in md
    assert "If not met: Assess the account" in md  # hint, in plain words
    assert "- Coach developed *(recommended)*" in md
    assert "- [ ] Collect the five kinds of customer data — when the stage starts" in md
    assert "    - Background: contacts" in md  # checklist items listed
    assert "```mermaid\nflowchart TD" in md
    assert "## Decision tables" in md and "### Receivables collection matrix" in md
    assert "## Appendix: the criteria as written" in md
    assert "`account.is_target == true`" in md  # expressions only in the appendix / tables
    body = md.split("## Appendix")[0]
    assert "account.is_target == true" not in body


def test_markdown_zh_reads_in_chinese() -> None:
    md = render_markdown(load_playbook("six-step-sales"), "zh")
    assert "#### 进入条件——进入本阶段须满足" in md
    assert "- **已锁定目标客户** *(必须)*" in md
    assert "未满足时：请先评估" in md and "目标：在有限的时间" in md
    assert "## 决策表" in md and "## 附录：条件的原始写法" in md


def test_scorecards_render_as_tables() -> None:
    md = render_markdown(load_playbook("account-lifecycle"), "en")
    assert "## Scorecards" in md and "### Perceived service" in md
    assert "| Score | Meaning |" in md and "| 5 | very high |" in md
    assert "| Dimension | Factor | Indicator |" in md and "| Service quality | Tangibles |" in md
    assert "| Dimension | Band | From score |" in md and "| Service quality | high | 20 |" in md


def test_html_is_self_contained() -> None:
    html = render_html(load_playbook("six-step-sales"), "zh")
    refs = _Refs()
    refs.feed(html)
    assert "script" not in refs.tags
    assert all(u.startswith("#") for u in refs.urls), [u for u in refs.urls if not u.startswith("#")]
    assert "@import" not in html and "url(" not in html.replace("url(#arrow)", "")
    assert '<html lang="zh-CN">' in html and "<svg" in html
    assert "<table>" in html and "应收账款催收矩阵" in html


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_in_headless_chromium(tmp_path: Path, lang: str) -> None:
    out = tmp_path / f"handbook-{lang}.html"
    proc = subprocess.run([sys.executable, "-m", "playbook", "doc", "six-step-sales", "--format", "html",
                           "--lang", lang, "--output", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--host-resolver-rules=MAP * ~NOTFOUND",  # any network request would fail visibly
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    # the browser parsed the whole document: every stage heading, the diagram and the tables
    pb = load_playbook("six-step-sales")
    for stage in pb.stages:
        assert f">{stage.index + 1}. {stage.title[lang]}</h2>" in text
    assert text.count("<svg") == 1 and "</svg>" in text
    assert len(re.findall(r"<table>", text)) >= 3
    shot = tmp_path / "shot.png"
    snap = subprocess.run([*flags, "--window-size=1100,1600", f"--screenshot={shot}", out.as_uri()],
                          capture_output=True, text=True, timeout=90)
    assert snap.returncode == 0 and shot.exists(), snap.stderr[-2000:]
    assert _png_size(shot) == (1100, 1600)
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one


def test_cli_formats_and_output(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["doc", str(FIXTURES / "clean.yaml"), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "## 1. Qualify" in result.output and "**Funded** *(required)*" in result.output
    target = tmp_path / "h.html"
    result = runner.invoke(cli, ["doc", str(FIXTURES / "clean.yaml"), "--format", "html", "-o", str(target)])
    assert result.exit_code == 0 and target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert runner.invoke(cli, ["doc", str(FIXTURES / "pb100-schema.yaml")]).exit_code == 2


def test_hard_wrapped_guidance_becomes_paragraphs() -> None:
    from playbook.authoring.handbook import _paragraphs

    text = "Starts when the account is locked; ends when\na clear opportunity is found.\nThen develop a coach."
    assert _paragraphs(text) == ["Starts when the account is locked; ends when a clear opportunity is found.",
                                 "Then develop a coach."]
    assert _paragraphs("第一段。\n第二段，\n接着写。") == ["第一段。", "第二段，接着写。"]
    assert _paragraphs("one\n\ntwo") == ["one", "two"]
