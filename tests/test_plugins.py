"""Plugin discovery: the core plugin, local modules, entry points, and misbehaving plugins.

The slow test at the end installs the core and a real test distribution (with an entry point in
the group ``playbook``) into a fresh virtualenv and drives the installed ``playbook`` command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from playbook.engine import evaluate
from playbook.loader import load_playbook
from playbook.plugins import create_plugin_manager, get_registry

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent
TEST_PLUGIN = TESTS / "plugins" / "playbook_testplugin"
BROKEN_PLUGIN = TESTS / "plugins" / "playbook_brokenplugin"


@pytest.fixture
def testplugin_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(TEST_PLUGIN / "src"))


@pytest.fixture
def brokenplugin_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BROKEN_PLUGIN / "src"))
    sys.modules.pop("playbook_brokenplugin", None)


def names(registry) -> list[str]:
    return [p.name for p in registry.plugins]


# -- the core plugin ---------------------------------------------------------------------------


def test_core_plugin_registers_through_the_hooks(make_registry):
    reg = make_registry()
    assert names(reg) == ["core"]
    core = reg.plugins[0]
    assert core.module == "playbook.builtin"
    assert set(core.hooks) >= {"register_rules", "register_functions", "register_actions",
                               "register_derivations", "register_playbooks", "register_schemas"}
    assert {"today", "days_since", "len", "coalesce"} <= set(reg.functions)
    assert set(reg.actions) == {"checklist", "task", "template", "lookup"}
    assert "core.playbook-passes" in reg.rules and "core.man" in reg.derivations
    assert "core.case" in reg.schemas
    assert "six-step-sales" in reg.playbook_index()
    assert reg.playbook_index()["six-step-sales"].plugin == "core"
    assert core.registered["actions"] == ["checklist", "task", "template", "lookup"]
    assert reg.errors == []


# -- local plugin modules: -p and PLAYBOOK_PLUGINS --------------------------------------------


def assert_testplugin_works(reg) -> None:
    assert "testplug" in names(reg) or "playbook_testplugin" in names(reg)
    assert reg.rules["testplug.amount-at-least"].schema["required"] == ["min"]
    assert "testplug.double" in reg.functions and "testplug.note" in reg.actions
    assert "testplug.line-total" in reg.derivations
    pb = load_playbook("testplug-demo", registry=reg)
    result = evaluate(pb, {"deal": {"amount": 5000, "signed": True}, "lines": [{"amount": 1000}]})
    assert result.complete
    assert result.derived["lines"] == {"total": 1000, "count": 1}
    report = result.to_dict("en")
    assert report["stage"]["current"] == "close"
    small = evaluate(pb, {"deal": {"amount": 5}, "lines": []}).to_dict("en")
    assert small["blocking"][0]["message"] == "amount 5 is below 1000"
    assert small["actions"][0]["output"] == {"text": "Note: call back"}


def test_plugin_from_environment_variable(testplugin_on_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_PLUGINS", "playbook_testplugin")
    monkeypatch.setenv("PLAYBOOK_DISABLE_PLUGINS", "*")  # entry points off: local modules still load
    reg = get_registry()
    assert names(reg) == ["core", "playbook_testplugin"]
    info = reg.plugins[1]
    assert info.version == "0.3.0"
    assert info.registered["rules"] == ["testplug.amount-at-least"]
    assert_testplugin_works(reg)


def test_plugin_from_dash_p(testplugin_on_path, run_cli, tmp_path):
    reg = get_registry(("playbook_testplugin",))
    assert_testplugin_works(reg)
    result = run_cli("-p", "playbook_testplugin", "plugins", "--json")
    assert result.exit_code == 0, result
    data = json.loads(result.stdout)
    plugin = next(p for p in data["plugins"] if p["name"] == "playbook_testplugin")
    assert plugin["registered"]["functions"] == ["testplug.double"]
    assert data["errors"] == []


def test_module_that_fails_to_import_is_reported_by_name(brokenplugin_on_path, testplugin_on_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_PLUGINS", "playbook_brokenplugin, no_such_module_xyz ,playbook_testplugin")
    reg = get_registry()
    problems = {e.plugin: e for e in reg.errors}
    assert set(problems) == {"playbook_brokenplugin", "no_such_module_xyz"}
    assert problems["playbook_brokenplugin"].where == "import"
    assert "not-installed-anywhere" in problems["playbook_brokenplugin"].message
    assert "ModuleNotFoundError" in problems["no_such_module_xyz"].message
    assert_testplugin_works(reg)  # the rest keeps working
    assert "no_such_module_xyz" in str(problems["no_such_module_xyz"])


def test_disable_plugins(testplugin_on_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_PLUGINS", "playbook_testplugin")
    monkeypatch.setenv("PLAYBOOK_DISABLE_PLUGINS", "playbook_testplugin")
    reg = get_registry()
    assert "playbook_testplugin" not in names(reg) and "testplug.double" not in reg.functions
    assert names(reg)[0] == "core"


# -- entry points (in process: distribution metadata written to a folder on sys.path) ----------


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """``installed(dist, version, {ep_name: module})``: a dist-info folder as pip would write it."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, version: str, entry_points: dict[str, str]) -> None:
        info = site / f"{dist}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = ["[console_scripts]", "not-a-plugin = os:getcwd", "", "[playbook]",
                 *(f"{name} = {module}" for name, module in entry_points.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")

    return install


def test_entry_point_discovery(testplugin_on_path, brokenplugin_on_path, installed, monkeypatch):
    installed("playbook_testplugin", "0.3.0", {"testplug": "playbook_testplugin"})
    installed("playbook_brokenplugin", "0.0.1", {"brokenplug": "playbook_brokenplugin"})
    from playbook.plugins import iter_entry_points

    eps = {ep.name: ep for ep in iter_entry_points("playbook")}
    assert eps["testplug"].value == "playbook_testplugin" and eps["testplug"].version == "0.3.0"
    assert "not-a-plugin" not in eps
    reg = get_registry()
    assert "testplug" in names(reg) and "brokenplug" not in names(reg)
    assert [(e.plugin, e.where) for e in reg.errors] == [("brokenplug", "import")]
    assert "not-installed-anywhere" in reg.errors[0].message
    assert_testplugin_works(reg)
    # switched off by name, or all entry points at once
    monkeypatch.setenv("PLAYBOOK_DISABLE_PLUGINS", "brokenplug")
    assert get_registry().errors == [] and "testplug" in names(get_registry())
    monkeypatch.setenv("PLAYBOOK_DISABLE_PLUGINS", "*")
    assert "testplug" not in names(get_registry()) and names(get_registry())[0] == "core"


def test_entry_point_to_an_attribute(testplugin_on_path, installed):
    installed("attr_plugin", "1.0", {"attrplug": "playbook_testplugin:register_rules"})
    installed("missing_attr_plugin", "1.0", {"nothere": "playbook_testplugin:no_such_attribute"})
    pm = create_plugin_manager()
    assert pm.has_plugin("attrplug")
    problems = []
    create_plugin_manager(problems=problems)
    assert [(p.plugin, p.where) for p in problems] == [("nothere", "import")]
    assert not create_plugin_manager(entry_points=False).has_plugin("attrplug")


# -- misbehaving plugins -----------------------------------------------------------------------


def test_plugin_that_raises_in_a_hook_is_reported_and_the_rest_works(make_plugin, make_registry):
    def bad_rules(register):
        register("bad.first", lambda f, d, p, c: True)
        raise RuntimeError("hook exploded")

    bad = make_plugin("bad", register_rules=bad_rules,
                      register_functions=lambda register: register("bad.ok", lambda x: x))
    good = make_plugin("good", register_rules=lambda register: register("good.rule", lambda f, d, p, c: True))
    reg = make_registry(bad, good)
    assert [(e.plugin, e.where) for e in reg.errors] == [("bad", "register_rules")]
    assert "RuntimeError: hook exploded" in reg.errors[0].message
    assert "bad.first" in reg.rules  # registered before the failure
    assert "bad.ok" in reg.functions  # the plugin's other hooks still ran
    assert "good.rule" in reg.rules and "checklist" in reg.actions


def test_bad_registrations_are_reported_not_raised(make_plugin, make_registry, tmp_path):
    plugin = make_plugin(
        "sloppy",
        register_rules=lambda register: [register("unprefixed", lambda *a: True),
                                         register("", lambda *a: True)],
        register_functions=lambda register: register("sloppy.f", lambda x: x, bogus_option=1),
        register_actions=lambda register: register("checklist", lambda *a: {}),
        register_playbooks=lambda register: register(tmp_path / "missing.yaml"),
        register_playbook_extensions=lambda register: register("six-step-sales", tmp_path / "missing.yaml"),
    )
    reg = make_registry(plugin)
    messages = " | ".join(str(e) for e in reg.errors)
    assert all(e.plugin == "sloppy" for e in reg.errors)
    assert "'unprefixed' must be namespaced" in messages
    assert "non-empty string" in messages
    assert "bogus_option" in messages
    assert "playbook file not found" in messages and "extension file not found" in messages
    assert "already registered by plugin 'core'" in messages or "namespaced" in messages
    assert "unprefixed" not in reg.rules and "sloppy.f" not in reg.functions
    assert reg.actions["checklist"].plugin == "core"


def test_name_clash_keeps_the_first(make_plugin, make_registry):
    one = make_plugin("one", register_functions=lambda register: register("shared.f", lambda x: 1))
    two = make_plugin("two", register_functions=lambda register: register("shared.f", lambda x: 2))
    reg = make_registry(one, two)
    assert reg.functions["shared.f"].plugin == "one"
    assert [(e.plugin, e.where) for e in reg.errors] == [("two", "function shared.f")]
    assert "already registered by plugin 'one'" in reg.errors[0].message


def test_duplicate_playbook_ids_keep_the_first(make_plugin, make_registry, write_file):
    mine = write_file("mine/six-step-sales.yaml", "id: six-step-sales\nversion: 9\ntitle: fake\nstages: [{id: x}]\n")
    reg = make_registry(make_plugin("copycat", register_playbooks=lambda register: register(mine)))
    assert reg.find_playbook("six-step-sales").plugin == "core"
    index = reg.playbook_index()
    assert index["six-step-sales"].plugin == "core"
    assert any(e.plugin == "copycat" and "already provided by plugin 'core'" in e.message for e in reg.errors)


def test_plugin_playbook_with_broken_yaml_is_reported_in_the_index(make_plugin, make_registry, write_file):
    broken = write_file("broken.yaml", "id: [unclosed\n")
    reg = make_registry(make_plugin("brk", register_playbooks=lambda register: register(broken)))
    index = reg.playbook_index()
    assert "six-step-sales" in index
    assert any(e.plugin == "brk" and "malformed YAML" in e.message for e in reg.errors)


def test_registered_schema_and_commands_hooks(make_plugin, make_registry, run_cli, testplugin_on_path, tmp_path):
    reg = make_registry(make_plugin("docs", register_schemas=lambda register: register("docs.case", {"type": "object"})))
    assert reg.schemas["docs.case"] == ({"type": "object"}, "docs")
    module = tmp_path / "cmdplugin_for_tests.py"
    module.write_text(textwrap.dedent("""
        import click
        from playbook import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command("hello")
            def hello():
                click.echo("hello from a plugin command")
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        result = run_cli("-p", "cmdplugin_for_tests", "hello")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("cmdplugin_for_tests", None)
    assert result.exit_code == 0, result
    assert result.stdout == "hello from a plugin command\n"


# -- a real installed distribution ---------------------------------------------------------------


def _pip_install(python: Path, *targets: Path, cwd: Path) -> None:
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           *map(str, targets)], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_installed_distribution_with_entry_point(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # one pip call: the plugins' dependency on `playbook` is satisfied by this checkout
    _pip_install(python, REPO_ROOT, TEST_PLUGIN, BROKEN_PLUGIN, cwd=tmp_path)
    exe = venv / "bin" / "playbook"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYBOOK_") and k != "PYTHONPATH"}
    env.update({"PLAYBOOK_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8"})
    work = tmp_path / "elsewhere"  # not the checkout: everything must come from the installation
    work.mkdir()

    def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=work,
                              env={**env, **(extra_env or {})}, timeout=60, encoding="utf-8")

    located = subprocess.run([str(python), "-c", "import playbook, playbook_testplugin; "
                              "print(playbook.__file__); print(playbook_testplugin.__file__)"],
                             capture_output=True, text=True, cwd=work, env=env, timeout=60)
    assert located.returncode == 0, located.stderr
    assert all(str(venv) in line for line in located.stdout.split()), located.stdout

    plugins = run("plugins", "--json")
    assert plugins.returncode == 0, plugins.stderr
    data = json.loads(plugins.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert list(by_name)[:1] == ["core"] and "testplug" in by_name
    testplug = by_name["testplug"]
    assert testplug["module"] == "playbook_testplugin" and testplug["version"] == "0.3.0"
    assert testplug["registered"]["rules"] == ["testplug.amount-at-least"]
    assert testplug["registered"]["functions"] == ["testplug.double"]
    assert testplug["registered"]["actions"] == ["testplug.note"]
    assert testplug["registered"]["derivations"] == ["testplug.line-total"]
    assert testplug["registered"]["playbooks"][0].endswith("testplug-demo.yaml")
    # the broken distribution is reported by its entry-point name; nothing else is affected
    assert [(e["plugin"], e["where"]) for e in data["errors"]] == [("brokenplug", "import")]
    assert "not-installed-anywhere" in data["errors"][0]["message"]

    listing = run("list")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert "[testplug]" in rows["testplug-demo"] and "[core]" in rows["six-step-sales"]
    assert "brokenplug" in listing.stderr

    case = work / "case.yaml"
    case.write_text("id: small\ndeal: {amount: 10}\nlines: [{amount: 10}]\n", encoding="utf-8")
    check = run("check", "testplug-demo", str(case), "--format", "json", "--today", "2026-03-01")
    assert check.returncode == 1, check.stderr
    report = json.loads(check.stdout)
    assert report["stage"]["current"] == "size-up"
    big_enough = report["stages"][0]["exit"][0]
    assert (big_enough["id"], big_enough["passed"], big_enough["message"]) == (
        "big-enough", False, "amount 10 is below 1000")
    assert report["derived"]["lines"] == {"total": 10, "count": 1}
    assert report["actions"][0]["output"] == {"text": "Note: call back"}
    case.write_text("id: big\ndeal: {amount: 5000, signed: true}\nlines: [{amount: 1000}]\n", encoding="utf-8")
    ok = run("check", "testplug-demo", str(case), "--lang", "zh", "--today", "2026-03-01")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "已完成" in ok.stdout

    tested = run("test", "testplug-demo", "six-step-sales", "--require-coverage")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "testplug-demo: 3/3 examples passed; criteria exercised both ways: 4/4" in tested.stdout

    quiet = run("plugins", "--json", extra_env={"PLAYBOOK_DISABLE_PLUGINS": "brokenplug"})
    assert json.loads(quiet.stdout)["errors"] == []
