"""Decision tables as playbook data (src/playbook/derive.py): hit policies first and collect,
default row, rows that cannot be evaluated, for_each tables, chaining, use in criteria."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from playbook.engine import evaluate
from playbook.errors import PlaybookError
from playbook.loader import load_playbook

TODAY = dt.date(2026, 3, 1)

PLAYBOOK = """
id: table-test
version: 1
title: {zh: 决策表测试, en: Decision table test}
tables:
  - id: quadrant
    hit: first
    rules:
      - id: a
        when: "prospect.customer_clear and prospect.need_clear"
        then: {quadrant: A, tactic: {zh: 拜访确认项目, en: Confirm the project by visits}}
      - id: b
        when: "prospect.customer_clear and not prospect.need_clear"
        then: {quadrant: B}
      - id: c
        when: "not prospect.customer_clear and prospect.need_clear"
        then: {quadrant: C}
      - id: d
        when: "not prospect.customer_clear and not prospect.need_clear"
        then: {quadrant: D}
  - id: cues
    hit: collect
    rules:
      - id: premium-card
        when: "visitor.premium_card == true"
        then: {cue: premium_card}
      - id: big-balance
        when: "visitor.balance >= 500000"
        then: {cue: balance}
      - id: owner
        when: '"business_owner" in visitor.cues'
        then: {cue: owner}
  - id: with_default
    rules:
      - when: "amount >= 1000000"
        then: {size: large}
      - when: "amount >= 100000"
        then: {size: medium}
    default: {size: small}
  - id: no_default
    rules:
      - when: "amount >= 1000000"
        then: {size: large}
  - id: products
    for_each: needs
    rules:
      - id: distributor-sales
        when: 'kind == "sales" and model == "distributor"'
        then: {products: [bill_financing]}
      - id: sales
        when: 'kind == "sales"'
        then: {products: [factoring, buyers_credit]}
      - id: purchasing
        when: 'kind == "purchasing"'
        then: {products: [supply_chain_finance]}
  - id: products_all
    for_each: needs
    hit: collect
    rules:
      - when: 'kind == "sales"'
        then: {tag: sales}
      - when: "priority == 'high'"
        then: {tag: urgent}
  - id: chained
    rules:
      - when: 'derived.quadrant.quadrant == "A" and len(derived.cues.matches) >= 2'
        then: {advice: go}
    default: {advice: wait}
stages:
  - id: s
    title: S
    exit:
      - {id: quadrant-a, when: 'derived.quadrant.quadrant in ["A"]'}
      - {id: two-cues, when: "derived.cues.count >= 2"}
      - {id: has-products, when: "count(derived.products, row != null) >= 1"}
"""


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("pb") / "table-test.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return load_playbook(path)


def derive(pb: Any, facts: dict[str, Any]) -> Any:
    return evaluate(pb, facts, today=TODAY)


# -- hit: first -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "need", "quadrant", "row"),
    [(True, True, "A", "a"), (True, False, "B", "b"), (False, True, "C", "c"), (False, False, "D", "d")],
)
def test_first_hit_every_row(pb: Any, customer: bool, need: bool, quadrant: str, row: str) -> None:
    result = derive(pb, {"prospect": {"customer_clear": customer, "need_clear": need}})
    got = result.derived["quadrant"]
    assert got["quadrant"] == quadrant
    assert got["row"] == row


def test_first_hit_returns_the_first_of_several_matches(pb: Any) -> None:
    # both rows match 2,000,000; the first wins
    assert derive(pb, {"amount": 2_000_000}).derived["with_default"] == {"size": "large"}


def test_then_texts_are_resolved_in_the_report(pb: Any) -> None:
    result = derive(pb, {"prospect": {"customer_clear": True, "need_clear": True}})
    assert result.derived["quadrant"]["tactic"] == {"zh": "拜访确认项目", "en": "Confirm the project by visits"}
    assert result.to_dict("zh")["derived"]["quadrant"]["tactic"] == "拜访确认项目"


def test_default_row(pb: Any) -> None:
    assert derive(pb, {"amount": 100_000}).derived["with_default"] == {"size": "medium"}
    assert derive(pb, {"amount": 99_999}).derived["with_default"] == {"size": "small", "row": "default"}


def test_missing_fact_makes_a_row_not_match_and_falls_to_default(pb: Any) -> None:
    assert derive(pb, {}).derived["with_default"] == {"size": "small", "row": "default"}


def test_no_match_and_no_default_is_reported_as_a_derive_error(pb: Any) -> None:
    result = derive(pb, {"amount": 5})
    assert "no_default" not in result.derived
    assert [name for name, _ in result.derive_errors if name == "no_default"] == ["no_default"]
    errors = result.to_dict("en")["errors"]
    assert any("no_default" in e for e in errors), errors


def test_missing_facts_in_first_table_give_no_outcome(pb: Any) -> None:
    result = derive(pb, {"prospect": {"customer_clear": True}})  # need_clear missing
    # rows a and b need need_clear; c and d need it too -> no row matches, no default
    assert "quadrant" not in result.derived
    assert any(name == "quadrant" for name, _ in result.derive_errors)
    assert result.passed[0] is False  # the criterion on it fails, never crashes


# -- hit: collect -------------------------------------------------------------------------------


def test_collect_returns_every_matching_row_in_order(pb: Any) -> None:
    facts = {"visitor": {"premium_card": True, "balance": 800_000, "cues": ["business_owner"]}}
    got = derive(pb, facts).derived["cues"]
    assert got["count"] == 3
    assert [m["cue"] for m in got["matches"]] == ["premium_card", "balance", "owner"]
    assert [m["row"] for m in got["matches"]] == ["premium-card", "big-balance", "owner"]


def test_collect_with_some_facts_missing(pb: Any) -> None:
    got = derive(pb, {"visitor": {"balance": 500_000}}).derived["cues"]
    assert got == {"matches": [{"cue": "balance", "row": "big-balance"}], "count": 1}


def test_collect_with_no_match_is_an_empty_list_not_an_error(pb: Any) -> None:
    result = derive(pb, {"visitor": {"balance": 499_999.99}})
    assert result.derived["cues"] == {"matches": [], "count": 0}
    assert not [n for n, _ in result.derive_errors if n == "cues"]


# -- for_each -------------------------------------------------------------------------------------


def test_for_each_first_hit_per_item(pb: Any) -> None:
    needs = [{"kind": "sales", "model": "distributor"}, {"kind": "sales"}, {"kind": "purchasing"},
             {"kind": "treasury"}]
    got = derive(pb, {"needs": needs}).derived["products"]
    assert got == [
        {"index": 0, "products": ["bill_financing"], "row": "distributor-sales"},
        {"index": 1, "products": ["factoring", "buyers_credit"], "row": "sales"},
        {"index": 2, "products": ["supply_chain_finance"], "row": "purchasing"},
        {"index": 3, "row": None},  # no row for treasury and no default
    ]


def test_for_each_collect_per_item(pb: Any) -> None:
    needs = [{"kind": "sales", "priority": "high"}, {"kind": "purchasing"}]
    got = derive(pb, {"needs": needs}).derived["products_all"]
    assert got == [
        {"index": 0, "matches": [{"tag": "sales"}, {"tag": "urgent"}], "count": 2},
        {"index": 1, "matches": [], "count": 0},
    ]


def test_for_each_names_fall_back_to_the_case(pb: Any) -> None:
    # `priority` is not on the item: it resolves against the case
    got = derive(pb, {"needs": [{"kind": "purchasing"}], "priority": "high"}).derived["products_all"]
    assert got[0]["matches"] == [{"tag": "urgent"}]


def test_for_each_empty_list(pb: Any) -> None:
    assert derive(pb, {"needs": []}).derived["products"] == []


def test_for_each_on_a_missing_or_null_list_gives_no_items(pb: Any) -> None:
    for facts in ({}, {"needs": None}):
        result = derive(pb, facts)
        assert result.derived["products"] == []
        assert not [n for n, _ in result.derive_errors if n == "products"]


def test_for_each_on_a_non_list_is_a_derive_error(pb: Any) -> None:
    result = derive(pb, {"needs": {"kind": "sales"}})
    assert "products" not in result.derived
    assert any(name == "products" and "not a list" in str(exc) for name, exc in result.derive_errors)


# -- chaining and criteria --------------------------------------------------------------------------


def test_a_table_may_use_earlier_tables(pb: Any) -> None:
    facts = {"prospect": {"customer_clear": True, "need_clear": True},
             "visitor": {"premium_card": True, "balance": 1_000_000}}
    assert derive(pb, facts).derived["chained"] == {"advice": "go"}
    facts["visitor"]["balance"] = 1
    assert derive(pb, facts).derived["chained"] == {"advice": "wait", "row": "default"}


def test_tables_in_criteria(pb: Any) -> None:
    good = derive(pb, {"prospect": {"customer_clear": True, "need_clear": True},
                       "visitor": {"premium_card": True, "cues": ["business_owner"]},
                       "needs": [{"kind": "purchasing"}]})
    assert good.passed == [True, True, True]
    assert good.complete
    bad = derive(pb, {"prospect": {"customer_clear": False, "need_clear": True},
                      "visitor": {"premium_card": True}, "needs": [{"kind": "treasury"}]})
    assert bad.passed == [False, False, False]
    assert set(bad.blocking_ids()) == {"quadrant-a", "two-cues", "has-products"}


def test_bad_row_expression_is_a_located_load_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "id: bad\nversion: 1\ntitle: Bad\nstages: [{id: s}]\n"
        "tables:\n  - id: t\n    rules:\n      - when: \"amount >>> 3\"\n        then: {x: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    problem = info.value.problems[0]
    assert "table 't' row `when`" in problem.message
    assert problem.location is not None and problem.location.line == 8


def test_bad_hit_policy_is_a_schema_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "id: bad\nversion: 1\ntitle: Bad\nstages: [{id: s}]\n"
        "tables:\n  - id: t\n    hit: any\n    rules:\n      - {when: 'true', then: {x: 1}}\n",
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    assert info.value.problems[0].location.line == 7
