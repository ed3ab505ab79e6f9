"""Install the plugin as a real distribution into a fresh virtual environment, as an integrator
would (`pip install <core> plugins/telecom`), and check that playbook discovers it there.

Slow (builds two wheels): run with `-m slow`. pip uses this machine's configured package
mirror; nothing else is reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1]
CORE_DIR = PLUGIN_DIR.parents[1]
# the core's runtime dependencies, without durable-rules (run mode only; it compiles C at install)
CORE_DEPS = ["click>=8.1", "pluggy>=1.3", "jsonschema>=4.18", "PyYAML>=6.0"]


@pytest.mark.slow
def test_fresh_venv_install_and_discovery(tmp_path):
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = str(bindir / "python")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYBOOK_", "VIRTUAL_ENV", "PYTHONPATH"))}

    def pip(*args: str) -> None:
        done = subprocess.run([python, "-m", "pip", "install", "-q", *args], capture_output=True, text=True,
                              timeout=600, env=environ)
        assert done.returncode == 0, done.stderr[-3000:]

    pip(*CORE_DEPS)
    pip("--no-deps", str(CORE_DIR), str(PLUGIN_DIR))  # real wheels, not editable

    def playbook(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(bindir / "playbook"), *args], capture_output=True, text=True, encoding="utf-8",
                              timeout=120, env=environ, cwd=tmp_path)

    plugins = playbook("plugins", "--json")
    assert plugins.returncode == 0, plugins.stderr
    data = json.loads(plugins.stdout)
    telecom = next(p for p in data["plugins"] if p["name"] == "telecom")
    assert telecom["module"] == "playbook_telecom" and telecom["version"] == "0.1.0"
    assert data["errors"] == []

    listed = playbook("list", "--json")
    row = next(r for r in json.loads(listed.stdout) if r["id"] == "consultative-sales")
    assert row["plugin"] == "telecom"
    assert str(env_dir) in row["path"] and "site-packages" in row["path"]  # the installed copy

    tested = playbook("test", "consultative-sales", "--require-coverage")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "19 passed, 0 failed" in tested.stdout

    schema = subprocess.run([python, "-c", "import json, playbook_telecom, pathlib; "
                             "p = pathlib.Path(playbook_telecom.__file__).parent / 'schemas' / 'telecom-case.schema.json'; "
                             "print(json.load(open(p))['title'])"], capture_output=True, text=True, env=environ)
    assert schema.stdout.strip() == "Telecom consultative-sales case sections"
