"""What a rule returns: pass/fail with an optional message and the values it looked at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .text import Text


@dataclass(frozen=True)
class RuleResult:
    """``message`` may be a text or a callable ``(lang) -> str`` (built only when reported)."""

    passed: bool
    message: Text | Callable[[str], str] | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.passed
