"""Regressions for behaviour decided after review: partial overrides under `extends`, ids
that share a name with a folder, PLAYBOOK_DEBUG inside commands, alias bombs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from playbook.errors import PlaybookError
from playbook.loader import load_playbook
from playbook.sourcefile import parse_text

BASE = """
id: base-method
version: 1
title: {zh: 基础, en: Base}
stages:
  - id: one
    title: One
    exit:
      - id: budget
        title: Budget confirmed
        when: "opportunity.budget_confirmed"
  - id: two
    title: Two
"""


def test_a_child_can_patch_an_inherited_criterion_without_repeating_its_expression(write_file: Any) -> None:
    write_file("base-method.yaml", BASE)
    child = write_file("child.yaml", """
        id: child-method
        version: 1
        title: Child
        extends: base-method.yaml
        stages:
          - id: one
            exit:
              - {id: budget, level: recommended, title: Budget (advice only)}
    """)
    pb = load_playbook(child)
    budget = pb.criterion("budget")
    assert budget is not None
    assert budget.level == "recommended" and budget.title == "Budget (advice only)"
    assert budget.when == "opportunity.budget_confirmed"  # inherited, not lost


def test_a_criterion_without_when_or_rule_is_a_located_error(write_file: Any) -> None:
    path = write_file("bad.yaml", """
        id: bad
        version: 1
        title: Bad
        stages:
          - id: one
            exit:
              - {id: nothing-to-check, title: Nothing}
    """)
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    problem = info.value.problems[0]
    assert "needs `when`" in problem.message
    assert problem.location is not None and problem.location.line == 7


def test_an_installed_id_is_not_shadowed_by_a_folder_of_the_same_name(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       run_cli: Any) -> None:
    (tmp_path / "six-step-sales").mkdir()
    monkeypatch.chdir(tmp_path)
    result = run_cli("show", "six-step-sales")
    assert result.exit_code == 0, result.stderr
    assert "six-step-sales" in result.stdout


def test_playbook_debug_shows_the_traceback_of_errors_inside_commands(run_subprocess: Any) -> None:
    quiet = run_subprocess("show", "no-such-playbook")
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    loud = run_subprocess("show", "no-such-playbook", env={"PLAYBOOK_DEBUG": "1"})
    assert loud.returncode != 0 and "Traceback" in loud.stderr and "PlaybookError" in loud.stderr


def test_an_alias_bomb_is_refused_before_it_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    from playbook import sourcefile

    calls = 0
    build = sourcefile._Builder.build

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return build(self, *args, **kwargs)

    monkeypatch.setattr(sourcefile._Builder, "build", counting)
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    levels += [f"{c}: &{c} [" + ",".join([f"*{p}"] * 10) + "]" for p, c in zip("abcdefg", "bcdefgh", strict=True)]
    with pytest.raises(PlaybookError, match="too large"):
        parse_text("\n".join(levels) + "\n", "bomb.yaml")
    # ~1.1 * 10^7 values once expanded: never more than the limit is built
    assert calls <= sourcefile.MAX_NODES


def test_aliases_in_an_ordinary_document_still_expand() -> None:
    doc = parse_text("base: &b {tier: core}\naccounts: [*b, *b]\n", "a.yaml")
    assert doc.data["accounts"] == [{"tier": "core"}, {"tier": "core"}]


def test_extends_by_file_path_detects_a_cycle_between_files(write_file: Any) -> None:
    write_file("a.yaml", "id: first\nversion: 1\ntitle: A\nextends: b.yaml\nstages: [{id: s, title: S}]\n")
    b = write_file("b.yaml", "id: second\nversion: 1\ntitle: B\nextends: a.yaml\nstages: [{id: s, title: S}]\n")
    with pytest.raises(PlaybookError, match="cycle"):
        load_playbook(b)


def test_a_broken_example_file_fails_alone_and_the_others_still_run(tmp_path: Path, run_cli: Any) -> None:
    from playbook.cli.init import init_cmd  # noqa: F401 - the skeleton is the fixture

    result = run_cli("init", "demo", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    (tmp_path / "examples" / "demo" / "zz-broken.yaml").write_text("case: [unclosed\n", encoding="utf-8")
    tested = run_cli("test", str(tmp_path / "demo.yaml"))
    assert tested.exit_code == 1
    assert "FAIL demo/zz-broken" in tested.stdout and "cannot read the example" in tested.stdout
    assert "5 passed, 1 failed" in tested.stdout  # the five good examples still ran


def test_a_child_can_patch_an_inherited_outcome_by_id(write_file: Any) -> None:
    write_file("base-method.yaml", BASE + """
outcomes:
  - {id: won, kind: won, title: Won, when: "opportunity.status == 'won'"}
""")
    child = write_file("child.yaml", """
        id: child-method
        version: 1
        title: Child
        extends: base-method.yaml
        outcomes:
          - {id: won, from: [two]}
    """)
    won = load_playbook(child).outcomes[0]
    assert won.kind == "won" and won.from_stages == frozenset({"two"})


def test_an_outcome_without_kind_or_when_is_a_located_error(write_file: Any) -> None:
    path = write_file("bad.yaml", """
        id: bad
        version: 1
        title: Bad
        stages: [{id: one, title: One}]
        outcomes:
          - {id: won, title: Won}
    """)
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    problem = info.value.problems[0]
    assert "needs `kind` and `when`" in problem.message and problem.location.line == 6


def test_evaluations_do_not_keep_earlier_evaluations_alive() -> None:
    """A kept error used to hold its traceback: its frames' locals (the reused gate's previous
    result) chained every earlier evaluation to the latest — an unbounded leak in a batch."""
    import datetime as dt
    import gc

    from playbook.engine import evaluate

    pb = load_playbook("six-step-sales")
    # No `qualification`: the four-questions gate's MAN derivation fails on every case.
    case = {"account": {"is_target": True}, "opportunity": {"identified": True, "need_clear": True}}

    def live_objects() -> int:
        gc.collect()
        return len(gc.get_objects())

    for _ in range(20):  # warm up caches
        evaluate(pb, dict(case), today=dt.date(2026, 3, 1))
    before = live_objects()
    for _ in range(300):
        evaluate(pb, dict(case), today=dt.date(2026, 3, 1))
    assert live_objects() - before < 500  # was ~70 objects per evaluation, growing without bound
