"""The fast paths of run mode give exactly what the plain code gives.

Each fast path is compared with the code it stands for, on generated input (hypothesis):
  * ``report.json_texts`` (one walk) with ``_json_safe(resolve_texts(...))`` (two walks),
    on JSON-like values with NaN, sets, tuples, keys that are not strings, bilingual texts,
    subclasses and nesting beyond the depth limit;
  * ``events.event_from_mapping`` (a well-formed 'facts' event checked at a glance) with the
    full field-by-field validation -- the same event, or the same error message;
  * ``events.merge_facts`` with the RFC 7396 merge of ``jsonio.canonical(patch)`` as it was
    written before (kept below as the reference);
  * the ``template`` action prepared at load with the regular-expression fill it replaced.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import json
import math
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.builtin.actions import (
    _PLACEHOLDER,
    PreparedTemplate,
    _display,
    _parse_path,
    _prepare_template,
    checklist,
    fill,
    template,
)
from playbook.criteria.runtime import format_path, resolve_path
from playbook.report import _json_safe, json_texts
from playbook.runtime import events
from playbook.runtime.events import (
    EventFormatError,
    _validated_event,
    event_from_mapping,
    merge_facts,
    parse_when,
)
from playbook.store.jsonio import canonical
from playbook.text import LANGUAGES, is_text, resolve_texts, tr

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- exact comparison: types, key order, NaN -------------------------------------------------


def typed(value: Any) -> Any:
    """A value spelled out with the type of every part and the order of every object's keys."""
    if isinstance(value, dict):
        return (type(value).__name__, [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return (type(value).__name__, "nan")
    return (type(value).__name__, repr(value))


# -- json_texts == _json_safe(resolve_texts(...)) ------------------------------------------


class Colour(enum.IntEnum):
    RED = 1


class Tag(str):
    pass


class Num(float):
    pass


class Items(list):  # type: ignore[type-arg]
    pass


class Thing:
    def __str__(self) -> str:
        return "<thing>"


texts = st.dictionaries(st.sampled_from(["en", "zh"]), st.text(max_size=4), min_size=1)
near_texts = st.one_of(
    st.just({}),
    st.dictionaries(st.sampled_from(["en", "zh", "fr"]), st.text(max_size=3), min_size=1),
    st.fixed_dictionaries({"en": st.integers(0, 3)}),
    st.fixed_dictionaries({"en": st.text(max_size=2), "zh": st.none()}),
)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**64, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
    st.just(Colour.RED), st.builds(Tag, st.text(max_size=3)), st.sampled_from([Num("nan"), Num(1.5), Num("-inf")]),
    st.frozensets(st.integers(0, 3), max_size=2), st.sets(st.text(max_size=2), max_size=2),
    st.just(dt.date(2026, 3, 1)), st.just(decimal.Decimal("1.10")), st.builds(Thing),
    texts, near_texts,
)
keys = st.one_of(st.text(max_size=3), st.sampled_from(["en", "zh", "1"]), st.integers(-2, 2), st.none(),
                 st.booleans(), st.tuples(st.integers(0, 2)), st.floats(allow_nan=False, allow_infinity=False))


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.lists(children, max_size=3).map(Items),
        st.dictionaries(st.text(max_size=2), children, max_size=3).map(OrderedDict),
    )


json_like = st.recursive(leaves, containers, max_leaves=40)


def nest(value: Any, levels: list[int]) -> Any:
    """``value`` wrapped in a list (0), a dict (1) or a tuple (2) per level."""
    for kind in levels:
        value = [value] if kind == 0 else ({"k": value, "n": 1} if kind == 1 else (value,))
    return value


def two_walks(value: Any, lang: str) -> Any:
    return _json_safe(resolve_texts(value, lang))


@SETTINGS
@given(json_like, st.sampled_from(["en", "zh", "fr"]))
def test_json_texts_is_the_two_walks_in_one(value: Any, lang: str) -> None:
    before = typed(value)
    assert typed(json_texts(value, lang)) == typed(two_walks(value, lang))
    assert typed(value) == before  # not modified


@SETTINGS
@given(json_like, st.lists(st.integers(0, 2), min_size=44, max_size=58), st.sampled_from(["en", "zh"]),
       st.sampled_from([None, math.nan, {1: "x"}, "plain"]))
def test_json_texts_beyond_the_depth_limit(value: Any, levels: list[int], lang: str, sibling: Any) -> None:
    # a sibling at the top decides whether the whole value is strict JSON -- which changes what
    # becomes of a scalar past depth 50 in the two walks
    deep = {"deep": nest(value, levels), "sibling": sibling}
    assert typed(json_texts(deep, lang)) == typed(two_walks(deep, lang))


@pytest.mark.parametrize("depth", range(46, 56))
@pytest.mark.parametrize("sibling", [1, math.nan])
@pytest.mark.parametrize("bottom", [7, {"en": "deep", "zh": "深"}, [], {}, math.inf])
@pytest.mark.parametrize("innermost", [0, 1])  # the container around the bottom: a list or a dict
def test_json_texts_at_each_depth_around_the_limit(depth: int, sibling: Any, bottom: Any, innermost: int) -> None:
    deep = [nest(bottom, [(innermost + i) % 2 for i in range(depth)]), sibling]
    for lang in LANGUAGES:
        assert typed(json_texts(deep, lang)) == typed(two_walks(deep, lang))


def test_json_texts_resolves_texts_and_replaces_what_json_cannot_hold() -> None:
    output = {"items": [{"id": "a", "text": {"en": "Call", "zh": "致电"}, "done": True}],
              "score": math.nan, "tags": {"x"}, 1: ({"en": "kept as is in a tuple"},), "when": dt.date(2026, 3, 1)}
    assert json_texts(output, "zh") == {"items": [{"id": "a", "text": "致电", "done": True}], "score": "nan",
                                        "tags": "{'x'}", "1": [{"en": "kept as is in a tuple"}],
                                        "when": "2026-03-01"}
    assert json.loads(json.dumps(json_texts(output, "en"), allow_nan=False))["items"][0]["text"] == "Call"
    assert json_texts({"fr": "x", "en": "y"}, "zh") == {"fr": "x", "en": "y"}  # not a text: a dict
    assert json_texts({"zh": "只有中文"}, "en") == "只有中文"  # tr's fallback to any language given


def test_is_text_and_tr_are_what_json_texts_inlines() -> None:
    for value in ({"en": "a"}, {"zh": "b"}, {"en": "a", "zh": "b"}, {"zh": "b", "en": "a"}, {}, {"en": 1},
                  {"fr": "x"}, OrderedDict(en="a")):
        for lang in ("en", "zh", "fr"):
            want = tr(value, lang) if is_text(value) else two_walks(value, lang)
            assert typed(json_texts(value, lang)) == typed(want)


# -- event_from_mapping: the fast path against the full validation ---------------------------

FIELD_NAMES = ["case", "id", "type", "at", "actor", "stage", "reason", "facts", "to", "waive", "colour"]
FIELD_VALUES = st.one_of(
    st.sampled_from(["acme", "e-1", " ", "", "facts", "advance", "waive", "teleport", "2026-03-01",
                     "2026-03-01T09:30:00+08:00", "2026-03-01T09:30:00Z", "2026-03-01 09:30", "yesterday",
                     "2026-02-30", "prospect"]),
    st.builds(Tag, st.sampled_from(["acme", "facts"])),
    st.none(), st.integers(0, 2), st.booleans(), st.just([]),
    st.dictionaries(st.sampled_from(["x", "id", "stage", "deal"]), st.integers(0, 3), max_size=3),
    st.fixed_dictionaries({"criterion": st.just("budget"), "reason": st.just("ok"), "approver": st.just("li"),
                           "until": st.sampled_from(["2026-12-31", "soon"])}),
)
raw_events = st.dictionaries(st.sampled_from(FIELD_NAMES), FIELD_VALUES, max_size=8)
well_formed = st.fixed_dictionaries(
    {"case": st.text(min_size=1).filter(str.strip), "id": st.text(min_size=1).filter(str.strip),
     "facts": st.dictionaries(st.text(max_size=4), st.integers(), max_size=3)},
    optional={"type": st.just("facts"), "at": st.sampled_from(["2026-03-01", "2026-03-01T09:30:00+08:00"]),
              "actor": st.text(min_size=1).filter(str.strip), "stage": st.text(min_size=1).filter(str.strip),
              "reason": st.text(min_size=1).filter(str.strip)})


# a well-formed event with one field spoiled: each check of the fast path on its own
BAD_VALUES = st.sampled_from([None, "", " ", 1, True, [], {}, {"id": 1}, {"stage": "s"}, "yesterday", "advance",
                              Tag("x"), "2026-02-30"])
spoiled = st.tuples(well_formed, st.sampled_from(FIELD_NAMES), BAD_VALUES).map(lambda t: {**t[0], t[1]: t[2]})


def outcome(fn: Any, raw: Any) -> Any:
    try:
        return ("event", fn(raw, 7))
    except Exception as exc:  # noqa: BLE001 - the comparison is of what is raised
        return (type(exc).__name__, str(exc))


@SETTINGS
@given(st.one_of(raw_events, well_formed, spoiled, well_formed.map(lambda r: {**r, "colour": 1}),
                 st.sampled_from([[], "x", 1, None, OrderedDict(case="a", id="b", facts={})])))
def test_event_from_mapping_is_the_full_validation(raw: Any) -> None:
    assert outcome(event_from_mapping, raw) == outcome(_validated_event, raw)


@SETTINGS
@given(well_formed)
def test_well_formed_facts_events_take_the_fast_path(raw: dict[str, Any]) -> None:
    fast = events._well_formed_facts_event(raw, 3)
    assert fast is not None and fast == _validated_event(raw, 3)
    assert fast.facts is raw["facts"] and fast.type == "facts" and fast.waive == []


@pytest.mark.parametrize(("raw", "message"), [
    ({"case": "a", "id": "1", "facts": {}, "colour": "red"},
     "unknown field(s) for a 'facts' event: colour (allowed: case, id, type, at, actor, stage, reason, facts)"),
    ({"case": " ", "id": "1", "facts": {}}, "`case` must be a non-empty string, got \" \""),
    ({"case": "a", "id": "1", "at": "yesterday", "actor": 5, "facts": {}},
     "`at` must be an ISO date or timestamp (2026-03-01T09:30:00+08:00), got 'yesterday'"),
    ({"case": "a", "id": "1", "actor": 5, "facts": {"stage": "x"}}, "`actor` must be a non-empty string, got 5"),
    ({"case": "a", "id": "1", "facts": {"stage": "x", "id": 1}},
     "`facts` may not set id, stage: run mode manages the case id and stage (use an 'advance' event to move a case)"),
    ({"case": "a", "id": "1", "facts": [1]}, "a 'facts' event needs `facts`: an object of fact changes"),
    ({"case": "a", "id": "1", "facts": {"stage": "x"}},
     "`facts` may not set stage: run mode manages the case id and stage (use an 'advance' event to move a case)"),
    ({"case": "a", "id": "1", "reason": " ", "facts": {}}, "`reason` must be a non-empty string, got \" \""),
    ({"case": "a", "id": "1", "stage": [], "facts": {}}, "`stage` must be a non-empty string, got []"),
])
def test_errors_for_almost_well_formed_facts_events_are_unchanged(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(EventFormatError) as err:
        event_from_mapping(raw)
    assert str(err.value) == message


def test_parse_when_is_cached_and_still_refuses_bad_text_every_time() -> None:
    for text in ("2026-03-01", "2026-03-01T09:30:00+08:00", "2026-03-01T09:30:00Z", "2026-03-01 09:30"):
        assert parse_when(text) == parse_when.__wrapped__(text)
        assert parse_when(text) is parse_when(text)
    for _ in range(2):
        with pytest.raises(ValueError):
            parse_when("yesterday")
    assert event_from_mapping({"case": "a", "id": "1", "at": "2026-03-01T23:30:00-05:00", "facts": {}}).date \
        == dt.date(2026, 3, 1)


@SETTINGS
@given(raw_events)
def test_payload_has_every_field_given(raw: dict[str, Any]) -> None:
    try:
        event = event_from_mapping(raw)
    except EventFormatError:
        return
    want: dict[str, Any] = {"case": event.case, "id": event.id, "type": event.type}
    for key in ("at", "actor", "stage", "reason", "facts", "to"):
        if getattr(event, key) is not None:
            want[key] = getattr(event, key)
    if event.waive:
        want["waive"] = [w.__dict__ for w in event.waive]
    assert json.dumps(event.payload()) == json.dumps(want)


# -- merge_facts against the merge as it was written -----------------------------------------


def reference_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(target)
    added = False
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            continue
        if key not in out:
            added = True
        if isinstance(value, dict):
            base = out.get(key)
            out[key] = reference_merge(base if isinstance(base, dict) else {}, value)
        else:
            out[key] = value
    return {k: out[k] for k in sorted(out)} if added and target else out


fact_keys = st.sampled_from(["a", "b", "c", "z", "é", "深"])
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=3))
json_values = st.recursive(json_leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(fact_keys, c, max_size=4),
                           max_leaves=25)
json_objects = st.dictionaries(fact_keys, json_values, max_size=5)


@SETTINGS
@given(json_objects, json_objects, st.booleans())
def test_merge_facts_is_the_merge_patch_of_the_canonical_patch(target: dict[str, Any], patch: dict[str, Any],
                                                               sorted_target: bool) -> None:
    if sorted_target:
        target = canonical(target)  # as the store gives facts back
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    merged = merge_facts(target, patch)
    assert json.dumps(merged) == json.dumps(reference_merge(target, canonical(patch)))  # key order too
    assert json.dumps(target) == json.dumps(target_before) and json.dumps(patch) == json.dumps(patch_before)
    # the patch is copied (by canonical), never shared: changing the result leaves the event's facts
    for key, value in merged.items():
        if key in patch and isinstance(value, dict):
            value["__probe__"] = 1
        elif key in patch and isinstance(value, list):
            value.append("__probe__")
    assert json.dumps(patch) == json.dumps(patch_before)


def test_merge_facts_drops_nulls_inside_new_objects_and_keeps_them_in_lists() -> None:
    patch = {"new": {"b": None, "a": {"y": None, "x": 1}, "l": [{"n": None}]}, "gone": None}
    assert merge_facts({"gone": 1, "keep": 2}, patch) == {"keep": 2, "new": {"a": {"x": 1}, "l": [{"n": None}]}}
    assert list(merge_facts({}, {"b": {"d": 1, "c": None, "a": 2}})["b"]) == ["a", "d"]


def test_merge_facts_of_values_json_cannot_hold_goes_through_canonical() -> None:
    for patch in ({"when": dt.date(2026, 3, 1), "t": (1, 2), "x": {"n": math.nan}}, {"n": {2: "two", 1: "one"}}):
        want = reference_merge({"a": 1, "x": {"n": 1}}, canonical(patch))
        assert json.dumps(merge_facts({"a": 1, "x": {"n": 1}}, patch)) == json.dumps(want)


# -- actions -----------------------------------------------------------------------------------

FACTS = {"account": {"name": "Acme", "tags": ["a", "b"], "vip": True, "title": {"en": "Mr", "zh": "先生"}},
         "deals": [{"amount": 5}], "none": None}
template_texts = st.lists(st.sampled_from(["Dear ", "{account.name}", "{account.tags}", "{account.vip}",
                                           "{account.title}", "{deals[0].amount}", "{deals[3].amount}",
                                           "{missing.x}", "{none}", "{ bad }", "{", "}", "{{account.name}}",
                                           "{account.name.first}", "。", "{score}"]), max_size=8).map("".join)


def regex_fill(text: str, facts: dict[str, Any], derived: dict[str, Any], lang: str) -> str:
    """How templates were filled before they were prepared at load (the reference)."""

    def sub(match: Any) -> str:
        path = _parse_path(match.group(1))
        try:
            value = resolve_path(facts, derived, path)
        except (KeyError, IndexError, TypeError):
            return "{?" + format_path(path) + "}"
        return _display(value, lang)

    return _PLACEHOLDER.sub(sub, text)


@SETTINGS
@given(st.one_of(template_texts, st.fixed_dictionaries({"en": template_texts}, optional={"zh": template_texts})))
def test_prepared_template_fills_as_the_regular_expression_did(text: Any) -> None:
    derived = {"score": 3}
    texts = text if is_text(text) else dict.fromkeys(LANGUAGES, text)
    want = {"text": {lang: regex_fill(tr(texts, lang), FACTS, derived, lang) for lang in LANGUAGES}}
    assert {lang: fill(tr(texts, lang), FACTS, derived, lang) for lang in LANGUAGES} == want["text"]
    prepared = _prepare_template({"text": text})
    assert isinstance(prepared, PreparedTemplate)
    assert template(prepared, FACTS, derived, None) == want
    assert template({"text": text}, FACTS, derived, None) == want  # unprepared params still work


def test_checklist_counts_the_items_done() -> None:
    def boom(*_: Any) -> Any:
        raise KeyError("x")

    items = [{"id": "a", "text": "A", "done": lambda *_: 1}, {"id": "b", "text": "B", "done": None},
             {"id": "c", "text": "C", "done": boom}, {"id": "d", "text": "D", "done": lambda *_: []}]
    out = checklist(items, {}, {}, None)
    assert out == {"items": [{"id": "a", "text": "A", "done": True}, {"id": "b", "text": "B", "done": None},
                             {"id": "c", "text": "C", "done": False}, {"id": "d", "text": "D", "done": False}],
                   "done": 1, "total": 4}


def test_an_action_output_that_is_cyclic_is_an_error_of_the_action_not_a_crash() -> None:
    from types import SimpleNamespace

    from playbook.report import run_actions

    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    action = SimpleNamespace(id="loop", do="plugin.loop", on="enter", when=None, title="Loop", params={},
                             func=lambda *_: cyclic)
    stage = SimpleNamespace(id="s", actions=[action])
    result = SimpleNamespace(playbook=SimpleNamespace(stages=[stage]), current=0, facts={}, derived={}, ctx=None)
    errors: list[str] = []
    out = run_actions(result, "en", errors)  # type: ignore[arg-type]
    assert [a["id"] for a in out] == ["loop"] and "output" not in out[0]
    assert len(errors) == 1 and "loop" in errors[0] and "cyclic" in errors[0]
