"""The layering of the packages, checked on the source: no import cycles, and ``models``
knows nothing of ``harness``.

The graph is built with ``ast`` from every import statement in a file, including those inside
functions: a lazy import still makes one module depend on another, it only hides the cycle from
the interpreter until the function runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "models")


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of ``packages`` under ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def absolute_base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` statement reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    anchor = module.split(".") if is_package else module.split(".")[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def dependencies(module: str, path: Path, modules: set[str]) -> set[str]:
    """The modules among ``modules`` that ``module`` imports anywhere in its file.

    ``from a.b import c`` depends on ``a.b.c`` when that is a module, otherwise on ``a.b``.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = absolute_base(module, path.name == "__init__.py", node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    found.add(submodule)
                elif base in modules:
                    found.add(base)
    return found - {module}


def import_graph(root: Path = REPOSITORY_ROOT,
                 packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` that it imports."""
    files = module_files(root, packages)
    return {module: dependencies(module, path, set(files)) for module, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or not (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_modules_import_each_other():
    assert cycles(import_graph()) == []


def test_models_import_nothing_from_harness():
    offending = {module: sorted(t for t in targets if t.split(".")[0] == "harness")
                 for module, targets in import_graph().items()
                 if module.split(".")[0] == "models"}
    assert {module: targets for module, targets in offending.items() if targets} == {}


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    package = tmp_path / "toy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "upper.py").write_text("from toy.lower import helper\n")
    (package / "lower.py").write_text(
        "def helper():\n    from . import upper\n    return upper\n")
    (package / "leaf.py").write_text("import toy.lower\n")

    assert cycles(import_graph(tmp_path, ("toy",))) == [["toy.lower", "toy.upper"]]
