"""Customer objections 客户异议: a logged objection that is not answered blocks 商务洽谈.

The taxonomy of the eight objections (their root causes and recommended responses, zh/en) is
playbook data: the decision table ``objection_responses`` in consultative-sales, evaluated
once per logged objection (``for_each: objections``). This module reads that table's result
to explain, in the blocking message, what each open objection really means and how to answer
it; the criterion passes once every logged objection is marked ``answered: true``.
"""

from __future__ import annotations

from typing import Any

from playbook.rules import RuleResult

from .facts import items
from .texts import pick, text

KINDS = ("no_need", "no_hurry", "no_money", "no_good", "no_pain", "no_value", "no_trust", "no_difference")

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "table": {"type": "string", "default": "objection_responses",
                  "description": "id of the decision table that classifies each logged objection"},
    },
}


def open_objections(objections: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, objection) for every logged objection not marked ``answered: true``."""
    if not isinstance(objections, list):
        return []
    return [(i, o if isinstance(o, dict) else {"text": str(o)}) for i, o in enumerate(objections)
            if not (isinstance(o, dict) and o.get("answered") is True)]


def count_open(objections: Any) -> int:
    """Criteria-language function ``telecom.open_objections(list)``: how many are unanswered."""
    if objections is None:
        return 0
    if not isinstance(objections, list):
        raise TypeError("telecom.open_objections expects a list of objections")
    return len(open_objections(objections))


def classify(derived: dict[str, Any], table: str, index: int) -> dict[str, Any] | None:
    """The table's row for objection ``index`` (None when the table or the row is missing)."""
    rows = derived.get(table) if isinstance(derived, dict) else None
    if not isinstance(rows, list):
        return None
    for row in rows:
        if isinstance(row, dict) and row.get("index") == index:
            return row if row.get("class") in KINDS else None
    return None


def describe(objection: dict[str, Any], row: dict[str, Any] | None, lang: str) -> str:
    """One objection in one language: its class, the customer's words, root cause, response."""
    zh = lang == "zh"
    kind = objection.get("kind")
    said = objection.get("text")
    who = objection.get("raised_by")
    if row is None:
        head = (f"无法归类的异议（kind: {kind!r}，应为八类之一：{'、'.join(KINDS)}）" if zh
                else f"unclassified objection (kind: {kind!r}; use one of {', '.join(KINDS)})")
    else:
        head = f"「{pick(row.get('title'), lang)}」" if zh else f"“{pick(row.get('title'), lang)}”"
    if isinstance(said, str) and said:
        quote = f"“{said}”" + (f"（{who}）" if zh and who else f" ({who})" if who else "")
        head += (f"，客户原话：{quote}" if zh else f", the customer said: {quote}")
    if row is None:
        return head
    cause, response = pick(row.get("root_cause"), lang), pick(row.get("response"), lang)
    return head + (f"。根本原因：{cause}建议回应：{response}" if zh
                   else f". Root cause: {cause} Recommended response: {response}")


def objections_answered_rule(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any],
                             ctx: Any) -> RuleResult:
    table = params.get("table", "objection_responses")
    logged = items(facts if isinstance(facts, dict) else {}, "objections")
    pending = open_objections(logged)
    values: dict[str, Any] = {"logged": len(logged), "open": [o.get("kind") for _, o in pending]}
    if not pending:
        if not logged:
            return RuleResult(True, text("没有记录客户异议。", "No objection logged."), values)
        return RuleResult(True, text(f"已记录的 {len(logged)} 条异议都已化解。",
                                     f"All {len(logged)} logged objection(s) have been answered."), values)
    rows = [(o, classify(derived, table, i)) for i, o in pending]

    def message(lang: str) -> str:
        zh = lang == "zh"
        head = (f"有 {len(pending)} 条客户异议尚未化解，化解前不能进入商务洽谈：" if zh
                else f"{len(pending)} customer objection(s) not yet answered; business negotiation waits until they are: ")
        parts = [f"{n}) {describe(o, row, lang)}" for n, (o, row) in enumerate(rows, 1)]
        return head + (" " if zh else "").join(parts)

    return RuleResult(False, {"zh": message("zh"), "en": message("en")}, values)
