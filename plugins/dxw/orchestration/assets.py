"""The Airflow assets dxw's DAGs produce and consume (import-cheap: DAG files use it)."""

from __future__ import annotations

from airflow.sdk import Asset

from dxw.sources.registry import SOURCES, UPLOAD_DATASET, RawDataset


def raw_asset(dataset: RawDataset) -> Asset:
    """The raw landing table of a source dataset."""
    return Asset(name=dataset.asset_name, uri=dataset.asset_uri, group="raw")


# Every registry source's raw tables, then the unit uploads'.
SOURCE_ASSETS = {source.name: [raw_asset(dataset) for dataset in source.datasets] for source in SOURCES}
UPLOADS_ASSET = raw_asset(UPLOAD_DATASET)
RAW_ASSETS = [*(asset for assets in SOURCE_ASSETS.values() for asset in assets), UPLOADS_ASSET]
CORE = Asset(name="core", uri="dxw://warehouse/core", group="warehouse")
PUBLISHED_MARTS = Asset(name="marts", uri="dxw://warehouse/marts", group="marts")
