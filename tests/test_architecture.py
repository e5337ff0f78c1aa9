"""The package's shape (issue #11): no import cycles, sub-packages as layers, small modules.

The import graph is read from the sources with `ast`, so every `import`/`from` counts:
module level, inside functions (lazy imports), under `if TYPE_CHECKING:`. An edge goes to
the most specific module an import names (`from tinymodels.run import reports` is an edge
to `tinymodels.run.reports`; `from tinymodels import __version__` to `tinymodels`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "tinymodels"

# Lowest first: a module may import only from its own layer or a lower one.
LAYERS: tuple[str, ...] = ("base", "knowledge", "config", "preprocess", "validate", "build", "run", "ci",
                           "hub", "commands", "cli")
# Top-level modules (not sub-packages) and their layer; `tinymodels` itself is its __init__.
TOP_LEVEL: dict[str, str] = {"__init__": "base", "errors": "base", "log": "base", "options": "base",
                             "environment": "base", "cli": "cli", "__main__": "cli"}
MAX_LINES = 400


def module_name(path: Path, src: Path) -> str:
    """`src/tinymodels/run/runner.py` -> `tinymodels.run.runner`; a package's __init__ is the package."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(src: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of `package` under `src`, by dotted name."""
    return {module_name(p, src): p for p in sorted((src / package).rglob("*.py")) if "__pycache__" not in p.parts}


def _imported_names(tree: ast.AST, name: str, is_package: bool) -> Iterator[tuple[str, str | None]]:
    """(module, imported attribute or None) for every import statement anywhere in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # Relative: level 1 is the module's own package (the package itself for an __init__).
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, set[str]]:
    """module -> the package's modules it imports (edges inside `package` only, no self-edges)."""
    mods = modules(src, package)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, attr in _imported_names(tree, name, path.name == "__init__.py"):
            if attr is not None and f"{target}.{attr}" in mods:
                target = f"{target}.{attr}"  # `from pkg import module`
            # `import a.b.c` of an unknown leaf (or a name from a module): its nearest module.
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or not (Tarjan; sizes > 1 only)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def strongconnect(v: str) -> None:  # the graph is small: recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(components, key=min)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycle paths (first module repeated at the end): the shortest one through each module of
    each group of mutually importing modules, without duplicates, so that one group with
    several cycles shows them all."""
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for component in strongly_connected(graph):
        for start in sorted(component):
            cycle = _shortest_cycle(graph, component, start)
            body = cycle[:-1]
            first = body.index(min(body))
            key = tuple(body[first:] + body[:first])  # the same cycle from another start
            if key not in seen:
                seen.add(key)
                cycles.append([*key, key[0]])
    return cycles


def _shortest_cycle(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """A shortest cycle through `start` inside its component (breadth-first back to it)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if w not in parents:
                    parents[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")  # pragma: no cover


def layer_of(module: str) -> str | None:
    """The layer of a module of the package, or None when no layer is assigned to it."""
    parts = module.split(".")
    if len(parts) == 1:
        return TOP_LEVEL["__init__"]
    if parts[1] in LAYERS:
        return parts[1]
    return TOP_LEVEL.get(parts[1])


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Edges from a module to a module of a higher layer, as `a (layer) -> b (layer)`."""
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    bad = []
    for source in sorted(graph):
        for target in sorted(graph[source]):
            s, t = layer_of(source), layer_of(target)
            if s is not None and t is not None and rank[t] > rank[s]:
                bad.append(f"{source} ({s}) -> {target} ({t})")
    return bad


# --------------------------------------------------------------------------- the package


def test_every_module_has_a_layer() -> None:
    unassigned = sorted(m for m in import_graph() if layer_of(m) is None)
    assert not unassigned, (
        f"modules outside every layer: {unassigned}. Put the module in a sub-package "
        f"({' < '.join(LAYERS[1:-1])}), or, for a new top-level module, add it to TOP_LEVEL in "
        "tests/test_architecture.py with its layer.")


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, (
        f"{len(cycles)} import cycle(s) between modules (lazy imports count; the shortest through each "
        "module of a group that imports itself):\n"
        + "\n".join("  " + " -> ".join(c) for c in cycles)
        + "\nBreak each one: move what both modules need into a lower module that imports neither "
        "(or pass it in as an argument), so the imports run one way only.")


def test_sub_packages_import_only_their_own_or_lower_layers() -> None:
    bad = layer_violations(import_graph())
    assert not bad, (
        f"{len(bad)} import(s) reach up a layer (order, lowest first: {' < '.join(LAYERS)}; "
        "lazy imports count):\n" + "\n".join(f"  {edge}" for edge in bad)
        + "\nMove the imported code down into the importer's layer or below, or let the higher "
        "layer call the lower one (pass values in, as commands/build.py writes the CI job summary "
        "after run.runner returns).")


def test_no_module_over_the_line_limit() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules(SRC).items()}
    big = sorted((n, name) for name, n in sizes.items() if n > MAX_LINES)
    assert not big, (
        f"{len(big)} module(s) over {MAX_LINES} lines:\n" + "\n".join(f"  {name}: {n}" for n, name in big)
        + "\nSplit each into modules with one job (see the layout table in docs/DEVELOPING.md).")


# --------------------------------------------------------------------------- the checker itself


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A small package with every import form the checker must see."""
    files = {
        "pkg/__init__.py": "from . import base\n",
        "pkg/base.py": "import os\n",
        "pkg/low/__init__.py": "",
        "pkg/low/a.py": "from pkg.low import b\n",
        "pkg/low/b.py": "def f():\n    from ..high.c import thing\n",
        "pkg/high/__init__.py": "",
        "pkg/high/c.py": ("from typing import TYPE_CHECKING\nimport pkg.low.a\nif TYPE_CHECKING:\n"
                          "    from pkg.base import os\nthing = 1\n"),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_graph_sees_lazy_relative_and_package_imports(toy: Path) -> None:
    graph = import_graph(toy, "pkg")
    assert graph == {
        "pkg": {"pkg.base"},
        "pkg.base": set(),
        "pkg.low": set(),
        "pkg.low.a": {"pkg.low.b"},
        "pkg.low.b": {"pkg.high.c"},  # lazy and relative
        "pkg.high": set(),
        "pkg.high.c": {"pkg.low.a", "pkg.base"},  # `import a.b.c`, and under TYPE_CHECKING
    }


def test_cycles_are_reported_as_paths(toy: Path) -> None:
    assert find_cycles(import_graph(toy, "pkg")) == [["pkg.high.c", "pkg.low.a", "pkg.low.b", "pkg.high.c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    # One group, two cycles: both are reported.
    assert find_cycles({"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}) == [["a", "b", "a"], ["b", "c", "b"]]


def test_layer_rule_reports_upward_edges() -> None:
    graph = {"tinymodels.run.runner": {"tinymodels.ci.stepsummary", "tinymodels.run.reports"},
             "tinymodels.ci.stepsummary": {"tinymodels.run.reports", "tinymodels.log"},
             "tinymodels.run.reports": set(), "tinymodels.log": set()}
    assert layer_violations(graph) == ["tinymodels.run.runner (run) -> tinymodels.ci.stepsummary (ci)"]
