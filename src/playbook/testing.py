"""A testing kit for plugin authors (a pytest plugin, registered through ``pytest11``).

    def test_grade(playbook_kit):
        kit = playbook_kit(my_plugin)            # register your plugin (module or object)
        report = kit.check("bank-key-account", {"account": {...}}, today="2026-03-01")
        assert report["stage"]["current"] == "analyse-opportunity"
        kit.assert_blocking(report, ["grade-a-or-b"])

Entry-point plugins that are installed (``pip install plugins/banking``) are discovered as in
the CLI; pass ``entry_points=False`` to test a plugin in isolation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest


class PlaybookKit:
    """Register plugins, load playbooks, check cases, assert on reports."""

    def __init__(self, plugins: Iterable[Any] = (), *, entry_points: bool = True):
        from .plugins import PluginProblem, build_registry, create_plugin_manager

        problems: list[PluginProblem] = []
        pm = create_plugin_manager(entry_points=entry_points, problems=problems)
        for plugin in plugins:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            if not pm.has_plugin(name) and not pm.is_registered(plugin):
                pm.register(plugin, name=name)
        self.plugin_manager = pm
        self.registry = build_registry(pm, problems)
        self.registry.plugin_manager = pm  # type: ignore[attr-defined]

    @property
    def errors(self) -> list[Any]:
        """Plugin problems found while registering (import failures, clashes, hook errors)."""
        return list(self.registry.errors)

    def load(self, ref: str | Path) -> Any:
        from .loader import load_playbook

        return load_playbook(ref, registry=self.registry)

    def evaluate(self, ref: str | Path, facts: dict[str, Any], *, today: str | dt.date | None = None,
                 stage: str | None = None) -> Any:
        from .engine import evaluate

        if isinstance(today, str):
            today = dt.date.fromisoformat(today)
        return evaluate(self.load(ref), facts, today=today, stage=stage)

    def check(self, ref: str | Path, facts: dict[str, Any], *, today: str | dt.date | None = None,
              stage: str | None = None, lang: str = "en") -> dict[str, Any]:
        """The JSON report (as a dict) for ``facts`` checked against playbook ``ref``."""
        return self.evaluate(ref, facts, today=today, stage=stage).to_dict(lang)

    def run_examples(self, ref: str | Path) -> list[Any]:
        """Run a playbook's example cases; returns the outcomes (``.passed``, ``.differences``)."""
        from .examples import find_examples, run_example

        pb = self.load(ref)
        return [run_example(pb, ex) for ex in find_examples(pb)]

    # -- assertions with readable failure messages -----------------------------------------
    @staticmethod
    def criterion(report: dict[str, Any], criterion_id: str) -> dict[str, Any]:
        for stage in report["stages"]:
            for item in (*stage["entry"], *stage["exit"]):
                if item["id"] == criterion_id:
                    return item
        raise AssertionError(f"no criterion {criterion_id!r} in the report")

    def assert_passes(self, report: dict[str, Any], *criterion_ids: str) -> None:
        failing = [c for c in criterion_ids if not self.criterion(report, c)["passed"]]
        assert not failing, f"expected to pass: {failing} — " + "; ".join(
            self.criterion(report, c)["message"] for c in failing)

    def assert_fails(self, report: dict[str, Any], *criterion_ids: str) -> None:
        passing = [c for c in criterion_ids if self.criterion(report, c)["passed"]]
        assert not passing, f"expected to fail: {passing}"

    @staticmethod
    def assert_blocking(report: dict[str, Any], expected: Iterable[str]) -> None:
        got = sorted(b["criterion"] for b in report["blocking"])
        assert got == sorted(expected), f"blocking: expected {sorted(expected)}, got {got}"

    @staticmethod
    def assert_stage(report: dict[str, Any], current: str, *, ready: bool | None = None) -> None:
        stage = report["stage"]
        assert stage["current"] == current, f"current stage: expected {current!r}, got {stage['current']!r}"
        if ready is not None:
            assert stage["ready_to_advance"] is ready, (
                f"ready_to_advance: expected {ready}, got {stage['ready_to_advance']}; blocking: "
                + ", ".join(b["criterion"] for b in report["blocking"]))


@pytest.fixture
def playbook_kit() -> Callable[..., PlaybookKit]:
    """Factory fixture: ``playbook_kit(plugin, ..., entry_points=True)`` -> PlaybookKit."""
    from .loader import _compiled_cache

    def make(*plugins: Any, entry_points: bool = True) -> PlaybookKit:
        _compiled_cache.clear()
        return PlaybookKit(plugins, entry_points=entry_points)

    yield make
    _compiled_cache.clear()
