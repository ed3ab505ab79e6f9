"""Run-mode throughput: events per second through the `playbook run` machinery (event parsing,
SQLite store with one transaction per event, the evaluator, waivers, the durable_rules adapter,
actions, audit log) against posting the same events to a bare durable_rules flowchart with the
same stages in the same process. Prints both and their ratio; asserts nothing.

    python benchmarks/bench_run.py [--cases 300] [--playbook six-step-sales]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any


def build_events(playbook_id: str, cases: int) -> tuple[Any, list[str]]:
    from playbook.loader import load_playbook
    from playbook.plugins import get_registry
    from playbook.sourcefile import read_document

    pb = load_playbook(playbook_id, registry=get_registry())
    examples = [read_document(p).data for p in sorted(pb.examples_dir.glob("*.y*ml"))] if pb.examples_dir else []
    if not examples:
        sys.exit(f"{playbook_id} has no example cases to build events from")
    lines = []
    for c in range(cases):
        case = json.loads(json.dumps(examples[c % len(examples)]["case"], default=str))
        facts = {k: v for k, v in case.items() if k not in ("id", "stage")}
        for i, key in enumerate(facts):  # one event per top-level fact: cases move stage by stage
            lines.append(json.dumps({"case": f"case-{c}", "id": f"e{i}", "type": "facts",
                                     "at": "2026-03-01", "actor": "bench", "facts": {key: facts[key]}}))
    return pb, lines


def bench_playbook_run(pb: Any, lines: list[str]) -> tuple[float, dict[str, int]]:
    from playbook.plugins import get_registry
    from playbook.runtime.events import read_events
    from playbook.runtime.runfile import RunSummary, run_stream
    from playbook.runtime.runner import Runner
    from playbook.store import open_store

    with tempfile.TemporaryDirectory() as tmp, open_store(os.path.join(tmp, "bench.sqlite")) as store:
        runner = Runner(store, get_registry(), playbook=pb)
        summary = RunSummary(keep=0)
        started = time.perf_counter()
        run_stream(runner, read_events(lines), summary)
        return time.perf_counter() - started, summary.counts()


def bench_bare_flowchart(pb: Any, lines: list[str]) -> tuple[float, int]:
    """The same events posted with durable.lang to a flowchart with the same stages, each event
    moving its case one stage on (no store, no evaluator); one session per case, deleted after
    the case's last event (the 1024-session cap)."""
    from durable import lang

    name = f"bare_{pb.id.replace('-', '_')}_{os.getpid()}"
    stages = [s.id for s in pb.stages]
    with lang.flowchart(name):
        with lang.stage("$start"):
            lang.to(stages[0]).when_all(lang.m.type == "facts")
        for here, there in zip(stages, stages[1:], strict=False):
            with lang.stage(here):
                lang.to(there).when_all(lang.m.type == "facts")
        with lang.stage(stages[-1]):
            lang.to(stages[-1]).when_all(lang.m.type == "facts")  # stay: every event still fires a rule
    events = [json.loads(line) for line in lines]
    posted = 0
    started = time.perf_counter()
    previous = None
    for event in events:
        sid = event["case"]
        if previous is not None and sid != previous:
            lang.delete_state(name, previous)
        message = {**event, "sid": sid}
        lang.post(name, message)
        posted += 1
        previous = sid
    if previous is not None:
        lang.delete_state(name, previous)
    return time.perf_counter() - started, posted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--playbook", default="six-step-sales")
    args = parser.parse_args()
    pb, lines = build_events(args.playbook, args.cases)
    run_s, counts = bench_playbook_run(pb, lines)
    bare_s, posted = bench_bare_flowchart(pb, lines)
    run_eps, bare_eps = len(lines) / run_s, posted / bare_s
    print(f"playbook: {pb.id} v{pb.version}, {args.cases} cases, {len(lines)} events "
          f"({counts['transitions']} transitions, {counts['actions']} actions, {counts['rejected']} rejected)")
    print(f"playbook run machinery : {run_eps:9.0f} events/s  ({run_s * 1e6 / len(lines):6.0f} us/event)")
    print(f"bare durable flowchart : {bare_eps:9.0f} events/s  ({bare_s * 1e6 / posted:6.0f} us/event)")
    print(f"ratio run/bare         : {run_eps / bare_eps:9.2f}x  (aim >= 0.3x)")


if __name__ == "__main__":
    main()
