"""Golden tests: every bundled playbook validates and every one of its examples passes with full
criterion coverage. Parametrized by playbook id, so a new bundled playbook is tested as soon as
its file lands in playbooks/."""

from __future__ import annotations

from typing import Any

import pytest

from playbook.examples import Coverage, find_examples, run_example
from playbook.loader import load_playbook
from playbook.plugins import build_registry, create_plugin_manager


def _bundled_ids() -> list[str]:
    registry = build_registry(create_plugin_manager(entry_points=False))
    return sorted(pid for pid, src in registry.playbook_index().items() if src.plugin == "core")


BUNDLED = _bundled_ids()


def test_there_are_bundled_playbooks():
    assert {"six-step-sales", "six-step-management", "hall-marketing", "opportunity-four-questions",
            "six-step-marketing", "account-lifecycle"} <= set(BUNDLED)


@pytest.mark.parametrize("playbook_id", BUNDLED)
def test_validate(run_cli, playbook_id):
    result = run_cli("validate", playbook_id)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"ok: {playbook_id} (")


@pytest.mark.parametrize("playbook_id", BUNDLED)
def test_examples_pass_with_full_coverage(registry, playbook_id):
    pb = load_playbook(playbook_id, registry=registry)
    examples = find_examples(pb)
    assert len(examples) >= 3, f"{playbook_id}: too few examples"
    coverage = Coverage()
    failures = []
    for example in examples:
        assert example.expect, f"{playbook_id}/{example.name}: an example must expect something"
        assert example.today is not None, f"{playbook_id}/{example.name}: pin `today` for reproducibility"
        outcome = run_example(pb, example)
        if not outcome.passed:
            failures.append(f"{example.name}: " + "; ".join(outcome.differences))
        if outcome.result is not None:
            coverage.add(pb, outcome.result)
    assert not failures, "\n".join(failures)
    gaps = coverage.gaps(pb)
    assert gaps == {"never_passed": [], "never_failed": []}, gaps
    # the examples reach every stage's situation: not entered, blocked somewhere, complete
    results = [run_example(pb, e).result for e in examples]
    assert any(not r.entered for r in results), "no example of a case that does not enter"
    assert any(r.complete for r in results), "no example of a complete case"


@pytest.mark.parametrize("playbook_id", BUNDLED)
def test_playbook_test_command_requires_coverage(run_cli, playbook_id):
    result = run_cli("test", playbook_id, "--require-coverage")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ", 0 failed" in result.stdout


def _texts(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every human-readable text field in a playbook document."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("title", "description", "goal", "guidance", "hint", "label", "strategy"):
                found.append((f"{path}.{key}", value))
            found += _texts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _texts(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("playbook_id", BUNDLED)
def test_bundled_texts_are_bilingual(registry, playbook_id):
    pb = load_playbook(playbook_id, registry=registry)
    data = {k: v for k, v in pb.data.items() if k not in ("facts", "examples")}
    missing = [path for path, value in _texts(data)
               if isinstance(value, dict) and not (value.get("zh") and value.get("en"))]
    plain = [path for path, value in _texts(data) if isinstance(value, str)
             and path.rsplit(".", 1)[-1] in ("title", "guidance", "hint", "goal")]
    assert len(_texts(data)) >= len(pb.criteria) + len(pb.stages)
    assert not missing, f"texts without both zh and en: {missing[:10]}"
    assert not plain, f"single-language texts: {plain[:10]}"
    for stage in pb.stages:
        for criterion in (*stage.entry, *stage.exit):
            assert isinstance(criterion.title, dict), f"{criterion.id}: title must be {{zh, en}}"


def test_all_bundled_in_one_subprocess(run_subprocess):
    result = run_subprocess("test", *BUNDLED, "--require-coverage")
    assert result.returncode == 0, result.stdout + result.stderr
    for playbook_id in BUNDLED:
        assert f"{playbook_id}: " in result.stdout
