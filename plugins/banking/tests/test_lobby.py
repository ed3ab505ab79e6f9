"""The banking extension of the core hall-marketing playbook: lobby cues and products by need."""

from __future__ import annotations

from typing import Any

from conftest import TODAY


def visitor(**facts: Any) -> dict[str, Any]:
    return {"id": "v", "visitor": {"visit_date": TODAY, **facts}}


def test_core_examples_still_pass_with_the_extension(kit: Any) -> None:
    outcomes = kit.run_examples("hall-marketing")
    assert outcomes and all(o.passed for o in outcomes), [o.differences for o in outcomes if not o.passed]


def test_cues_collect_every_match(kit: Any) -> None:
    case = visitor(premium_card_other_bank=True, visible_balance=600_000,
                   conversation_cues=["business_owner", "large_transfer"])
    report = kit.check("hall-marketing", case, today=TODAY, lang="zh")
    cues = report["derived"]["banking_lobby_cues"]
    assert [m["cue"] for m in cues["matches"]] == [
        "premium_card_other_bank", "large_transfer", "business_owner", "priority_balance"]
    kit.assert_passes(report, "banking-sales-cue")
    advice = next(a for a in report["actions"] if a["id"] == "banking-cue-advice")["output"]["text"]
    assert advice.splitlines()[0].startswith("他行高端卡：客户在他行有较多资产")


def test_large_transfer_by_amount_and_thresholds(kit: Any) -> None:
    def cues(**facts: Any) -> list[str]:
        case = visitor(**{k: v for k, v in facts.items() if k != "bank_lobby"})
        if "bank_lobby" in facts:
            case["bank_lobby"] = facts["bank_lobby"]
        return [m["cue"] for m in kit.check("hall-marketing", case, today=TODAY)["derived"]
                ["banking_lobby_cues"]["matches"]]

    assert cues(bank_lobby={"transfer_amount": 500_000}) == ["large_transfer"]
    assert cues(bank_lobby={"transfer_amount": 499_999}) == []
    assert cues(visible_balance=500_000) == ["priority_balance"]
    assert cues(visible_balance=499_999) == []


def test_no_cue_is_a_recommendation_not_a_gate(kit: Any) -> None:
    report = kit.check("hall-marketing", visitor(economic_strength=True, financial_need={"surface": "存款"}),
                       today=TODAY, stage="spot-customer")
    kit.assert_fails(report, "banking-sales-cue")
    assert "banking-sales-cue" not in [b["criterion"] for b in report["blocking"]]
    kit.assert_stage(report, "spot-customer", ready=True)


def test_products_by_need_from_needs_and_cues(kit: Any) -> None:
    case = visitor(economic_strength=True, engaged=True, financial_need={"surface": "汇款"},
                   conversation_cues=["child_studying_abroad"])
    case["bank_lobby"] = {"needs": ["idle_cash"]}
    report = kit.check("hall-marketing", case, today=TODAY, stage="uncover-need", lang="en")
    labels = [m["label"] for m in report["derived"]["banking_lobby_products"]["matches"]]
    assert labels == ["Idle cash", "Study or spending abroad"]
    out = next(a for a in report["actions"] if a["id"] == "banking-need-products")["output"]
    assert out["text"].splitlines()[1].startswith("Study or spending abroad: FX purchase and remittance")
