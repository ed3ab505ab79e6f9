"""The funnel counters and the summary built from them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from playbook.batch.funnel import MAX_REJECTED_SHOWN, Funnel
from playbook.batch.summary_text import render_summary_text
from playbook.criteria.runtime import EvalContext
from playbook.engine import evaluate
from playbook.loader import load_playbook
from test_batch import PLAYBOOK, case  # tests/ is on sys.path (rootdir-relative imports)


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory):
    path = Path(tmp_path_factory.mktemp("pb")) / "mini.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return load_playbook(path)


def cases() -> list[dict]:
    return [
        case(1, target=False),  # not entered
        case(2, amount=10),  # qualify, blocked by big-enough
        case(3, amount=10, visit={"count": 0}),  # qualify, blocked by big-enough
        case(4, dm=False),  # qualify exit ok, next entry (has-dm) blocks
        case(5),  # propose, blocked by signed
        case(6, signed=True),  # propose, complete
        case(7, amount=10, stage="propose"),  # declared ahead of inferred qualify
    ]


def folded(pb, items: list[dict]) -> Funnel:
    f = Funnel(len(pb.stages))
    ctx = EvalContext(dt.date(2026, 3, 1))
    for c in items:
        f.add(evaluate(pb, c, ctx=ctx))
    return f


def test_counts_reached_conversion_and_blockers(pb) -> None:
    s = folded(pb, cases()).summary(pb, "en", today="2026-03-01", inputs=["x"])
    assert s["cases"] == 7 and s["not_entered"] == 1 and s["entered"] == 6
    q, p = s["stages"]
    assert (q["cases"], q["ready_to_advance"], q["blocked"], q["not_entered"]) == (4, 0, 4, 1)
    assert (p["cases"], p["ready_to_advance"], p["blocked"]) == (3, 1, 2)
    assert (q["reached"], p["reached"]) == (6, 3) and p["conversion"] == 0.5 and q["conversion"] is None
    assert s["complete"] == 1 and s["ready_to_advance"] == 1
    ranked = [(b["criterion"], b["cases"]) for b in s["blocking"]]
    # ties in playbook order; case 7 (declared propose) is blocked by propose's gate (signed)
    assert ranked == [("big-enough", 2), ("signed", 2), ("is-target", 1), ("has-dm", 1)]
    assert s["blocking"][0]["hint"] == "Grow the scope"
    assert [b["criterion"] for b in q["top_blocking"]] == ["big-enough", "is-target", "has-dm"]
    # case 7 declares propose while its facts stop at qualify: counted under propose, and as ahead
    assert s["declared_ahead"]["cases"] == 1
    assert s["declared_ahead"]["by_stage"][0] | {} == {
        "declared": "propose", "inferred": "qualify", "cases": 1,
        "declared_title": "Propose", "inferred_title": "Qualify"}


def test_merge_equals_one_pass(pb) -> None:
    items = cases() * 3
    whole = folded(pb, items)
    parts = Funnel(len(pb.stages))
    for i in range(0, len(items), 4):
        parts.merge(folded(pb, items[i:i + 4]))
    kw = {"today": "d", "inputs": []}
    assert parts.summary(pb, "en", **kw) == whole.summary(pb, "en", **kw)


def test_rejected_are_all_counted_but_only_the_first_kept(pb) -> None:
    f = Funnel(len(pb.stages))
    for i in range(MAX_REJECTED_SHOWN + 25):
        f.reject("in.jsonl", i + 1, "bad")
    other = Funnel(len(pb.stages))
    other.reject("b.csv", 9, "worse")
    f.merge(other)
    s = f.summary(pb, "en", today="d", inputs=[])
    assert s["rejected"]["count"] == MAX_REJECTED_SHOWN + 26
    assert len(s["rejected"]["shown"]) == MAX_REJECTED_SHOWN and s["rejected"]["truncated"] is True
    assert s["records"] == MAX_REJECTED_SHOWN + 26


def test_summary_text_in_both_languages(pb) -> None:
    f = folded(pb, cases())
    f.reject("in.jsonl", 4, "invalid JSON")
    en = render_summary_text(f.summary(pb, "en", today="2026-03-01", inputs=["in.jsonl"]))
    zh = render_summary_text(f.summary(pb, "zh", today="2026-03-01", inputs=["in.jsonl"]))
    assert "Portfolio funnel — Mini funnel" in en and "Big enough [big-enough]" in en
    assert "in.jsonl:4: invalid JSON" in en and "50.0%" in en
    assert "客户组合漏斗 — 迷你漏斗" in zh and "金额够大 [big-enough]" in zh and "扩大范围" in zh
    assert "Portfolio" not in zh


def test_stopped_note(pb) -> None:
    s = Funnel(len(pb.stages)).summary(pb, "en", today="d", inputs=[],
                                       stopped={"reason": "max_errors", "max_errors": 5})
    assert "Stopped early: 5 records rejected" in render_summary_text(s)
