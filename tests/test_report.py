"""The JSON report (validated against schemas/report.schema.json) and the text report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from playbook.engine import evaluate
from playbook.loader import load_playbook
from playbook.render_text import render
from playbook.resources import load_schema

MINI = Path(__file__).resolve().parent / "fixtures" / "core" / "mini.yaml"
TODAY = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def validator():
    schema = load_schema("report")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def pb(registry):
    return load_playbook(MINI, registry=registry)


def assert_valid(validator, report: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    json.dumps(report, allow_nan=False)  # strict JSON


COMPLETE = {"id": "acme", "account": {"is_target": True, "region": "east", "industry": "energy", "name": "Acme"},
            "qualification": {"money": True, "authority": True, "need": True},
            "deal": {"amount": 250000, "proposal_sent": True, "accepted": True, "signed_on": "2026-02-01"},
            "contacts": [{"name": "Li", "role": "buyer"}]}
BLOCKED = {"id": "acme-blocked", "account": {"is_target": True, "name": "Acme"},
           "qualification": {"money": True, "authority": False, "need": True}, "deal": {"amount": 0}}

CASES = {
    "complete": (COMPLETE, None),
    "blocked": (BLOCKED, None),
    "not-entered": ({"account": {"is_target": False}}, None),
    "empty": ({}, None),
    "declared-ahead": ({**BLOCKED, "stage": "close"}, None),
    "declared-behind": (COMPLETE, "qualify"),
    "lost": ({**BLOCKED, "deal": {"amount": 0, "status": "lost"}}, None),
    "won": ({**COMPLETE, "deal": {**COMPLETE["deal"], "status": "won"}}, None),
    "derive-error": ({**BLOCKED, "qualification": {"money": 1}}, None),
    "type-mismatch": ({**BLOCKED, "deal": {"amount": "lots"}}, None),
    "null": ({**BLOCKED, "deal": {"amount": None}}, None),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", list(CASES))
def test_report_matches_schema(validator, pb, name, lang):
    facts, stage = CASES[name]
    report = evaluate(pb, facts, today=TODAY, stage=stage).to_dict(lang)
    assert_valid(validator, report)
    assert report["lang"] == lang and report["today"] == "2026-03-01"
    assert report["playbook"] == {"id": "mini", "version": 2, "title": "Mini playbook" if lang == "en" else "迷你打法"}


def test_report_content(pb):
    report = evaluate(pb, BLOCKED, today=TODAY).to_dict("en")
    assert report["case"] == {"id": "acme-blocked"}
    assert report["stage"] == {"current": "qualify", "inferred": "qualify", "declared": None, "next": "propose",
                               "entered": True, "ready_to_advance": False, "complete": False,
                               "outcome": None, "outcome_kind": None}
    assert [s["id"] for s in report["stages"]] == ["qualify", "propose", "close"]
    assert [s["status"] for s in report["stages"]] == ["current", "pending", "pending"]
    budget = report["stages"][0]["exit"][0]
    assert budget == {"id": "budget-known", "title": "Budget known", "level": "required", "passed": False,
                      "message": "not met: deal.amount = 0", "values": {"deal.amount": 0},
                      "hint": "Ask finance for the budget"}
    target = report["stages"][0]["entry"][0]
    assert target["passed"] is True and target["message"] == "met" and "hint" not in target
    assert report["blocking"] == [
        {"stage": "qualify", "gate": "exit", "criterion": "budget-known", "title": "Budget known",
         "message": "not met: deal.amount = 0", "hint": "Ask finance for the budget"},
        {"stage": "propose", "gate": "entry", "criterion": "buyer-known", "title": "Buyer known",
         "message": "missing fact: contacts"},
    ]
    assert report["derived"]["man"]["class"] == "M+a+N"
    assert report["warnings"] == [] and report["errors"] == []


def test_report_in_chinese(pb):
    report = evaluate(pb, BLOCKED, today=TODAY).to_dict("zh")
    budget = report["stages"][0]["exit"][0]
    assert budget["title"] == "预算已知" and budget["hint"] == "向财务确认预算"
    assert budget["message"] == "未满足：deal.amount = 0"
    assert report["blocking"][1]["message"] == "缺少事实：contacts"
    assert report["stages"][0]["title"] == "资格审查"


def test_case_id_argument_wins(pb):
    assert evaluate(pb, BLOCKED, case_id="file-name").to_dict("en")["case"]["id"] == "file-name"


def test_report_values_are_json_even_for_odd_facts(validator, pb):
    facts = {**BLOCKED, "deal": {"amount": float("inf")}}
    report = evaluate(pb, facts, today=TODAY).to_dict("en")
    text = json.dumps(report, ensure_ascii=False)
    assert "budget-known" in text


def test_bundled_example_reports_match_schema(validator, registry):
    from playbook.examples import find_examples

    checked = 0
    for pid in sorted(registry.playbook_index()):
        compiled = load_playbook(pid, registry=registry)
        for example in find_examples(compiled):
            result = evaluate(compiled, example.case, today=example.today or TODAY, stage=example.stage)
            for lang in ("en", "zh"):
                assert_valid(validator, result.to_dict(lang))
            checked += 1
    assert checked >= 6


# -- text report -------------------------------------------------------------------------------


def text_of(pb, facts, lang, **kw) -> str:
    result = evaluate(pb, facts, today=TODAY, **kw)
    from playbook.text import tr

    guidance = tr(pb.stages[result.current].guidance, lang) or None
    return render(result.to_dict(lang), guidance=guidance)


def test_text_report_english(pb):
    text = text_of(pb, BLOCKED, "en")
    lines = text.splitlines()
    assert lines[0] == "Playbook: Mini playbook (mini v2)"
    assert lines[1] == "Case: acme-blocked    as of 2026-03-01"
    assert lines[2] == "Current stage: Qualify"
    assert lines[3] == "Blocked: 2 criterion(s) hold the gate."
    assert "  ▶ 1. Qualify — current" in lines
    assert "    ✗ Budget known — not met: deal.amount = 0" in lines
    assert "    ✓ Target account" in lines
    assert "    ✗ Region known [recommended] — not met" in lines
    blocking = lines.index("What blocks the gate:")
    assert lines[blocking + 1: blocking + 4] == [
        "  ✗ Budget known — not met: deal.amount = 0",
        "    → To do: Ask finance for the budget",
        "  ✗ Buyer known — missing fact: contacts",
    ]
    assert "Advice (recommended, not blocking):" in lines
    actions = lines.index("Next actions:")
    assert lines[actions + 1: actions + 5] == ["  - Collect the profile", "      [x] Account name",
                                               "      [ ] Industry", "      [ ] Notes"]
    assert "      Dear Acme, amount 0, {?account.nickname}" in lines
    assert "Guidance:" in lines and "  First confirm the account is a target." in lines


def test_text_report_chinese(pb):
    text = text_of(pb, BLOCKED, "zh")
    lines = text.splitlines()
    assert lines[0] == "打法：迷你打法（mini v2）"  # full-width brackets in zh
    assert lines[2] == "当前阶段：资格审查"
    assert lines[3] == "受阻：有 2 项条件卡住了关口。"
    assert "    ✗ 预算已知 — 未满足：deal.amount = 0" in lines
    assert "    → 怎么做：向财务确认预算" in lines
    assert "  ✗ 采购已知 — 缺少事实：contacts" in lines
    assert "下一步行动：" in lines and "      [x] 客户名称" in lines
    assert "阶段要领：" in lines
    assert not any(word in text for word in ("Blocked", "Next actions", "missing fact"))


@pytest.mark.parametrize(("facts", "stage", "en", "zh"), [
    (COMPLETE, None, "Complete: every gate passes.", "已完成：所有关口均已通过。"),
    ({"account": {"is_target": False}}, None, "Not entered:", "未进入："),
    ({**COMPLETE, "deal": {"amount": 5}}, "qualify", "Ready to advance to Propose.", "可以推进到“方案”。"),
])
def test_text_report_status_line(pb, facts, stage, en, zh):
    assert en in text_of(pb, facts, "en", stage=stage)
    assert zh in text_of(pb, facts, "zh", stage=stage)


def test_text_report_declared_ahead_warns(pb):
    text = text_of(pb, {**BLOCKED, "stage": "close"}, "en")
    assert "Current stage: Close (declared; inferred: Qualify)" in text
    assert "Warnings:" in text and "gates skipped (budget-known" in text
    zh = text_of(pb, {**BLOCKED, "stage": "close"}, "zh")
    assert "警告：" in zh and "当前阶段：成交（声明；推断：资格审查）" in zh


def test_text_report_outcome_and_errors(pb):
    text = text_of(pb, {**BLOCKED, "deal": {"amount": 0, "status": "lost"}, "qualification": {}}, "en")
    assert "Outcome reached: lost" in text
    assert "Errors:" in text and "derivation 'man' failed" in text
