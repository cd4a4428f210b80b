"""The report's modules import one way: no module of dxw.serving.reports imports one that imports it back."""

import ast
import importlib
from pathlib import Path

import dxw.serving.reports

PACKAGE = Path(dxw.serving.reports.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def report_imports(module: str) -> set[str]:
    """The dxw.serving.reports modules that ``module`` imports, at module level or inside a function."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "dxw.serving.reports":
            found |= {alias.name for alias in node.names if alias.name in MODULES}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dxw.serving.reports."):
            found.add(node.module.removeprefix("dxw.serving.reports."))
        elif isinstance(node, ast.Import):
            names = (alias.name for alias in node.names)
            found |= {
                name.removeprefix("dxw.serving.reports.")
                for name in names
                if name.startswith("dxw.serving.reports.")
            }
    return found


def test_the_report_modules_form_no_import_cycle():
    graph = {module: report_imports(module) for module in MODULES}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())
    assert {"model", "queries", "charts", "svg", "html", "workbook", "semiannual"} <= set(MODULES)
    assert graph["model"] == set()  # the data model depends on no other part of the report


def test_each_report_module_imports_on_its_own():
    for module in MODULES:
        importlib.import_module(f"dxw.serving.reports.{module}")


def test_the_entry_points_stay_where_the_cli_finds_them():
    from dxw.serving.reports import ReportNotPublished, write_report
    from dxw.serving.reports.semiannual import SOURCE_NAMES

    assert callable(write_report)
    assert issubclass(ReportNotPublished, Exception)
    assert SOURCE_NAMES["unit_upload"] == "Báo cáo của đơn vị"
