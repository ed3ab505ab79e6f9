"""Portfolio benchmarks, one command: ``python benchmarks/run.py [--cases N]``.

1. generate a deterministic synthetic portfolio (``generate.py``; cached in --data-dir);
2. check that ``playbook``, the hand-written baseline and durable_rules agree, case by case;
3. time ``playbook check bench-sales.yaml --input portfolio.jsonl`` with --jobs 1 and 2 (wall
   clock, cases/s, peak RSS of the whole process tree), and the bundled six-step-sales;
4. time evaluation alone, per core: playbook's evaluator vs the hand-written baseline vs
   durable_rules used directly (cases parsed beforehand, outside the timing);
5. cold start of ``playbook check`` on one case vs ``python -c "import click"`` (medians).

Targets (benchmarks, not tests): evaluation >= 0.5x hand-written per core and >= 20x
durable_rules; peak RSS < 300 MB for 10^6 cases; --jobs 2 >= 1.7x --jobs 1; cold start <= 0.3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baseline  # noqa: E402
import generate  # noqa: E402

PLAYBOOK = str(HERE / "bench-sales.yaml")
TODAY = generate.TODAY


def _loads() -> Any:
    try:
        import orjson

        return orjson.loads
    except ImportError:
        return json.loads


# -- measuring a process tree ---------------------------------------------------------------
def _tree_rss_kb(pid: int) -> tuple[int, int]:
    """(RSS of pid, RSS of pid and all its descendants) in kB, from /proc (Linux)."""
    total = own = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
                        total += kb
                        if p == pid:
                            own = kb
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return own, total


def run_measured(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; wall time and peak RSS (main process, whole tree) sampled every 20 ms."""
    peak = {"main": 0, "tree": 0}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            own, tree = _tree_rss_kb(proc.pid)
            peak["main"] = max(peak["main"], own)
            peak["tree"] = max(peak["tree"], tree)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{err.decode()[-2000:]}")
    return {"seconds": wall, "rss_main_mb": peak["main"] / 1024, "rss_tree_mb": peak["tree"] / 1024}


def playbook_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "playbook", *args]


# -- in-process evaluation ------------------------------------------------------------------
def blocks(path: Path, limit: int, size: int = 5000) -> Any:
    loads = _loads()
    block: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh):
            if n >= limit:
                break
            case = loads(line)
            case.pop("stage", None)  # the baseline infers stages only
            block.append(case)
            if len(block) == size:
                yield block
                block = []
    if block:
        yield block


def agree(path: Path, sample: int) -> int:
    """Assert playbook and the baseline agree on every criterion and stage; returns cases compared."""
    from playbook.criteria.runtime import EvalContext
    from playbook.engine import evaluate
    from playbook.loader import load_playbook

    pb = load_playbook(PLAYBOOK)
    assert [c.id for c in pb.criteria] == baseline.CRITERIA, "bench-sales.yaml and baseline.py differ"
    ctx = EvalContext(TODAY)
    n = 0
    for block in blocks(path, sample):
        for case in block:
            r = evaluate(pb, case, ctx=ctx)
            got = (r.passed, r.entered, r.inferred, r.complete, r.ready)
            want = baseline.check(case, TODAY)
            if got != want:
                diff = [c for c, a, b in zip(baseline.CRITERIA, got[0], want[0], strict=True) if a != b]
                raise SystemExit(f"playbook and baseline disagree on {case['id']}: {diff or got[1:]} vs {want[1:]}")
            n += 1
    return n


def evaluation_rates(path: Path, sample: int) -> dict[str, float]:
    from playbook.criteria.runtime import EvalContext
    from playbook.engine import evaluate
    from playbook.gctune import tune_for_throughput
    from playbook.loader import load_playbook

    pb = load_playbook(PLAYBOOK)
    ctx = EvalContext(TODAY)
    tune_for_throughput()  # as `playbook check --input` workers do; the baseline runs under it too
    t_engine = t_base = 0.0
    n = 0
    check = baseline.check
    for block in blocks(path, sample):
        t = time.perf_counter()
        for case in block:
            evaluate(pb, case, ctx=ctx)
        t_engine += time.perf_counter() - t
        t = time.perf_counter()
        for case in block:
            check(case, TODAY)
        t_base += time.perf_counter() - t
        n += len(block)
    return {"cases": n, "playbook": n / t_engine, "baseline": n / t_base}


def durable_rate(path: Path, sample: int) -> dict[str, Any]:
    try:
        from durable_bench import DurableChecker
    except ImportError as exc:  # durable_rules is optional (no wheels, fails on 3.13)
        return {"error": f"durable_rules not importable: {exc}"}
    checker = DurableChecker()
    cases = [c for block in blocks(path, sample) for c in block]
    t = time.perf_counter()
    results = [checker.check(case, TODAY, i) for i, case in enumerate(cases)]
    seconds = time.perf_counter() - t
    mismatches = sum(1 for case, got in zip(cases, results, strict=True) if got != baseline.check(case, TODAY))
    return {"cases": len(cases), "rate": len(cases) / seconds, "mismatches": mismatches}


def baseline_end_to_end(path: Path) -> float:
    """Hand-written end to end on one core: read JSONL, parse, check, count stages."""
    loads = _loads()
    counts = [0] * 6
    start = time.perf_counter()
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            case = loads(line)
            counts[baseline.check(case, TODAY)[2]] += 1
            n += 1
    return n / (time.perf_counter() - start)


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            mem = f", {int(fh.readline().split()[1]) // 1024 // 1024} GB RAM"
    except (OSError, ValueError):
        pass
    return f"{cpu}, {cores} cores{mem}; {platform.system()} {platform.release()}; Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="playbook portfolio benchmarks")
    ap.add_argument("--cases", type=int, default=1_000_000, help="portfolio size (default 10^6)")
    ap.add_argument("--eval-cases", type=int, default=200_000, help="cases for the in-process evaluation timing")
    ap.add_argument("--durable-cases", type=int, default=10_000, help="cases for durable_rules (~1k/s)")
    ap.add_argument("--six-step-cases", type=int, default=100_000, help="cases for the bundled six-step-sales run")
    ap.add_argument("--runs", type=int, default=7, help="cold-start runs (median)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "playbook-bench"))
    ap.add_argument("--json", dest="json_out", default=None, help="also write the results as JSON here")
    args = ap.parse_args(argv)

    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"portfolio-{args.cases}-{args.seed}.jsonl"
    res: dict[str, Any] = {"machine": machine(), "date": dt.date.today().isoformat(), "cases": args.cases}
    try:
        import orjson  # noqa: F401

        res["json_parser"] = "orjson"
    except ImportError:
        res["json_parser"] = "json"
    print(f"machine: {res['machine']}\nJSONL parser: {res['json_parser']}")
    if not path.exists():
        t = time.perf_counter()
        size = generate.write_jsonl(args.cases, str(path) + ".part", args.seed)
        os.replace(str(path) + ".part", path)
        print(f"generated {args.cases:,} cases ({size / 1e6:,.0f} MB) in {time.perf_counter() - t:.0f} s: {path}")
    res["input_mb"] = path.stat().st_size / 1e6

    n = agree(path, min(args.cases, 5000))
    print(f"agreement: playbook == hand-written baseline on all {n:,} sampled cases (every criterion, stage)")

    common = ["check", PLAYBOOK, "--input", str(path), "--today", TODAY.isoformat(), "--format", "summary-json",
              "-o", os.devnull]
    for jobs in (1, 2):
        m = run_measured(playbook_cmd(*common, "--jobs", str(jobs)))
        m["rate"] = args.cases / m["seconds"]
        res[f"check_j{jobs}"] = m
        print(f"playbook check --input --jobs {jobs}: {m['seconds']:.1f} s, {m['rate']:,.0f} cases/s, "
              f"peak RSS {m['rss_main_mb']:.0f} MB main / {m['rss_tree_mb']:.0f} MB all processes")
    res["speedup_j2"] = res["check_j2"]["rate"] / res["check_j1"]["rate"]
    print(f"--jobs 2 / --jobs 1: {res['speedup_j2']:.2f}x")

    six = data / f"six-step-{args.six_step_cases}-{args.seed}.jsonl"
    if not six.exists():
        generate.write_jsonl(args.six_step_cases, str(six), args.seed)
    m = run_measured(playbook_cmd("check", "six-step-sales", "--input", str(six), "--today", TODAY.isoformat(),
                                  "--format", "summary-json", "-o", os.devnull, "--jobs", "1"))
    m["rate"] = args.six_step_cases / m["seconds"]
    res["six_step_j1"] = m
    print(f"bundled six-step-sales (sub-playbook gates, tables), --jobs 1, {args.six_step_cases:,} cases: "
          f"{m['rate']:,.0f} cases/s")

    e2e = baseline_end_to_end(path)
    res["baseline_end_to_end"] = e2e
    print(f"hand-written end to end (read + parse + check), one core: {e2e:,.0f} cases/s; "
          f"playbook check --jobs 1 = {res['check_j1']['rate'] / e2e:.2f}x")

    ev = evaluation_rates(path, min(args.cases, args.eval_cases))
    res["evaluation"] = ev
    print(f"evaluation only, one core, {ev['cases']:,} cases: playbook {ev['playbook']:,.0f}/s, "
          f"hand-written {ev['baseline']:,.0f}/s -> {ev['playbook'] / ev['baseline']:.2f}x")

    dr = durable_rate(path, min(args.cases, args.durable_cases))
    res["durable"] = dr
    if "rate" in dr:
        print(f"durable_rules directly, {dr['cases']:,} cases: {dr['rate']:,.0f}/s "
              f"({dr['mismatches']} disagreements with the baseline) -> playbook is "
              f"{ev['playbook'] / dr['rate']:.0f}x faster")
    else:
        print(dr["error"])

    case_file = data / "one-case.json"
    with open(path, "rb") as fh:
        case_file.write_bytes(fh.readline())
    cold = median_seconds(playbook_cmd("check", "six-step-sales", str(case_file), "--today", TODAY.isoformat()),
                          args.runs)
    click = median_seconds([sys.executable, "-c", "import click"], args.runs)
    bare = median_seconds([sys.executable, "-c", "pass"], args.runs)
    res["cold_start"] = {"playbook_check": cold, "import_click": click, "python": bare}
    print(f"cold start (median of {args.runs}): playbook check one case {cold:.3f} s; "
          f"python -c 'import click' {click:.3f} s; python -c pass {bare:.3f} s")

    targets = [
        ("evaluation >= 0.5x hand-written per core", ev["playbook"] / ev["baseline"] >= 0.5),
        ("evaluation >= 20x durable_rules", "rate" in dr and ev["playbook"] / dr["rate"] >= 20),
        ("peak RSS < 300 MB (all processes, --jobs 2)", res["check_j2"]["rss_tree_mb"] < 300),
        ("--jobs 2 >= 1.7x --jobs 1", res["speedup_j2"] >= 1.7),
        ("one-case cold start <= 0.3 s", cold <= 0.3),
    ]
    print("\ntargets:")
    for name, ok in targets:
        print(f"  [{'met' if ok else 'MISSED'}] {name}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
