"""Errors a user can act on. Each carries where the problem is and what to do.

Exit codes (documented in the README):
  0  the check ran and the case is ready to advance (or complete)
  1  the check ran and something blocks (or a test/lint found failures)
  2  bad input or usage: the message says file, line and what was expected
  70 internal error: a bug in playbook or a plugin (one line; --debug shows the traceback)
(portfolio checks add 3 and 4: see ``batch``)
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: collides with none of the codes above


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Problem:
    """One finding: where, what, and (optionally) what to do about it."""

    message: str
    location: Location | None = None
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class PlaybookError(Exception):
    """Bad input: a playbook, case or argument that cannot be used as given."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem] | str, location: Location | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems, location)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class CriteriaSyntaxError(PlaybookError):
    """A criteria expression that does not compile; column is 1-based within the expression."""

    def __init__(self, message: str, expression: str, column: int | None = None):
        self.expression = expression
        self.column = column
        self.reason = message
        where = f" at column {column}" if column else ""
        super().__init__(f"{message}{where} in {expression!r}")


class CaseError(PlaybookError):
    """A case (facts) file that cannot be read or is not a mapping."""


class PluginError(Exception):
    """A plugin failed to load or raised inside a hook."""

    def __init__(self, plugin: str, message: str):
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}")
