"""Read YAML or JSON documents and remember where every value came from.

Schema and compile errors must point at ``file:line:col``, so documents are built from the
YAML node tree (JSON is read by the same YAML composer for positions, and by ``json`` for the
values, since JSON is stricter). Dates become ISO strings: facts are JSON-like everywhere.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, PlaybookError, Problem

try:  # the C loader is several times faster when PyYAML was built with libyaml
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_NODES = 2_000_000  # guards against alias bombs ("billion laughs")

JsonPath = tuple[Any, ...]


@dataclass
class SourceDoc:
    """A parsed document with the position of every value, by JSON path."""

    data: Any
    file: str
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    quoted: set[JsonPath] = field(default_factory=set)  # scalars written in quotes
    blocks: set[JsonPath] = field(default_factory=set)  # block scalars (| or >)

    def locate(self, path: JsonPath | list[Any]) -> Location:
        """The location of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.positions:
                line, col = self.positions[path]
                return Location(self.file, line, col)
            path = path[:-1]
        pos = self.positions.get(())
        return Location(self.file, pos[0], pos[1]) if pos else Location(self.file)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


class _Builder:
    def __init__(self, file: str, loader: Any):
        self.file = file
        self.loader = loader
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.quoted: set[JsonPath] = set()
        self.blocks: set[JsonPath] = set()
        self.count = 0
        self.built: set[int] = set()  # node ids already built (an alias re-uses a node)
        self.sizes: dict[int, int] = {}  # node id -> values in its subtree (with re-use)

    def _subtree_size(self, node: yaml.Node) -> int:
        size = self.sizes.get(id(node))
        if size is None:
            size = 1
            if isinstance(node, yaml.MappingNode):
                size += sum(self._subtree_size(k) + self._subtree_size(v) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                size += sum(self._subtree_size(item) for item in node.value)
            self.sizes[id(node)] = size
        return size

    def build(self, node: yaml.Node, path: JsonPath, counted: bool = False) -> Any:
        if not counted:
            self.count += 1
            if id(node) in self.built and not isinstance(node, yaml.ScalarNode):
                # an alias re-used: count its whole expansion first, refuse a bomb before
                # expanding it (its children are then not counted again)
                self.count += self._subtree_size(node) - 1
                counted = True
        self.built.add(id(node))
        if self.count > MAX_NODES:
            raise PlaybookError(
                f"document too large (more than {MAX_NODES} values; alias expansion?)",
                Location(self.file),
            )
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    # Keys are names, read as written: YAML 1.1 would turn `on:` into True.
                    key = key_node.value
                else:
                    key = _plain(self.loader.construct_object(key_node, deep=True))
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise PlaybookError(
                        "mapping keys must be plain strings",
                        Location(self.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                    )
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    raise PlaybookError(
                        f"duplicate key {key!r} (the second value would silently replace the first)",
                        Location(self.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                    )
                result[key] = self.build(value_node, (*path, key), counted)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), counted) for i, item in enumerate(node.value)]
        if node.style in ("'", '"'):
            self.quoted.add(path)
        elif node.style in ("|", ">"):
            self.blocks.add(path)
        return _plain(self.loader.construct_object(node, deep=True))


def _yaml_problem(file: str, exc: yaml.YAMLError) -> PlaybookError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"malformed YAML: {problem}" + (f" ({context})" if context else "")
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
    return PlaybookError([Problem(message, loc, "fix the syntax at that position")])


def parse_text(text: str, file: str, *, fmt: str | None = None) -> SourceDoc:
    """Parse YAML or JSON text (``fmt`` "json"/"yaml", else guessed from the file name)."""
    if fmt is None:
        fmt = "json" if file.lower().endswith(".json") else "yaml"
    if fmt == "json":
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise PlaybookError(
                [Problem(f"malformed JSON: {exc.msg}", Location(file, exc.lineno, exc.colno))]
            ) from None
        except _DuplicateKey as dup:  # as in YAML: never let the second value replace the first
            parse_text(text, file, fmt="yaml")  # the YAML reader locates the duplicate key (raises)
            raise PlaybookError(f"duplicate key {dup.args[0]!r} (the second value would silently replace "
                                "the first)", Location(file)) from None
        try:
            positions = _compose_positions(text, file)
        except PlaybookError:
            positions = {}
        return SourceDoc(data, file, positions, {p for p, _ in positions.items() if _is_str_at(data, p)})
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceDoc(None, file, {})
        builder = _Builder(file, loader)
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        raise _yaml_problem(file, exc) from None
    finally:
        loader.dispose()
    return SourceDoc(data, file, builder.positions, builder.quoted, builder.blocks)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _is_str_at(data: Any, path: JsonPath) -> bool:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(data, str)


def _compose_positions(text: str, file: str) -> dict[JsonPath, tuple[int, int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        positions: dict[JsonPath, tuple[int, int]] = {}

        def walk(n: yaml.Node, path: JsonPath) -> None:
            positions[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
            if isinstance(n, yaml.MappingNode):
                for k, v in n.value:
                    walk(v, (*path, str(k.value)))
            elif isinstance(n, yaml.SequenceNode):
                for i, item in enumerate(n.value):
                    walk(item, (*path, i))

        walk(node, ())
        return positions
    except yaml.YAMLError as exc:
        raise _yaml_problem(file, exc) from None
    finally:
        loader.dispose()


def read_document(path: str | Path) -> SourceDoc:
    """Read a YAML/JSON file; a missing or unreadable file is a PlaybookError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PlaybookError(f"no such file: {p}", Location(str(p))) from None
    except IsADirectoryError:
        raise PlaybookError(f"is a directory, expected a YAML or JSON file: {p}") from None
    except OSError as exc:
        raise PlaybookError(f"cannot read {p}: {exc.strerror}", Location(str(p))) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlaybookError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", Location(str(p))
        ) from None
    return parse_text(text, str(p))


def iter_json_paths(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from iter_json_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_json_paths(v, (*path, i))
