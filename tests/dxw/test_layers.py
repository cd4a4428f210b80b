"""The package follows the data flow: no module imports from a later layer, and no import cycles.

The layers, earliest first (README, "Layout"): what every layer may use, the warehouse's own
machinery (connections, locks, roles, row security), the sources' connectors, landing into
``raw``, the expectation runner behind every gate, the intake that drives a delivery through
landing and its gate, the dbt glue, publishing, serving, the Airflow glue, the simulator and the
CLI. An import counts wherever it is written (a lazy import inside a function
is a dependency all the same), so moving one into a function cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "dxw"

# Each layer is named by the packages it holds; a module belongs to its longest matching name.
LAYERS = (
    # What every layer uses. The sources' registry is a declaration (it imports no connector):
    # settings read the sources' URL variables from it, and the DAGs, assets and CLI derive from it.
    ("foundation", ("dxw", "dxw.settings", "dxw.errors", "dxw.secrets", "dxw.periods", "dxw.units",
                    "dxw.catalogue", "dxw.catalogue_versions", "dxw.sources.registry")),
    ("warehouse", ("dxw.warehouse",)),
    ("sources", ("dxw.sources",)),
    ("landing", ("dxw.landing",)),
    ("quality", ("dxw.quality",)),
    ("intake", ("dxw.intake",)),
    ("transform", ("dxw.transform",)),
    ("publish", ("dxw.publish",)),
    ("serving", ("dxw.serving",)),
    ("orchestration", ("dxw.orchestration",)),
    ("simulator", ("dxw.simulator",)),
    ("cli", ("dxw.cli",)),
)  # fmt: skip


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module ``name`` refers to (an imported attribute belongs to its module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_owner(alias.name) for alias in node.names if alias.name.startswith("dxw"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "dxw" or base.startswith("dxw."):
                for alias in node.names:
                    found.add(_owner(f"{base}.{alias.name}"))
    found.discard(None)
    found.discard(module)
    return found


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or (prefix != "dxw" and module.startswith(prefix + "."))
    ]
    if not matches:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS (and the README's layout)")
    return max(matches)[1]


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_later_layer(module):
    mine = layer_of(module)
    later = sorted(f"{dep} ({LAYERS[layer_of(dep)][0]})" for dep in GRAPH[module] if layer_of(dep) > mine)
    assert not later, f"{module} ({LAYERS[mine][0]}) imports from later layers: {', '.join(later)}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(GRAPH[module]):
            if dep.startswith(module + "."):
                continue  # a package importing its own submodules is not a cycle
            if state.get(dep) == 1 and not module.startswith(dep + "."):
                cycle = [*stack[stack.index(dep) :], dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_reader_sees_lazy_imports_and_imported_names():
    """What the checks above rely on: an import inside a function counts, and so does a name."""
    # airflow_env imports roles inside _grant_roles only.
    assert "dxw.warehouse.roles" in GRAPH["dxw.orchestration.airflow_env"]
    # ``from dxw.intake.uploads.cells import CellError`` is a dependency on the module cells.
    assert "dxw.intake.uploads.cells" in GRAPH["dxw.intake.uploads"]
    assert layer_of("dxw.sources.registry") == 0
    assert layer_of("dxw.sources.dhis2") == 2
