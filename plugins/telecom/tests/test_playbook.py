"""The consultative-sales playbook through the plugin testing kit: examples, coverage, gates."""

from __future__ import annotations

import json
from pathlib import Path

from playbook.examples import Coverage

from conftest import PACKAGE, PLAYBOOK_ID, TODAY, example


def test_registers_without_problems_and_namespaced(kit):
    assert kit.errors == []
    info = next(p for p in kit.registry.plugins if p.name == "playbook_telecom")
    for kind in ("rules", "actions", "derivations", "functions", "schemas"):
        assert info.registered[kind], kind
        assert all(name.startswith("telecom.") for name in info.registered[kind]), info.registered[kind]


def test_playbook_shape(kit):
    pb = kit.load(PLAYBOOK_ID)
    assert [s.id for s in pb.stages] == ["entrance", "demand", "consulting", "business", "action"]
    assert [s.effort for s in pb.stages] == [20, 30, 30, 10, 10]
    for stage in pb.stages:
        assert set(stage.title) == {"zh", "en"} and set(stage.guidance) == {"zh", "en"}
    for c in pb.criteria:
        assert set(c.title) == {"zh", "en"}, c.id
        assert set(c.hint) == {"zh", "en"}, c.id
    exit_ids = [c.id for c in pb.stages[0].exit if c.required]
    assert exit_ids == ["qualified-need", "qualified-authority", "qualified-budget", "qualified-timeline"]
    business_entry = pb.stages[3].required_entry
    assert [pb.criteria[i].id for i in business_entry] == ["objections-answered"]


def test_every_example_passes_and_every_criterion_is_exercised_both_ways(kit):
    outcomes = kit.run_examples(PLAYBOOK_ID)
    failures = {o.example.name: o.differences for o in outcomes if not o.passed}
    assert not failures
    names = {o.example.name for o in outcomes}
    assert len([n for n in names if "-objection-" in n]) == 8
    pb = kit.load(PLAYBOOK_ID)
    coverage = Coverage()
    for o in outcomes:
        coverage.add(pb, o.result)
    assert coverage.gaps(pb) == {"never_passed": [], "never_failed": []}


def test_one_example_per_phase_and_a_complete_one(kit):
    outcomes = kit.run_examples(PLAYBOOK_ID)
    current = {o.result.current_stage for o in outcomes}
    assert current == {"entrance", "demand", "consulting", "business", "action"}
    assert any(o.result.complete for o in outcomes)


def test_missing_budget_and_timeline_are_named_with_what_to_do(kit):
    report = kit.check(PLAYBOOK_ID, example("01-entrance-budget-and-timeline-missing"), today=TODAY, lang="zh")
    kit.assert_stage(report, "entrance", ready=False)
    kit.assert_blocking(report, ["qualified-budget", "qualified-timeline", "project-committed"])
    budget = next(b for b in report["blocking"] if b["criterion"] == "qualified-budget")
    assert budget["title"] == "客户有采购预算"
    assert "预算负责人" in budget["message"] and "预算负责人" in budget["hint"]
    timeline = next(b for b in report["blocking"] if b["criterion"] == "qualified-timeline")
    assert "decision_date" in timeline["message"]
    kit.assert_passes(report, "qualified-need", "qualified-authority")


def test_an_open_objection_blocks_business_until_answered(kit):
    case = example("14-objection-no-pain")
    report = kit.check(PLAYBOOK_ID, case, today=TODAY, lang="zh")
    kit.assert_stage(report, "consulting", ready=False)
    kit.assert_blocking(report, ["objections-answered"])
    message = report["blocking"][0]["message"]
    assert "不痛不痒" in message and "车辆偶尔失联也没出过大事" in message and "建议回应" in message
    actions = {a["id"]: a for a in report["actions"]}
    assert actions["open-objections"]["output"]["data"]["open"][0]["class"] == "no_pain"

    case["objections"][0]["answered"] = True
    report = kit.check(PLAYBOOK_ID, case, today=TODAY, lang="zh")
    kit.assert_passes(report, "objections-answered")
    kit.assert_stage(report, "business", ready=False)  # now negotiating: terms not agreed yet
    kit.assert_blocking(report, ["terms-agreed"])
    assert "open-objections" not in {a["id"] for a in report["actions"]}


def test_swot_strategies_are_in_the_report(kit, complete):
    report = kit.check(PLAYBOOK_ID, complete, today=TODAY, lang="en")
    strategies = report["derived"]["swot_needs"]["strategies"]
    assert set(strategies) == {"so", "wo", "st", "wt"}
    assert strategies["so"][0]["suggestion"].startswith("Help the customer use its strength")
    assert report["derived"]["objection_responses"][0]["class"] == "no_money"


def test_entrance_sheets_are_produced_in_both_languages(kit):
    case = example("01-entrance-budget-and-timeline-missing")
    for lang, heading in (("zh", "### 销售商机评估表"), ("en", "### Opportunity assessment sheet")):
        report = kit.check(PLAYBOOK_ID, case, today=TODAY, lang=lang)
        assert report["errors"] == []
        outputs = {a["id"]: a["output"] for a in report["actions"]}
        assert set(outputs) == {"profile-sheet", "swot-sheet", "latent-need-sheet", "visit-log", "sdi-sheet",
                                "success-stories", "opportunity-assessment"}
        assert outputs["opportunity-assessment"]["markdown"].startswith(heading)
        assert outputs["opportunity-assessment"]["data"]["missing"] == ["budget", "timeline"]
        json.dumps(outputs)  # structured JSON


def test_registered_case_schema_matches_the_playbook_facts(kit):
    schema, _plugin = kit.registry.schemas["telecom.case"]
    declared = json.loads(Path(schema).read_text(encoding="utf-8"))
    facts = kit.load(PLAYBOOK_ID).facts_schema
    assert {k: declared["properties"][k] for k in facts} == facts
    assert Path(schema).parent == PACKAGE / "schemas"


def test_examples_are_valid_against_the_telecom_schema(kit):
    from jsonschema import Draft202012Validator

    schema, _ = kit.registry.schemas["telecom.case"]
    validator = Draft202012Validator(json.loads(Path(schema).read_text(encoding="utf-8")))
    for o in kit.run_examples(PLAYBOOK_ID):
        errors = [e.message for e in validator.iter_errors(o.example.case)]
        assert errors == [], o.example.name


def test_installs_side_by_side_with_other_entry_point_plugins(playbook_kit):
    kit = playbook_kit()  # whatever is installed through entry points, as the CLI sees it
    names = {p.name for p in kit.registry.plugins}
    assert "telecom" in names
    assert [e for e in kit.errors if "already registered" in e.message] == []
    assert kit.registry.find_playbook(PLAYBOOK_ID).plugin == "telecom"
