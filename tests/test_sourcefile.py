"""Reading YAML/JSON documents (``playbook.sourcefile``): merge keys, nesting limits, positions
composed only when needed, and columns of characters inside quoted, escaped or folded scalars."""

from __future__ import annotations

import json
import string
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook import sourcefile
from playbook.errors import Location, PlaybookError
from playbook.sourcefile import (
    MAX_DEPTH,
    iter_json_paths,
    locate_in_scalar,
    parse_text,
    read_document,
)


def yaml_doc(text: str, name: str = "doc.yaml") -> sourcefile.SourceDoc:
    return parse_text(textwrap.dedent(text).lstrip("\n"), name)


# ---------------------------------------------------------------------------------------------
# merge keys


def test_an_explicit_key_overrides_a_merged_one_and_keeps_its_position() -> None:
    doc = yaml_doc("""
        base: &base {a: 1, b: 2}
        child:
          <<: *base
          b: 3
        """)
    assert doc.data["child"] == {"a": 1, "b": 3}
    assert doc.locate(("child", "b")) == Location("doc.yaml", 4, 6)  # the written value
    assert doc.locate(("child", "a")) == Location("doc.yaml", 1, 17)  # merged: where the anchor wrote it
    assert "<<" not in doc.data["child"]


def test_of_several_merged_mappings_the_first_wins() -> None:
    doc = yaml_doc("""
        a: &a {k: from-a, only_a: 1}
        b: &b {k: from-b, only_b: 2}
        c: {<<: [*a, *b], own: 3}
        """)
    assert doc.data["c"] == {"k": "from-a", "only_a": 1, "only_b": 2, "own": 3}


def test_merges_of_merges_apply_their_own_overrides() -> None:
    doc = yaml_doc("""
        a: &a {x: 1, y: 1}
        b: &b {<<: *a, y: 2}
        c: {<<: *b, z: 3}
        """)
    assert doc.data["b"] == {"x": 1, "y": 2}
    assert doc.data["c"] == {"x": 1, "y": 2, "z": 3}
    assert doc.data["a"] == {"x": 1, "y": 1}  # merging never changes the anchored mapping


def test_a_key_written_twice_is_still_a_duplicate_next_to_a_merge() -> None:
    with pytest.raises(PlaybookError) as err:
        yaml_doc("""
            base: &base {a: 1}
            child:
              <<: *base
              a: 2
              a: 3
            """)
    assert str(err.value.problems[0]).startswith("doc.yaml:5:3: duplicate key 'a'")


@pytest.mark.parametrize("value", ["1", "[1, 2]", "[{a: 1}, 2]"])
def test_a_merge_of_something_else_than_mappings_is_a_located_error(value: str) -> None:
    with pytest.raises(PlaybookError, match=r"doc\.yaml:2:\d+: a merge key `<<` needs a mapping"):
        yaml_doc(f"""
            x: 0
            child: {{<<: {value}, b: 1}}
            """)


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    assert yaml_doc('a: {"<<": 1, b: 2}\n').data == {"a": {"<<": 1, "b": 2}}


def test_a_merge_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sourcefile, "MAX_NODES", 20_000)
    lines = ["a0: &a0 {k0: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: 1}}" for i in range(1, 400)]
    with pytest.raises(PlaybookError, match="too large"):
        parse_text("\n".join(lines) + "\n", "bomb.yaml")


# ---------------------------------------------------------------------------------------------
# nesting


def nested_yaml(levels: int) -> str:
    return "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


def test_yaml_nests_up_to_the_limit() -> None:
    doc = parse_text(nested_yaml(MAX_DEPTH), "ok.yaml")
    depth, value = 2, doc.data["a"]  # the top mapping is level 1, its list level 2
    while value:
        depth, value = depth + 1, value[0]
    assert depth == MAX_DEPTH


@pytest.mark.parametrize(("text", "where"), [
    (nested_yaml(MAX_DEPTH + 1), f"deep.yaml:1:{MAX_DEPTH + 3}"),  # the first '[' too deep
    ("- " * (MAX_DEPTH + 1) + "x\n", f"deep.yaml:1:{2 * MAX_DEPTH + 1}"),  # block sequences on one line
    ("\n".join("  " * i + f"k{i}:" for i in range(MAX_DEPTH + 1)) + " 1\n", f"deep.yaml:{MAX_DEPTH + 1}:"),
])
def test_yaml_nested_past_the_limit_is_refused_where_it_goes_too_deep(text: str, where: str) -> None:
    with pytest.raises(PlaybookError) as err:
        parse_text(text, "deep.yaml")
    problem = str(err.value.problems[0])
    assert problem.startswith(where) and f"nested too deeply (more than {MAX_DEPTH} levels" in problem


def test_small_yaml_skips_the_event_scan_and_is_still_refused_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned = []
    monkeypatch.setattr(sourcefile, "_check_yaml_depth", lambda text, file: scanned.append(file))
    with pytest.raises(PlaybookError, match=r"small\.yaml:1:\d+: nested too deeply"):
        parse_text(nested_yaml(MAX_DEPTH + 1), "small.yaml")  # ~260 indicators: composing is safe
    assert scanned == []
    parse_text("x: [" + ", ".join(["{a: 1}"] * 600) + "]\n", "big.yaml")  # may nest deep: scanned
    assert scanned == ["big.yaml"]


def test_aliases_cannot_nest_past_the_limit() -> None:
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, MAX_DEPTH + 5)]
    with pytest.raises(PlaybookError, match="nested too deeply"):
        parse_text("\n".join(lines) + "\n", "alias.yaml")


def test_a_hundred_thousand_levels_of_yaml_are_refused_quickly() -> None:
    with pytest.raises(PlaybookError, match=r"huge\.yaml:1:\d+: nested too deeply"):
        parse_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "huge.yaml")


@pytest.mark.parametrize(("levels", "ok"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False), (5_000, False)])
def test_json_nests_up_to_the_same_limit(levels: int, ok: bool) -> None:
    text = '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"
    if ok:
        assert parse_text(text, "ok.json").data["a"] == json.loads(text)["a"]
        return
    with pytest.raises(PlaybookError) as err:
        parse_text(text, "deep.json")
    assert str(err.value.problems[0]).startswith("deep.json: nested too deeply")


def test_json_depth_counts_mappings_and_lists_alike() -> None:
    deep: Any = 1
    for i in range(MAX_DEPTH):
        deep = {"k": deep} if i % 2 else [deep]
    assert sourcefile._deeper_than(deep, MAX_DEPTH) is False
    assert sourcefile._deeper_than([deep], MAX_DEPTH) is True
    assert sourcefile._deeper_than("text", 0) is False


# ---------------------------------------------------------------------------------------------
# JSON positions: composed only when asked for


def test_json_positions_are_composed_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    compose = sourcefile._compose_positions
    monkeypatch.setattr(sourcefile, "_compose_positions",
                        lambda text, file, data: calls.append(file) or compose(text, file, data))
    doc = parse_text('{\n  "a": {"b": [1, "x"]},\n  "c": "d"\n}\n', "case.json")
    assert doc.data == {"a": {"b": [1, "x"]}, "c": "d"} and calls == []
    assert doc.locate(("a", "b", 1)) == Location("case.json", 2, 18)
    assert doc.locate(("c", "nope")) == Location("case.json", 3, 8)
    assert doc.quoted == {("a", "b", 1), ("c",)}
    assert calls == ["case.json"]  # once


def test_json_that_yaml_cannot_read_is_located_at_the_file() -> None:
    doc = parse_text('{"k' + "x" * 1100 + '": 1}', "long-key.json")  # YAML keys stop at 1024 chars
    assert doc.data and doc.locate(("kx",)) == Location("long-key.json")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20), ascii_only=st.booleans(), indent=st.sampled_from([None, 1, "\t"]))
def test_every_value_of_any_json_document_is_located(value: Any, ascii_only: bool, indent: Any) -> None:
    """Tabs, emoji written as surrogate escapes, control and line-separator characters: JSON that
    YAML 1.1 cannot read as written is still located, value by value."""
    text = json.dumps({"v": value}, ensure_ascii=ascii_only, indent=indent)
    doc = parse_text(text, "any.json")
    assert doc.data == {"v": value}
    assert set(doc.positions) == {path for path, _ in iter_json_paths(doc.data)}


# ---------------------------------------------------------------------------------------------
# the character of a scalar -> where it is written


def where_is(tmp_path: Path, text: str, path: tuple[Any, ...], needle: str, *,
             name: str = "s.yaml") -> tuple[Location, Location]:
    """(located by locate_in_scalar, the true place) of ``needle`` in the value at ``path``."""
    file = tmp_path / name
    file.write_bytes(text.encode("utf-8"))
    doc = read_document(file)
    value = doc.data
    for part in path:
        value = value[part]
    got = locate_in_scalar(doc.locate(path), value, value.index(needle))
    lines = text.replace("\r\n", "\n").split("\n")
    line = next(i for i, line in enumerate(lines, 1) if needle in line)
    return got, Location(str(file), line, lines[line - 1].index(needle) + 1)


@pytest.mark.parametrize("scalar", [
    "plain foo",
    "'it''s foo'",
    '"tab\\tand \\"q\\" and \\x41\\u00e9\\U0001F600 foo"',
    '"folded\n   over lines foo"',
    "'folded\n\n   with a blank foo'",
    '"escaped \\\n   break foo"',
    "plain folded\n  over foo",
    ">-\n  folded block\n  foo",
    "|\n  literal\n    more foo\n",
    "&anchor !!str 'tagged foo'",
    "'中文😀 foo'",
])
def test_a_character_is_located_through_quotes_escapes_and_folds(tmp_path: Path, scalar: str) -> None:
    got, true = where_is(tmp_path, f"pad: 中文\nkey: {scalar}\n", ("key",), "foo")
    assert got == true


def test_a_character_is_located_in_json_with_crlf_and_surrogates(tmp_path: Path) -> None:
    text = '{"x": 1,\r\n\t"key": "\\ud83d\\ude00 \\"q\\" \\/ foo"}\r\n'
    got, true = where_is(tmp_path, text, ("key",), "foo", name="s.json")
    assert got == true


def test_the_end_of_a_scalar_is_just_after_its_last_character(tmp_path: Path) -> None:
    file = tmp_path / "e.yaml"
    file.write_text("key: 'x == '\n", encoding="utf-8")
    doc = read_document(file)
    assert locate_in_scalar(doc.locate(("key",)), "x == ", 5) == Location(str(file), 1, 12)  # the closing quote


@pytest.mark.parametrize("change", [
    lambda f: f.write_text("key: 'something else entirely'\n", encoding="utf-8"),
    lambda f: f.unlink(),
])
def test_when_the_text_cannot_be_matched_only_the_line_is_given(tmp_path: Path, change: Any) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("\nkey: 'x == foo'\n", encoding="utf-8")
    doc = read_document(file)
    change(file)
    assert locate_in_scalar(doc.locate(("key",)), "x == foo", 5) == Location(str(file), 2)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(alphabet=string.ascii_letters + string.digits + " '\"\\\t\n#:-é中😀", min_size=1, max_size=40),
       width=st.integers(min_value=10, max_value=60), style=st.sampled_from([None, "'", '"', "|", ">"]))
def test_every_character_of_any_dumped_scalar_is_located(tmp_path: Path, value: str, width: int,
                                                         style: str | None) -> None:
    """Whatever quoting, escaping and folding the YAML writer chose, each non-space character
    of the value is located on the character written for it (or the line, never a wrong place)."""
    import yaml

    text = yaml.safe_dump({"k": value}, default_style=style, width=width, allow_unicode=True)
    file = tmp_path / "h.yaml"
    file.write_text(text, encoding="utf-8")
    doc = read_document(file)
    if doc.data != {"k": value}:  # the writer's own round trip (trailing spaces in blocks …)
        return
    lines = text.split("\n")
    start = doc.locate(("k",))
    for offset, char in enumerate(value):
        got = locate_in_scalar(start, value, offset)
        assert got.line is not None
        if got.column is None or char.isspace():
            continue
        written = lines[got.line - 1][got.column - 1]
        assert written == char or written == "\\", (text, offset, got)  # or the escape written for it


def test_chained_merge_keys_are_refused_early_not_expanded_quadratically() -> None:
    """3,000 mappings each merging the previous copy ~4.5 million keys: refused at the cap on
    merged keys (it took ~10 s and 600 MB before reaching the value cap)."""
    from playbook.errors import PlaybookError
    from playbook.sourcefile import MAX_MERGED, parse_text

    lines = ["a0: &a0 {k0: 1}"] + [f"a{i}: &a{i}\n  <<: *a{i - 1}\n  k{i}: {i}" for i in range(1, 3000)]
    with pytest.raises(PlaybookError, match=f"more than {MAX_MERGED} keys") as caught:
        parse_text("\n".join(lines), "bomb.yaml")
    assert caught.value.problems[0].location.line is not None
    small = parse_text("\n".join(lines[:50]), "fine.yaml").data  # a reasonable chain is fine
    assert small["a49"]["k0"] == 1 and small["a49"]["k49"] == 49
