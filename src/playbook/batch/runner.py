"""Run a batch: read records, cut them into chunks, evaluate (in-process or in worker
processes), and merge the chunks' funnels in input order.

Memory stays flat: the reader is a generator, at most ``3 × jobs`` chunks are in flight (a
``ProcessPoolExecutor`` fed through ``submit`` with back-pressure, since ``Pool.imap`` would
read the whole input ahead), and each result is merged into fixed-size counters at once.

Ctrl-C (SIGINT) is the main process's alone: workers ignore it (else each prints a traceback),
the main process stops submitting, lets the chunks in flight finish, and returns the run with
``interrupted`` set; the command says so and exits 130.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ..errors import PlaybookError, Problem
from . import worker
from .funnel import Funnel
from .progress import Progress
from .readers import Meter, Record, Source, iter_records, total_size
from .worker import Checker, Chunk, ChunkResult, Job

CHUNK_SIZE = 256
IN_FLIGHT_PER_JOB = 3


def default_jobs() -> int:
    """The cores this process may use (respects CPU affinity, e.g. ``taskset`` or containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass
class BatchRun:
    funnel: Funnel
    stopped: bool  # True when --max-errors stopped the run early
    records: int
    interrupted: bool = False  # Ctrl-C: the counts cover the records checked until then

    def interrupted_message(self) -> str:
        return (f"interrupted: {self.funnel.cases:,} case(s) checked and {self.funnel.rejected:,} rejected "
                "before Ctrl-C; no summary was written and per-case JSONL output stops there")


def chunks(records: Iterator[Record], sources: list[Source], size: int) -> Iterator[Chunk]:
    batch: list[Record] = []
    csv_sources: set[int] = set()
    for record in records:
        batch.append(record)
        if record[2] == "c":
            csv_sources.add(record[0])
        if len(batch) >= size:
            yield batch, {i: sources[i].header or [] for i in csv_sources}
            batch, csv_sources = [], set()
    if batch:
        yield batch, {i: sources[i].header or [] for i in csv_sources}


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork: workers inherit the compiled playbook (no reload, instant start). Elsewhere spawn,
    # and each worker loads the playbook once in ``init_worker``.
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_batch(
    job: Job,
    sources: list[Source],
    *,
    jobs: int,
    max_errors: int | None = None,
    on_jsonl: Callable[[str], None] | None = None,
    on_reject: Callable[[str, int, str], None] | None = None,
    progress: bool = False,
    chunk_size: int | None = None,
) -> BatchRun:
    """Check every record of ``sources``; ``job.playbook`` must be loaded already."""
    meter = Meter(total_size(sources))
    bar = Progress(meter) if progress else None
    funnel = Funnel(len(job.playbook.stages))  # type: ignore[union-attr]
    local = Checker(job)
    state = {"stopped": False}

    def handle(result: ChunkResult) -> None:
        funnel.merge(result.funnel)
        if result.rejected and bar is not None:
            bar.clear()  # a message must not land on the bar's line
        for source, line, message in result.rejected:
            funnel.reject(source, line, message)
            if on_reject is not None:
                on_reject(source, line, message)
        if result.jsonl and on_jsonl is not None:
            on_jsonl(result.jsonl)
        if max_errors is not None and funnel.rejected >= max_errors:
            state["stopped"] = True
        if bar is not None:
            bar.update(funnel.cases, funnel.rejected)

    def remaining() -> int | None:
        return None if max_errors is None else max_errors - funnel.rejected

    stream = chunks(iter_records(sources, meter, header_check=_header_check(job)), sources,
                    chunk_size or CHUNK_SIZE)
    interrupted = False
    try:
        first = next(stream, None)
        second = next(stream, None) if first is not None else None
        if first is None:
            pass
        elif jobs <= 1 or second is None:
            for chunk in _prepend(first, second, stream):
                handle(local.run(chunk, remaining()))
                if state["stopped"]:
                    break
        else:
            _run_parallel(job, local, _prepend(first, second, stream), jobs, handle, remaining, state)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close(funnel.cases, funnel.rejected)
    return BatchRun(funnel, state["stopped"], meter.records, interrupted)


def _header_check(job: Job) -> Callable[[list[str]], str | None]:
    """CSV headers checked against the case schema + the playbook's facts, once per file."""
    types: list[Any] = []

    def check(header: list[str]) -> str | None:
        from ..resources import load_schema
        from .csvfacts import SchemaTypes, header_problem

        if not types:
            types.append(SchemaTypes(load_schema("case"), job.playbook.facts_schema))  # type: ignore[union-attr]
        return header_problem(header, types[0])

    return check


def _stop_started(before: set[Any]) -> None:
    """Stop the workers a failed pool start left behind: with no manager thread to tell them to
    exit they would wait for work forever, and the interpreter would wait for them at exit."""
    for process in set(multiprocessing.active_children()) - before:
        process.terminate()
        process.join(5)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes forked in here (workers start inside ``submit``) inherit SIG_IGN for SIGINT,
    so a Ctrl-C reaching the whole process group cannot interrupt them before ``init_worker``."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is None or threading.current_thread() is not threading.main_thread():
        yield  # a handler set outside Python cannot be put back; leave it alone
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _prepend(first: Chunk, second: Chunk | None, rest: Iterator[Chunk]) -> Iterator[Chunk]:
    yield first
    if second is not None:
        yield second
        yield from rest


def _run_parallel(job: Job, local: Checker, stream: Iterator[Chunk], jobs: int,
                  handle: Callable[[ChunkResult], None], remaining: Callable[[], int | None],
                  state: dict[str, bool]) -> None:
    ctx = _mp_context()
    if ctx.get_start_method() == "fork":
        worker.INHERITED = job
        initargs: tuple[Job | None] = (None,)
    else:
        initargs = (replace(job, playbook=None),)
    pending: deque[tuple[Future[ChunkResult], Chunk]] = deque()
    before = set(multiprocessing.active_children())
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=worker.init_worker,
                                   initargs=initargs)

    def settle(future: Future[ChunkResult], chunk: Chunk) -> None:
        result = future.result()
        budget = remaining()
        if budget is not None and len(result.rejected) >= budget:
            # stop exactly after the Nth bad record: redo this chunk's head here, drop the rest
            result = local.run(chunk, budget)
        handle(result)

    try:
        for chunk in stream:
            try:
                with _sigint_ignored():
                    future = executor.submit(worker.run_chunk, chunk)
            except OSError as exc:  # workers start in submit: fork/pipe limits (EMFILE, EAGAIN)
                _stop_started(before)
                raise PlaybookError([Problem(f"cannot start {jobs} worker processes: {exc.strerror or exc}",
                                             None, f"give a smaller --jobs (this machine has {default_jobs()} "
                                             "core(s) for it)")]) from None
            pending.append((future, chunk))
            while len(pending) >= jobs * IN_FLIGHT_PER_JOB or (pending and pending[0][0].done()):
                settle(*pending.popleft())
                if state["stopped"]:
                    return
        while pending:
            settle(*pending.popleft())
            if state["stopped"]:
                return
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        worker.INHERITED = None
