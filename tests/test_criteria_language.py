"""The criteria language, feature by feature (docs/playbook-format.md, "The criteria language")."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from playbook.criteria import EvalContext, compile_expression
from playbook.criteria.runtime import MISSING
from playbook.engine import evaluate
from playbook.errors import CriteriaSyntaxError, PlaybookError

CTX = EvalContext(dt.date(2026, 3, 1))

FACTS: dict[str, Any] = {
    "account": {"name": "Acme", "tier": "core", "is_target": True, "revenue": 1200,
                "profile": {"industry": "energy"}, "nothing": None, "region": "East"},
    "opportunity": {"amount": 150000, "budget_confirmed": True, "close_date": "2026-03-31",
                    "grade": "B", "discount": 0.1},
    "stakeholders": [
        {"name": "Chen", "role": "decision_maker", "attitude": "support", "score": 3},
        {"name": "Li", "role": "user", "attitude": "neutral", "score": 1},
        {"name": "Wu", "role": "decision_maker", "attitude": "against"},
    ],
    "tags": ["vip", "energy"],
    "last_visit": {"date": "2026-02-19"},
    "projects": [
        {"name": "p1", "budget": 10, "tasks": [{"done": True}, {"done": False}]},
        {"name": "p2", "tasks": [{"done": True}, {"budget": 99}]},
    ],
    "meeting": {"from": "2026-01-01", "class": "x"},
    "budget": 5,
}
DERIVED: dict[str, Any] = {"man": {"class": "M+A+N", "money": True}, "project_value": {"grade": "A"}}


@pytest.fixture(scope="module")
def functions() -> dict[str, Any]:
    from playbook.plugins import build_registry, create_plugin_manager

    return build_registry(create_plugin_manager(entry_points=False)).functions


@pytest.fixture
def ev(functions):
    def run(text: str, facts: dict[str, Any] | None = None, derived: dict[str, Any] | None = None,
            ctx: EvalContext = CTX) -> Any:
        expr = compile_expression(text, functions)
        return expr.fn(FACTS if facts is None else facts, DERIVED if derived is None else derived, ctx)

    return run


def syntax_error(functions, text: str) -> CriteriaSyntaxError:
    with pytest.raises(CriteriaSyntaxError) as info:
        compile_expression(text, functions)
    return info.value


@pytest.mark.parametrize(("text", "expected"), [
    # dotted paths and list indexes
    ("account.name", "Acme"),
    ("account.profile.industry", "energy"),
    ("stakeholders[0].name", "Chen"),
    ("stakeholders[2].role", "decision_maker"),
    ("stakeholders[-1].name", "Wu"),
    ("account['tier']", "core"),
    ("projects[1].tasks[1].budget", 99),
    # literals
    ("100000", 100000), ("0.5", 0.5), ('"text"', "text"), ("'text'", "text"),
    ("true", True), ("false", False), ("null", None), ("True", True), ("False", False), ("None", None),
    ('["A", "B"]', ["A", "B"]),
    # comparisons and chains
    ("opportunity.amount == 150000", True), ("opportunity.amount != 150000", False),
    ("opportunity.amount < 150000", False), ("opportunity.amount <= 150000", True),
    ("opportunity.amount > 100000", True), ("opportunity.amount >= 150001", False),
    ("1 <= budget <= 5", True), ("1 <= budget < 5", False), ("0 < 1 < budget < 10", True),
    ("account.nothing == null", True), ("account.name != null", True),
    # boolean logic
    ("account.is_target and opportunity.budget_confirmed", True),
    ("account.is_target and not opportunity.budget_confirmed", False),
    ("false or budget == 5", True), ("not false", True), ("not (budget > 3)", False),
    ("false or 0 or 'x'", "x"),
    # membership
    ('opportunity.grade in ["A", "B"]', True), ('opportunity.grade in ["A"]', True is False),
    ('opportunity.grade not in ["A", "C"]', True), ('"vip" in tags', True), ('"cfo" not in tags', True),
    ("'erg' in account.profile.industry", True),
    # arithmetic
    ("budget + 2", 7), ("budget - 7", -2), ("budget * 3", 15), ("budget / 2", 2.5), ("budget // 2", 2),
    ("budget % 3", 2), ("budget ** 2", 25), ("2 ** -1", 0.5), ("-budget", -5), ("+budget", 5),
    ("opportunity.amount * opportunity.discount", 15000.0), ("'ab' + 'cd'", "abcd"), ("'ab' * 2", "abab"),
    ("[1] + [2]", [1, 2]), ("(budget + 1) * 2 == 12", True),
    # conditional expression
    ("'big' if opportunity.amount > 100000 else 'small'", "big"),
    ("'big' if opportunity.amount > 200000 else 'small'", "small"),
    # exists
    ("exists(account.name)", True), ("exists(account.nothing)", False), ("exists(account.nope)", False),
    ("exists(nope.deeper.still)", False), ("exists(stakeholders[5].name)", False),
    ("exists(stakeholders[1].score)", True), ("exists(account.name.first)", False),
    # keywords as field names
    ("meeting.from", "2026-01-01"), ("meeting.class == 'x'", True),
    ("derived.man.class", "M+A+N"), ('derived.man.class == "M+A+N"', True),
    ('derived.project_value.grade in ["A", "B"]', True), ("derived.man.money", True),
])
def test_expression_values(ev, text, expected):
    assert ev(text) == expected
    assert type(ev(text)) is type(expected)


@pytest.mark.parametrize(("text", "expected"), [
    ("count(stakeholders, role == 'decision_maker')", 2),
    ("count(stakeholders, role == 'decision_maker' and attitude == 'support')", 1),
    ("count(stakeholders, score > 0)", 2),  # Wu has no score: does not match
    ("count(stakeholders, score > 0 or role == 'decision_maker')", 3),
    ("count(stakeholders, not (score > 2))", 1),  # Li; Wu lacks score and does not match
    ("any(stakeholders, attitude == 'against')", True),
    ("any(stakeholders, attitude == 'hostile')", False),
    ("all(stakeholders, exists(name))", True),
    ("all(stakeholders, score >= 1)", False),  # Wu lacks the field
    ("sum(stakeholders, score)", 4),  # items lacking score are skipped, never counted as 0
    ("min_of(stakeholders, score)", 1),
    ("max_of(stakeholders, score)", 3),
    ("any(tags, it == 'vip')", True),
    ("count(tags, it != 'vip')", 1),
    ("count(tags)", 2), ("any(tags)", True), ("all([1, 0])", False), ("sum([1, 2, 3])", 6),
    # names resolve against the item first, then the case
    ("count(stakeholders, budget == 5)", 3),
    ("count(projects, budget == 10)", 1),  # p1's own budget wins over the case's budget (5)
    # nested: innermost item, then the enclosing item, then the case
    ("count(projects, count(tasks, done) == 1)", 2),
    ("any(projects, any(tasks, budget == 99))", True),
    ("count(projects, any(tasks, budget == 10))", 1),  # p1's budget through the enclosing item
    ("count(projects, any(tasks, name == 'p2'))", 1),
    ("sum(projects, count(tasks, done))", 2),
    ("any(projects, any(tasks, it == it and done == true))", True),
])
def test_list_forms(ev, text, expected):
    assert ev(text) == expected


def test_item_lacking_field_falls_back_to_case_then_fails(ev):
    facts = {"items": [{"x": 1}, {"y": 2}], "x": 1}
    assert ev("count(items, x == 1)", facts) == 2  # second item: the case's x
    assert ev("count(items, x == 1)", {"items": [{"x": 1}, {"y": 2}]}) == 1
    assert ev("count(items, x == 1)", {"items": [{"x": 1}, "text", 3, None]}) == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("len(stakeholders)", 3), ("len(account.name)", 4), ("len(account.profile)", 1),
    ("min(3, 1, 2)", 1), ("max(3, 1, 2)", 3), ("min([4, 2])", 2), ("max(tags)", "vip"),
    ("abs(-4)", 4), ("abs(2.5)", 2.5), ("round(2.567, 2)", 2.57), ("round(2.5)", 2), ("round(1234, -2)", 1200),
    ("lower(account.region)", "east"), ("upper(account.region)", "EAST"),
    ("number('1,200.5')", 1200.5), ("number('42')", 42), ("number(7)", 7),
    ("coalesce(account.nothing, 'x')", "x"), ("coalesce(account.nope, account.name)", "Acme"),
    ("coalesce(1, 2)", 1),
])
def test_standard_functions(ev, text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("today()", "2026-03-01"),
    ("date('2026-01-31')", "2026-01-31"),
    ("date('2026-01-31T23:10:00')", "2026-01-31"),
    ("date('2026-01-31T23:10:00Z')", "2026-01-31"),
    ("days_since(last_visit.date)", 10),
    ("days_since(last_visit.date) <= 30", True),
    ("days_until(opportunity.close_date)", 30),
    ("days_until('2026-02-28')", -1),
    ("days_between('2026-01-01', '2026-01-31')", 30),
    ("days_between(meeting.from, today())", 59),
    ("today() > '2026-02-28'", True),  # ISO dates compare as text
])
def test_date_functions_with_pinned_date(ev, text, expected):
    assert ev(text) == expected


def test_today_follows_the_context(ev):
    assert ev("days_since('2026-01-01')", ctx=EvalContext(dt.date(2026, 1, 11))) == 10
    assert ev("today()", ctx=EvalContext(dt.date(2030, 12, 31))) == "2030-12-31"


def test_paths_are_recorded(functions):
    expr = compile_expression(
        "opportunity.amount > 1 and count(stakeholders, role == 'x') > 0 and derived.man.class == 'M'",
        functions)
    assert ("opportunity", "amount") in expr.paths
    assert ("stakeholders",) in expr.paths
    assert ("derived", "man", "class") in expr.paths
    assert ("role",) not in expr.paths  # item names are not case paths


# -- missing facts, nulls, type mismatches: the criterion fails, never a crash --------------


def _fails_quietly(value: Any) -> None:
    assert not value


@pytest.mark.parametrize("text", [
    "account.nope > 3", "nope.deeper == 1", "not account.nope", "account.nope not in [1, 2]",
    "account.nope in [1, 2]", "len(account.nope) > 0", "account.nope + 1 > 0", "-account.nope < 0",
    "stakeholders[9].name == 'x'", "1 < account.nope < 3", "days_since(account.nope) > 1",
    "('a' if account.nope else 'b') == 'b'", "count(account.nope, x) == 0", "account.nope ** 2 == 0",
    "account.nope * 2 == 0", "account.nope % 2 == 0", "account.nope // 2 == 0", "account.nope / 2 == 0",
])
def test_missing_fact_never_passes(ev, text):
    _fails_quietly(ev(text))


def checked(load_yaml, when: str, facts: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """The report entry of a one-criterion playbook whose `when` is ``when``."""
    pb = load_yaml(
        "id: lang\nversion: 1\ntitle: t\nstages:\n  - id: one\n    entry:\n"
        f"      - id: c\n        title: {{zh: 条件, en: Condition}}\n        when: {json.dumps(when)}\n")
    result = evaluate(pb, facts, today=dt.date(2026, 3, 1))
    return result.to_dict(lang)["stages"][0]["entry"][0]


@pytest.mark.parametrize(("when", "facts", "path"), [
    ("opportunity.amount >= 100000", {}, "opportunity.amount"),
    ("opportunity.amount >= 100000", {"opportunity": {}}, "opportunity.amount"),
    ("account.profile.industry == 'energy'", {"account": {"profile": {}}}, "account.profile.industry"),
    ("stakeholders[0].name == 'x'", {"stakeholders": []}, "stakeholders[0].name"),
    ("not account.blocked", {"account": {}}, "account.blocked"),
    ("days_since(last_visit.date) <= 30", {"last_visit": {}}, "last_visit.date"),
    ("derived.man.class == 'M+A+N'", {}, "derived.man.class"),
])
def test_missing_fact_message_names_the_path(load_yaml, when, facts, path):
    item = checked(load_yaml, when, facts)
    assert item["passed"] is False
    assert item["message"] == f"missing fact: {path}"
    zh = checked(load_yaml, when, facts, "zh")
    assert zh["message"] == f"缺少事实：{path}"


def test_null_fact_message(load_yaml):
    item = checked(load_yaml, "opportunity.amount > 1", {"opportunity": {"amount": None}})
    assert item["passed"] is False and item["message"] == "fact is empty (null): opportunity.amount"
    item = checked(load_yaml, "len(tags) > 0", {"tags": None})
    assert item["passed"] is False and "tags" in item["message"]


@pytest.mark.parametrize(("when", "facts", "fragment"), [
    ("opportunity.amount > 3", {"opportunity": {"amount": "abc"}}, "text and number"),
    ("lower(account.name) == 'x'", {"account": {"name": 3}}, "lower() needs text"),
    ("len(account.size) > 1", {"account": {"size": 3}}, "len() needs a list"),
    ("days_since(last_visit) > 1", {"last_visit": "yesterday"}, "not an ISO date"),
    ("count(account.tags, it == 1) > 0", {"account": {"tags": "a,b"}}, "expected a list"),
])
def test_type_mismatch_is_a_message(load_yaml, when, facts, fragment):
    item = checked(load_yaml, when, facts)
    assert item["passed"] is False
    assert fragment in item["message"], item["message"]
    assert "Traceback" not in item["message"]


def test_values_looked_at_are_reported(load_yaml):
    item = checked(load_yaml, "opportunity.amount >= 100000 and len(stakeholders) > 1",
                   {"opportunity": {"amount": 5}, "stakeholders": [{}, {}]})
    assert item["values"] == {"opportunity.amount": 5, "len(stakeholders)": 2}
    assert item["message"] == 'not met: opportunity.amount = 5, len(stakeholders) = 2'


# -- plugin functions --------------------------------------------------------------------------


def test_plugin_function_namespaced_and_registered_through_a_hook(make_plugin, make_registry, load_yaml):
    plugin = make_plugin("bank", register_functions=lambda register: [
        register("bank.double", lambda x: x * 2, description="twice"),
        register("bank.days_left", lambda ctx, d: (dt.date.fromisoformat(d) - ctx.today).days, needs_context=True),
    ])
    reg = make_registry(plugin)
    assert reg.functions["bank.double"].plugin == "bank"
    expr = compile_expression("bank.double(opportunity.amount) == 300000", reg.functions)
    assert expr.fn(FACTS, {}, CTX) is True
    assert expr.functions == ["bank.double"]
    assert compile_expression("bank.days_left('2026-03-11')", reg.functions).fn({}, {}, CTX) == 10
    # a missing argument: the function is not called and the criterion fails
    assert not compile_expression("bank.double(nope) == 0", reg.functions).fn({}, {}, CTX)
    pb = load_yaml('id: f\nversion: 1\ntitle: t\nstages:\n  - id: one\n    entry:\n'
                   '      - {id: c, when: "bank.double(x) > 3"}\n', reg=reg)
    assert evaluate(pb, {"x": 2}).entered and not evaluate(pb, {"x": 1}).entered


def test_plugin_function_must_be_namespaced(make_plugin, make_registry):
    plugin = make_plugin("bank", register_functions=lambda register: register("double", lambda x: x))
    reg = make_registry(plugin)
    assert "double" not in reg.functions
    assert any(e.plugin == "bank" and "namespaced" in e.message for e in reg.errors)


def test_plugin_function_that_raises_fails_the_criterion(make_plugin, make_registry, load_yaml):
    def boom(x):
        raise ValueError("bad input for boom")

    reg = make_registry(make_plugin("bank", register_functions=lambda register: register("bank.boom", boom)))
    pb = load_yaml('id: f\nversion: 1\ntitle: t\nstages:\n  - id: one\n    entry:\n'
                   '      - {id: c, when: "bank.boom(1)"}\n', reg=reg)
    result = evaluate(pb, {})
    assert not result.entered
    message = result.to_dict("en")["stages"][0]["entry"][0]["message"]
    assert "bad input for boom" in message


def test_unknown_function_is_a_load_error_with_column(functions):
    err = syntax_error(functions, "x > 1 and bank.nothing(x)")
    assert err.reason == "unknown function 'bank.nothing'"
    assert err.column == len("x > 1 and ") + 1


def test_wrong_arity_is_a_load_error(functions):
    err = syntax_error(functions, "len(a, b)")
    assert "len() takes" in err.reason
    assert "exists() takes one path" in syntax_error(functions, "exists(a, b)").reason
    assert "count() is used as count(list, condition)" in syntax_error(functions, "count()").reason
    assert "min_of() is used as" in syntax_error(functions, "min_of(a)").reason


@pytest.mark.parametrize(("text", "fragment", "column"), [
    ("a.b is None", "'is' is not allowed", 1),
    ("a & b", "'&' is not allowed", 1),
    ("x > 1 and (lambda: 1)", "lambda is not allowed", 12),
    ("[i for i in x]", "a list comprehension is not allowed", 1),
    ("{'a': 1}", "a mapping literal is not allowed", 1),
    ("{1, 2}", "a set literal is not allowed", 1),
    ("f'{x}'", "an f-string is not allowed", 1),
    ("(y := 1)", "':=' is not allowed", 2),
    ("a[1:2]", "slices are not allowed", 1),
    ("len(x=1)", "takes no keyword arguments", 1),
    ("len(*x)", "*arguments are not allowed", 1),
    ("a.__class__", "names starting with '__' are not allowed", 1),
    ("__import__('os')", "unknown function '__import__'", 1),
    ("it == 1", "'it' is only defined inside", 1),
    ("true.x", "true has no fields", 1),
    ("b'x' == 1", "bytes literals are not allowed", 1),
    ("1j == 1", "complex literals are not allowed", 1),
    ("x ==", "syntax error", None),
    ("", "empty expression", None),
    ("1 in [1] in [True]", "'in' cannot be chained", 1),
])
def test_rejected_at_compile_time(functions, text, fragment, column):
    err = syntax_error(functions, text)
    assert fragment in str(err)
    if column is not None:
        assert err.column == column


def test_expression_result_is_missing_sentinel_not_exception(ev):
    assert ev("account.nope") is MISSING
    assert ev("exists(account.nope)") is False


def test_compile_errors_surface_as_playbook_errors(load_yaml):
    with pytest.raises(PlaybookError) as info:
        load_yaml('id: e\nversion: 1\ntitle: t\nstages:\n  - id: one\n    entry:\n'
                  '      - {id: c, when: "1 +"}\n')
    (problem,) = info.value.problems
    assert problem.location.line == 7
