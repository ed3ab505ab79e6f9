"""Adversarial review of the authoring tools (lint, graph, doc, diff, schema) with playbooks a
consultant really writes — and unusual but valid ones. Each test states documented behaviour;
most of them failed before the fix named in their docstring."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import subprocess
import sys
import xml.dom.minidom
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from playbook.authoring.diff import expression_change, portfolio_impact, structural_diff
from playbook.authoring.graph import flow, text_width, to_dot, to_mermaid, to_svg, wrap
from playbook.authoring.handbook import render_html, render_markdown
from playbook.authoring.lint import lint_ref
from playbook.errors import PlaybookError
from playbook.loader import load_playbook
from playbook.plugins import get_registry
from playbook.resources import data_dir

LINT_FIXTURES = Path(__file__).parent / "fixtures" / "lint"
TODAY = dt.date(2026, 3, 1)

# titles full of what Mermaid, DOT, HTML, SVG and Markdown read as syntax
HOSTILE = r'''
id: hostile
version: 1
title: {zh: "打法 <script>alert(1)</script> \"引号\"", en: "Playbook <script>alert(1)</script> \"q\" | `tick` [x](javascript:alert(1)) -->"}
description: {zh: "描述 <b>粗</b> 周期3~6个月，金额50~100万", en: "desc <img src=x onerror=alert(1)> &amp; 3~6 months, 50~100k"}
stages:
  - id: s-1
    title: {zh: "阶段一 |管道| [方括号] #1; C#", en: "Stage \"one\" |pipe| [sq] {curly} --> end #1; C# #"}
    goal: {zh: "目标\n# 不是标题\n- 不是列表", en: "Goal\n# not a heading\n- not a list </p><script>x</script>"}
    effort: 1
    entry:
      - id: c-1
        title: {zh: "`代码` 开头", en: "`code` first\nnewline \"dq\" 'sq' <br/> \\ backslash"}
        when: 'opportunity.amount >= 100000'
        hint: {zh: "提示 ]]> <!-- c -->", en: "Hint ]]> <!-- comment --> `a|b`"}
    exit:
      - id: c-2
        title: {zh: "%% 注释 &amp; 实体", en: "%% not a comment; &amp; entity &lt; &#x41;"}
        level: recommended
        when: 'account.is_target == true'
  - id: s-2
    title: {zh: "</svg><script>alert(2)</script>", en: "</svg><script>alert(2)</script> don`t"}
    effort: 0.5
    exit:
      - id: c-3
        title: {zh: "签约 *重要* _注意_", en: "Signed *important* _note_ C:\\"}
        when: 'opportunity.status == "a`b" or opportunity.contract.signed == true'
        hint: {zh: "x", en: "x"}
outcomes:
  - id: o-1
    kind: won
    title: {zh: "赢 \"<o>\"", en: "Won \"<o>\" }} because the customer finally signed the long framework contract"}
    when: 'opportunity.status == "won"'
    from: [s-2]
  - id: o-2
    kind: lost
    title: {zh: "丢单", en: "Lost to a competitor on price after the final round of negotiation"}
    when: 'opportunity.status == "lost"'
    from: [s-2]
'''

SCRIPTY_TEXTS = ("<script>alert(1)</script>", "</svg><script>alert(2)</script>", "<img src=x onerror=alert(1)>")


@pytest.fixture
def hostile(write_file: Callable[[str, str], Path]) -> Path:
    return write_file("hostile.yaml", HOSTILE)


def _lint(path: Path | str, reg: Any = None, examples: bool = False) -> list[Any]:
    return lint_ref(str(path), reg or get_registry(), examples=examples)


def _codes(findings: list[Any]) -> list[str]:
    return [f.code for f in findings]


def _line(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[number - 1]


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text and "internal error" not in text, text


# =============================================================================================
# lint: PB304 unquoted-date (new rule)

UNQUOTED_DATES = '''
id: dates
version: 1
title: {zh: 日期, en: Dates}
tables:
  - id: urgency
    title: {zh: 紧急度, en: Urgency}
    rules:
      - when: 'opportunity.timeline.decision_date <= 2026-10-15'
        then: {level: high}
stages:
  - id: only
    title: {zh: 唯一, en: Only}
    exit:
      - id: by-year-end
        title: {zh: 年底前签约, en: Signed by year end}
        when: opportunity.contract.date <= 2026-12-31
        hint: {zh: 签约, en: Sign}
      - id: chinese
        title: {zh: 中文, en: Chinese}
        when: 'account.name == "华东电力" and days_until(2026-10-1) > 0'
        hint: {zh: 签约, en: Sign}
    actions:
      - id: chk
        title: {zh: 清单, en: Checklist}
        do: checklist
        with:
          items:
            - {id: a, text: {zh: 甲, en: A}, done: "opportunity.proposal.date >= 2026-11-11"}
outcomes:
  - id: won
    kind: won
    title: {zh: 赢, en: Won}
    when: >-
      opportunity.status == "won" and
      opportunity.contract.date > 2025-12-31
'''

QUOTED_DATES = '''
id: dates-ok
version: 1
title: {zh: 日期, en: Dates}
stages:
  - id: only
    title: {zh: 唯一, en: Only}
    exit:
      - id: quoted
        title: {zh: 年底前签约, en: Signed by year end}
        when: 'opportunity.contract.date <= "2026-12-31" and date(opportunity.proposal.date) >= date("2026-10-15")'
        hint: {zh: 签约, en: Sign}
      - id: arithmetic
        title: {zh: 计算, en: Arithmetic}
        when: 'opportunity.amount - 12 - 31 > 0 and opportunity.amount > 2026 - 12 - 31 and opportunity.amount != 2026-13-45'
        hint: {zh: 算, en: Compute}
'''


def test_pb304_flags_unquoted_dates_everywhere_with_the_exact_column(write_file) -> None:
    """Before: `contract.date <= 2026-12-31` compared with 1983 and passed lint silently."""
    path = write_file("dates.yaml", UNQUOTED_DATES)
    found = [f for f in _lint(path) if f.code == "PB304"]
    assert len(found) == 5, [str(f) for f in found]
    for f in found:
        assert f.severity == "error" and f.location.file == str(path)
        line = _line(path, f.location.line)
        written = re.search(r"`(\d{4}-\d{1,2}-\d{1,2})`", f.message).group(1)
        assert line[f.location.column - 1:].startswith(written), (line, f)  # the column of the date itself
    by_what = {f.message.split(":")[0]: f.message for f in found}
    assert "1983" in by_what["criterion 'by-year-end'"] and '"2026-12-31"' in by_what["criterion 'by-year-end'"]
    assert '"2026-10-01"' in by_what["criterion 'chinese'"]  # the suggestion is zero-padded ISO
    assert {"table 'urgency' row", "action 'chk' checklist 'a' `done`", "outcome 'won'"} <= set(by_what)


def test_pb304_clean_on_quoted_dates_and_real_arithmetic(write_file) -> None:
    assert "PB304" not in _codes(_lint(write_file("ok.yaml", QUOTED_DATES)))
    assert "PB304" not in _codes(_lint(LINT_FIXTURES / "clean.yaml"))


def test_pb304_fixture_and_documentation() -> None:
    fixture = LINT_FIXTURES / "pb304-unquoted-date.yaml"
    assert "PB304" in _codes(_lint(fixture))
    docs = (Path(__file__).parents[1] / "docs" / "authoring.md").read_text(encoding="utf-8")
    assert "| PB304 | error | unquoted-date |" in docs


def test_date_with_leading_zero_is_a_load_error_that_says_to_quote(write_file) -> None:
    path = write_file("lz.yaml", QUOTED_DATES.replace('"2026-12-31"', "2026-01-31"))
    (finding,) = [f for f in _lint(path) if f.code == "PB100"]
    assert 'write it in quotes ("2026-01-31")' in finding.message


# =============================================================================================
# lint: every unreadable example is reported, the readable ones still run


EXAMPLES_PB = '''
id: ex-multi
version: 1
title: {zh: 例子, en: Examples}
stages:
  - id: only
    title: {zh: 唯一, en: Only}
    exit:
      - id: won
        title: {zh: 赢, en: Won}
        when: 'opportunity.status == "won"'
        hint: {zh: 赢, en: Win}
examples:
  - name: good
    case: {opportunity: {status: won}}
    expect: {complete: true}
  - name: bad-expect
    case: {opportunity: {status: won}}
    expect: {complete: true, bogus: 1}
  - name: bad-type
    case: {opportunity: {status: won}}
    expect: {blocking: "won"}
'''


def test_lint_reports_each_unreadable_example_and_runs_the_rest(write_file, run_cli) -> None:
    """Before: only the first unreadable example was reported and no example ran at all."""
    path = write_file("pb.yaml", EXAMPLES_PB)
    write_file("examples/ex-multi/a-bad.yaml", "case: [1]\n")
    write_file("examples/ex-multi/b-bad.yaml", "case: {x: 1}\nexpect: {nope: 1}\n")
    write_file("examples/ex-multi/c-stale.yaml", "case: {opportunity: {status: lost}}\nexpect: {complete: true}\n")
    write_file("examples/ex-multi/d-yaml.yaml", "case: {a: [}\n")
    found = _lint(path, examples=True)
    unreadable = [f for f in found if f.code == "PB702"]
    names = sorted(re.search(r"example '([^']+)'", f.message).group(1) for f in unreadable)
    assert names == ["a-bad", "b-bad", "bad-expect", "bad-type", "d-yaml"]
    assert all(f.location is not None and f.location.line for f in unreadable)
    assert {Path(f.location.file).name for f in unreadable} == {"pb.yaml", "a-bad.yaml", "b-bad.yaml", "d-yaml.yaml"}
    stale = [f for f in found if f.code == "PB701"]
    assert len(stale) == 1 and "c-stale" in stale[0].message
    assert "PB703" not in _codes(found)  # there are examples
    result = run_cli("lint", path, "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["counts"]["error"] == 6


# =============================================================================================
# lint: no false positives on valid constructs


VALID_UNUSUAL = '''
id: valid-unusual
version: 3
title: {zh: 合法但少见, en: Valid but unusual}
facts:
  lobby:
    type: object
    properties:
      tags: {type: array, items: {type: string}}
      visits:
        type: array
        items:
          type: object
          properties:
            date: {type: string}
            guests: {type: array, items: {type: object, properties: {name: {type: string}, vip: {type: boolean}}}}
      my-key: {type: string}
scorecards:
  - id: pv
    title: {zh: 价值, en: Value}
    input: scores
    scale:
      - {value: -1, label: {zh: 差, en: poor}}
      - {value: 1, label: {zh: 好, en: good}}
    dimensions:
      - id: value
        title: {zh: 值, en: Value}
        factors:
          - id: f
            title: {zh: 因, en: F}
            indicators:
              - {id: roi, title: {zh: 回报, en: ROI}}
        bands:
          - {id: high, min: 1, title: {zh: 高, en: high}}
          - {id: low, title: {zh: 低, en: low}}
derive:
  - {id: man, use: core.man}
tables:
  - id: grade
    title: {zh: 等级, en: Grade}
    rules:
      - when: 'derived.pv.dimensions.value.band == "high"'
        then: {grade: A}
      - when: 'derived.pv.total < 1'
        then: {grade: C}
    default: {grade: C}
  - id: per_person
    title: {zh: 每人, en: Each}
    for_each: stakeholders
    rules:
      - when: 'role == "decision_maker" and attitude == "support"'
        then: {ok: true}
  - id: later
    title: {zh: 之后, en: Later}
    hit: collect
    rules:
      - when: 'derived.grade.grade == "A" and count(derived.per_person, it.ok == true) >= 1'
        then: {go: true}
stages:
  - id: only
    title: {zh: 唯一阶段, en: Only stage}
    entry:
      - id: tagged
        title: {zh: 有标签, en: Tagged}
        when: 'any(lobby.tags, it == "vip") and lobby["my-key"] != "x"'
        hint: {zh: 加标签, en: Tag it}
      - id: nested
        title: {zh: 嵌套, en: Nested}
        when: 'any(lobby.visits, any(guests, it.vip == true and date >= "2026-01-01"))'
        hint: {zh: 嵌套, en: Nested}
      - id: fallback
        title: {zh: 回退, en: Fallback}
        when: 'count(activities, date >= opportunity.proposal.date) >= 1 and sum(receivables, amount) >= 0'
        hint: {zh: 回退, en: Fallback}
      - id: derived-ok
        title: {zh: 派生, en: Derived}
        when: 'derived.grade.grade in ["A", "B"] and derived.grade.row != null and derived.later.count >= 0 and derived.per_person[0].ok == true and derived.man.class == "M+A+N"'
        hint: {zh: 派生, en: Derived}
      - id: dates
        title: {zh: 日期, en: Dates}
        when: 'days_since(opportunity.proposal.date) <= 30 and opportunity.contract.date <= today()'
        hint: {zh: 日期, en: Dates}
      - id: lists
        title: {zh: 列表, en: List}
        level: recommended
        when: 'all(stakeholders, it.role in ["user", "decision_maker"]) and max_of(activities, hours) <= 100 and min_of(activities, it.hours) >= 0'
      - id: index
        title: {zh: 下标, en: Index}
        when: 'stakeholders[0].name != "" and needs.organisational[1].text != "" and len(stakeholders) > 0'
        hint: {zh: 下标, en: Index}
      - id: outer-item
        title: {zh: 外层, en: Outer}
        when: 'any(needs.organisational, any(stakeholders, name == raised_by))'
        hint: {zh: 外层, en: Outer}
      - id: plugin-fns
        title: {zh: 插件函数, en: Plugin functions}
        when: 'acme.weight(opportunity.amount) > 1 and acme.quarter_end() >= today() and count(stakeholders, acme.weight(it.influence) > 0) >= 0'
        hint: {zh: 插件, en: Plugin}
    exit:
      - id: done
        title: {zh: 完成, en: Done}
        when: 'opportunity.status == "won"'
        hint: {zh: 签约, en: Sign}
    actions:
      - id: tmpl
        title: {zh: 模板, en: Template}
        do: template
        with: {text: {zh: "给 {account.name} 打电话 {stakeholders[0].name}", en: "Call {account.name}"}}
      - id: look
        title: {zh: 查表, en: Lookup}
        do: lookup
        with: {table: grade}
      - id: note
        title: {zh: 备注, en: Note}
        do: acme.note
        with: {text: "plain string the plugin schema requires"}
outcomes:
  - id: won
    kind: won
    title: {zh: 赢单, en: Won}
    when: 'opportunity.status == "won"'
'''


@pytest.fixture
def acme_registry(make_registry, make_plugin) -> Any:
    """A plugin with a plain function, a date-reading one (needs_context) and an action whose
    `text` parameter must be a plain string."""

    def functions(register: Any) -> None:
        register("acme.weight", lambda x: 2 if x else 0)
        register("acme.quarter_end", lambda ctx: "2026-03-31", needs_context=True)

    def actions(register: Any) -> None:
        register("acme.note", lambda params, facts, derived, ctx: {"text": params["text"]},
                 schema={"type": "object", "required": ["text"], "additionalProperties": False,
                         "properties": {"text": {"type": "string"}}})

    return make_registry(make_plugin("acme", register_functions=functions, register_actions=actions))


def test_valid_unusual_constructs_are_lint_clean(write_file, acme_registry) -> None:
    """`it.` and plain names in (nested) list forms, fallback to the case, `derived.` of
    scorecards/tables/for_each/collect/plugin derivations, `["key"]` lookups, keyword fields,
    template placeholders, plugin functions (incl. one reading the date)."""
    found = _lint(write_file("valid.yaml", VALID_UNUSUAL), acme_registry)
    assert found == [], "\n".join(str(f) for f in found)


def test_plugin_parameters_are_not_untranslated_texts(write_file, acme_registry) -> None:
    """Before: a plugin action's `with: {text: "…"}` (a plain string by the plugin's schema) was
    PB502 — an error for installed playbooks, and impossible to fix."""
    text = VALID_UNUSUAL.replace('''      - id: look
        title: {zh: 查表, en: Lookup}''', '''      - id: todo
        title: {zh: 任务, en: Task}
        do: task
        with: {text: "call the CFO"}
      - id: look
        title: {zh: 查表, en: Lookup}''')
    found = [f for f in _lint(write_file("valid.yaml", text), acme_registry) if f.code == "PB502"]
    assert len(found) == 1 and "call the CFO" not in found[0].message
    assert _line(Path(found[0].location.file), found[0].location.line).strip().startswith("with: {text: \"call")


def test_one_stage_playbook_that_checks_nothing_warns(write_file) -> None:
    empty = write_file("one.yaml", "id: one\nversion: 1\ntitle: {zh: 一, en: One}\nstages:\n"
                                   "  - id: only\n    title: {zh: 唯一, en: Only}\n")
    (finding,) = [f for f in _lint(empty) if f.code == "PB402"]
    assert "checks nothing" in finding.message and finding.severity == "warning"
    gate = write_file("gate.yaml", "id: gate\nversion: 1\ntitle: {zh: 一, en: One}\nstages:\n"
                                   "  - id: only\n    title: {zh: 唯一, en: Only}\n    entry:\n"
                                   "      - {id: real, title: {zh: 真, en: Real}, when: 'opportunity.identified == true',"
                                   " hint: {zh: 查, en: Check}}\n")
    assert "PB402" not in _codes(_lint(gate))  # a one-stage gate playbook is fine


def test_every_installed_playbook_is_lint_clean() -> None:
    reg = get_registry()
    ids = sorted(reg.playbook_index())
    assert "six-step-sales" in ids
    for pid in ids:
        found = _lint(pid, reg, examples=True)
        assert found == [], pid + ":\n" + "\n".join(str(f) for f in found)


def test_lint_of_a_child_points_into_the_base_file(write_file) -> None:
    base = write_file("base.yaml", '''
        id: base
        version: 1
        title: {zh: 基础, en: Base}
        stages:
          - id: qualify
            title: {zh: 资格, en: Qualify}
            exit:
              - id: amount-ok
                title: {zh: 金额, en: Amount}
                when: 'opportunity.amout >= 100000'
                hint: {zh: x, en: x}
        ''')
    child = write_file("child.yaml", '''
        id: child
        version: 1
        title: {zh: 子, en: Child}
        extends: base.yaml
        stages:
          - id: close
            title: {zh: 成交, en: Close}
            exit:
              - id: signed
                title: {zh: 签约, en: Signed}
                when: 'opportunity.contract.signed == true and opportunity.contract.date < 2026-12-31'
                hint: {zh: x, en: x}
        ''')
    found = {f.code: f for f in _lint(child)}
    assert found["PB201"].location.file == str(base) and "amout" in _line(base, found["PB201"].location.line)
    assert found["PB304"].location.file == str(child)


# =============================================================================================
# lint CLI: unusable inputs


def test_lint_keeps_going_after_an_unusable_playbook(run_cli, tmp_path: Path) -> None:
    """Before: one missing PLAYBOOK aborted the run and the findings of the others were lost."""
    pb304 = LINT_FIXTURES / "pb304-unquoted-date.yaml"
    result = run_cli("lint", pb304, tmp_path / "nope.yaml", tmp_path, "--no-examples")
    assert result.exit_code == 2
    assert "PB304" in result.stdout and "3 playbook(s): 1 error(s)" in result.stdout
    assert "nope.yaml: no such playbook file" in result.stderr
    assert f"{tmp_path}: is a folder" in result.stderr
    result = run_cli("lint", pb304, "no-such-id", "--format", "json", "--no-examples")
    data = json.loads(result.stdout)
    assert result.exit_code == 2 and data["counts"]["error"] == 1
    assert len(data["unusable"]) == 1 and "unknown playbook 'no-such-id'" in data["unusable"][0]


def test_json_playbook_with_a_lone_surrogate_is_bad_input_not_a_crash(tmp_path: Path, run_cli) -> None:
    """Before: `validate`, `lint`, `graph`, `doc` all died with 'internal error: UnicodeEncodeError'."""
    data = yaml.safe_load(QUOTED_DATES)
    path = tmp_path / "sur.json"
    path.write_text(json.dumps(data).replace('"Dates"', '"Dates \\ud800"'), encoding="utf-8")
    (finding,) = _lint(path)
    assert finding.code == "PB100" and "surrogate" in finding.message
    for args in (("validate", path), ("graph", path), ("doc", path, "--format", "html")):
        result = run_cli(*args)
        assert result.exit_code == 2 and "surrogate" in result.stderr, result
    pair = tmp_path / "pair.json"  # an escaped emoji (a surrogate pair) is fine
    pair.write_text(json.dumps(data).replace('"Dates"', '"Dates \\ud83d\\ude00"'), encoding="utf-8")
    assert run_cli("validate", pair).exit_code == 0


# =============================================================================================
# graph: Mermaid


def _mermaid_labels(text: str) -> list[str]:
    return re.findall(r'"([^"\n]*)"', text)


def _mermaid_decode(label: str) -> str:
    """What Mermaid shows for a quoted label: entity codes, then HTML entities."""
    label = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)
    return html.unescape(label.replace("#quot;", '"'))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_mermaid_labels_show_hostile_titles_exactly(hostile: Path, lang: str) -> None:
    """Before: a title starting with a backtick was a Mermaid parse error (checked with
    mermaid 11's parser), and `#1;`/`#x41;` in a title were decoded as entity codes."""
    pb = load_playbook(hostile)
    text = to_mermaid(flow(pb, lang))
    body = [ln for ln in text.splitlines() if not ln.lstrip().startswith("%%")]
    for label in _mermaid_labels("\n".join(body)):
        assert "`" not in label and "\n" not in label
        assert re.fullmatch(r"([^#]|#(\d+|quot);)*", label), label  # every # is an entity code
    shown = {_mermaid_decode(lb) for lb in _mermaid_labels("\n".join(body))}
    for stage in pb.stages:
        title = " ".join(stage.title[lang].split())
        assert title in shown, (title, shown)
    items = " ".join(shown)
    assert " ".join(pb.criteria[0].title[lang].split()) in items
    # the structure is intact: one statement per line, known statement kinds only
    known = re.compile(r"^  (%%|start|done|s_s_[12]|o_o_[12]|classDef|class )|^flowchart TD$")
    assert all(known.match(ln) for ln in text.splitlines()), text


# =============================================================================================
# graph: DOT


_DOT_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def test_dot_quotes_every_label_and_shows_text_exactly(hostile: Path) -> None:
    pb = load_playbook(hostile)
    text = to_dot(flow(pb, "en"))
    strings = _DOT_STRING.findall(text)
    rest = _DOT_STRING.sub("S", text)
    # outside quoted strings only DOT syntax remains
    assert re.fullmatch(r"[\sA-Za-z0-9_=;,\[\]{}\->#.]*", rest), rest
    decoded = [_dot_shown(s) for s in strings]
    assert "Stage \"one\" |pipe| [sq] {curly} --> end #1; C# #" in decoded
    gate = next(d for d in decoded if "not a comment" in d)
    assert gate == "○ %% not a comment; &amp; entity &lt; &#x41;<l>"  # as written, not as "& < A"
    first = next(d for d in decoded if "backslash" in d)
    assert first == "● `code` first newline \"dq\" 'sq' <br/> \\ backslash<l>"  # one left-aligned line


def _dot_shown(quoted: str) -> str:
    """What Graphviz shows for a quoted label: escString escapes (``\\l`` as <l>), then entities."""
    escapes = {'"': '"', "\\": "\\", "n": "\n", "l": "<l>"}
    text = re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), quoted[1:-1])
    return html.unescape(text)


# =============================================================================================
# graph: SVG


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


SVG_TAGS = {"svg", "defs", "marker", "path", "rect", "text", "line"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_svg_is_well_formed_with_no_active_content(hostile: Path, lang: str) -> None:
    svg = to_svg(flow(load_playbook(hostile), lang))
    xml.dom.minidom.parseString(svg)  # well-formed XML
    parsed = _Collect()
    parsed.feed(svg)
    assert set(parsed.tags) <= SVG_TAGS
    assert not [a for a, _ in parsed.attrs if a.startswith("on") or a in ("href", "xlink:href")]
    shown = "".join(parsed.text)
    assert "<script>" in shown  # the hostile title is text, not markup


def test_svg_with_control_characters_is_still_well_formed(tmp_path: Path) -> None:
    """Before: a JSON playbook with `\\u0007` or `\\u0000` in a title gave an SVG (and a HTML
    handbook) that no XML parser accepts."""
    data = yaml.safe_load(QUOTED_DATES)
    data["stages"][0]["title"]["en"] = "Only \x00 bell \x07 esc \x1b[31m red \x0b"
    path = tmp_path / "ctrl.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    pb = load_playbook(path)
    svg = to_svg(flow(pb, "en"))
    xml.dom.minidom.parseString(svg)
    assert "\ufffd bell \ufffd esc" in svg
    handbook = render_html(pb, "en")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", handbook)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", to_mermaid(flow(pb, "en")) + to_dot(flow(pb, "en")))


def test_svg_wraps_long_words_and_newlines_inside_the_boxes() -> None:
    url = "https://crm.example.com/opportunities/" + "x" * 120
    lines = wrap(f"Check {url}\nthen call", 15, 236)
    assert all(text_width(ln, 15) <= 236 for ln in lines), lines
    assert "".join(lines).replace(" ", "") == f"Check{url}thencall"
    assert not any("\n" in ln for ln in lines)
    assert wrap("客户决策链已经全部梳理清楚并得到确认", 15, 100)[0] == "客户决策链已"


def test_svg_outcome_boxes_hold_long_titles_and_do_not_overlap(hostile: Path) -> None:
    svg = to_svg(flow(load_playbook(hostile), "en"))
    doc = xml.dom.minidom.parseString(svg)
    width = float(doc.documentElement.getAttribute("width"))
    height = float(doc.documentElement.getAttribute("height"))
    boxes = [r for r in doc.getElementsByTagName("rect") if r.getAttribute("x") == "650"]
    assert len(boxes) == 2
    spans = sorted((float(r.getAttribute("y")), float(r.getAttribute("y")) + float(r.getAttribute("height")))
                   for r in boxes)
    assert spans[0][1] <= spans[1][0], spans  # no overlap
    assert spans[1][1] <= height
    for t in doc.getElementsByTagName("text"):
        if t.getAttribute("text-anchor") == "middle" and float(t.getAttribute("x")) == 750:
            assert text_width(t.firstChild.data, 13) <= 200 - 24 + 1, t.firstChild.data
    assert width >= 850


# =============================================================================================
# graph / doc / schema CLI: files and Graphviz


def test_graph_svg_needs_no_graphviz(hostile: Path, tmp_path: Path) -> None:
    """`--format svg` draws the SVG itself: it works with no `dot` on PATH."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-m", "playbook", "graph", str(hostile), "--format", "svg",
                           "--lang", "zh"], capture_output=True, text=True, env=env, timeout=60, encoding="utf-8")
    assert proc.returncode == 0, proc.stderr
    xml.dom.minidom.parseString(proc.stdout)
    _no_traceback(proc.stderr)


@pytest.mark.parametrize("command", [("graph", "--format", "svg"), ("doc", "--format", "html"),
                                     ("schema", "--case", "--playbook")])
def test_output_never_overwrites_the_playbook(hostile: Path, run_cli, command: tuple[str, ...]) -> None:
    """Before: `-o` naming the playbook file replaced the playbook with the drawing."""
    before = hostile.read_text(encoding="utf-8")
    args = [*command, str(hostile)] if command[0] == "schema" else [command[0], str(hostile), *command[1:]]
    result = run_cli(*args, "-o", str(hostile))
    assert result.exit_code == 2 and "is being read" in result.stderr, result
    assert hostile.read_text(encoding="utf-8") == before


def test_output_into_a_missing_folder_says_so(hostile: Path, tmp_path: Path, run_cli) -> None:
    target = tmp_path / "no" / "such" / "handbook.html"
    result = run_cli("doc", hostile, "--format", "html", "-o", target)
    assert result.exit_code == 2
    assert "does not exist: create it first" in result.stderr and "Traceback" not in result.stderr
    target.parent.mkdir(parents=True)
    assert run_cli("doc", hostile, "--format", "html", "-o", target).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_base_playbook_is_protected_too(write_file, run_cli) -> None:
    base = write_file("base.yaml", QUOTED_DATES)
    child = write_file("child.yaml", "id: child\nversion: 1\ntitle: {zh: 子, en: Child}\nextends: base.yaml\n")
    result = run_cli("graph", child, "-o", base)
    assert result.exit_code == 2 and base.read_text(encoding="utf-8").startswith("\nid: dates-ok") is False
    assert "id: dates-ok" in base.read_text(encoding="utf-8")


# =============================================================================================
# doc: HTML handbook


ALLOWED_HTML = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "h4", "p", "nav",
                "strong", "ol", "ul", "li", "a", "span", "table", "thead", "tbody", "tr", "th", "td", "code",
                "figure"} | SVG_TAGS


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_handbook_has_no_injected_markup(hostile: Path, lang: str) -> None:
    page = render_html(load_playbook(hostile), lang)
    parsed = _Collect()
    parsed.feed(page)
    assert set(parsed.tags) <= ALLOWED_HTML, set(parsed.tags) - ALLOWED_HTML
    assert not [a for a, _ in parsed.attrs if a.startswith("on")]
    assert not [v for a, v in parsed.attrs if a == "href" and not (v or "").startswith("#")]
    shown = "".join(parsed.text)
    for text in SCRIPTY_TEXTS[:2]:
        assert text in shown or lang == "zh"
    assert "&amp; entity &lt; &#x41;" in shown or lang == "zh"  # entities in a title show as written
    # the expression with a backtick is one code element, whole
    assert 'opportunity.status == "a`b" or opportunity.contract.signed == true' in shown
    assert page.count("<code>") >= 3


def test_effort_is_shown_in_percent_as_written(hostile: Path) -> None:
    """Before: `effort: 1` (1 %) was shown as 100 % and `effort: 0.5` as 50 %."""
    md = render_markdown(load_playbook(hostile), "en")
    rows = [ln for ln in md.splitlines() if ln.startswith("| 1 |") or ln.startswith("| 2 |")]
    assert rows[0].endswith("| 1% |") and rows[1].endswith("| 0.5% |"), rows
    telecom = get_registry().playbook_index().get("consultative-sales")
    if telecom is not None:  # the 20/30/30/10/10 split of the telecom plugin
        md = render_markdown(load_playbook("consultative-sales"), "zh")
        assert "| 20% |" in md and "| 30% |" in md


# =============================================================================================
# doc: Markdown handbook


def _prose(md: str) -> str:
    return re.sub(r"```mermaid.*?```", "", md, flags=re.S)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_markdown_blocks_keep_their_shape(hostile: Path, lang: str) -> None:
    """A line break in a title or goal must not start a heading or a list."""
    md = _prose(render_markdown(load_playbook(hostile), lang))
    headings = [ln for ln in md.splitlines() if ln.startswith("#")]
    assert all(re.match(r"#{1,4} ", h) for h in headings), headings
    assert not any("不是标题" in h or "not a heading" in h for h in headings)
    assert not any(ln.startswith("- 不是列表") or ln.startswith("- not a list") for ln in md.splitlines())


def test_markdown_shows_text_as_written() -> None:
    """GFM reads `3~6 个月 … 50~100 万` as strikethrough, `*x*` as emphasis, `&amp;` as `&`,
    a stray backtick as the start of a code span, `\\` as an escape and a trailing `#` of a
    heading as its closing sequence. Before, all of these changed the text."""
    from playbook.authoring.handbook import _md_text, code

    assert _md_text("周期3~6个月，金额50~100万") == "周期3\\~6个月，金额50\\~100万"
    assert _md_text("Signed *important* _note_ a_b_c") == "Signed \\*important\\* \\_note\\_ a_b_c"
    assert _md_text("&amp; &#x41; & fish") == "\\&amp; \\&#x41; & fish"
    assert _md_text("C:\\ don`t") == "C:\\\\ don\\`t"
    assert _md_text("see [x](javascript:alert(1)) ![i](http://t/x.png) [r]: http://t") == \
        "see [x\\](javascript:alert(1)) ![i\\](http://t/x.png) [r\\]: http://t"
    assert _md_text("use `a|b` and `<x>`") == "use `a|b` and `<x>`"  # code spans stay code
    assert _md_text("line one\nline two\r\n# three") == "line one line two # three"
    assert code('x == "a`b"') == '``x == "a`b"``' and code("`x") == "`` `x ``"
    assert code("c-1", "don`t") == "``c-1``"  # cannot pair with a stray backtick beside it


def test_markdown_heading_keeps_a_trailing_hash(hostile: Path) -> None:
    md = render_markdown(load_playbook(hostile), "en")
    assert "## 1. Stage \"one\" |pipe| [sq] {curly} --> end #1; C# \\#" in md  # `C#` is no closing `#`
    assert "## 2. \\</svg>\\<script>alert(2)\\</script> don\\`t" in md


# =============================================================================================
# diff


V1 = '''
id: deal
version: 1
title: {zh: 交易, en: Deal}
facts:
  deal: {type: object, properties: {margin: {type: number}}}
stages:
  - id: qualify
    title: {zh: 资格, en: Qualify}
    exit:
      - id: amount-ok
        title: {zh: 金额, en: Amount}
        when: 'opportunity.amount >= 100000 and deal.margin >= -5 and derived.man.class != "m+a+n"'
        hint: {zh: x, en: x}
      - id: budget
        title: {zh: 预算, en: Budget}
        when: 'opportunity.budget_confirmed == true'
        hint: {zh: x, en: x}
  - id: propose
    title: {zh: 方案, en: Propose}
    effort: 30
    exit:
      - id: presented
        title: {zh: 已呈现, en: Presented}
        when: 'opportunity.proposal.presented == true and opportunity.proposal.date <= "2026-12-31"'
        hint: {zh: x, en: x}
  - id: close
    title: {zh: 成交, en: Close}
    exit:
      - id: signed
        title: {zh: 签约, en: Signed}
        when: 'opportunity.contract.signed == true'
        hint: {zh: x, en: x}
derive:
  - {id: man, use: core.man}
outcomes:
  - id: lost
    kind: lost
    title: {zh: 丢单, en: Lost}
    when: 'opportunity.status == "lost"'
'''


def _v2(text: str) -> str:
    for old, new in (
        ("version: 1", "version: 2"), ("en: Deal}", "en: Key deal}"),
        ("opportunity.amount >= 100000 and deal.margin >= -5 and derived.man.class",
         "opportunity.amount >= 200000 and deal.margin >= -10 and derived.man.class"),
        ("- id: budget\n", "- id: budget-confirmed\n"),
        ("- id: propose\n    title: {zh: 方案, en: Propose}\n    effort: 30",
         "- id: proposal\n    title: {zh: 方案, en: Propose}\n    effort: 40"),
        ('opportunity.proposal.date <= "2026-12-31"', 'opportunity.proposal.date <= "2027-06-30"'),
        ("margin: {type: number}", "margin: {type: number}, discount: {type: number}"),
        ("{id: man, use: core.man}", "{id: man, use: core.man, with: {money: deal.margin}}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def versions(write_file) -> tuple[Path, Path]:
    return write_file("v1.yaml", V1), write_file("v2.yaml", _v2(V1))


def test_diff_reports_renames_thresholds_and_top_level_changes(versions: tuple[Path, Path]) -> None:
    """Before: negative thresholds lost their sign, an expression with `.class` got no
    thresholds, date thresholds were not found, and title/facts/derive changes were silent."""
    old, new = (load_playbook(p) for p in versions)
    changes = {(c.kind, c.id): c for c in structural_diff(old, new, "en")}
    top = changes[("playbook", "deal")].details
    assert "version: 1 → 2" in top and "title: 'Deal' → 'Key deal'" in top
    assert any(d.startswith("facts.deal.properties.discount: added") for d in top), top
    assert any(d.startswith("derive.man.with: added") for d in top), top
    assert changes[("criterion", "amount-ok")].thresholds == [(100000, 200000), (-5, -10)]
    assert changes[("criterion", "presented")].thresholds == [("2026-12-31", "2027-06-30")]
    renamed = changes[("criterion", "budget-confirmed")]
    assert renamed.change == "added" and "same check as the removed criterion 'budget' (renamed?)" in renamed.details
    assert changes[("criterion", "budget")].change == "removed"
    stage = changes[("stage", "proposal")]
    assert stage.change == "added" and any("removed stage 'propose'" in d for d in stage.details)
    assert changes[("stage", "propose")].change == "removed"


def test_diff_of_identical_and_of_different_playbooks(versions: tuple[Path, Path], run_cli) -> None:
    old = load_playbook(versions[0])
    assert structural_diff(old, old) == []
    other = load_playbook("six-step-sales")
    changes = structural_diff(old, other)
    assert changes[0].kind == "playbook" and changes[0].details[0].startswith("id: deal → six-step-sales")
    result = run_cli("diff", versions[0], versions[0], "--format", "json", "--today", "2026-03-01")
    assert result.exit_code == 0 and json.loads(result.stdout)["changes"] == []


def test_expression_change_edge_cases() -> None:
    assert expression_change("x > 1", "x > -1")[1] == [(1, -1)]
    assert expression_change("derived.man.class == 'A' and x > 3", 'derived.man.class == "A" and x > 4')[1] == [(3, 4)]
    assert expression_change("a.from == 1", "a.from  ==  1") == ([], [])  # keyword field, spacing only
    details, pairs = expression_change('c.date <= "2026-12-31"', 'c.date <= "soon"')
    assert pairs == [] and details[0].startswith("expression:")


PORTFOLIO = "\n".join([
    '{"id": "a", "opportunity": {"amount": 150000, "budget_confirmed": true}}',
    '{"id": "b", "stage": "propose", "opportunity": {"amount": 300000, "budget_confirmed": true}}',
    '{"id": "n", "stage": "proposal", "opportunity": {"amount": 300000, "budget_confirmed": true}}',
    "not json",
    "[1, 2]",
    '{"id": "z", "stage": "nowhere"}',
    '{"id": "e", "opportunity": {"amount": "lots"}}',
    '{"id": "same", "opportunity": {"status": "lost"}, "deal": {"margin": 50}}',
    "",
    '{"id": "nan", "opportunity": {"amount": NaN}}',
]) + "\n"


def test_portfolio_impact_with_bad_records(versions: tuple[Path, Path], tmp_path: Path) -> None:
    """A declared stage in only one version is affected with the reason (before: a stage that
    is new in NEW made the record 'rejected'); bad records are counted; the rest still run."""
    portfolio = tmp_path / "cases.jsonl"
    portfolio.write_text(PORTFOLIO, encoding="utf-8")
    old, new = (load_playbook(p) for p in versions)
    impact = portfolio_impact(old, new, [str(portfolio)], TODAY)
    data = impact.to_dict()
    assert data["cases"] == 6 and data["rejected"] == 3
    assert data["cases"] == data["changed_cases"] + data["unchanged_cases"]
    rejected = {r["line"]: r["message"] for r in data["rejected_records"]}
    assert set(rejected) == {4, 5, 6} and "nowhere" in rejected[6]
    by_case = {c["case"]: c for c in data["changes"]}
    assert "a" not in by_case  # threshold raised, but its blocking set is the same
    assert by_case["e"]["changed"] == ["blocking"] and "error" not in by_case["e"]["after"]
    assert "unknown stage 'propose'" in by_case["b"]["after"]["error"]
    assert "unknown stage 'proposal'" in by_case["n"]["before"]["error"] and by_case["n"]["after"]["stage"] == "proposal"
    assert data["counts"]["stage"] >= data["counts"]["moved_forward"] + data["counts"]["moved_back"]


def test_diff_cli_text_and_subprocess(versions: tuple[Path, Path], tmp_path: Path, run_subprocess) -> None:
    portfolio = tmp_path / "cases.jsonl"
    portfolio.write_text(PORTFOLIO, encoding="utf-8")
    proc = run_subprocess("diff", *versions, "--input", portfolio, "--today", "2026-03-01", "--lang", "zh")
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc.stderr)
    out = proc.stdout  # before: English sentences around Chinese titles
    assert "案例组合：检查 6 个案例" in out and "拒收 3 条" in out
    assert "n: 阶段 None → proposal" in out and "旧版本无法检查" in out
    assert "与删除的条件 'budget' 检查内容相同（改了 id？）" in out
    assert "阈值 100000 → 200000, -5 → -10" in out and "- 条件 budget: 删除" in out
    assert not re.search(r"\b(portfolio|threshold|removed|added|changed)\b", out)
    proc = run_subprocess("diff", *versions, "--input", portfolio, "--today", "2026-03-01", "--lang", "en")
    out = proc.stdout
    assert "portfolio: 6 case(s) checked" in out and "3 rejected" in out
    assert "n: stage None → proposal" in out and "cannot be checked with the old version" in out
    assert "same check as the removed criterion 'budget' (renamed?)" in out
    assert "threshold 100000 → 200000, -5 → -10" in out
    bad = run_subprocess("diff", versions[0], tmp_path / "missing.yaml")
    assert bad.returncode == 2 and "missing.yaml" in bad.stderr
    _no_traceback(bad.stderr)


# =============================================================================================
# never a traceback


@pytest.mark.parametrize("args", [
    ("lint", "{dir}"), ("graph", "{dir}"), ("doc", "{bin}"), ("graph", "{empty}", "--format", "dot"),
    ("doc", "{list}", "--format", "html"), ("diff", "{bin}", "{empty}"), ("schema", "--case", "--playbook", "{dir}"),
])
def test_bad_input_is_a_message_and_exit_2(tmp_path: Path, run_cli, args: tuple[str, ...]) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    names = {"dir": str(tmp_path), "bin": str(tmp_path / "bin.yaml"), "empty": str(tmp_path / "empty.yaml"),
             "list": str(tmp_path / "list.yaml")}
    result = run_cli(*(a.format(**names) for a in args))
    expected = 1 if args[0] == "lint" and "{dir}" not in args else 2
    assert result.exit_code == expected, result
    assert result.exception is None and result.stderr.startswith("error: ")
    _no_traceback(result.stderr)


def test_bundled_handbooks_and_graphs_build_in_both_languages() -> None:
    for path in sorted(data_dir("playbooks").glob("*.yaml")):
        pb = load_playbook(path)
        for lang in ("zh", "en"):
            xml.dom.minidom.parseString(to_svg(flow(pb, lang)))
            page = render_html(pb, lang)
            assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in page
            md = render_markdown(pb, lang)
            assert md.startswith("# ") and "\\~" not in md.split("```mermaid")[0][:0]


def test_unknown_playbook_is_unusable_input() -> None:
    with pytest.raises(PlaybookError):
        lint_ref("no-such-playbook-id", get_registry())
