"""Write docs/plugin-reference.md from the code: the records a hook receives, the workflow
attributes and the reserved tables of wfsched.toml.

Each field's meaning is its ``#:`` comment in the class that defines it; a field without
one fails this script (and so tests/test_plugin_reference_doc.py). Run
``python scripts/plugin_reference_doc.py`` after changing one of these classes;
``--check`` exits 1 when the page is out of date.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from pathlib import Path

from wfsched_core.authoring.workflow import _ATTRIBUTE_TYPES, ATTRIBUTE_CHOICES, StepContext, Workflow
from wfsched_core.base.bounds import WORKFLOW_BOUNDS
from wfsched_core.base.config import RESERVED_TABLES, Settings
from wfsched_core.base.records import Execution, SchedulerRow, StepRecord, Upstream

PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugin-reference.md"

# The records, where a plugin meets each, in the order the page shows them.
RECORDS = [
    (Execution, "`execution` of every lifecycle hook and of `wfsched_admit`; "
                "`Execution.to_json()` gives the contract JSON fields"),
    (StepRecord, "`step` of `wfsched_step_finished`"),
    (SchedulerRow, "`scheduler` of `wfsched_scheduler_started`, `_stopping` and `_tick`"),
    (Settings, "`settings` of `wfsched_configure` and `wfsched_store`, and of a spawner "
               "factory"),
    (StepContext, "`ctx` of every step (not a hook's: what a workflow's step receives)"),
    (Upstream, "each value of `ctx.upstream`"),
]


class UndocumentedField(Exception):
    pass


def fields_of(cls: type) -> list[tuple[str, str, str, str]]:
    """(name, type, default, meaning) of each annotated attribute of ``cls``'s body."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.ClassDef)
    found = []
    for statement in node.body:
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        name = statement.target.id
        kind = ast.unparse(statement.annotation)
        kind = kind.removeprefix("ClassVar[").removesuffix("]") if kind.startswith("ClassVar[") \
            else kind
        default = _default(statement.value)
        meaning = _comment_above(lines, statement.lineno - 1)
        if not meaning:
            raise UndocumentedField(f"{cls.__name__}.{name} has no `#:` comment saying what it is")
        found.append((name, kind, default, meaning))
    return found


def _default(value: ast.expr | None) -> str:
    if value is None:
        return "(required)"
    if isinstance(value, ast.Call) and ast.unparse(value.func) == "field":
        for keyword in value.keywords:
            if keyword.arg == "default_factory":
                factory = ast.unparse(keyword.value)
                return {"dict": "{}", "list": "[]"}.get(factory, "(empty)")
            if keyword.arg == "default":
                return ast.unparse(keyword.value)
        return "(required)"
    return ast.unparse(value)


def _comment_above(lines: list[str], index: int) -> str:
    """The ``#:`` comment lines right above line ``index``, joined."""
    comment: list[str] = []
    index -= 1
    while index >= 0 and lines[index].strip().startswith("#:"):
        comment.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return " ".join(comment)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def record_section(cls: type, where: str) -> list[str]:
    doc = " ".join((inspect.getdoc(cls) or "").split("\n\n")[0].split())
    lines = [f"### `{cls.__module__}.{cls.__name__}`", "", f"{doc} Where: {where}.", "",
             "| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, kind, default, meaning in fields_of(cls):
        lines.append(f"| `{name}` | `{_cell(kind)}` | `{_cell(default)}` | {_cell(meaning)} |")
    return [*lines, ""]


def allowed_values(name: str) -> str:
    bound = WORKFLOW_BOUNDS.get(name)
    if bound is not None:
        return bound.describe()
    choices = ATTRIBUTE_CHOICES.get(name)
    if choices:
        return "one of " + ", ".join(f"`{c}`" for c in choices)
    special = {
        "schedule": "a cron expression (5 fields, or `@hourly`, `@daily`, ...)",
        "timezone": "an IANA time zone name (`Europe/Paris`)",
        "depends_on": "names of installed workflows, no cycle",
        "secret_params": "parameter names",
        "spawner": "the name of an installed spawn strategy",
    }
    if name in special:
        return special[name]
    kinds = _ATTRIBUTE_TYPES.get(name)
    names = {"str": "a string", "int": "a whole number", "float": "a number"}
    return " or ".join(names.get(t.__name__, t.__name__) for t in kinds) if kinds \
        else "a string"


def workflow_section() -> list[str]:
    lines = ["## Workflow attributes", "",
             "Class attributes of a `wfsched_core.Workflow` subclass, all optional; each can "
             "be overridden in `wfsched.toml` under `[workflows.NAME]` (except `name`). A bad "
             "value in the class marks the workflow broken (`wfsched workflows list` says "
             "why); in `wfsched.toml` it is an error naming the key (exit 2). A hook sees "
             "them resolved, as a `WorkflowSpec` (`spec` of `wfsched_admit`, "
             "`request.spec` of a spawner), whose `extra` holds the `[workflows.NAME]` keys "
             "wfsched does not know (a spawner's `image`, `memory`, ...).", "",
             "| attribute | type | default | allowed values | meaning |",
             "| --- | --- | --- | --- | --- |"]
    for name, kind, default, meaning in fields_of(Workflow):
        lines.append(f"| `{name}` | `{_cell(kind)}` | `{_cell(default)}` | "
                     f"{_cell(allowed_values(name))} | {_cell(meaning)} |")
    return [*lines, ""]


def tables_section() -> list[str]:
    lines = ["## Reserved `wfsched.toml` keys and tables", "",
             "wfsched and the plugins it ships own these; a plugin must not use them for "
             "settings of its own. **A plugin's own table is `[plugins.NAME]`**, NAME being "
             "its plugin name as `wfsched plugins list` shows it (the entry-point name, by "
             "convention the distribution's: `[plugins.wfsched-myplugin]`), read with "
             "`settings.section(\"plugins.NAME\")` in `wfsched_configure`; a notifier's goes "
             "in `[notify.NAME]`, a spawn strategy's in `[spawner.NAME]`.", "",
             "| key or table | what it holds |", "| --- | --- |"]
    lines += [f"| `{key}` | {_cell(text)} |" for key, text in RESERVED_TABLES.items()]
    return [*lines, ""]


def render() -> str:
    lines = ["# Plugin reference", "",
             "Generated from the code by `scripts/plugin_reference_doc.py` (the `#:` comment "
             "above each field is its meaning; edit it there). The hooks themselves are in "
             "[hooks.md](hooks.md); the tutorial is [writing-plugins.md](writing-plugins.md).",
             "", "Every time is a naive `datetime` in UTC. Records a hook receives are "
             "copies: changing one changes nothing in the database.", "",
             "## Records a hook receives", ""]
    for cls, where in RECORDS:
        lines += record_section(cls, where)
    lines += workflow_section()
    lines += tables_section()
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        text = render()
    except UndocumentedField as exc:
        print(f"scripts/plugin_reference_doc.py: {exc}", file=sys.stderr)
        sys.exit(1)
    if "--check" in sys.argv[1:]:
        sys.exit(0 if PAGE.exists() and PAGE.read_text() == text else 1)
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
