"""The package's imports run one way: from the command line down to the shared records.

Read from the modules' own source (``ast``), so it holds for imports inside functions too;
imports under ``if TYPE_CHECKING:`` are annotations only and are not counted. A new module
belongs to a layer by its folder (docs/architecture.md, "Module map").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import wfsched_core

PACKAGE = Path(wfsched_core.__file__).parent

# Bottom to top: a module may import its own layer and the layers before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("base",),
    ("authoring",),
    ("framework",),
    ("store", "notify"),
    ("app",),
    ("worker",),
    ("spawn",),
    ("scheduler", "ops"),
    ("testing",),
    ("cli",),
)
# The package's own __init__ re-exports the author's API (authoring and base; ``hookimpl``
# from the framework, loaded on first use) and __main__ runs the CLI: entry points, not layers.
FACADES = {"wfsched_core", "wfsched_core.__main__"}
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "wfsched_core" or len(parts) < 2:
        return None
    return parts[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import of ``path`` that runs."""
    return imports_in(path.read_text(), module_name(path), path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> Iterator[tuple[int, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for orelse in child.orelse:
                    yield from visit(orelse)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child.lineno, alias.name
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    # ``from wfsched_core import hookspecs`` imports a module
                    yield child.lineno, f"{base}.{alias.name}" if _is_module(
                        f"{base}.{alias.name}") else base
            yield from visit(child)

    yield from visit(ast.parse(source, filename=module))


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split("."))
    return ((PACKAGE.parent / relative).with_suffix(".py").exists()
            or (PACKAGE.parent / relative / "__init__.py").exists())


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))
            if "migrations" not in path.parts}


def test_every_module_belongs_to_a_layer() -> None:
    strays = [name for name in all_modules()
              if name not in FACADES and layer_of(name) not in RANK]
    assert strays == [], f"modules outside every layer (add them to a folder): {strays}"


def test_imports_run_down_the_layers() -> None:
    back_edges = []
    for name, path in all_modules().items():
        if name in FACADES:
            continue
        rank = RANK[layer_of(name)]  # type: ignore[index]
        for line, imported in imported_modules(path):
            target = layer_of(imported)
            if imported == "wfsched_core" or target is None:
                continue  # the facade (``__version__``, the author's API) and outsiders
            if RANK[target] > rank:
                back_edges.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports "
                                  f"{imported} ({layer_of(name)} -> {target})")
    assert back_edges == [], "imports against the layers:\n" + "\n".join(back_edges)


def test_no_import_cycle_between_modules() -> None:
    modules = all_modules()
    graph = {name: sorted({imported for _, imported in imported_modules(path)
                           if imported in modules and imported != name})
             for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how packages re-export.
    for name in graph:
        graph[name] = [target for target in graph[name]
                       if not (modules[name].name == "__init__.py"
                               and target.startswith(name + "."))
                       and not (modules[target].name == "__init__.py"
                                and name.startswith(target + "."))]
    cycles = _cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def back_edges_of(source: str, module: str) -> list[str]:
    rank = RANK[layer_of(module)]  # type: ignore[index]
    return [imported for _, imported in imports_in(source, module, is_package=False)
            if layer_of(imported) in RANK and RANK[layer_of(imported)] > rank]  # type: ignore[index]


@pytest.mark.parametrize("source", [
    "from wfsched_core.cli.main import cli\n",
    "def later():\n    from wfsched_core.scheduler import loop\n",
    "from ..cli import main\n",
])
def test_the_check_catches_a_back_edge_at_module_level_in_a_function_and_relative(
        source: str) -> None:
    assert back_edges_of(source, "wfsched_core.base.probe") != []


def test_the_check_ignores_annotations_only() -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    from wfsched_core.store import SqlStore\n")
    assert back_edges_of(source, "wfsched_core.base.probe") == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
