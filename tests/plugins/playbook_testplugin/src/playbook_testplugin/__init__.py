"""A test plugin distribution for playbook, discovered through the ``playbook`` entry point.

It registers one of everything a plugin can add: a rule, a function for the criteria
language, an action, a fact derivation and a playbook (with example cases).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playbook import hookimpl
from playbook.rules import RuleResult

__version__ = "0.3.0"

HERE = Path(__file__).resolve().parent

AMOUNT_SCHEMA = {
    "type": "object",
    "required": ["min"],
    "additionalProperties": False,
    "properties": {"min": {"type": "number", "description": "smallest acceptable deal amount"}},
}

NOTE_SCHEMA = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {"text": {"type": "string"}},
}


def amount_at_least(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> RuleResult:
    amount = (facts.get("deal") or {}).get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        return RuleResult(False, {"en": "deal.amount is missing", "zh": "缺少 deal.amount"})
    if amount >= params["min"]:
        return RuleResult(True, None, {"deal.amount": amount})
    return RuleResult(False, {"en": f"amount {amount} is below {params['min']}",
                              "zh": f"金额 {amount} 低于 {params['min']}"}, {"deal.amount": amount})


def double(value: Any) -> Any:
    return value * 2


def note(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"text": {"en": f"Note: {params['text']}", "zh": f"备注：{params['text']}"}}


def line_total(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    lines = facts.get("lines") or []
    return {"total": sum(line.get("amount", 0) for line in lines if isinstance(line, dict)), "count": len(lines)}


@hookimpl
def register_rules(register: Any) -> None:
    register("testplug.amount-at-least", amount_at_least, schema=AMOUNT_SCHEMA,
             title={"en": "Deal amount at least", "zh": "金额不低于"}, description="deal.amount >= min")


@hookimpl
def register_functions(register: Any) -> None:
    register("testplug.double", double, description="twice the value")


@hookimpl
def register_actions(register: Any) -> None:
    register("testplug.note", note, schema=NOTE_SCHEMA, title={"en": "Note", "zh": "备注"})


@hookimpl
def register_derivations(register: Any) -> None:
    register("testplug.line-total", line_total, description="sum of lines[].amount")


@hookimpl
def register_playbooks(register: Any) -> None:
    register(HERE / "playbooks" / "testplug-demo.yaml")
