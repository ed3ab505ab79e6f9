"""Done-when: for every bundled playbook, replaying each example case as fact events in run mode
reaches the same stage (and outcome) as the evaluator (`playbook check`) on the merged facts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from playbook.engine import evaluate
from playbook.loader import load_playbook
from playbook.plugins import get_registry
from playbook.runtime.events import event_from_mapping
from playbook.runtime.runner import Runner
from playbook.sourcefile import read_document
from playbook.store import open_store


def _bundled() -> list[str]:
    return sorted(get_registry().playbook_index())


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _examples(pb: Any) -> list[tuple[str, dict[str, Any], dt.date]]:
    directory = pb.examples_dir
    out = []
    for path in sorted(directory.glob("*.y*ml")) if directory and directory.is_dir() else []:
        data = read_document(path).data
        facts = {k: v for k, v in _json(data["case"]).items() if k not in ("id", "stage")}
        out.append((path.stem, facts, dt.date.fromisoformat(str(data.get("today") or "2026-03-01"))))
    return out


def test_every_bundled_playbook_is_covered() -> None:
    ids = _bundled()
    assert ids, "no bundled playbooks found"
    with_examples = [i for i in ids if _examples(load_playbook(i))]
    assert len(with_examples) >= 3, with_examples


@pytest.mark.parametrize("playbook_id", _bundled())
def test_run_mode_reaches_the_evaluators_stage(playbook_id: str, tmp_path: Path) -> None:
    registry = get_registry()
    pb = load_playbook(playbook_id, registry=registry)
    examples = _examples(pb)
    if not examples:
        pytest.skip(f"{playbook_id} has no example cases")
    with open_store(str(tmp_path / "s.sqlite")) as store:
        runner = Runner(store, registry, playbook=pb)
        mismatches = []
        for name, facts, today in examples:
            expected = evaluate(pb, facts, today=today)
            want = (expected.inferred_stage if expected.entered else None, expected.outcome)
            # 1) the whole case as one fact event
            at = today.isoformat()
            runner.apply(event_from_mapping({"case": f"{name}/one", "id": "e1", "at": at, "facts": facts}))
            case = store.get_case(f"{name}/one")
            if (case.stage, case.outcome) != want:
                mismatches.append((name, "one event", (case.stage, case.outcome), want))
            # 2) one fact event per top-level fact. Stages are sticky (a case never moves back by
            #    itself), so where a criterion passes on part of the facts and fails on all of them
            #    (e.g. "no open objection"), run mode may be ahead of the evaluator -- never behind.
            #    Cases with an outcome are skipped: a partial case may legitimately close earlier.
            for i, key in enumerate(facts):
                runner.apply(event_from_mapping({"case": f"{name}/split", "id": f"e{i}", "at": at,
                                                 "facts": {key: facts[key]}}))
            case = store.get_case(f"{name}/split")
            if expected.outcome is None and case is not None:
                reached = pb.stage_index(case.stage) if case.stage else -1
                inferred = expected.inferred if expected.entered else -1
                if reached < inferred or case.facts != facts:
                    mismatches.append((name, "split events", (case.stage, case.outcome), want))
                elif reached > inferred:
                    ahead = evaluate(pb, facts, today=today, stage=case.stage)
                    if not ahead.skipped_indexes():  # ahead only because a passed gate now fails
                        mismatches.append((name, "split events ahead without a reason", case.stage, want))
        assert not mismatches, mismatches


def _prefixes(facts: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(facts)
    return [{k: facts[k] for k in keys[:n]} for n in range(len(keys) + 1)]


@pytest.mark.parametrize("playbook_id", _bundled())
def test_the_runners_outcome_at_a_stage_is_the_evaluators(playbook_id: str) -> None:
    """The runner picks the outcome at the stage a case reaches from the evaluation it has
    (``outcome_at``) instead of evaluating again: it must be what ``evaluate`` gives there, for
    every example (and every prefix of its facts, as events bring them) and every stage."""
    from playbook.runtime.runner import outcome_at

    pb = load_playbook(playbook_id, registry=get_registry())
    examples = _examples(pb)
    if not examples:
        pytest.skip(f"{playbook_id} has no example cases")
    checked = differ = 0
    for name, facts, today in examples:
        for part in _prefixes(facts) + [{**facts, "opportunity": None}]:
            part = {k: v for k, v in part.items() if v is not None}
            first = evaluate(pb, part, today=today, stage=pb.stages[0].id)
            for index, stage in enumerate(pb.stages):
                want = evaluate(pb, part, today=today, stage=stage.id).outcome
                assert outcome_at(first, index) == want, (name, list(part), stage.id)
                checked += 1
                differ += want != first.outcome
    assert checked
    if any(o.from_stages for o in pb.outcomes):
        assert differ, "no example reaches an outcome that depends on the stage: the test proves nothing"
