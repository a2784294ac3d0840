"""The public surface: __all__ is sorted and true, import has no side effects."""

from __future__ import annotations

import subprocess
import sys

import pairwise


def test_all_is_sorted_and_exists() -> None:
    assert list(pairwise.__all__) == sorted(pairwise.__all__)
    for name in pairwise.__all__:
        assert hasattr(pairwise, name), name


def test_solvers_all_is_sorted_and_exists() -> None:
    from pairwise import solvers

    assert list(solvers.__all__) == sorted(solvers.__all__)
    for name in solvers.__all__:
        assert hasattr(solvers, name), name


def test_import_does_not_load_ortools_or_touch_logging() -> None:
    code = (
        "import logging, sys, warnings; import numpy, pandas, scipy.sparse, networkx;"
        "before = list(logging.getLogger().handlers);"
        "filters = list(warnings.filters); import pairwise;"
        "assert not any(m.startswith('ortools') for m in sys.modules), 'ortools imported';"
        "assert logging.getLogger().handlers == before; assert warnings.filters == filters"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_py_typed_is_shipped() -> None:
    from importlib import resources

    assert resources.files("pairwise").joinpath("py.typed").is_file()


# ---------------------------------------------------------------------------
# The house's shape: one OR-Tools importer, imports in one direction, true __all__
# ---------------------------------------------------------------------------

_SRC = __import__("pathlib").Path(pairwise.__file__).parent


def _module_names() -> dict[str, object]:
    import pathlib

    names = {}
    for path in sorted(pathlib.Path(_SRC).rglob("*.py")):
        parts = path.relative_to(_SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def _imports() -> dict[str, set[str]]:
    """Every pairwise module -> the pairwise modules it imports (at any depth of code)."""
    import ast

    modules = _module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [mod] + [f"{mod}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            deps.update(t for t in targets if t.startswith("ortools") or t in modules)
        deps.discard(name)
        graph[name] = deps
    return graph


def test_only_one_module_imports_ortools() -> None:
    importers = sorted(
        name for name, deps in _imports().items() if any(d.startswith("ortools") for d in deps)
    )
    assert importers == ["pairwise.solvers._ortools"]


def test_imports_run_one_way() -> None:
    # Package __init__ files re-export; every other import must form no cycle.
    graph = {
        name: {
            d for d in deps if d in _module_names() and d not in ("pairwise", "pairwise.solvers")
        }
        for name, deps in _imports().items()
    }
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_solvers_and_engine_never_import_the_high_level() -> None:
    high = {"pairwise.program", "pairwise.config", "pairwise.cli", "pairwise.results"}
    for name, deps in _imports().items():
        if name.startswith("pairwise.solvers") or name in (
            "pairwise._terms",
            "pairwise._time",
            "pairwise.roster",
            "pairwise.criteria",
            "pairwise.rules",
            "pairwise.compatibility",
        ):
            assert not deps & high, f"{name} imports {sorted(deps & high)}"


def test_every_module_all_is_sorted_and_true() -> None:
    import importlib

    for name in _module_names():
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None)
        if names is None:
            continue
        # ruff's isort-style order: CONSTANTS, then Classes, then the rest
        order = sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))
        assert list(names) == order, name
        for attr in names:
            assert hasattr(module, attr), f"{name}.__all__ names missing {attr!r}"
