"""The import graph has floors and no circles (WORKSPACE.md draws them).

A package may import its own modules and the packages on lower floors,
never a package on its own floor or above. Every import counts, also the
ones inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Lowest first. Packages on one floor do not import each other.
FLOORS = (
    ("common",),
    ("metrics",),
    ("data",),
    ("exports",),
    ("baselines", "gan_tf"),
    ("dvbpr_tf",),  # `dvbpr_tf.train --model=bprmf` dispatches to baselines.
    ("design",),
    ("eval",),
    ("benchmarks", "scripts"),
    ("tests",),  # a package (tests/__init__.py) that nothing of the project imports
)
FLOOR = {package: level for level, packages in enumerate(FLOORS) for package in packages}


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for package in FLOOR:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _imports(path: pathlib.Path, modules: dict[str, pathlib.Path]) -> set[str]:
    """The project modules `path` imports (a `from pkg import mod` names pkg.mod)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_every_package_has_a_floor():
    top = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert top <= set(FLOOR), f"packages without a floor in FLOORS: {sorted(top - set(FLOOR))}"
    assert len(_modules()) > 50  # the walk found the tree


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Edges that go to a package on the importer's floor or above."""
    found = []
    for module, imported in sorted(graph.items()):
        package = module.split(".")[0]
        for target in sorted(imported):
            target_package = target.split(".")[0]
            if target_package != package and FLOOR[target_package] >= FLOOR[package]:
                found.append(f"{module} -> {target}")
    return found


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Every circle an iterative depth-first walk closes (a back edge)."""
    state: dict[str, int] = {}
    found = []
    for start in sorted(graph):
        if start in state:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                found.append(" -> ".join(path[path.index(child) :] + [child]))
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return found


def test_no_import_from_a_lower_floor_to_a_higher_one():
    found = upward_imports(_graph())
    assert not found, "imports that go up or sideways:\n" + "\n".join(found)


def test_no_import_circle():
    found = circles(_graph())
    assert not found, "import circles:\n" + "\n".join(found)


def test_the_checks_can_fail():
    graph = {
        "data.a": {"eval.b"},  # up
        "gan_tf.c": {"baselines.d"},  # sideways
        "eval.b": {"data.a"},
        "baselines.d": set(),
        "dvbpr_tf.x": {"dvbpr_tf.y"},
        "dvbpr_tf.y": {"dvbpr_tf.x"},
    }
    assert upward_imports(graph) == ["data.a -> eval.b", "gan_tf.c -> baselines.d"]
    assert circles(graph) == [
        "data.a -> eval.b -> data.a",
        "dvbpr_tf.x -> dvbpr_tf.y -> dvbpr_tf.x",
    ]
