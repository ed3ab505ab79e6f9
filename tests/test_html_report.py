"""The self-contained HTML funnel report: no network, numbers that match the JSON summary,
and it renders in a real headless browser (Debian's ``chromium``)."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.batch.html import render_html
from playbook.cli import cli
from test_batch import PLAYBOOK, TODAY, case, write_jsonl  # tests/ is on sys.path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


class Metrics(HTMLParser):
    """Collects every element with data-metric: name -> (data-value, visible text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-metric" in a:
            self._open.append((tag, a["data-metric"] or "", [a.get("data-value") or ""]))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, name, parts = self._open.pop()
            self.found[name] = (parts[0], "".join(parts[1:]).strip())


def metrics(html: str) -> dict[str, tuple[str, str]]:
    parser = Metrics()
    parser.feed(html)
    return parser.found


def expected(s: dict) -> dict[str, int]:
    want = {"cases": s["cases"], "entered": s["entered"], "ready_to_advance": s["ready_to_advance"],
            "complete": s["complete"], "rejected": s["rejected"]["count"], "not_entered": s["not_entered"],
            "records": s["records"], "declared_ahead": s["declared_ahead"]["cases"],
            "rejected_count": s["rejected"]["count"]}
    for st in s["stages"]:
        for key in ("cases", "ready_to_advance", "blocked", "reached"):
            want[f"stage.{st['id']}.{key}"] = st[key]
        want[f"funnel.{st['id']}.reached"] = st["reached"]
        if st["top_blocking"]:
            want[f"stage.{st['id']}.top_blocking"] = st["top_blocking"][0]["cases"]
    for o in s["outcomes"]:
        want[f"outcome.{o['id']}"] = o["cases"]
    for b in s["blocking"]:
        want[f"blocking.{b['criterion']}"] = b["cases"]
    for row in s["declared_ahead"]["by_stage"]:
        want[f"ahead.{row['declared']}.{row['inferred']}"] = row["cases"]
    return want


def assert_numbers_match(html: str, s: dict) -> None:
    found = metrics(html)
    want = expected(s)
    assert set(want) <= set(found), f"missing on the page: {sorted(set(want) - set(found))}"
    for name, value in want.items():
        raw, text = found[name]
        assert int(raw) == value, name
        assert int(text.replace(",", "")) == value, f"{name}: page shows {text!r}, summary says {value}"


@pytest.fixture
def portfolio(tmp_path: Path) -> tuple[Path, Path]:
    pb = tmp_path / "mini.yaml"
    pb.write_text(PLAYBOOK, encoding="utf-8")
    rows: list[object] = [case(i, amount=(i * 7919) % 300_000, dm=i % 3 != 0, signed=i % 4 == 0,
                               target=i % 13 != 0, **({"stage": "propose"} if i % 9 == 0 else {}))
                          for i in range(2500)]
    rows[10] = "{bad json"
    rows[20] = "[]"
    return pb, write_jsonl(tmp_path / "p.jsonl", rows)


def build(tmp_path: Path, pb: Path, data: Path, lang: str) -> tuple[Path, dict]:
    html, js = tmp_path / f"funnel-{lang}.html", tmp_path / f"funnel-{lang}.json"
    result = CliRunner().invoke(cli, ["check", str(pb), "--input", str(data), "--today", TODAY, "--lang", lang,
                                      "--format", "html", "-o", str(html), "--write", f"summary-json={js}"])
    assert result.exit_code == 3, result.stderr
    return html, json.loads(js.read_text(encoding="utf-8"))


def test_self_contained_and_numbers_match(tmp_path: Path, portfolio: tuple[Path, Path]) -> None:
    html_path, s = build(tmp_path, *portfolio, "en")
    html = html_path.read_text(encoding="utf-8")
    assert s["cases"] == 2498 and s["rejected"]["count"] == 2
    for forbidden in ("<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"):
        assert forbidden not in html.lower(), forbidden
    assert set(re.findall(r"https?://[^\s\"']+", html)) == {"http://www.w3.org/2000/svg"}  # SVG namespace only
    assert html.count("<svg") == 2  # funnel + blocking bars
    assert_numbers_match(html, s)


def test_chinese_page_and_escaping(tmp_path: Path, portfolio: tuple[Path, Path]) -> None:
    html_path, s = build(tmp_path, *portfolio, "zh")
    html = html_path.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "客户组合漏斗" in html and "迷你漏斗" in html
    s["playbook"]["title"] = "<script>alert(1)</script>"
    s["rejected"]["shown"][0]["message"] = "a < b & c"
    evil = render_html(s)
    assert "<script>" not in evil and "&lt;script&gt;" in evil and "a &lt; b &amp; c" in evil


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)")
def test_renders_in_headless_chromium(tmp_path: Path, portfolio: tuple[Path, Path]) -> None:
    html_path, s = build(tmp_path, *portfolio, "zh")
    common = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    dom = subprocess.run([*common, "--dump-dom", html_path.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert "<svg" in rendered and "客户组合漏斗" in rendered
    assert_numbers_match(rendered, s)  # the numbers the browser shows are the JSON summary's

    shot = tmp_path / "shot.png"
    done = subprocess.run([*common, "--window-size=1200,1600", f"--screenshot={shot}", html_path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert _png_size(shot) == (1200, 1600)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kB
