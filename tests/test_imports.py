"""The import graph of serlib's modules has no cycle.

Every ``.py`` file under ``serlib/`` is parsed with :mod:`ast` (nothing is imported), and every
import statement in it counts, whether at module level or inside a function: an import inside a
function that leads back to its own module is still a cycle, only one that fails later, when the
function first runs. Relative imports are resolved against the file's package, and
``from . import x`` counts as importing the submodule ``x`` when there is one (the package's
``__init__`` otherwise). Imports under ``if TYPE_CHECKING:`` are left out: they never run.
The implicit import of a module's parent packages is not counted either (importing
``serlib.data.corpus`` runs ``serlib/data/__init__.py`` first), so a package ``__init__`` that
gathers its submodules' names is not itself a cycle.

Running this file as a script, ``python tests/test_imports.py FOLDER``, prints the cycles of the
package in ``FOLDER`` (a checkout's ``serlib/``), one per strongly connected group of modules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SERLIB = Path(__file__).resolve().parents[1] / "serlib"


def module_names(root: Path) -> dict[str, Path]:
    """The dotted name of each module of the package in ``root`` (``serlib.data.corpus``), with its file."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree``, at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)  # the body never runs; an ``else:`` branch does
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package in ``root`` and the modules of the same package it imports."""
    modules = module_names(root)
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets.add(source)
            # ``from pkg import x``: x may be a submodule, imported by this statement
            targets.update(f"{source}.{alias.name}" for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name and t.split(".")[0] == top}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle for each group of modules that import each other, directly or through others
    (each strongly connected component with more than one module), as ``[a, b, ..., a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graph has a few hundred nodes at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)

    out = []
    for group in groups:
        start = min(group)
        # the shortest way back to ``start`` inside the group (breadth first)
        back: dict[str, str] = {}
        frontier = [start]
        while start not in back:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & group):
                    if w not in back:
                        back[w] = v
                        nxt.append(w)
            frontier = nxt
        path = [start]
        while path[-1] != start or len(path) == 1:
            path.append(back[path[-1]])
        out.append(path[::-1])
    return sorted(out)


def _describe(found: list[list[str]]) -> str:
    return "\n".join(" -> ".join(c) for c in found)


def test_graph_sees_imports_inside_functions_and_relative_forms(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import c\n")
    (pkg / "c.py").write_text("import pkg.a\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import d\n")
    (pkg / "d.py").write_text("from .c import x\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg", "pkg.c"}
    assert graph["pkg.c"] == {"pkg.a"}  # the TYPE_CHECKING import of d is left out
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]


def test_serlib_has_no_import_cycle():
    graph = import_graph(SERLIB)
    assert len(graph) > 20 and "serlib.cache" in graph  # the walk found the package
    found = cycles(graph)
    assert not found, "serlib's modules import each other in a cycle:\n" + _describe(found)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for w in graph[todo.pop()] - seen:
            seen.add(w)
            todo.append(w)
    return seen


def test_the_cache_and_the_corpus_table_import_nothing_built_on_them():
    """The two bottom layers stay at the bottom: the cache stores bytes under keys and knows no
    features, corpus generator or chapter (their versions live in serlib.versions, above it); the
    table of corpora knows no coverage, provenance or loading front door."""
    graph = import_graph(SERLIB)
    below_cache = _reachable(graph, "serlib.cache")
    assert below_cache <= {"serlib", "serlib.config"}, sorted(below_cache)
    below_registry = _reachable(graph, "serlib.data.registry")
    assert not below_registry & {"serlib.data.coverage", "serlib.data.provenance", "serlib.data.loading"}, (
        sorted(below_registry))


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else SERLIB
    found = cycles(import_graph(root))
    print(_describe(found) if found else "no cycle")
    sys.exit(1 if found else 0)
