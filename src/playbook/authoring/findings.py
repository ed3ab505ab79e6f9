"""Lint findings: where, which rule, how bad, what is wrong — and their text/JSON forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Location

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)

# code -> (default severity, short name). Documented in docs/authoring.md.
RULES: dict[str, tuple[str, str]] = {
    "PB100": (ERROR, "does-not-load"),
    "PB101": (ERROR, "unknown-rule"),
    "PB102": (ERROR, "unknown-function"),
    "PB103": (ERROR, "unknown-action"),
    "PB104": (ERROR, "duplicate-id"),
    "PB201": (ERROR, "unknown-fact"),
    "PB202": (ERROR, "unknown-derived"),
    "PB203": (ERROR, "derived-used-before-computed"),
    "PB301": (ERROR, "never-passes"),
    "PB302": (WARNING, "always-passes"),
    "PB303": (WARNING, "unreachable-table-row"),
    "PB304": (ERROR, "unquoted-date"),
    "PB401": (ERROR, "unreachable-stage"),
    "PB402": (WARNING, "pass-through-stage"),
    "PB403": (WARNING, "unreachable-outcome"),
    "PB404": (WARNING, "dead-end-stage"),
    "PB501": (WARNING, "missing-translation"),
    "PB502": (INFO, "untranslated-text"),
    "PB503": (INFO, "missing-hint"),
    "PB601": (ERROR, "lookup-unknown-table"),
    "PB701": (ERROR, "example-mismatch"),
    "PB702": (ERROR, "example-unreadable"),
    "PB703": (INFO, "no-examples"),
}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    location: Location | None = None
    playbook: str | None = None  # playbook id (None when it did not load)

    @property
    def rule(self) -> str:
        return RULES[self.code][1]

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.severity} {self.code} [{self.rule}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        loc = self.location
        return {
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "playbook": self.playbook,
        }


def make(code: str, message: str, location: Location | None, *, severity: str | None = None,
         playbook: str | None = None) -> Finding:
    return Finding(code, severity or RULES[code][0], message, location, playbook)


def sort_key(f: Finding) -> tuple[Any, ...]:
    loc = f.location
    return (loc.file if loc else "", (loc.line or 0) if loc else 0, (loc.column or 0) if loc else 0, f.code)
