"""CSV rows -> nested facts. Column headers are dotted paths (``opportunity.amount``,
``stakeholders.0.role``); each cell is typed by the case schema (``schemas/case.schema.json``)
plus the playbook's ``facts:`` section, so ``100000`` is a number and ``yes`` a boolean.

The separator is , ; or tab, whichever the header line uses (``readers.sniff_delimiter``).
A column with an empty header is ignored as long as its cells are empty (spreadsheets export
trailing separators); a header that cannot be placed in the case schema (``stakeholders.role``
where ``stakeholders`` is a list) skips the file with the reason.

Cell rules (documented in ``playbook check --help``):
- an empty cell leaves the fact out (missing, exactly as if the key were absent);
- ``id`` and ``stage``: text, surrounding spaces removed;
- ``boolean``: true/false, yes/no, y/n, 1/0, 是/否, 对/错 (any case);
- ``integer``/``number``: decimal numbers (``1e6`` allowed; ``1,000`` is not);
- ``array``: a JSON array (``["a", "b"]``) or values separated by ``;`` (typed by ``items``);
- ``object``: a JSON object;
- a column the schemas do not type stays text, unless its cell is a JSON array or object.
A cell that does not fit its type rejects the record (column named), never a silent zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

TRUE = frozenset({"true", "yes", "y", "1", "是", "对", "t"})
FALSE = frozenset({"false", "no", "n", "0", "否", "错", "f"})

Converter = Callable[[str], Any]


class CellError(ValueError):
    pass


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "enum" in schema and schema["enum"]:
        first = schema["enum"][0]
        kind = "boolean" if isinstance(first, bool) else "number" if isinstance(first, (int, float)) else None
    return kind if isinstance(kind, str) else None


class SchemaTypes:
    """Looks up the JSON-Schema type of a dotted path in the case schema + playbook facts."""

    def __init__(self, case_schema: dict[str, Any], facts_schema: dict[str, Any] | None = None):
        self.root = case_schema
        props = dict(case_schema.get("properties") or {})
        props.update(facts_schema or {})
        self.top = {"type": "object", "properties": props}

    def _deref(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                break
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            merged = dict(target or {})
            merged.update({k: v for k, v in schema.items() if k != "$ref"})
            schema = merged
            seen += 1
        if isinstance(schema, dict) and "type" not in schema:
            for key in ("allOf", "anyOf", "oneOf"):
                for option in schema.get(key) or ():
                    option = self._deref(option)
                    if _type_of(option):
                        return option
        return schema if isinstance(schema, dict) else {}

    def schema_for(self, parts: list[str]) -> dict[str, Any]:
        node = self.top
        for part in parts:
            node = self._deref(node)
            if part.isdigit() and _type_of(node) == "array":
                node = node.get("items") or {}
            else:
                props = node.get("properties") or {}
                if part not in props:
                    return {}
                node = props[part]
        return self._deref(node)

    def misplaced(self, parts: list[str]) -> str | None:
        """Why a dotted column cannot be placed in the schema (a list without an item number, a
        field of a number), else None. Paths the schemas do not know are fine (untyped text)."""
        node = self.top
        for i, part in enumerate(parts):
            node = self._deref(node)
            kind = _type_of(node)
            here = ".".join(parts[:i])
            if kind == "array":
                if not part.isdigit():
                    rest = ".".join(parts[i:])
                    return (f"column {'.'.join(parts)!r}: {here} is a list in the case schema; number its "
                            f"items: {here}.0.{rest}, {here}.1.{rest}, …")
                node = node.get("items") or {}
            elif kind in _SCALARS and i:
                return f"column {'.'.join(parts)!r}: {here} is a {kind} in the case schema, it has no fields"
            else:
                props = node.get("properties") or {}
                if part not in props:
                    return None
                node = props[part]
        return None

    def converter(self, column: str) -> Converter:
        parts = column.split(".")
        if parts in (["id"], ["stage"]):
            return _identifier
        schema = self.schema_for(parts)
        return _make_converter(_type_of(schema), self._deref(schema.get("items") or {}))


def _identifier(cell: str) -> str:
    return cell.strip()


def header_problem(header: list[str], types: SchemaTypes) -> str | None:
    """The first column of ``header`` the schemas cannot place, as a reason; else None."""
    for column in header:
        if column:
            problem = types.misplaced(column.split("."))
            if problem is not None:
                return problem
    return None


def _boolean(cell: str) -> bool:
    low = cell.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise CellError(f"expected true/false (yes/no, 1/0, 是/否), got {cell!r}")


def _number(cell: str) -> int | float:
    text = cell.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"expected a number, got {cell!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CellError(f"expected a finite number, got {cell!r}")
    return value


def _integer(cell: str) -> int:
    value = _number(cell)
    if isinstance(value, float):
        if not value.is_integer():
            raise CellError(f"expected a whole number, got {cell!r}")
        return int(value)
    return value


def _json_of(kind: type, label: str) -> Converter:
    def convert(cell: str) -> Any:
        try:
            value = json.loads(cell)
        except ValueError:
            raise CellError(f"expected a JSON {label}, got {cell!r}") from None
        if not isinstance(value, kind):
            raise CellError(f"expected a JSON {label}, got {cell!r}")
        return value

    return convert


_SCALARS: dict[str | None, Converter] = {
    "boolean": _boolean,
    "number": _number,
    "integer": _integer,
    "string": str,
}


def _make_converter(kind: str | None, items: dict[str, Any]) -> Converter:
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "object":
        return _json_of(dict, "object")
    if kind == "array":
        item = _SCALARS.get(_type_of(items)) or str
        as_json = _json_of(list, "array")

        def array(cell: str) -> list[Any]:
            if cell.lstrip().startswith("["):
                return as_json(cell)
            return [item(part.strip()) for part in cell.split(";") if part.strip()]

        return array

    def untyped(cell: str) -> Any:
        if cell.lstrip().startswith(("[", "{")):
            try:
                return json.loads(cell)
            except ValueError:
                return cell
        return cell

    return untyped


class RowConverter:
    """Converts the rows of one CSV file (one header) into nested facts."""

    def __init__(self, header: list[str], types: SchemaTypes):
        self.columns = [(column or f"#{i}", column.split("."), types.converter(column) if column else None)
                        for i, column in enumerate(header, 1)]

    def __call__(self, row: list[str]) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        for (column, parts, convert), cell in zip(self.columns, row, strict=True):
            if cell == "" or cell.isspace():
                continue
            if convert is None:
                raise CellError(f"column {column} has no name in the header but holds {cell!r}; "
                                "name the column (e.g. opportunity.amount) or empty it")
            try:
                value = convert(cell)
            except CellError as exc:
                raise CellError(f"column {column}: {exc}") from None
            _put(facts, parts, value, column)
        _densify(facts)
        return facts


def _put(facts: dict[str, Any], parts: list[str], value: Any, column: str) -> None:
    node: Any = facts
    for i, part in enumerate(parts[:-1]):
        key: Any = int(part) if part.isdigit() else part
        nxt = node.get(key) if isinstance(node, dict) else None
        if nxt is None:
            nxt = {}
            node[key] = nxt
        elif not isinstance(nxt, dict):
            raise CellError(f"column {column}: {'.'.join(parts[: i + 1])} already holds a value")
        node = nxt
    last = parts[-1]
    node[int(last) if last.isdigit() else last] = value


def _densify(node: dict[Any, Any]) -> None:
    """Mappings keyed only by indexes (``stakeholders.0``, ``stakeholders.1``) become lists."""
    for key, value in node.items():
        if isinstance(value, dict):
            _densify(value)
            if value and all(isinstance(k, int) for k in value):
                node[key] = [value[k] for k in sorted(value)]
