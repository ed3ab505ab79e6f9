"""The plugin as a real distribution: build and install core and plugin into a fresh virtual
environment with pip (as an integrator would), check the entry point is discovered, then
uninstall the plugin and check the core works alone.

Slow (two builds and installs): run with ``pytest -m slow``. Uses only the package index pip is
configured for (no other network). Skipped when the core's source tree is not at hand.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1]


def _core_dir() -> Path:
    """The core's source tree: from an editable install, or the checkout this plugin lives in
    (plugins/banking/ inside the core's repository, as in CI where the core is a wheel)."""
    installed = Path(str(importlib.import_module("playbook").__file__)).resolve().parents[2]
    for candidate in (installed, PLUGIN_DIR.parents[1]):
        if (candidate / "pyproject.toml").is_file() and (candidate / "src" / "playbook").is_dir():
            return candidate
    return installed


CORE_DIR = _core_dir()
# The core's runtime dependencies without durable-rules: it is only needed by the run mode and
# builds from C source (no wheels), which has nothing to do with this plugin.
CORE_DEPS = ["click>=8.1", "pluggy>=1.3", "jsonschema>=4.18", "PyYAML>=6.0"]


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.slow
def test_install_as_distribution_and_discover_entry_point(tmp_path: Path) -> None:
    if not (CORE_DIR / "pyproject.toml").is_file() or not (CORE_DIR / "src" / "playbook").is_dir():
        pytest.skip("the core's source tree is not available (core installed from a wheel)")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    bindir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    pip = [bindir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, *CORE_DEPS)
    run(*pip, "--no-deps", CORE_DIR)
    run(*pip, "--no-deps", PLUGIN_DIR)  # a regular (non-editable) wheel install, built by hatchling
    cli = bindir / "playbook"

    # The installed copy is used, not this source tree.
    where = run(bindir / "python", "-c", "import playbook_banking; print(playbook_banking.__file__)").stdout
    assert str(venv) in where

    listed = json.loads(run(cli, "list", "--json").stdout)
    bank = [r for r in listed if r["id"] == "bank-key-account"]
    assert bank and bank[0]["plugin"] == "banking"

    plugins = json.loads(run(cli, "plugins", "--json").stdout)
    assert plugins["errors"] == []
    info = next(p for p in plugins["plugins"] if p["name"] == "banking")
    assert info["module"] == "playbook_banking.plugin" and info["version"] == "0.1.0"
    assert "banking.visit-plan" in info["registered"]["actions"]
    assert info["registered"]["extensions"] == ["hall-marketing"]

    # The examples ship inside the wheel and pass there, with full coverage.
    tested = run(cli, "test", "bank-key-account", "--require-coverage")
    assert "0 failed" in tested.stdout

    # Without the plugin the core still works and knows nothing of banking.
    run(bindir / "python", "-m", "pip", "uninstall", "--yes", "--quiet", "playbook-banking")
    listed = json.loads(run(cli, "list", "--json").stdout)
    assert "bank-key-account" not in {r["id"] for r in listed}
    assert "hall-marketing" in {r["id"] for r in listed}
    assert run(cli, "test", "hall-marketing", "--require-coverage").returncode == 0
    missing = run(cli, "check", "bank-key-account", "-", check=False)
    assert missing.returncode == 2 and "unknown playbook 'bank-key-account'" in missing.stderr
