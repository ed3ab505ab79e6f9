"""Which case facts an expression reads, including names inside ``count/any/all(list, …)``.

``CompiledExpression.paths`` only lists case-rooted paths; a name inside an item scope
(``count(stakeholders, role == "x")``) resolves against the item first at run time, so the
compiler cannot record it as a case path. Lint needs those too (a typo in ``role`` makes the
criterion silently never match), so this walks the same AST the compiler accepts and records
each reference with the list scopes it sits in. Only called on expressions that compiled.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from ..criteria.compiler import (
    CONSTANT_NAMES,
    ITEM_FORMS,
    _dotted,
    _escape_keywords,
    _unescaped_offset,
    parse,
)


@dataclass(frozen=True)
class Ref:
    """A path read by an expression. ``scopes`` are the list references it is nested in
    (outermost first); inside a scope the path's first name may be a field of the item."""

    path: tuple[Any, ...]
    scopes: tuple[Ref, ...] = ()
    item_only: bool = False  # written as ``it.x``: relative to the innermost item only

    @property
    def dotted(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return ("it." + out if out else "it") if self.item_only else out


LITERAL_SCOPE = Ref(("<literal list>",))  # the items of a list written in the expression


@dataclass
class ExprInfo:
    refs: list[Ref] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    literals: list[tuple[Any, str]] = field(default_factory=list)  # (number, context text)


class _Walker:
    def __init__(self, text: str, functions: Any):
        self.text = text
        self.functions = functions
        self.info = ExprInfo()

    def add(self, ref: Ref) -> Ref:
        if ref not in self.info.refs:
            self.info.refs.append(ref)
        return ref

    def walk(self, node: ast.AST, scopes: tuple[Ref, ...]) -> Ref | None:
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            return self.path(node, scopes)
        if isinstance(node, ast.Call):
            self.call(node, scopes)
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            self.info.literals.append((node.value, ast.get_source_segment(self.text, node) or repr(node.value)))
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)) \
                and not isinstance(node.operand.value, bool):
            self.info.literals.append((-node.operand.value, f"-{node.operand.value!r}"))
            return None
        for child in ast.iter_child_nodes(node):
            self.walk(child, scopes)
        return None

    def path(self, node: ast.AST, scopes: tuple[Ref, ...]) -> Ref | None:
        chain: list[Any] = []
        cur = node
        while isinstance(cur, (ast.Attribute, ast.Subscript)):
            if isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
            else:
                index = cur.slice
                if isinstance(index, ast.Constant) and isinstance(index.value, (str, int)) \
                        and not isinstance(index.value, bool):
                    chain.append(index.value)
                else:  # a computed index: the prefix is still read; the index is its own expression
                    self.walk(index, scopes)
                    chain = []
            cur = cur.value
        chain.reverse()
        if not isinstance(cur, ast.Name):
            self.walk(cur, scopes)
            return None
        name = cur.id
        if name in CONSTANT_NAMES:
            return None
        if name == "it":
            return self.add(Ref(tuple(chain), scopes, item_only=True)) if scopes else None
        return self.add(Ref((name, *chain), scopes))

    def call(self, node: ast.Call, scopes: tuple[Ref, ...]) -> None:
        name = _dotted(node.func) or ""
        if name in ITEM_FORMS and node.args:
            seq = self.walk(node.args[0], scopes)
            inner = (*scopes, seq) if seq is not None else (*scopes, LITERAL_SCOPE)
            for arg in node.args[1:]:
                self.walk(arg, inner)
            return
        if name != "exists" and name not in self.info.functions:
            self.info.functions.append(name)
        for arg in node.args:
            self.walk(arg, scopes)


def analyse(text: str, functions: Any = None, scopes: tuple[Ref, ...] = ()) -> ExprInfo:
    """References, functions called and numeric literals of a (valid) expression."""
    tree, parsed, _lead = parse(text)
    walker = _Walker(parsed, functions)
    walker.walk(tree.body, scopes)
    return walker.info


def depends_on_today(info: ExprInfo, functions: Any) -> bool:
    """True when the expression calls a function that reads the evaluation context."""
    for name in info.functions:
        spec = functions.get(name) if functions is not None else None
        if spec is None or spec.needs_context:
            return True
    return False


@dataclass(frozen=True)
class UnquotedDate:
    written: str  # as in the expression: 2026-12-31
    value: int  # what it computes: 1983
    iso: str  # the date it was meant to be: 2026-12-31 (zero-padded)
    offset: int  # where it starts in the expression text


_DATE_SHAPE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def unquoted_dates(text: str) -> list[UnquotedDate]:
    """``2026-12-31`` written without quotes is the subtraction 2026 - 12 - 31 = 1983, so
    ``contract.date <= 2026-12-31`` compares a date with a number and never passes. (With a
    zero, ``2026-01-31`` is a syntax error the loader reports.) Found: three integers joined
    by ``-`` with no space, forming a real calendar date."""
    tree, parsed, lead = parse(text)
    escaped = _escape_keywords(parsed)
    found: list[UnquotedDate] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub)
                and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Sub)):
            continue
        parts = (node.left.left, node.left.right, node.right)
        if not all(isinstance(p, ast.Constant) and type(p.value) is int for p in parts):
            continue
        written = ast.get_source_segment(escaped, node) or ""
        if not _DATE_SHAPE.fullmatch(written):
            continue
        year, month, day = (p.value for p in parts)  # type: ignore[attr-defined]
        try:
            iso = dt.date(year, month, day).isoformat()
        except ValueError:
            continue
        column = len(escaped.encode("utf-8")[: node.col_offset].decode("utf-8", "replace"))  # bytes -> characters
        offset = lead + _unescaped_offset(parsed, column)
        found.append(UnquotedDate(written, year - month - day, iso, offset))
    return sorted(found, key=lambda d: d.offset)
