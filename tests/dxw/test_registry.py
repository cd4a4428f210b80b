"""The source registry: what derives from it matches it, and its entries can be resolved."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dxw import cli
from dxw.intake.ingest import FEEDS, UPLOAD_DATASET
from dxw.serving.reports.semiannual import SOURCE_NAMES
from dxw.settings import get_settings
from dxw.sources import registry

DATASETS = [dataset for source in registry.SOURCES for dataset in source.datasets]


def test_names_are_unique():
    assert len({s.name for s in registry.SOURCES}) == len(registry.SOURCES)
    assert len({s.dag_id for s in registry.SOURCES}) == len(registry.SOURCES)
    assert len({s.url_variable for s in registry.SOURCES}) == len(registry.SOURCES)
    names = [d.name for d in DATASETS] + [registry.UPLOAD_DATASET.name]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("source", registry.SOURCES, ids=lambda s: s.name)
def test_every_connector_has_the_functions_its_entry_names(source):
    for dataset in source.datasets:
        assert callable(source.function(dataset.fetch))
        assert set(dataset.key) <= set(dataset.fields), f"{dataset.name}: its key is not in its contract"
    if source.watermark:
        assert callable(source.function(source.watermark))


def test_feeds_and_raw_tables_come_from_the_registry():
    assert list(FEEDS) == [d.name for d in DATASETS]
    for source in registry.SOURCES:
        for dataset in source.datasets:
            raw = FEEDS[dataset.name].dataset
            assert (raw.source, raw.fields, raw.key) == (source.name, dataset.fields, dataset.key)
    assert (UPLOAD_DATASET.source, UPLOAD_DATASET.name) == ("unit_upload", "unit_upload_observations")


def test_cli_pipeline_and_report_names_come_from_the_registry():
    pipeline = [dag_id for dag_id, _ in cli._pipeline("2025S1", "2025S1", [])]
    assert pipeline[: len(registry.SOURCES)] == [s.dag_id for s in registry.SOURCES]
    assert set(cli.INGEST_DAGS) == {s.dag_id for s in registry.SOURCES}
    for source in registry.SOURCES:
        assert SOURCE_NAMES[source.name] == source.label_vi


def test_each_source_url_is_read_from_its_variable(monkeypatch):
    for source in registry.SOURCES:
        monkeypatch.setenv(source.url_variable, f"http://{source.name}.example:8080")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        for source in registry.SOURCES:
            assert settings.source_url(source.name) == f"http://{source.name}.example:8080"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert get_settings().source_url("public_service_portal") is None  # unset: the bundled simulator


def test_reading_the_registry_imports_no_connector():
    """DAG files read it at parse time: the connectors (requests, psycopg) load only in tasks."""
    code = (
        "import sys; import dxw.sources.registry\n"
        "heavy = [m for m in ('dxw.sources.portal', 'dxw.sources.dms', 'dxw.sources.dhis2', 'requests', "
        "'psycopg') if m in sys.modules]\n"
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
