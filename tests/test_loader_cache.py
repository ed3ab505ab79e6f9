"""The compiled-playbook cache: a playbook is compiled again when any file it was built from
changes -- its own, the base it extends, a playbook it reuses as a gate -- and a reused playbook
named by a relative path is found next to the playbook that names it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.loader import load_playbook

BASE = """
id: base-pb
version: 1
title: Base
stages:
  - id: one
    title: One
    exit:
      - {{id: done, title: Done, when: "x.done == {value}"}}
  - id: two
    title: Two
"""

CHILD = """
id: child-pb
version: 1
title: Child
extends: base.yaml
"""

GATED = """
id: gated-pb
version: 1
title: Gated
stages:
  - id: a
    title: A
    exit:
      - {id: gate, title: Gate, rule: core.playbook-passes, with: {playbook: base.yaml}}
  - id: b
    title: B
"""


def _touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_changed_base_compiles_the_child_again(write_file: Callable[..., Path]) -> None:
    base = write_file("pbs/base.yaml", BASE.format(value="true"))
    child = write_file("pbs/child.yaml", CHILD)
    first = load_playbook(str(child))
    assert load_playbook(str(child)) is first  # unchanged: the cache answers
    base.write_text(BASE.format(value="false"), encoding="utf-8")
    _touch_later(base)
    again = load_playbook(str(child))
    assert again is not first and again.criteria[0].fn({"x": {"done": False}}, {}, None)


def test_a_reused_playbook_is_found_next_to_its_parent_and_a_change_to_it_is_seen(
        write_file: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = write_file("pbs/base.yaml", BASE.format(value="true"))
    gated = write_file("pbs/gated.yaml", GATED)
    monkeypatch.chdir(tmp_path)  # not the playbooks' folder
    first = load_playbook(str(gated))
    assert list(first.uses) == ["base.yaml"] and first.uses["base.yaml"].path == base
    base.write_text(BASE.format(value="false"), encoding="utf-8")
    _touch_later(base)
    again = load_playbook(str(gated))
    assert again is not first and again.uses["base.yaml"] is not first.uses["base.yaml"]
