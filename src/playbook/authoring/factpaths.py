"""Is a fact path defined? Resolution through the case schema, plugin schemas and ``facts:``.

A path is *defined* when every step is declared: a key listed in ``properties`` (or matched
by ``patternProperties`` or an ``additionalProperties`` schema), an index into ``items``. A
mapping that declares no properties at all is free-form (``account.profile.background`` holds
free notes), so anything below it is accepted. ``additionalProperties: true`` next to declared
properties lets a case carry extra keys, but a criterion reading an undeclared one is almost
always a typo, so it is reported. ``$ref`` (local), ``allOf``/``anyOf``/``oneOf`` are followed.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import CompiledPlaybook
from ..resources import load_schema
from .exprrefs import LITERAL_SCOPE, Ref

SCALAR_TYPES = {"string", "number", "integer", "boolean", "null"}
FREE = "free"


@dataclass(frozen=True)
class Node:
    schema: Any
    root: Any


@dataclass
class Resolution:
    ok: bool
    failed_at: int = 0  # index of the first undefined step
    known: tuple[str, ...] = ()  # keys declared where it failed (for suggestions)
    reason: str = ""


def _deref(node: Node, depth: int = 0) -> Node:
    schema = node.schema
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and depth < 20:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            return Node(True, node.root)  # remote refs are not followed: accept
        target: Any = node.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        # keep sibling keywords of $ref (2020-12 allows them)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings} if isinstance(target, dict) else True
        depth += 1
    return Node(schema, node.root)


def _branches(node: Node) -> list[Node]:
    node = _deref(node)
    out = [node]
    if isinstance(node.schema, dict):
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.schema.get(key) or []:
                out.extend(_branches(Node(sub, node.root)))
    return out


def _types(schema: dict[str, Any]) -> set[str]:
    t = schema.get("type")
    return {t} if isinstance(t, str) else set(t or [])


def children(node: Node, key: Any) -> list[Node] | str:
    """The schema nodes for ``key`` below ``node``; FREE when anything goes; [] when undefined."""
    found: list[Node] = []
    declares = False
    free = False
    for branch in _branches(node):
        s = branch.schema
        if s is True or s == {} or not isinstance(s, dict):
            free = free or s is not False
            continue
        types = _types(s)
        if isinstance(key, int):
            if isinstance(s.get("items"), dict):
                found.append(Node(s["items"], branch.root))
            elif "array" in types or (not types and "properties" not in s):
                free = True
            continue
        props = s.get("properties") or {}
        patterns = s.get("patternProperties") or {}
        if key in props:
            found.append(Node(props[key], branch.root))
            continue
        matched = [Node(v, branch.root) for p, v in patterns.items() if re.search(p, str(key))]
        if matched:
            found.extend(matched)
            continue
        if isinstance(s.get("additionalProperties"), dict) and s["additionalProperties"]:
            found.append(Node(s["additionalProperties"], branch.root))
            continue
        if props or patterns:
            declares = True
            continue
        if s.get("additionalProperties") is False:
            continue
        if types and (types <= SCALAR_TYPES or types == {"array"}):
            continue  # a scalar or a list has no named fields
        if "items" in s and not types:
            continue
        free = True
    if found:
        return found
    if free and not declares:
        return FREE
    return []


def declared_keys(nodes: list[Node]) -> tuple[str, ...]:
    keys: list[str] = []
    for node in nodes:
        for branch in _branches(node):
            if isinstance(branch.schema, dict):
                keys += [k for k in branch.schema.get("properties") or {} if k not in keys]
    return tuple(keys)


def resolve(nodes: list[Node] | str, path: tuple[Any, ...]) -> Resolution:
    current: list[Node] | str = nodes
    for i, key in enumerate(path):
        if current == FREE:
            return Resolution(True)
        assert isinstance(current, list)
        nxt: list[Node] = []
        free = False
        for node in current:
            got = children(node, key)
            if got == FREE:
                free = True
            else:
                nxt.extend(got)  # type: ignore[arg-type]
        if free:
            current = FREE
            continue
        if not nxt:
            return Resolution(False, i, declared_keys(current))
        current = nxt
    return Resolution(True)


def load_registered(value: Any) -> Any:
    if isinstance(value, (str, Path)):
        with open(value, encoding="utf-8") as fh:
            return json.load(fh)
    return value


class FactSchema:
    """The case schema seen by one playbook: core + plugin schemas + the playbook's ``facts``."""

    def __init__(self, pb: CompiledPlaybook, registry: Any):
        self.sources: list[Node] = []
        seen_core = False
        for name, (schema, _plugin) in sorted((registry.schemas or {}).items()):
            try:
                loaded = load_registered(schema)
            except (OSError, ValueError):
                continue
            if isinstance(loaded, dict):
                self.sources.append(Node(loaded, loaded))
                seen_core = seen_core or name == "core.case"
        if not seen_core:
            core = load_schema("case")
            self.sources.insert(0, Node(core, core))
        facts = {"type": "object", "properties": dict(pb.facts_schema), "additionalProperties": False}
        self.sources.append(Node(facts, facts))
        self.derived = derived_schema(pb)

    def root(self) -> list[Node]:
        return list(self.sources)

    def resolve_ref(self, ref: Ref) -> Resolution:
        """Resolve a reference made inside the given item scopes (innermost item first)."""
        if not ref.item_only and ref.path and ref.path[0] == "derived" and not ref.scopes:
            return resolve([Node(self.derived, self.derived)], ref.path[1:])
        candidates: list[list[Node] | str] = []
        for scope in reversed(ref.scopes):
            candidates.append(self.item_nodes(scope))
            if ref.item_only:
                break
        if not ref.item_only:
            if ref.path and ref.path[0] == "derived":
                candidates.append([Node(self.derived, self.derived)])
                path = ref.path[1:]
                return _best([resolve(c, path) for c in candidates])
            candidates.append(self.root())
        return _best([resolve(c, ref.path) for c in candidates])

    def item_nodes(self, scope: Ref) -> list[Node] | str:
        """Schema nodes of one item of the list ``scope`` refers to."""
        if scope == LITERAL_SCOPE:
            return FREE
        if not scope.item_only and scope.path[:1] == ("derived",) and not scope.scopes:
            lists: list[Node] | str = [Node(self.derived, self.derived)]
            lists = _walk(lists, scope.path[1:])
        else:
            options: list[list[Node] | str] = []
            for outer in reversed(scope.scopes):
                options.append(_walk(self.item_nodes(outer), scope.path))
                if scope.item_only:
                    break
            if not scope.item_only:
                options.append(_walk(self.root(), scope.path))
            if any(o == FREE for o in options):
                return FREE
            lists = [n for o in options for n in o]  # type: ignore[union-attr]
        if lists == FREE:
            return FREE
        items: list[Node] = []
        for node in lists:  # type: ignore[union-attr]
            got = children(node, 0)
            if got == FREE:
                return FREE
            items.extend(got)  # type: ignore[arg-type]
        return items


def _walk(nodes: list[Node] | str, path: tuple[Any, ...]) -> list[Node] | str:
    current = nodes
    for key in path:
        if current == FREE:
            return FREE
        nxt: list[Node] = []
        for node in current:  # type: ignore[union-attr]
            got = children(node, key)
            if got == FREE:
                return FREE
            nxt.extend(got)  # type: ignore[arg-type]
        current = nxt
    return current


def _best(results: list[Resolution]) -> Resolution:
    for r in results:
        if r.ok:
            return r
    return max(results, key=lambda r: r.failed_at) if results else Resolution(False)


def suggest(key: Any, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


# ---------------------------------------------------------------------------------------------
# what the derive phase produces, as a schema


def _free_object() -> dict[str, Any]:
    return {"type": "object"}


def scorecard_schema(spec: dict[str, Any]) -> dict[str, Any]:
    dims: dict[str, Any] = {}
    indicators: dict[str, Any] = {}
    for dim in spec.get("dimensions") or []:
        factors: dict[str, Any] = {}
        for factor in dim.get("factors") or []:
            for ind in factor.get("indicators") or []:
                indicators[ind["id"]] = {"type": "number"}
            factors[factor["id"]] = {"type": "object", "properties": {
                "score": {"type": "number"}, "missing": {"type": "array", "items": {"type": "string"}},
                "complete": {"type": "boolean"}}}
        dims[dim["id"]] = {"type": "object", "properties": {
            "score": {"type": "number"}, "band": {"type": ["string", "null"]},
            "complete": {"type": "boolean"}, "missing": {"type": "array", "items": {"type": "string"}},
            "min": {"type": "number"}, "max": {"type": "number"},
            "factors": {"type": "object", "properties": factors}}}
    return {"type": "object", "properties": {
        "total": {"type": "number"}, "band": {"type": ["string", "null"]}, "complete": {"type": "boolean"},
        "missing": {"type": "array", "items": {"type": "string"}},
        "invalid": {"type": "array", "items": {"type": "string"}},
        "dimensions": {"type": "object", "properties": dims},
        "indicators": {"type": "object", "properties": indicators}}}


def table_schema(spec: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {"row": {"type": ["string", "null"]}}
    for row in spec.get("rules") or []:
        for k in row.get("then") or {}:
            keys.setdefault(k, {})
    for k in spec.get("default") or {}:
        keys.setdefault(k, {})
    one: dict[str, Any] = {"type": "object", "properties": keys}
    if spec.get("hit") == "collect":
        one = {"type": "object", "properties": {"matches": {"type": "array", "items": one},
                                                 "count": {"type": "integer"}}}
    if spec.get("for_each"):
        item = dict(one)
        item["properties"] = {**one["properties"], "index": {"type": "integer"}, "row": {}}
        return {"type": "array", "items": item}
    return one


def derived_schema(pb: CompiledPlaybook, upto: int | None = None) -> dict[str, Any]:
    """The ``derived`` mapping: one entry per derivation (only the first ``upto`` ones)."""
    props: dict[str, Any] = {}
    for step in pb.derivations[: upto if upto is not None else len(pb.derivations)]:
        if step.kind == "scorecard":
            props[step.id] = scorecard_schema(step.spec)
        elif step.kind == "table":
            props[step.id] = table_schema(step.spec)
        else:
            props[step.id] = _free_object() | {"description": "plugin derivation"}
    return {"type": "object", "properties": props, "additionalProperties": False}
