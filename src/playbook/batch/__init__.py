"""Portfolio checks: many cases through the one evaluator, streamed, in parallel, summarised.

``readers`` turns input files (JSONL, a JSON array, CSV, a directory of case files) into a
stream of raw records; ``worker`` parses and evaluates chunks of them (in worker processes when
``jobs > 1``) and folds each chunk into a ``funnel.Funnel``; ``runner`` wires the two together
with bounded memory; ``summary_text`` and ``html`` render the funnel for people.

Exit codes of a batch run (``playbook check PLAYBOOK --input ...``):
  0  every record was checked (blocked cases are normal in a portfolio)
  2  unusable input: unknown playbook, missing file, bad option (nothing was checked)
  3  the batch ran to the end, but some records were rejected as bad input
  4  stopped early on purpose: ``--max-errors N`` records were rejected
  130 interrupted (Ctrl-C): no summary is written; per-case JSONL output stops where it was
"""

from __future__ import annotations

EXIT_REJECTED = 3
EXIT_STOPPED = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
