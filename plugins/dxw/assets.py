"""The Airflow assets dxw's DAGs produce and consume (import-cheap: DAG files use it)."""

from __future__ import annotations

from airflow.sdk import Asset


def raw_asset(dataset: str) -> Asset:
    """The raw landing table of a source dataset."""
    return Asset(name=f"raw.{dataset}", uri=f"dxw://warehouse/raw/{dataset}", group="raw")


PORTAL_DATASETS = {
    "dvc-progress-tree": "portal_dvc_progress",
    "provide-online-tree": "portal_provide_online",
}
PORTAL_ASSETS = {endpoint: raw_asset(dataset) for endpoint, dataset in PORTAL_DATASETS.items()}
DMS_ASSET = raw_asset("dms_work_dossiers")
REPORTING_ASSET = raw_asset("dhis2_data_values")
UPLOADS_ASSET = raw_asset("unit_upload_observations")
RAW_ASSETS = [*PORTAL_ASSETS.values(), DMS_ASSET, REPORTING_ASSET, UPLOADS_ASSET]
CORE = Asset(name="core", uri="dxw://warehouse/core", group="warehouse")
PUBLISHED_MARTS = Asset(name="marts", uri="dxw://warehouse/marts", group="marts")
