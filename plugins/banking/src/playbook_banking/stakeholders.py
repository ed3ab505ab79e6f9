"""Derivation ``banking.stakeholder-map``: the customer's people by purchase role and attitude.

Used by the decision-process and competitive-position stages: who decides, who supports or
opposes us, and who is on the list without a role, level or attitude (not yet mapped).
"""

from __future__ import annotations

from typing import Any

ATTITUDES = ("support", "neutral", "oppose")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "default": "stakeholders",
                 "description": "top-level case key of the stakeholder list"},
        "require": {"type": "array", "items": {"type": "string"}, "default": ["role", "level", "attitude"],
                    "description": "fields a person needs to count as mapped"},
    },
}


def stakeholder_map(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any],
                    ctx: Any) -> dict[str, Any]:
    people = facts.get(params.get("path", "stakeholders")) or []
    if not isinstance(people, list):
        raise TypeError(f"{params.get('path', 'stakeholders')} must be a list of people")
    required = params.get("require") or ["role", "level", "attitude"]
    by_attitude: dict[str, list[str]] = {a: [] for a in ATTITUDES}
    by_role: dict[str, list[str]] = {}
    unmapped: list[str] = []
    decision_makers: list[dict[str, Any]] = []
    for i, person in enumerate(people):
        if not isinstance(person, dict):
            raise TypeError(f"stakeholders[{i}] must be a mapping")
        name = str(person.get("name") or f"#{i + 1}")
        attitude = person.get("attitude")
        if attitude in by_attitude:
            by_attitude[attitude].append(name)
        role = person.get("role")
        if role:
            by_role.setdefault(str(role), []).append(name)
        if role == "decision_maker":
            decision_makers.append({"name": name, "attitude": attitude})
        if any(person.get(field) in (None, "") for field in required):
            unmapped.append(name)
    return {
        "count": len(people),
        **{a: len(names) for a, names in by_attitude.items()},
        "by_attitude": by_attitude,
        "by_role": by_role,
        "decision_makers": decision_makers,
        "coaches": [str(p.get("name")) for p in people if p.get("is_coach") is True],
        "unmapped": unmapped,
    }
