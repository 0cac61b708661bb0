"""``wfsched new``: a ready package of workflows, a plugin or a spawner, from templates.

The templates are package data (``wfsched_core/scaffold_templates``): ``common/`` (the
pyproject, the README, a .gitignore) and one folder per kind, whose ``package/`` folder
becomes the import package. ``{{key}}`` in a template is replaced by the value of that key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from wfsched_core.base.errors import UsageError

KINDS = ("workflows", "plugin", "spawner")
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
MAX_NAME = 40
_TOKEN = re.compile(r"\{\{([a-z_]+)\}\}")


@dataclass(frozen=True)
class Scaffold:
    """What ``wfsched new`` wrote: the folder, its files, and the distribution's name."""

    directory: Path
    files: list[Path]
    distribution: str
    package: str


def check_name(name: str) -> str:
    """``name`` if it can name a distribution and a package; a UsageError saying why not."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME:
        raise UsageError(
            f"invalid NAME {name!r}: use lower-case letters and digits, words joined by "
            f"'-' or '_', starting with a letter, at most {MAX_NAME} characters (e.g. reports)")
    return name


def values_for(kind: str, name: str) -> dict[str, str]:
    """The template values of a package of ``kind`` called ``name``."""
    short = name[len("wfsched-"):] if name.startswith(("wfsched-", "wfsched_")) else name
    dist = f"wfsched-{short.replace('_', '-')}"
    package = dist.replace("-", "_")
    ident = short.replace("-", "_")
    camel = "".join(part.capitalize() for part in ident.split("_"))
    spawner = short.replace("_", "-")
    values = {"kind": kind, "name": name, "dist": dist, "package": package,
              "core_source": core_source(), "spawner": spawner}
    if kind == "workflows":
        workflow = f"{ident}_word_count"
        values.update(
            description="Workflows", group="wfsched.workflows", list_command="workflows list",
            entry_point=f'{workflow} = "{package}.workflows:WordCount"', workflow=workflow,
            **{"class": "WordCount"},
            about=f"It holds one workflow, `{workflow}` ({package}/workflows.py): two steps, "
                  "the second reading what the first returned. Add a class there and a line "
                  "to `[project.entry-points.\"wfsched.workflows\"]` in pyproject.toml for each "
                  "further workflow.",
            try_it=f"wfsched workflows list && wfsched trigger {workflow} --param "
                   "text='a b c' && wfsched scheduler --once")
    elif kind == "plugin":
        values.update(
            description="A wfsched plugin", group="wfsched.plugins",
            list_command="plugins list", entry_point=f'{dist} = "{package}.plugin"',
            about=f"Its hooks are in {package}/plugin.py: a notifier that writes one JSON line "
                  f"per failed execution to the file named in wfsched.toml, `[plugins.{dist}] "
                  "path = \"...\"`. Replace them with the hooks you need (wfsched's "
                  "docs/hooks.md lists every one).",
            try_it=f"wfsched plugins list        # shows {dist}")
    else:
        values.update(
            description=f"The {spawner} spawn strategy", group="wfsched.plugins",
            list_command="plugins list", entry_point=f'{dist} = "{package}.spawner"',
            **{"class": f"{camel}Spawner"},
            about=f"{package}/spawner.py holds the strategy `{spawner}`: it starts each "
                  "worker as a child process in a session of its own. Change `start` (and "
                  "`poll`, `stop`) to run workers where you need them (wfsched's "
                  "docs/writing-a-spawner.md).",
            try_it=f"wfsched scheduler --once --spawner {spawner}")
    return values


def core_source() -> str:
    """Where to ``pip install -e`` the core from: this installation's checkout, if it is
    one, else a placeholder for the reader to fill in."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "wfsched-core"' in pyproject.read_text(errors="replace"):
        return str(root)
    return "/path/to/wfsched-checkout"


def write_package(kind: str, name: str, directory: Path | None = None) -> Scaffold:
    """Write a ready package of ``kind`` called ``name`` into ``directory`` (``./NAME``)."""
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    values = values_for(kind, check_name(name))
    target = directory if directory is not None else Path(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} exists and is not an empty directory: choose another "
                         "NAME or --directory")
    templates = resources.files("wfsched_core") / "scaffold_templates"
    written: list[Path] = []
    for source in (templates / "common", templates / kind):
        for relative, template in _walk(source):
            parts = [values["package"] if part == "package" else part for part in relative]
            parts[-1] = ".gitignore" if parts[-1] == "gitignore.tmpl" \
                else parts[-1].removesuffix(".tmpl")
            path = target.joinpath(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(template.read_text(encoding="utf-8"), values),
                            encoding="utf-8")
            written.append(path)
    return Scaffold(target, written, values["dist"], values["package"])


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{{key}}`` replaced; an unknown key is a bug in a template."""
    def replace(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _TOKEN.sub(replace, text)


def _walk(folder: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[list[str],
                                                                           Traversable]]:
    found: list[tuple[list[str], Traversable]] = []
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            found.extend(_walk(item, (*prefix, item.name)))
        else:
            found.append(([*prefix, item.name], item))
    return found
