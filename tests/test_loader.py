"""Loading playbooks: every error path is reported as a located, one-line problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from playbook import hookimpl
from playbook.errors import PlaybookError
from playbook.loader import load_playbook

BROKEN = Path(__file__).resolve().parent / "fixtures" / "core" / "broken"
MINI = Path(__file__).resolve().parent / "fixtures" / "core" / "mini.yaml"


def problems_of(ref, registry) -> list:
    with pytest.raises(PlaybookError) as info:
        load_playbook(ref, registry=registry)
    assert info.value.problems, "a PlaybookError must carry at least one problem"
    return info.value.problems


def where(problem) -> tuple[str, int | None, int | None]:
    loc = problem.location
    assert loc is not None, f"problem has no location: {problem}"
    return Path(loc.file).name, loc.line, loc.column


# -- reading ---------------------------------------------------------------------------------


def test_mini_playbook_loads_with_its_structure(registry):
    pb = load_playbook(MINI, registry=registry)
    assert (pb.id, pb.version) == ("mini", 2)
    assert [s.id for s in pb.stages] == ["qualify", "propose", "close"]
    assert [c.id for c in pb.criteria] == [
        "is-target", "has-region", "budget-known", "industry-set", "buyer-known", "proposal-sent",
        "proposal-accepted", "signed"]
    assert [c.index for c in pb.criteria] == list(range(8))
    qualify = pb.stages[0]
    # recommended criteria are not part of the required gate
    assert [pb.criteria[i].id for i in qualify.required_entry] == ["is-target"]
    assert [pb.criteria[i].id for i in qualify.required_exit] == ["budget-known"]
    assert [a.id for a in qualify.actions] == ["profile", "call", "greet", "grade-lookup", "leave", "big-deal"]
    assert [o.id for o in pb.outcomes] == ["lost", "won"]
    assert pb.outcomes[1].from_stages == frozenset({"close"})
    assert [d.id for d in pb.derivations] == ["man", "grade"]
    budget = pb.criterion("budget-known")
    assert budget.location is not None and budget.location.line == MINI.read_text().splitlines().index(
        "      - id: budget-known") + 1


def test_unknown_playbook_id_lists_installed(registry):
    (problem,) = problems_of("no-such-playbook-id", registry)
    assert "unknown playbook 'no-such-playbook-id'" in problem.message
    assert "six-step-sales" in (problem.hint or "")


def test_missing_file(registry, tmp_path):
    (problem,) = problems_of(tmp_path / "nope.yaml", registry)
    assert "no such file" in problem.message


def test_malformed_yaml_is_located(registry, text_position):
    (problem,) = problems_of(BROKEN / "malformed.yaml", registry)
    assert problem.message.startswith("malformed YAML")
    assert where(problem) == ("malformed.yaml", *text_position(BROKEN / "malformed.yaml", "- id: two"))


def test_malformed_json_is_located(registry, text_position):
    (problem,) = problems_of(BROKEN / "malformed.json", registry)
    assert problem.message.startswith("malformed JSON")
    line, col = text_position(BROKEN / "malformed.json", ",}")
    # the trailing comma or the '}' after it, as the Python version's json module reports it
    assert where(problem) in (("malformed.json", line, col), ("malformed.json", line, col + 1))


def test_not_utf8(registry, tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("id: caf\xe9\n".encode("latin-1"))
    (problem,) = problems_of(path, registry)
    assert "UTF-8" in problem.message


def test_top_level_not_a_mapping(registry, write_file):
    (problem,) = problems_of(write_file("list.yaml", "- a\n- b\n"), registry)
    assert "must be a mapping" in problem.message


def test_schema_violation_points_at_offending_values(registry, text_position):
    path = BROKEN / "schema-violation.yaml"
    problems = problems_of(path, registry)
    assert len(problems) == 2
    level, colour = problems
    assert "stages[0].entry[0].level" in level.message and "'mandatory' is not one of" in level.message
    assert where(level) == ("schema-violation.yaml", *text_position(path, "mandatory"))
    assert "unknown key 'colour'" in colour.message
    # the line of the offending key, not the start of the stage
    assert where(colour)[1] == text_position(path, "colour")[0]


def test_schema_missing_required_keys(registry, write_file):
    path = write_file("noversion.yaml", """
        id: noversion
        title: t
        stages: [{id: one}]
    """)
    (problem,) = problems_of(path, registry)
    assert "missing required key 'version'" in problem.message
    assert where(problem) == ("noversion.yaml", 1, 1)


def test_schema_both_when_and_rule(registry, write_file, text_position):
    path = write_file("both.yaml", """
        id: both
        version: 1
        title: t
        stages:
          - id: one
            entry:
              - {id: a, when: "true", rule: core.playbook-passes}
    """)
    (problem,) = problems_of(path, registry)
    assert "not both" in problem.message
    assert where(problem)[1] == text_position(path, "id: a")[0]


def test_schema_error_inside_one_of_names_the_path_once(registry, write_file, text_position):
    path = write_file("text.yaml", """
        id: text
        version: 1
        title: t
        stages:
          - id: one
            exit:
              - {id: a, when: "true", title: {zh: 甲, fr: A}}
    """)
    (problem,) = problems_of(path, registry)
    assert problem.message.startswith("stages[0].exit[0].title: "), problem.message
    assert "'fr'" in problem.message
    assert where(problem)[1] == text_position(path, "fr: A")[0]


def test_unknown_rule_is_located_and_lists_installed(registry, text_position):
    path = BROKEN / "unknown-rule.yaml"
    (problem,) = problems_of(path, registry)
    assert "unknown rule 'nosuch.rule-name'" in problem.message
    assert "core.playbook-passes" in problem.hint
    assert where(problem) == ("unknown-rule.yaml", *text_position(path, "nosuch.rule-name"))


def test_rule_parameters_are_validated_by_the_rule_schema(registry, text_position):
    path = BROKEN / "rule-bad-params.yaml"
    (problem,) = problems_of(path, registry)
    assert "unknown key 'colour'" in problem.message and "`with`" in problem.message
    assert where(problem)[1] == text_position(path, "colour")[0]


def test_unknown_action_is_located(registry, text_position):
    path = BROKEN / "unknown-action.yaml"
    (problem,) = problems_of(path, registry)
    assert "unknown action 'nosuch.action'" in problem.message
    assert "checklist" in problem.hint
    assert where(problem) == ("unknown-action.yaml", *text_position(path, "nosuch.action"))


def test_action_parameters_are_validated(registry, write_file, text_position):
    path = write_file("badtask.yaml", """
        id: badtask
        version: 1
        title: t
        stages:
          - id: one
            actions:
              - id: t
                do: task
                with: {text: hi, due_days: -3}
    """)
    (problem,) = problems_of(path, registry)
    assert "action 't'" in problem.message and "due_days" in problem.message
    assert where(problem)[1] == text_position(path, "due_days")[0]


def test_unknown_function_column_points_at_the_call(registry, text_position):
    path = BROKEN / "unknown-function.yaml"
    (problem,) = problems_of(path, registry)
    assert "unknown function 'frobnicate'" in problem.message
    assert where(problem) == ("unknown-function.yaml", *text_position(path, "frobnicate("))


def test_syntax_errors_in_when_point_into_the_expression(registry, text_position):
    path = BROKEN / "bad-when.yaml"
    first, second = problems_of(path, registry)
    # plain scalar: the operator is not part of the language
    assert "'>>' is not allowed" in first.message
    line, col = text_position(path, "deal.amount >> 2")
    assert where(first)[:2] == ("bad-when.yaml", line)
    assert col <= where(first)[2] <= col + len("deal.amount >")
    # quoted scalar: the column is that of the stray '=' inside the quotes
    assert "syntax error" in second.message
    assert where(second) == ("bad-when.yaml", *text_position(path, "= 3"))


def test_syntax_error_column_after_a_keyword_field(registry, write_file, text_position):
    # `man.class` is rewritten internally; the reported column must still be the user's.
    path = write_file("kw.yaml", """
        id: kw
        version: 1
        title: t
        stages:
          - id: one
            entry:
              - {id: a, when: "derived.man.class == == 'x'"}
    """)
    (problem,) = problems_of(path, registry)
    assert where(problem) == ("kw.yaml", *text_position(path, "== 'x'"))


def test_syntax_error_in_outcome_table_and_checklist(registry, write_file, text_position):
    path = write_file("many.yaml", """
        id: many
        version: 1
        title: t
        tables:
          - id: tbl
            rules:
              - {when: "a ===", then: {x: 1}}
        stages:
          - id: one
            actions:
              - id: cl
                do: checklist
                with:
                  items:
                    - {text: t, done: "b ++"}
        outcomes:
          - {id: o, kind: won, when: "lambda: 1"}
    """)
    problems = problems_of(path, registry)
    messages = " | ".join(p.message for p in problems)
    assert "table 'tbl' row `when`" in messages
    assert "checklist item `done`" in messages
    assert "outcome 'o' `when`" in messages and "lambda is not allowed" in messages
    lines = {p.location.line for p in problems}
    assert lines == {text_position(path, "a ===")[0], text_position(path, "b ++")[0],
                     text_position(path, "lambda")[0]}


def test_duplicate_criterion_ids(registry, text_position):
    path = BROKEN / "duplicate-criteria.yaml"
    (problem,) = problems_of(path, registry)
    assert "duplicate criterion id 'same'" in problem.message
    assert where(problem)[1] == text_position(path, "id: same", occurrence=2)[0]


def test_duplicate_stage_and_action_ids(registry, write_file):
    path = write_file("dups.yaml", """
        id: dups
        version: 1
        title: t
        stages:
          - id: one
            actions:
              - {id: x, do: task}
              - {id: x, do: task}
          - id: one
    """)
    messages = [p.message for p in problems_of(path, registry)]
    assert any("duplicate action id 'x'" in m for m in messages)
    assert any("duplicate stage id 'one'" in m for m in messages)


def test_duplicate_yaml_keys(registry, text_position):
    path = BROKEN / "duplicate-keys.yaml"
    (problem,) = problems_of(path, registry)
    assert "duplicate key 'when'" in problem.message
    assert where(problem) == ("duplicate-keys.yaml", *text_position(path, "when:", occurrence=2))


def test_duplicate_json_keys(registry, text_position):
    path = BROKEN / "duplicate-keys.json"
    (problem,) = problems_of(path, registry)
    assert "duplicate key 'when'" in problem.message
    assert where(problem) == ("duplicate-keys.json", *text_position(path, '"when"', occurrence=2))


def test_all_problems_are_reported_together(registry):
    problems = problems_of(BROKEN / "several-problems.yaml", registry)
    messages = [p.message for p in problems]
    assert len(messages) == 3
    assert "unknown function 'nope'" in messages[0]
    assert "unknown rule 'nosuch.rule'" in messages[1]
    assert "unknown action 'nosuch.act'" in messages[2]


def test_outcome_from_unknown_stage(registry, write_file):
    path = write_file("oc.yaml", """
        id: oc
        version: 1
        title: t
        stages: [{id: one}]
        outcomes:
          - {id: won, kind: won, when: "true", from: [nowhere]}
    """)
    (problem,) = problems_of(path, registry)
    assert "unknown stage(s) in `from`: nowhere" in problem.message


def test_unknown_derivation(registry, write_file, text_position):
    path = write_file("der.yaml", """
        id: der
        version: 1
        title: t
        derive:
          - {id: x, use: nosuch.derive}
        stages: [{id: one}]
    """)
    (problem,) = problems_of(path, registry)
    assert "unknown derivation 'nosuch.derive'" in problem.message
    assert where(problem)[1] == text_position(path, "nosuch.derive")[0]


def test_problem_str_is_file_line_col(registry):
    (problem,) = problems_of(BROKEN / "unknown-rule.yaml", registry)
    assert re.match(r"^.*unknown-rule\.yaml:\d+:\d+: criterion 'a': unknown rule", str(problem))


# -- extends ---------------------------------------------------------------------------------


def playbooks_plugin(make_plugin, *paths: Path, name: str = "testpbs", extensions=()):
    hooks = {"register_playbooks": lambda register: [register(p) for p in paths]}
    if extensions:
        hooks["register_playbook_extensions"] = lambda register: [register(i, p) for i, p in extensions]
    return make_plugin(name, **hooks)


BASE = """
    id: base
    version: 1
    title: {zh: 基础, en: Base}
    description: base description
    facts: {account: {type: object}}
    stages:
      - id: one
        title: One
        entry:
          - {id: e1, when: "a == 1"}
        exit:
          - {id: x1, when: "b == 1"}
          - {id: x1b, when: "b2 == 1"}
        actions:
          - {id: act1, do: task, with: {text: base task}}
      - id: two
        exit:
          - {id: x2, when: "c == 1"}
    outcomes:
      - {id: lost, kind: lost, when: "status == 'lost'"}
"""


def test_extends_merges_by_id(make_registry, make_plugin, write_file):
    base = write_file("base.yaml", BASE)
    child = write_file("child.yaml", """
        id: child
        version: 3
        title: Child
        extends: base
        facts: {deal: {type: object}}
        stages:
          - id: one
            title: One (child)
            exit:
              - {id: x1, when: "b == 2"}
              - {id: x1b, remove: true}
              - {id: x1c, when: "d == 1", level: recommended}
            actions:
              - {id: act2, do: task}
          - id: middle
            after: one
            exit:
              - {id: xm, when: "m == 1"}
          - id: last
        outcomes:
          - {id: won, kind: won, when: "status == 'won'"}
    """)
    reg = make_registry(playbooks_plugin(make_plugin, base))
    pb = load_playbook(child, registry=reg)
    assert (pb.id, pb.version, pb.title) == ("child", 3, "Child")
    assert pb.description == "base description"  # not replaced: inherited
    assert pb.extends == ["base"]
    assert [s.id for s in pb.stages] == ["one", "middle", "two", "last"]
    one = pb.stages[0]
    assert one.title == "One (child)"
    assert [c.id for c in one.entry] == ["e1"]
    assert [c.id for c in one.exit] == ["x1", "x1c"]  # x1 replaced, x1b removed, x1c appended
    assert pb.criterion("x1").when == "b == 2"
    assert [a.id for a in one.actions] == ["act1", "act2"]
    assert [o.id for o in pb.outcomes] == ["lost", "won"]
    assert set(pb.facts_schema) == {"account", "deal"}
    # the merged playbook behaves: x1 now needs b == 2
    from playbook.engine import evaluate

    result = evaluate(pb, {"a": 1, "b": 2, "m": 1, "c": 1})
    assert result.complete and result.passed[pb.criterion("x1").index]


def test_extends_removes_actions_and_overrides_outcomes_and_facts(make_registry, make_plugin, write_file):
    base = write_file("base.yaml", BASE)
    child = write_file("child.yaml", """
        id: child
        version: 1
        title: Child
        extends: base
        facts: {account: {type: string}}
        stages:
          - id: one
            actions:
              - {id: act1, remove: true}
          - id: two
            exit:
              - {id: x2, title: renamed, when: "c == 2"}
        outcomes:
          - {id: lost, kind: dropped, when: "status == 'gone'"}
    """)
    pb = load_playbook(child, registry=make_registry(playbooks_plugin(make_plugin, base)))
    assert pb.stages[0].actions == []
    x2 = pb.criterion("x2")
    assert (x2.title, x2.when, x2.stage) == ("renamed", "c == 2", "two")
    (lost,) = pb.outcomes
    assert (lost.kind, lost.when) == ("dropped", "status == 'gone'")
    assert pb.facts_schema == {"account": {"type": "string"}}


def test_extends_problems_are_located_in_the_child(make_registry, make_plugin, write_file, text_position):
    base = write_file("base.yaml", BASE)
    child = write_file("child.yaml", """
        id: child
        version: 1
        title: Child
        extends: base
        stages:
          - id: one
            exit:
              - {id: x1, when: "b ==== 2"}
    """)
    reg = make_registry(playbooks_plugin(make_plugin, base))
    (problem,) = problems_of(child, reg)
    assert where(problem)[:2] == ("child.yaml", text_position(child, "b ====")[0])


def test_extends_unknown_playbook(registry, text_position):
    path = BROKEN / "extends-unknown.yaml"
    (problem,) = problems_of(path, registry)
    assert "extends: unknown playbook 'no-such-playbook'" in problem.message
    assert where(problem) == ("extends-unknown.yaml", *text_position(path, "no-such-playbook"))


def test_extends_cycle(make_registry, make_plugin, write_file):
    a = write_file("a.yaml", "id: cyc-a\nversion: 1\ntitle: A\nextends: cyc-b\nstages: [{id: one}]\n")
    b = write_file("b.yaml", "id: cyc-b\nversion: 1\ntitle: B\nextends: cyc-a\nstages: [{id: one}]\n")
    reg = make_registry(playbooks_plugin(make_plugin, a, b))
    (problem,) = problems_of("cyc-a", reg)
    assert "extends cycle" in problem.message
    assert "cyc-a -> cyc-b -> cyc-a" in problem.message
    self_ref = write_file("self.yaml", "id: selfish\nversion: 1\ntitle: S\nextends: selfish\nstages: [{id: one}]\n")
    (problem,) = problems_of(self_ref, make_registry(playbooks_plugin(make_plugin, self_ref)))
    assert "extends cycle" in problem.message


def test_child_without_stages_inherits_them(make_registry, make_plugin, write_file):
    base = write_file("base.yaml", BASE)
    child = write_file("child.yaml", "id: child\nversion: 1\ntitle: C\nextends: base\n")
    pb = load_playbook(child, registry=make_registry(playbooks_plugin(make_plugin, base)))
    assert [s.id for s in pb.stages] == ["one", "two"]
    lone = write_file("lone.yaml", "id: lone\nversion: 1\ntitle: C\n")
    (problem,) = problems_of(lone, make_registry())
    assert "needs `stages`" in problem.message


def test_plugin_extension_is_merged(make_registry, make_plugin, write_file):
    base = write_file("base.yaml", BASE)
    ext = write_file("ext.yaml", """
        stages:
          - id: one
            exit:
              - {id: ext-check, when: "e == 1"}
          - id: three
    """)
    reg = make_registry(playbooks_plugin(make_plugin, base, extensions=[("base", ext)]))
    pb = load_playbook("base", registry=reg)
    assert [s.id for s in pb.stages] == ["one", "two", "three"]
    assert [c.id for c in pb.stages[0].exit] == ["x1", "x1b", "ext-check"]
    assert pb.data["_extensions"] == ["testpbs"]


def test_plugin_extension_errors_are_located_in_the_extension(make_registry, make_plugin, write_file):
    base = write_file("base.yaml", BASE)
    ext = write_file("ext.yaml", """
        stages:
          - id: one
            exit:
              - {id: ext-check, when: "nosuchfn(1)"}
    """)
    reg = make_registry(playbooks_plugin(make_plugin, base, extensions=[("base", ext)]))
    (problem,) = problems_of("base", reg)
    assert "unknown function 'nosuchfn'" in problem.message
    assert where(problem)[:2] == ("ext.yaml", 4)


# -- plugins misbehaving at load time ---------------------------------------------------------


def test_rule_prepare_that_raises_is_reported(make_registry, make_plugin, write_file):
    def prepare(params, ctx):
        raise RuntimeError("boom")

    plugin = make_plugin("bad", register_rules=lambda register: register(
        "bad.rule", lambda f, d, p, c: True, prepare=prepare))
    path = write_file("p.yaml", "id: p\nversion: 1\ntitle: t\nstages:\n  - id: one\n    entry:\n"
                                "      - {id: a, rule: bad.rule}\n")
    (problem,) = problems_of(path, make_registry(plugin))
    assert "rule 'bad.rule' (plugin 'bad') failed to prepare: RuntimeError: boom" in problem.message


def test_playbook_passes_rule_loads_sub_playbook_and_detects_cycles(make_registry, make_plugin, write_file):
    gate = write_file("gate.yaml", "id: gate\nversion: 1\ntitle: G\nstages:\n  - id: g\n    exit:\n"
                                   "      - {id: g1, when: \"ok == true\"}\n")
    user = write_file("user.yaml", "id: user\nversion: 1\ntitle: U\nstages:\n  - id: u\n    exit:\n"
                                   "      - {id: passes-gate, rule: core.playbook-passes, with: {playbook: gate}}\n")
    loop = write_file("loop.yaml", "id: loop\nversion: 1\ntitle: L\nstages:\n  - id: u\n    exit:\n"
                                   "      - {id: self, rule: core.playbook-passes, with: {playbook: loop}}\n")
    reg = make_registry(playbooks_plugin(make_plugin, gate, user, loop))
    pb = load_playbook("user", registry=reg)
    assert "gate" in pb.sub_playbooks
    from playbook.engine import evaluate

    assert evaluate(pb, {"ok": True}).complete
    failing = evaluate(pb, {"ok": False})
    assert not failing.complete
    report = failing.to_dict("en")
    item = report["stages"][0]["exit"][0]
    assert item["values"]["gate.blocking"] == ["g1"]
    (problem,) = problems_of("loop", reg)
    assert "refers back to itself" in problem.message


def test_compiled_playbooks_are_cached_until_the_file_changes(registry, write_file):
    path = write_file("c.yaml", "id: c\nversion: 1\ntitle: t\nstages: [{id: one}]\n")
    first = load_playbook(path, registry=registry)
    assert load_playbook(path, registry=registry) is first
    path.write_text("id: c\nversion: 2\ntitle: t changed\nstages: [{id: one}, {id: two}]\n")
    second = load_playbook(path, registry=registry)
    assert second.version == 2 and [s.id for s in second.stages] == ["one", "two"]


def test_hookimpl_is_the_public_marker():
    # plugins import `playbook.hookimpl`; it must be the pluggy marker of project "playbook"
    assert hookimpl.project_name == "playbook"
