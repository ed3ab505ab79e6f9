"""Done-when: more than 2,000 cases through one process (past durable_rules' 1,024-session
cap) without an error and without unbounded memory growth. Runs in a subprocess so that a
durable_rules crash (its cap ends in a segfault) fails the test instead of killing pytest."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, os, resource, sys
    from playbook.loader import load_playbook
    from playbook.plugins import get_registry
    from playbook.runtime import flow
    from playbook.runtime.events import read_events
    from playbook.runtime.runfile import RunSummary, run_stream
    from playbook.runtime.runner import Runner
    from playbook.sourcefile import read_document
    from playbook.store import open_store

    def rss_kb():
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    cases, store_path = int(sys.argv[1]), sys.argv[2]
    reg = get_registry()
    pb = load_playbook("six-step-sales", registry=reg)
    # cases that stay open (an outcome closes a case, and its later events are rejected)
    examples = [read_document(p).data for p in sorted(pb.examples_dir.glob("*.yaml"))]
    examples = [e for e in examples if (e.get("expect") or {}).get("outcome") is None]
    facts = [json.loads(json.dumps({k: v for k, v in e["case"].items() if k not in ("id", "stage")}, default=str))
             for e in examples]

    def lines(first, last):
        for c in range(first, last):
            f = facts[c % len(facts)]
            keys = list(f)
            half = len(keys) // 2
            for i, part in enumerate((keys[:half], keys[half:])):
                yield json.dumps({"case": f"case-{c}", "id": f"e{i}", "type": "facts", "at": "2026-03-01",
                                  "facts": {k: f[k] for k in part}})

    import time
    started = time.perf_counter()
    summary = RunSummary(keep=20)
    with open_store(store_path) as store:
        runner = Runner(store, reg, playbook=pb)
        warm = cases // 5
        run_stream(runner, read_events(lines(0, warm)), summary)
        before = rss_kb()
        run_stream(runner, read_events(lines(warm, cases)), summary)
        after = rss_kb()
        stored = sum(1 for _ in store.iter_cases())
    print(json.dumps({"counts": summary.counts(), "rss_before_kb": before, "rss_after_kb": after,
                      "stored": stored, "live_sessions": flow.live_sessions(),
                      "seconds": time.perf_counter() - started}))
""")


def test_thousands_of_cases_in_one_process(tmp_path: Path) -> None:
    cases = 2500
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(cases), str(tmp_path / "s.sqlite")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    counts = report["counts"]
    assert counts["applied"] == 2 * cases and counts["rejected"] == 0 and counts["bad"] == 0, counts
    assert counts["transitions"] > cases  # the cases really moved through stages
    assert report["stored"] == cases and report["live_sessions"] == 0
    growth_mb = (report["rss_after_kb"] - report["rss_before_kb"]) / 1024
    print(f"RSS {report['rss_before_kb'] // 1024} MB -> {report['rss_after_kb'] // 1024} MB "
          f"after {cases - cases // 5} more cases ({growth_mb:+.1f} MB); {2 * cases} events in {report['seconds']:.1f} s")
    assert growth_mb < 20, report
