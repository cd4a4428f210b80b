"""One source of truth per setting: every variable the code reads is documented, the zone is set once."""

import ast
import re
from pathlib import Path

import pytest

from dxw.errors import ConfigurationError
from dxw.settings import get_settings

ROOT = get_settings().project_dir
CODE_DIRS = ("plugins", "dags", "bench")
# An IANA zone name such as Asia/Ho_Chi_Minh or America/Argentina/Buenos_Aires.
ZONE_NAME = re.compile(
    r"\b(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[A-Z]\w+"
)


def _python_files() -> list[Path]:
    return sorted(
        path for folder in CODE_DIRS for path in (ROOT / folder).rglob("*.py") if ".egg-info" not in str(path)
    )


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _variables_read(tree: ast.AST) -> set[str]:
    """``DXW_*`` names read by os.environ[...], os.environ.get, os.getenv or settings' ``_env*`` helpers,
    and the sources' URL variables the registry declares (``url_variable=``) and settings reads."""
    names = set()
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            reads = (
                (isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value))
                or (isinstance(func, ast.Attribute) and func.attr == "getenv")
                or (isinstance(func, ast.Name) and func.id.startswith("_env"))
            )
            key = node.args[0] if reads else None
        elif isinstance(node, ast.keyword) and node.arg == "url_variable":
            key = node.value  # a source's URL variable, declared in the registry, read by settings
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("DXW_"):
            names.add(key.value)
    return names


def _readme_table() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"DXW_[A-Z0-9_]+", row.split(" | ")[0])}


def test_the_scan_finds_what_it_looks_for():
    tree = ast.parse(
        'os.environ["DXW_A"]; os.environ.get("DXW_B", ""); os.getenv("DXW_C")\n'
        '_env_number("DXW_D", "1", int); os.environ["DXW_WRITTEN"] = "1"; env.get("DXW_NOT_ENVIRON")\n'
        'Source(name="x", url_variable="DXW_E")'
    )
    assert _variables_read(tree) == {"DXW_A", "DXW_B", "DXW_C", "DXW_D", "DXW_E"}


def test_every_variable_the_code_reads_is_in_the_readme_table():
    read = {name: path for path in _python_files() for name in _variables_read(ast.parse(path.read_text()))}
    assert len(read) > 40, "the scan found too few variables: has settings changed how it reads them?"
    documented = _readme_table()
    missing = {name: str(path.relative_to(ROOT)) for name, path in read.items() if name not in documented}
    assert not missing, f"read but not in README's configuration table: {missing}"


def test_every_variable_in_the_readme_table_is_read():
    read = {name for path in _python_files() for name in _variables_read(ast.parse(path.read_text()))}
    assert _readme_table() <= read, f"documented but read nowhere: {sorted(_readme_table() - read)}"


def test_no_time_zone_is_written_outside_settings():
    folders = [ROOT / folder for folder in CODE_DIRS] + [ROOT / "dbt_project", ROOT / "expectations"]
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix not in {".py", ".sql", ".yml", ".yaml", ".json", ".csv"}:
                continue
            parts = set(path.relative_to(ROOT).parts)
            if {"target", "dbt_packages", "logs"} & parts or ".egg-info" in str(path):
                continue
            if path == ROOT / "plugins" / "dxw" / "settings.py":
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.relative_to(ROOT)}: {match}" for match in ZONE_NAME.findall(text)]
    assert not found, f"time zones written outside dxw.settings (use DXW_TIMEZONE): {found}"


def test_the_settings_name_the_zone_once():
    assert len(ZONE_NAME.findall((ROOT / "plugins" / "dxw" / "settings.py").read_text())) == 1


@pytest.fixture
def environment(monkeypatch):
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DXW_TIMEZONE",
            "Hanoi",
            "DXW_TIMEZONE='Hanoi' is not a time zone: use an IANA name, e.g. Asia/Ho_Chi_Minh",
        ),
        ("DXW_HTTP_RETRIES", "four", "DXW_HTTP_RETRIES='four' is not a number (default 4)"),
        ("DXW_DHIS2_CONCURRENCY", "0", "DXW_DHIS2_CONCURRENCY=0 is out of range: 1 to 16 (default 4)"),
        ("DXW_DHIS2_CONCURRENCY", "17", "DXW_DHIS2_CONCURRENCY=17 is out of range: 1 to 16 (default 4)"),
        ("DXW_DHIS2_CONCURRENCY", "two", "DXW_DHIS2_CONCURRENCY='two' is not a number (default 4)"),
        (
            "DXW_UPLOAD_DENOMINATOR_BAND",
            "20%",
            "DXW_UPLOAD_DENOMINATOR_BAND='20%' is not a number (default 0.20)",
        ),
    ],
)
def test_a_value_dxw_cannot_use_is_refused_naming_the_variable(environment, variable, value, message):
    environment.setenv(variable, value)
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError) as refused:
        get_settings()
    assert str(refused.value) == message


@pytest.mark.parametrize(("value", "expected"), [(None, 4), ("1", 1), ("16", 16)])
def test_the_dhis2_concurrency_is_a_bounded_setting(environment, value, expected):
    if value is None:
        environment.delenv("DXW_DHIS2_CONCURRENCY", raising=False)
    else:
        environment.setenv("DXW_DHIS2_CONCURRENCY", value)
    get_settings.cache_clear()
    assert get_settings().dhis2_concurrency == expected


def test_the_zone_reaches_the_dags_and_dbt(environment):
    from dxw.transform import dbt

    environment.setenv("DXW_TIMEZONE", "Asia/Bangkok")
    get_settings.cache_clear()
    settings = get_settings()
    assert str(settings.zone) == "Asia/Bangkok"
    assert dbt.connection_env("postgresql://u@h:5432/d", settings)["DXW_TIMEZONE"] == "Asia/Bangkok"
