"""Read YAML or JSON documents and remember where every value came from.

Schema and compile errors must point at ``file:line:col``. YAML documents are built from the
YAML node tree, with the position of every value. JSON is read by ``json`` (stricter, and far
faster); the positions of its values are composed by the YAML reader only when something asks
for one (an error to locate). Dates become ISO strings: facts are JSON-like everywhere.

Documents nest at most ``MAX_DEPTH`` levels of mappings and lists. libyaml's composer recurses
in C (a YAML document nested 100,000 deep kills the process), so YAML that could nest that deep
is measured on its event stream, which does not recurse, before it is composed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, PlaybookError, Problem

try:  # the C loader is several times faster when PyYAML was built with libyaml
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_NODES = 2_000_000  # guards against alias bombs ("billion laughs")
MAX_MERGED = 100_000  # keys copied by merge keys (`<<: *base`): chains of merges grow quadratically
MAX_DEPTH = 256  # mappings and lists inside each other (docs/playbook-format.md, "Limits")
_MERGE_TAG = "tag:yaml.org,2002:merge"

JsonPath = tuple[Any, ...]


class SourceDoc:
    """A parsed document with the position of every value, by JSON path.

    ``positions`` maps a path to its (line, column); ``quoted`` holds the paths of scalars
    written in quotes, ``blocks`` those written as block scalars (``|`` or ``>``). For a JSON
    document both are composed from ``text`` the first time they are used.
    """

    def __init__(self, data: Any, file: str, positions: dict[JsonPath, tuple[int, int]] | None = None,
                 quoted: set[JsonPath] | None = None, blocks: set[JsonPath] | None = None, *,
                 text: str | None = None):
        self.data = data
        self.file = file
        self._positions = positions
        self._quoted = quoted
        self.blocks: set[JsonPath] = blocks if blocks is not None else set()
        self._text = text

    @property
    def positions(self) -> dict[JsonPath, tuple[int, int]]:
        if self._positions is None:
            self._compose()
        assert self._positions is not None
        return self._positions

    @property
    def quoted(self) -> set[JsonPath]:
        if self._quoted is None:
            self._compose()
        assert self._quoted is not None
        return self._quoted

    def _compose(self) -> None:
        positions: dict[JsonPath, tuple[int, int]] = {}
        quoted: set[JsonPath] = set()
        if self._text is not None:
            try:
                positions, quoted = _compose_positions(self._text, self.file, self.data)
            except (PlaybookError, RecursionError):  # JSON that YAML cannot read: the file only
                positions, quoted = {}, set()
        self._positions = positions if self._positions is None else self._positions
        self._quoted = quoted if self._quoted is None else self._quoted
        self._text = None

    def locate(self, path: JsonPath | list[Any]) -> Location:
        """The location of ``path``, or of its nearest ancestor that has one."""
        positions = self.positions
        path = tuple(path)
        while path:
            if path in positions:
                line, col = positions[path]
                return Location(self.file, line, col)
            path = path[:-1]
        pos = positions.get(())
        return Location(self.file, pos[0], pos[1]) if pos else Location(self.file)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _too_deep(location: Location) -> PlaybookError:
    return PlaybookError([Problem(
        f"nested too deeply (more than {MAX_DEPTH} levels of mappings and lists inside each other)",
        location, "flatten the document")])


def _mark_location(file: str, node: Any) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


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
        self.pairs: dict[int, list[tuple[str, yaml.Node, yaml.Node]]] = {}  # mapping id -> its pairs
        self.merged = 0  # keys copied by merge keys so far

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
            if len(path) >= MAX_DEPTH:  # deeper than the text itself: aliases inside aliases
                raise _too_deep(_mark_location(self.file, node))
            return {key: self.build(value_node, (*path, key), counted)
                    for key, _key_node, value_node in self._pairs(node)}
        if isinstance(node, yaml.SequenceNode):
            if len(path) >= MAX_DEPTH:
                raise _too_deep(_mark_location(self.file, node))
            return [self.build(item, (*path, i), counted) for i, item in enumerate(node.value)]
        if node.style in ("'", '"'):
            self.quoted.add(path)
        elif node.style in ("|", ">"):
            self.blocks.add(path)
        return _plain(self.loader.construct_object(node, deep=True))

    def _pairs(self, node: yaml.MappingNode) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """A mapping's (key, key node, value node), merge keys (``<<: *base``) applied.

        As in YAML's merge-key type: a key written in the mapping overrides a merged one, and of
        several merged mappings (``<<: [*a, *b]``) the first that has a key wins. Only a key
        written twice in the same mapping is a duplicate.
        """
        known = self.pairs.get(id(node))
        if known is not None:
            return known
        written: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG and isinstance(key_node, yaml.ScalarNode):
                for source in self._merge_sources(value_node):
                    inherited = self._pairs(source)
                    self.merged += len(inherited)
                    if self.merged > MAX_MERGED:
                        raise PlaybookError(f"document too large (merge keys copy more than {MAX_MERGED} keys;"
                                            " chained `<<: *...`?)", _mark_location(self.file, key_node))
                    for key, k, v in inherited:
                        merged.setdefault(key, (k, v))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise PlaybookError("mapping keys must be plain strings", _mark_location(self.file, key_node))
            key = key_node.value  # keys are names, read as written: YAML 1.1 would turn `on:` into True
            if key in written:
                raise PlaybookError(f"duplicate key {key!r} (the second value would silently replace the first)",
                                    _mark_location(self.file, key_node))
            written[key] = (key_node, value_node)
        pairs = [(key, k, v) for key, (k, v) in merged.items() if key not in written]
        pairs += [(key, k, v) for key, (k, v) in written.items()]
        self.pairs[id(node)] = pairs
        return pairs

    def _merge_sources(self, node: yaml.Node) -> list[yaml.MappingNode]:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for item in items:
            if not isinstance(item, yaml.MappingNode):
                raise PlaybookError("a merge key `<<` needs a mapping or a list of mappings (e.g. `<<: *base`)",
                                    _mark_location(self.file, item))
        return items


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
        return _parse_json(text, file)
    if sum(map(text.count, "[{-?:")) >= _COMPOSE_SAFE_DEPTH:
        _check_yaml_depth(text, file)  # else it cannot nest that deep: the builder's check suffices
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceDoc(None, file, {}, set())
        builder = _Builder(file, loader)
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        raise _yaml_problem(file, exc) from None
    except RecursionError:  # merge keys merging mappings that merge … thousands of times over
        raise _too_deep(Location(file)) from None
    finally:
        loader.dispose()
    return SourceDoc(data, file, builder.positions, builder.quoted, builder.blocks)


# Every mapping or list starts with one of ``[ { - ? :``, so a text with fewer of these cannot
# nest deeper than that. libyaml's composer recurses ~280 bytes of C stack a level (measured:
# 20,000 levels pass, 40,000 crash with an 8 MB stack); up to this many levels it is safe to
# compose even on a small thread stack, and the builder then refuses what is deeper than
# MAX_DEPTH. Larger texts are measured on their event stream first (~30% of a parse).
_COMPOSE_SAFE_DEPTH = 1_000
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_yaml_depth(text: str, file: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH before anything recurses into it."""
    loader = _Loader(text)
    depth = 0
    start_map, start_seq = _STARTS
    end_map, end_seq = _ENDS
    try:
        while True:
            event = loader.get_event()
            if event is None:
                return
            kind = type(event)
            if kind is start_map or kind is start_seq:
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(_mark_location(file, event))
            elif kind is end_map or kind is end_seq:
                depth -= 1
    except yaml.YAMLError as exc:
        raise _yaml_problem(file, exc) from None
    finally:
        loader.dispose()


def _parse_json(text: str, file: str) -> SourceDoc:
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise PlaybookError(
            [Problem(f"malformed JSON: {exc.msg}", Location(file, exc.lineno, exc.colno))]
        ) from None
    except RecursionError:
        raise _too_deep(Location(file)) from None
    except _DuplicateKey as dup:  # as in YAML: never let the second value replace the first
        parse_text(text, file, fmt="yaml")  # the YAML reader locates the duplicate key (raises)
        raise PlaybookError(f"duplicate key {dup.args[0]!r} (the second value would silently replace "
                            "the first)", Location(file)) from None
    if _deeper_than(data, MAX_DEPTH):
        raise _too_deep(Location(file))
    if "\\u" in text and re.search(r"\\u[dD][89a-fA-F]", text):  # as YAML does: no lone surrogate
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PlaybookError("a \\uD800-\\uDFFF escape that is not half of a surrogate pair is not "
                                "text (write the character itself)", Location(file)) from None
    return SourceDoc(data, file, text=text)


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether mappings and lists nest more than ``limit`` levels in ``data``: level by level,
    no recursion, and about half the cost of the ``json.loads`` that made ``data``."""
    dict_, list_ = dict, list
    level = [data] if type(data) is dict_ or type(data) is list_ else []
    depth = 1
    while level:
        below: list[Any] = []
        push = below.append
        for value in level:
            for child in (value.values() if type(value) is dict_ else value):
                kind = type(child)
                if kind is dict_ or kind is list_:
                    push(child)
        if below and depth >= limit:
            return True
        level = below
        depth += 1
    return False


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


# JSON that YAML 1.1 does not read, made readable without moving anything: tabs (JSON
# whitespace), characters YAML refuses or takes for line breaks (only inside JSON strings) and
# escaped UTF-16 surrogates (emoji written as \ud83d\ude00) become spaces of the same width.
_JSON_FOR_YAML = str.maketrans({chr(c): " " for c in (9, *range(0x7F, 0xA0), 0x2028, 0x2029)})
_SURROGATE_ESCAPE = re.compile(r"\\(?:u[dD][89a-fA-F][0-9a-fA-F]{2}|\\)")


def _json_for_yaml(text: str) -> str:
    text = text.translate(_JSON_FOR_YAML)
    if "\\u" in text:
        text = _SURROGATE_ESCAPE.sub(lambda m: m.group() if m.group() == "\\\\" else "\\u0020", text)
    return text


def _compose_positions(text: str, file: str, data: Any) -> tuple[dict[JsonPath, tuple[int, int]], set[JsonPath]]:
    """Positions (and quoted strings) of the JSON ``text`` that ``json`` read as ``data``, read
    by the YAML composer. Keys are taken from ``data`` (mappings keep the order of the text and
    have no duplicate), since the text YAML reads has some characters blanked."""
    loader = _Loader(_json_for_yaml(text))
    try:
        node = loader.get_single_node()
        positions: dict[JsonPath, tuple[int, int]] = {}
        quoted: set[JsonPath] = set()
        stack: list[tuple[yaml.Node, Any, JsonPath]] = [(node, data, ())] if node is not None else []
        while stack:
            n, value, path = stack.pop()
            positions[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
            if isinstance(n, yaml.MappingNode) and isinstance(value, dict) and len(n.value) == len(value):
                stack.extend((v, value[key], (*path, key)) for (_k, v), key in zip(n.value, value, strict=True))
            elif isinstance(n, yaml.SequenceNode) and isinstance(value, list) and len(n.value) == len(value):
                stack.extend((item, value[i], (*path, i)) for i, item in enumerate(n.value))
            elif isinstance(n, yaml.ScalarNode) and n.style == '"':
                quoted.add(path)
        return positions, quoted
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


# ---------------------------------------------------------------------------------------------
# a character of a scalar -> where it is written


_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a line break
_JSON_BREAK = re.compile(r"\r\n|[\r\n]")
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
            "L": "\u2028", "P": "\u2029"}
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}


def locate_in_scalar(loc: Location, value: str, offset: int) -> Location:
    """Where character ``offset`` of the text ``value`` (a scalar starting at ``loc``) is written;
    ``offset == len(value)``: just after its last character.

    Quotes, escapes (``''``, ``\\"``, ``\\x41``), lines folded into one and block scalars make
    the written text differ from the value, so the file is read again (only for an error) and
    matched to the value character by character. When they cannot be matched (the file has
    changed since, an unusual form), only the line where the scalar starts is given.
    """
    if loc.line is None or loc.column is None:
        return loc
    line_only = Location(loc.file, loc.line)
    try:
        text = Path(loc.file).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return line_only
    breaks = _JSON_BREAK if loc.file.lower().endswith(".json") else _BREAK  # see _json_for_yaml
    starts = [0, *(m.end() for m in breaks.finditer(text))]
    if loc.line > len(starts) or not 0 <= offset <= len(value):
        return line_only
    spots = _align(text, starts[loc.line - 1] + loc.column - 1, value)
    if spots is None:
        return line_only
    index = spots[offset]
    line = bisect_right(starts, index)
    return Location(loc.file, line, index - starts[line - 1] + 1)


def _align(text: str, i: int, value: str) -> list[int] | None:
    """The index in ``text`` of each character of ``value``, whose scalar starts at ``i``, plus
    the index just after the last one; None when the text does not spell the value."""
    n = len(text)
    while i < n and text[i] in "&!":  # an anchor or a tag before the scalar
        while i < n and not text[i].isspace():
            i += 1
        while i < n and text[i].isspace():
            i += 1
    if i >= n:
        return None
    style = text[i] if text[i] in "\"'|>" else ""
    if style in ('"', "'"):
        i += 1
    elif style:  # a block scalar: its text starts on the line after the indicator
        found = _BREAK.search(text, i)
        if found is None:
            return None
        i = found.end()
    flow = style not in ("|", ">")  # a line of a flow scalar starts with indentation, never content
    spots: list[int] = []
    want_at = 0
    while want_at < len(value):
        if i >= n:
            return None
        char, want = text[i], value[want_at]
        if style == '"' and char == "\\":
            decoded, width = _escape(text, i)
            if decoded is None or (decoded and decoded != want):
                return None
            if decoded:
                spots.append(i)
                want_at += 1
            i += width
            if not decoded:  # an escaped line break: the next line's indentation goes too
                i = _skip_blanks(text, i)
            continue
        if style == "'" and char == "'":
            if want != "'" or not text.startswith("''", i):
                return None
            spots.append(i)
            want_at += 1
            i += 2
            continue
        if style == '"' and char == '"':
            return None
        if char == want:
            spots.append(i)
            want_at += 1
            i += 1
            continue
        brk = _BREAK.match(text, i)
        if brk is not None:  # a line break: kept or folded into a space, or dropped
            if want in " \n":
                spots.append(i)
                want_at += 1
            i = _skip_blanks(text, brk.end()) if flow else brk.end()
        elif char in " \t":  # indentation, or spaces folded away
            i += 1
        else:
            return None
    spots.append(i)
    return spots


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _escape(text: str, i: int) -> tuple[str | None, int]:
    """A double-quoted escape at ``text[i]`` (a backslash) -> (its character, its width);
    ("", width) for an escaped line break; (None, 0) when it is not an escape."""
    brk = _BREAK.match(text, i + 1)
    if brk is not None:
        return "", brk.end() - i
    code = text[i + 1 : i + 2]
    if code in _ESCAPES:
        return _ESCAPES[code], 2
    if code in _HEX_DIGITS:
        width = 2 + _HEX_DIGITS[code]
        try:
            point = int(text[i + 2 : i + width], 16)
        except ValueError:
            return None, 0
        if 0xD800 <= point < 0xDC00 and text[i + width : i + width + 2] == "\\u":  # a JSON surrogate pair
            try:
                low = int(text[i + width + 2 : i + width + 6], 16)
            except ValueError:
                return None, 0
            if 0xDC00 <= low < 0xE000:
                return chr(0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00)), width + 6
        return chr(point), width
    return None, 0
