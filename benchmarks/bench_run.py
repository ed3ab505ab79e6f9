"""Run-mode throughput: events per second through the `playbook run` machinery (event parsing,
SQLite store with group commit -- ``--commit-every`` events per transaction --, the evaluator, waivers, the durable_rules adapter,
actions, audit log) against posting the same events to a bare durable_rules flowchart with the
same stages in the same process. Prints both and their ratio, per playbook; asserts nothing.

    python benchmarks/bench_run.py [--cases 300] [--playbook ID ...] [--repeat 3] [--commit-every N ...]

Several ``--commit-every`` values are measured in the same alternating rounds (1 = one
transaction per event, what `playbook run --commit-every 1` does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

CPU: dict[str, float] = {}  # process time of the last run of each side


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


def bench_playbook_run(pb: Any, lines: list[str], commit_every: int | None = None) -> tuple[float, dict[str, int]]:
    from playbook.plugins import get_registry
    from playbook.runtime.events import read_events
    from playbook.runtime.runfile import COMMIT_EVERY, RunSummary, run_stream
    from playbook.runtime.runner import Runner
    from playbook.store import open_store

    with tempfile.TemporaryDirectory() as tmp, open_store(os.path.join(tmp, "bench.sqlite")) as store:
        runner = Runner(store, get_registry(), playbook=pb)
        summary = RunSummary(keep=0)
        from playbook.gctune import tune_for_throughput

        tune_for_throughput()  # as `playbook run` does (the bare flowchart runs under it too)
        started, cpu = time.perf_counter(), time.process_time()
        run_stream(runner, read_events(lines), summary, commit_every=commit_every or COMMIT_EVERY,
                   may_wait=False)  # as `playbook run` reads a file
        CPU["run"] = time.process_time() - cpu
        return time.perf_counter() - started, summary.counts()


def bare_flowchart(pb: Any) -> str:
    """A bare durable_rules flowchart with the playbook's stages, each event moving its case one
    stage on (no store, no evaluator); registered once, returns its name."""
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
    return name


def bench_bare_flowchart(name: str, lines: list[str], run: int) -> tuple[float, int]:
    """The same events posted with durable.lang to the bare flowchart: one session per case,
    deleted after the case's last event (the 1024-session cap)."""
    from durable import lang

    events = [json.loads(line) for line in lines]
    posted = 0
    started, cpu = time.perf_counter(), time.process_time()
    previous = None
    for event in events:
        sid = f"{event['case']}.{run}"
        if previous is not None and sid != previous:
            lang.delete_state(name, previous)
        message = {**event, "sid": sid}
        lang.post(name, message)
        posted += 1
        previous = sid
    if previous is not None:
        lang.delete_state(name, previous)
    CPU["bare"] = time.process_time() - cpu
    return time.perf_counter() - started, posted


def bench_playbook(playbook_id: str, cases: int, repeat: int, groups: list[int]) -> dict[int, float]:
    """Best of ``repeat`` alternating runs of each side (the machine is shared: the best run is
    the one least disturbed); prints both and returns the ratio per ``--commit-every``."""
    pb, lines = build_events(playbook_id, cases)
    name = bare_flowchart(pb)
    bench_playbook_run(pb, lines[:50])  # warm up: imports, the compiled ruleset
    bare_s = bare_cpu = float("inf")
    run_s = dict.fromkeys(groups, float("inf"))
    run_cpu = dict.fromkeys(groups, float("inf"))
    rounds: dict[int, list[float]] = {group: [] for group in groups}  # the ratio within each round
    for run in range(repeat):
        bare_time, posted = bench_bare_flowchart(name, lines, run)
        bare_s, bare_cpu = min(bare_s, bare_time), min(bare_cpu, CPU["bare"])
        for group in groups:
            run_time, counts = bench_playbook_run(pb, lines, group)
            run_s[group], run_cpu[group] = min(run_s[group], run_time), min(run_cpu[group], CPU["run"])
            rounds[group].append((bare_time / posted) / (run_time / len(lines)))
    bare_eps = posted / bare_s
    print(f"playbook: {pb.id} v{pb.version}, {cases} cases, {len(lines)} events "
          f"({counts['transitions']} transitions, {counts['actions']} actions, {counts['rejected']} rejected), "
          f"best of {repeat}")
    print(f"  bare durable flowchart : {bare_eps:9.0f} events/s  ({bare_s * 1e6 / posted:6.0f} us/event,"
          f" CPU {bare_cpu * 1e6 / posted:4.0f} us)")
    ratios = {}
    for group in groups:
        run_eps = len(lines) / run_s[group]
        ratios[group] = run_eps / bare_eps
        # CPU time leaves out waiting for the disk (the store's fsyncs) and for a shared CPU
        print(f"  playbook run, commit every {group:4d}: {run_eps:7.0f} events/s ({run_s[group] * 1e6 / len(lines):5.0f}"
              f" us/event, CPU {run_cpu[group] * 1e6 / len(lines):4.0f} us)  ratio {ratios[group]:.2f}x"
              f" (CPU {(bare_cpu / posted) / (run_cpu[group] / len(lines)):.2f}x)  aim >= 0.3x")
        # the machine may be shared: the ratio within each round (both sides run back to back)
        # is steadier than the ratio of two bests taken from different rounds
        per_round = sorted(rounds[group])
        print(f"    ratio per round: median {statistics.median(per_round):.2f}x,"
              f" min {per_round[0]:.2f}x, max {per_round[-1]:.2f}x over {len(per_round)} rounds")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--playbook", action="append",
                        help="a bundled playbook id (repeatable; default: six-step-sales and six-step-management)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts (default 3)")
    parser.add_argument("--commit-every", type=int, action="append", metavar="N",
                        help="events per store transaction (repeatable; default: 1 and playbook run's default)")
    args = parser.parse_args()
    from playbook.runtime.runfile import COMMIT_EVERY

    groups = args.commit_every or [1, COMMIT_EVERY]
    for playbook_id in args.playbook or ["six-step-sales", "six-step-management"]:
        bench_playbook(playbook_id, args.cases, max(1, args.repeat), [max(1, g) for g in groups])


if __name__ == "__main__":
    main()
