"""Tolerant reading of case facts for rules and sheets: missing or mistyped sections are
treated as empty (the criteria say what is missing; a sheet shows a blank, never crashes)."""

from __future__ import annotations

from typing import Any


def get(facts: Any, dotted: str, default: Any = None) -> Any:
    value = facts
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return default if value is None else value


def items(facts: Any, dotted: str) -> list[Any]:
    """The list at ``dotted`` (a missing or non-list value is an empty list)."""
    value = get(facts, dotted)
    return value if isinstance(value, list) else []


def records(facts: Any, dotted: str) -> list[dict[str, Any]]:
    """The mappings in the list at ``dotted`` (other entries are skipped)."""
    return [v for v in items(facts, dotted) if isinstance(v, dict)]


def is_true(facts: Any, dotted: str) -> bool:
    return get(facts, dotted) is True
