"""Run a batch: read records, cut them into chunks, evaluate (in-process or in worker
processes), and merge the chunks' funnels in input order.

Memory stays flat: the reader is a generator, at most ``3 × jobs`` chunks are in flight (a
``ProcessPoolExecutor`` fed through ``submit`` with back-pressure, since ``Pool.imap`` would
read the whole input ahead), and each result is merged into fixed-size counters at once.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace

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

    stream = chunks(iter_records(sources, meter), sources, chunk_size or CHUNK_SIZE)
    first = next(stream, None)
    second = next(stream, None) if first is not None else None
    try:
        if first is None:
            pass
        elif jobs <= 1 or second is None:
            for chunk in _prepend(first, second, stream):
                handle(local.run(chunk, remaining()))
                if state["stopped"]:
                    break
        else:
            _run_parallel(job, local, _prepend(first, second, stream), jobs, handle, remaining, state)
    finally:
        if bar is not None:
            bar.close(funnel.cases, funnel.rejected)
    return BatchRun(funnel, state["stopped"], meter.records)


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
            pending.append((executor.submit(worker.run_chunk, chunk), chunk))
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
