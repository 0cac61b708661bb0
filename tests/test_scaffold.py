"""``wfsched new workflows|plugin|spawner NAME``: a ready package that passes its own tests.

The slow test does what the generated README tells an author to do, in a fresh virtualenv
(no site packages of the test environment): the core installed from this checkout with
pip, then the three generated packages (one of each kind) with their test extra; then each
package's generated tests run with its pytest. The three packages of the tutorial
(docs/writing-plugins.md), assembled from its code blocks, go through the same virtualenv
(one for all six, to keep it short): the tutorial's code is tested as written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IN_CI
from helpers import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS = ("workflows", "plugin", "spawner")
PIP_TIMEOUT = 600


def wfsched_new(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wfsched_core", "new", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", KINDS)
def test_new_writes_a_complete_package(kind: str, tmp_path: Path) -> None:
    result = wfsched_new(kind, "acme-tools", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "acme-tools"
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    assert pyproject["project"]["name"] == "wfsched-acme-tools"
    group = "wfsched.workflows" if kind == "workflows" else "wfsched.plugins"
    (target,) = pyproject["project"]["entry-points"][group].values()
    module = target.partition(":")[0]
    assert (root / Path(*module.split("."))).with_suffix(".py").is_file()
    readme = (root / "README.md").read_text()
    assert f"pip install -e {REPO}" in readme  # the core, from this very checkout
    assert 'pip install -e ".[test]"' in readme
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "{{" not in text, f"{path} has a placeholder left"
            if path.suffix == ".py":
                compile(text, str(path), "exec")
    assert list((root / "tests").glob("test_*.py"))


def test_directory_option_and_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    result = wfsched_new("plugin", "notes", "--directory", "here", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "here" / "wfsched_notes" / "plugin.py").is_file()


@pytest.mark.parametrize("name", ["Bad Name", "1st", "under__double", "x" * 41, "trailing-"])
def test_a_bad_name_is_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    result = wfsched_new("workflows", name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"wfsched: error: invalid NAME {name!r}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_non_empty_directory_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "mine.txt").write_text("keep me")
    result = wfsched_new("workflows", "reports", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("wfsched: error: reports exists and is not an empty "
                                     "directory: choose another NAME or --directory")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["mine.txt"]


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check",
                           "--python", str(python), *args],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT)


def _author_env(home: Path) -> dict[str, str]:
    """The environment of an author's shell: none of this test run's wfsched or Python
    settings."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("WFSCHED_", "PYTHON", "VIRTUAL_ENV", "PYTEST"))}
    env["HOME"] = str(home)
    return env


TUTORIAL = REPO / "docs" / "writing-plugins.md"
# a code block whose first line is "# wfsched-NAME/PATH" is that file of that package
_BLOCK = re.compile(r"```(?:python|toml)\n# (wfsched-[a-z]+)/(\S+)\n(.*?)```", re.S)
_PLUGIN_TOML = re.compile(r'\[project.entry-points."wfsched.plugins"\]\n(\S+ = "\S+")')


def tutorial_packages(into: Path) -> list[Path]:
    """The tutorial's packages, written from its code blocks: the workflow package's
    pyproject is shown whole; each plugin's is that one with the plugin's name and the
    entry-point line the tutorial gives it."""
    text = TUTORIAL.read_text()
    written: dict[str, Path] = {}
    for dist, relative, body in _BLOCK.findall(text):
        path = into / dist / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        written[dist] = into / dist
        (into / dist / dist.replace("-", "_")).mkdir(exist_ok=True)
        (into / dist / dist.replace("-", "_") / "__init__.py").touch()
    base = (written["wfsched-reports"] / "pyproject.toml").read_text()
    entry_points = [line for line in _PLUGIN_TOML.findall(text)]
    entry_points += re.findall(r'its entry\s+point `(wfsched-maintenance = "\S+")`', text)
    for line in entry_points:
        dist = line.split(" = ")[0]
        project = base.replace("wfsched-reports", dist).replace(
            "wfsched_reports", dist.replace("-", "_"))
        project = re.sub(r'\[project.entry-points."wfsched.workflows"\]\n.*\n',
                         f'[project.entry-points."wfsched.plugins"]\n{line}\n', project)
        (written[dist] / "pyproject.toml").write_text(project)
    assert sorted(written) == ["wfsched-chatops", "wfsched-maintenance", "wfsched-reports"]
    return sorted(written.values())


def test_the_tutorial_code_blocks_make_three_packages(tmp_path: Path) -> None:
    for package in tutorial_packages(tmp_path):
        pyproject = tomllib.loads((package / "pyproject.toml").read_text())
        assert pyproject["project"]["name"] == package.name
        (group,) = pyproject["project"]["entry-points"]
        (target,) = pyproject["project"]["entry-points"][group].values()
        module = target.partition(":")[0]
        assert (package / Path(*module.split("."))).with_suffix(".py").is_file(), target
        assert list((package / "tests").glob("test_*.py"))


@pytest.mark.slow
def test_generated_and_tutorial_packages_pass_their_tests_in_a_fresh_venv(tmp_path: Path,
                                                                         ) -> None:
    packages = []
    for kind in KINDS:
        assert wfsched_new(kind, f"demo-{kind}", cwd=tmp_path).returncode == 0
        packages.append(tmp_path / f"demo-{kind}")
    packages += tutorial_packages(tmp_path / "tutorial")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True, timeout=120)
    python = venv / "bin" / "python"
    editable = [arg for package in packages for arg in ("-e", f"{package}[test]")]
    # the build backend once, then no isolated build environment per package (four fewer)
    installed = _pip(python, "install", "--quiet", "setuptools>=68")
    if installed.returncode == 0:
        installed = _pip(python, "install", "--quiet", "--no-build-isolation", "-e", str(REPO),
                         *editable)
    if installed.returncode != 0:
        message = f"pip install failed:\n{installed.stdout[-2000:]}\n{installed.stderr[-3000:]}"
        if "No matching distribution" in installed.stderr and not IN_CI:
            pytest.skip(f"a dependency is not available from any index here: {message}")
        pytest.fail(message)
    author_home = tmp_path / "author-home"
    author_home.mkdir()
    # the six suites at once: much of each is waiting (interpreter start, a scheduler's
    # worker processes), not computing
    running = [(package, subprocess.Popen(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package,
        env=_author_env(author_home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)) for package in packages]
    failures = []
    for package, process in running:
        output, _ = process.communicate(timeout=900)
        if process.returncode != 0 or " passed" not in output or "failed" in output:
            failures.append(f"{package.name} (exit {process.returncode}):\n{output[-4000:]}")
    assert not failures, "\n\n".join(failures)
