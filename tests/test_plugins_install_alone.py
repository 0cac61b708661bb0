"""Each package under plugins/ installs by itself on the checkout's core, and loads.

What a user does is ``pip install ./`` (the core) and then ``pip install ./plugins/NAME``.
The slow test does exactly that for each plugin, with pip's real dependency resolution:
the core is built from a copy of the checkout and installed into a virtualenv of its own
(none of the test environment's packages; kept for the next run while the core's files
do not change); each plugin then gets a fresh virtualenv that sees that core (through a
``.pth`` line, so the core and its dependencies are not installed five times) and
nothing else, and ``pip`` installs the plugin into it.
A plugin that needs another plugin fails there, since no index has ``wfsched-*``
packages. Then every module of the plugin is imported and the real ``wfsched plugins
list`` must show its entry point loaded without an error.

The fast test reads each plugin's imports (including those inside functions, which an
import of the entry point does not run) and checks that each comes from the standard
library, the core or the core's own dependencies (installed wherever the core is: click
for a plugin's commands, for one), the plugin itself or one of its declared dependencies.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CACHE, IN_CI
from helpers import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLUGINS = sorted(path for path in (REPO / "plugins").iterdir() if (path / "pyproject.toml").is_file())
# What a build must not see: local build state that would leak stale files into a wheel.
BUILD_LEFTOVERS = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "tests",
                                         ".venv", ".pytest_cache")
PIP_TIMEOUT = 300


def _project(plugin: Path) -> dict:
    return tomllib.loads((plugin / "pyproject.toml").read_text())["project"]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"cannot read the requirement {requirement!r}"
    return _normalise(match.group(1))


def _package_of(plugin: Path) -> str:
    """The import package of ``plugins/wfsched-x`` (``wfsched_x``, by the convention)."""
    package = plugin.name.replace("-", "_")
    assert (plugin / package / "__init__.py").is_file(), f"{plugin}: no package {package}/"
    return package


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT)


def _build_wheel(source: Path, wheelhouse: Path, scratch: Path) -> Path:
    """A wheel of ``source`` built from a clean copy (the checkout's build/ stays out)."""
    copy = scratch / f"src-{source.name}"
    shutil.copytree(source, copy, ignore=BUILD_LEFTOVERS)
    result = _pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
                  str(wheelhouse), str(copy))
    assert result.returncode == 0, f"building {source.name} failed:\n{result.stderr}"
    name = _normalise(_project(source)["name"]).replace("-", "_")
    (wheel,) = wheelhouse.glob(f"{name}-*.whl")
    return wheel


def _fresh_venv(path: Path) -> tuple[Path, Path]:
    """A new virtualenv without pip (the test's pip installs into it): python, site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True,
                   capture_output=True, timeout=60)
    python = path / "bin" / "python"
    return python, _site_packages(python)


def _site_packages(python: Path) -> Path:
    """The site-packages directory of the virtualenv whose interpreter is ``python``."""
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    return Path(purelib)


def _isolated_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("WFSCHED_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(WFSCHED_HOME=str(home), WFSCHED_STRICT_PLUGINS="1")
    return env


def _unless_index_missing(result: subprocess.CompletedProcess[str], what: str) -> None:
    """Fail with pip's output; skip instead (still fail under CI) when what was missing is
    a third-party package from an index (no network), not one of ours."""
    wanted = re.findall(r"No matching distribution found for (\S+)", result.stderr)
    unreachable = "NewConnectionError" in result.stderr or "Network is unreachable" in result.stderr
    message = f"{what} failed:\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}"
    if (unreachable or wanted) and not any(n.startswith("wfsched") for n in wanted):
        message = f"pip could not get a dependency from an index: {message}"
        if not IN_CI:
            pytest.skip(message)
    pytest.fail(message)


def _core_digest() -> str:
    digest = hashlib.sha256()
    files = [REPO / "pyproject.toml", REPO / "README.md",
             *sorted(p for p in (REPO / "wfsched_core").rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts)]
    for path in files:
        digest.update(path.relative_to(REPO).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _install_core(venv: Path, scratch: Path) -> None:
    core = scratch / "core-source"
    core.mkdir()
    shutil.copy(REPO / "pyproject.toml", core)
    shutil.copy(REPO / "README.md", core)
    shutil.copytree(REPO / "wfsched_core", core / "wfsched_core", ignore=BUILD_LEFTOVERS)
    wheel = _build_wheel(core, scratch / "wheels", scratch)
    python, _ = _fresh_venv(venv)
    result = _pip("--python", str(python), "install", "--quiet", str(wheel))
    if result.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        _unless_index_missing(result, "installing the core from the checkout")


@pytest.fixture(scope="session")
def core_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """site-packages of a virtualenv holding only the core, built from the checkout.

    Made once per content of the core and kept (``.pytest_cache``), shared by the xdist
    workers under a file lock; the tests never install anything into it.
    """
    venv = CACHE / f"core-venv-{_core_digest()}"
    ready = venv / "wfsched-test-ready"
    if not ready.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with open(CACHE / ".core-venv.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not ready.exists():
                shutil.rmtree(venv, ignore_errors=True)
                _install_core(venv, tmp_path_factory.mktemp("core"))
                ready.touch()
    return _site_packages(venv / "bin" / "python")


@pytest.mark.slow
@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.name for p in PLUGINS])
def test_plugin_installs_alone_on_the_core(plugin: Path, core_site: Path, tmp_path: Path) -> None:
    wheel = _build_wheel(plugin, tmp_path / "wheels", tmp_path)
    python, site = _fresh_venv(tmp_path / "venv")
    (site / "wfsched-core-from-checkout.pth").write_text(f"{core_site}\n")

    result = _pip("--python", str(python), "install", str(wheel))
    if result.returncode != 0:
        _unless_index_missing(result, f"pip install {plugin.relative_to(REPO)} alone")
    installed = sorted(_normalise(p.name.split("-")[0]) for p in site.glob("*.dist-info"))
    ours = [name for name in installed if name.startswith("wfsched")]
    assert ours == [_normalise(_project(plugin)["name"])], \
        f"the plugin's virtualenv holds other wfsched packages: {installed}"

    package = _package_of(plugin)
    imported = subprocess.run(
        [str(python), "-c",
         "import importlib, pkgutil, sys\n"
         f"package = importlib.import_module({package!r})\n"
         "for module in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
         "    importlib.import_module(module.name)\n"
         "print(package.__file__)\n"],
        capture_output=True, text=True, env=_isolated_env(tmp_path), timeout=120)
    assert imported.returncode == 0, f"importing {package} failed:\n{imported.stderr}"
    assert Path(imported.stdout.strip()).is_relative_to(site), imported.stdout

    home = tmp_path / "home"
    home.mkdir()
    listed = subprocess.run([str(python), "-m", "wfsched_core", "plugins", "list", "--json"],
                            capture_output=True, text=True, env=_isolated_env(home), timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    entry_points = _project(plugin)["entry-points"]["wfsched.plugins"]
    for name in entry_points:
        assert name in rows, f"{name} is not in `wfsched plugins list`: {sorted(rows)}"
        assert rows[name]["error"] is None, rows[name]["error"]
        assert rows[name]["distribution"] == _project(plugin)["name"]


def _imported_top_names(source: Path) -> set[str]:
    """Top-level names of every absolute import in ``source`` (in functions too)."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _distributions_of_modules() -> dict[str, set[str]]:
    """Import name -> the (normalised) distributions that provide it, in this environment."""
    from importlib.metadata import packages_distributions

    return {module: {_normalise(d) for d in dists}
            for module, dists in packages_distributions().items()}


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.name for p in PLUGINS])
def test_plugin_imports_only_what_it_declares(plugin: Path) -> None:
    project = _project(plugin)
    own = _package_of(plugin)
    declared = {_requirement_name(r) for r in project.get("dependencies", [])}
    assert "wfsched-core" in declared, f"{plugin.name} must depend on wfsched-core"
    core = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    available = declared | {_requirement_name(r) for r in core["dependencies"]}
    other_plugins = {_package_of(p): p.name for p in PLUGINS if p != plugin}
    providers = _distributions_of_modules()
    problems = []
    for source in sorted((plugin / own).rglob("*.py")):
        for name in sorted(_imported_top_names(source)):
            if name in sys.stdlib_module_names or name in (own, "wfsched_core"):
                continue
            where = source.relative_to(REPO)
            if name in other_plugins:
                problems.append(f"{where} imports {name}, from another plugin "
                                f"({other_plugins[name]}): move what it shares into the core")
            elif not providers.get(name, set()) & available:
                problems.append(f"{where} imports {name}, which neither its declared "
                                f"dependencies ({', '.join(sorted(declared))}) nor the core's "
                                "provide")
    assert not problems, "\n".join(problems)
