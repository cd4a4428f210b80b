"""Every source dxw ingests, described once: what derives from a source is read from here.

A :class:`Source` names its ingestion DAG (built by ``dags/ingest_sources.py``, one per entry: its
schedule, parameters, documentation and one landing task per dataset), its raw datasets with
their field contracts (the raw tables ``dxw.intake.ingest`` creates and lands, the ``raw.<dataset>``
assets that trigger ``transform_warehouse``), the ``DXW_*_URL`` variable of its address
(``dxw.settings``), its names (Vietnamese in the semi-annual report) and its connector. ``dxw run``,
``dxw demo`` and ``dxw backfill`` run the ingestion DAGs listed here.

Adding a source is one connector module (``dxw.sources.<name>``, a ``fetch(settings, base_url,
period, **options)`` that returns a contract-checked ``Delivery``) and one entry in
:data:`SOURCES`, then its staging model and crosswalk rows in the dbt project.

Import-cheap on purpose: DAG files read it at parse time, so it imports no connector (they are
named by module path and imported by the tasks that fetch) and nothing but the standard library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class RawDataset:
    """A dataset a source delivers: its raw table ``raw.<name>`` and the field contract of a record."""

    name: str
    fields: Mapping[str, type] = field(hash=False)
    key: tuple[str, ...]  # the fields that identify a record; batches land in this order
    fetch: str = "fetch"  # the connector's function that fetches it
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)  # keyword arguments of ``fetch``
    task: str = ""  # the landing task's id (default ``land_<name>``)

    @property
    def task_id(self) -> str:
        return self.task or f"land_{self.name}"

    @property
    def asset_name(self) -> str:
        return f"raw.{self.name}"

    @property
    def asset_uri(self) -> str:
        return f"dxw://warehouse/raw/{self.name}"


@dataclass(frozen=True)
class Source:
    """A source system: its ingestion DAG, its datasets, where it is and what it is called."""

    name: str  # raw.load_batch.source, the DAG's tag, the dbt source
    dag_id: str
    label_vi: str  # as the semi-annual report names it
    label_en: str
    connector: str  # the module of its fetch functions, e.g. "dxw.sources.dms"
    datasets: tuple[RawDataset, ...]
    url_variable: str  # the DXW_*_URL variable of its base URL
    schedule: str  # cron, in local time (DXW_TIMEZONE)
    doc_md: str
    url_default: str | None = None  # None: the bundled simulator serves it (`dxw run`, `dxw demo`)
    # The half-year convention of "the current half-year" a scheduled run pulls (dxw.orchestration.runtime).
    convention: Literal["decree09", "calendar"] = "decree09"
    # A source that can send only what changed since a watermark: the connector's function that
    # gives the new watermark (its fetch then takes ``since``); its DAG gets a ``full_pull`` param.
    watermark: str | None = None

    @property
    def incremental(self) -> bool:
        return self.watermark is not None

    def function(self, name: str) -> Callable[..., Any]:
        """A function of the connector module (imported now, not when the registry is read)."""
        return getattr(importlib.import_module(self.connector), name)


UPLOAD_DAG_ID = "ingest_unit_uploads"
UPLOAD_SOURCE = "unit_upload"
UPLOAD_LABEL_VI = "Báo cáo của đơn vị"
# Unit uploads are files, not a feed (dxw.intake.imports lands their accepted and "no data" rows here).
UPLOAD_DATASET = RawDataset(
    "unit_upload_observations",
    {
        "submittedBy": str,
        "unitCode": str,
        "unitValidFrom": str,
        "indicatorCode": str,
        "numerator": float,
        "denominator": float,
        "value": float,
        "comment": str,
        "sheet": str,
        "rowNo": int,
        "fileName": str,
        # The row answered "no data" (issue 14): submitted, not measured; its figures are null.
        "noData": bool,
    },
    key=("unitCode", "indicatorCode"),
)

# The portal's records: one per agency, as its tree answers, with the request's time fields
# (dxw.sources.portal asks per calendar month and stamps each record with the month it answers).
PORTAL_AGENCY_FIELDS: dict[str, type] = {
    "departmentId": str,
    "departmentName": str,
    "departmentCode": str,
    "parentId": str,
    "level": int,
}
PORTAL_REQUEST_FIELDS: dict[str, type] = {"requestTimeType": str, "requestYear": int, "requestMonth": int}
_PORTAL_KEY = ("requestYear", "requestMonth", "departmentCode")

_PORTAL_DOC = """
### Public-service portal -> raw

Pulls `dvc-progress-tree` (dossiers received / completed / on time) and `provide-online-tree`
(services offered fully or partly online) for every agency of the province, all pages,
checks each record against the field contract and lands each endpoint's answer as one batch
in `raw` (COPY, one transaction, recorded in `raw.load_batch`).

The portal's reporting API offers calendar months, quarters and years only (no half-year, no
Decree 09 window): a half-year is pulled as its six calendar months (`timeType: "month"`),
January-June or July-December, one record per agency and month; dbt staging assembles the
half-year (counts summed, services offered from the last month). The marts say so
(`window_basis = 'calendar_months'`, `window_start`, `window_end`).

**Schedule**: daily at 02:00 local time (`DXW_TIMEZONE`). A run pulls the current calendar half-year and
the previous one (late corrections), each as its calendar months (from 15 December the Decree 09
half-year is already next year's, whose months have no figures yet); pass `period` (e.g.
`2025S1`) to pull a single half-year.

**Re-run**: safe. A delivery identical to the latest loaded batch lands nothing (`unchanged`): its
task is skipped and emits no asset event, so nothing is rebuilt for it;
a changed one lands a new batch that supersedes the old one in staging. A failed fetch or
load leaves no rows behind and is recorded as `failed`.

**Outlets**: `raw.portal_dvc_progress`, `raw.portal_provide_online` (they trigger
`transform_warehouse`).
"""

_DMS_DOC = """
### Document-management system -> raw

Pulls `work-dossier-stats` (work dossiers handled, secret, processed online, processed and
digitally signed online) for every unit of the province, all pages, checks every record against
the field contract and lands it as one staged batch in `raw.dms_work_dossiers`; the raw
expectation suite then promotes it to the current batch or rejects it.

**Schedule**: daily at 02:30 local time (`DXW_TIMEZONE`); a run pulls the current Decree-09 half-year and
the previous one (late corrections); pass `period` (e.g. `2025S1`) for a single half-year.

**Re-run**: safe. An identical delivery lands nothing (its task is skipped and emits no asset
event, so `transform_warehouse` does not run for it); a changed one supersedes the previous
batch; a failed or rejected one never reaches staging.

**Outlet**: `raw.dms_work_dossiers` (triggers `transform_warehouse`).
"""

_REPORTING_DOC = """
### Reporting system (DHIS2 `dataValueSets`) -> raw

Pulls the SixMonthly data set of the provincial departments (reporting regimes connected to the
Government Reporting Information System, shared systems connected to national databases) from
`/api/dataValueSets.json`, places every data element and org unit through the seeds
(`dhis2_data_elements`, `unit_crosswalk`) and lands the values as one staged batch in
`raw.dhis2_data_values`; the raw expectation suite then promotes or rejects it. A value that
cannot be placed fails the delivery and is named in the error. Files are imported by hand with
`dxw ingest dhis2 FILE`, which answers with a DHIS2-style import summary.

**Incremental**: a run asks only for the values changed since its last successful pull of the
half-year (DHIS2's `lastUpdated`, the watermark kept in `raw.load_batch.details`), deleted
values included (`includeDeleted=true`): a value deleted in DHIS2 lands as a deletion and is
gone downstream. A pull that finds nothing changed is recorded `unchanged` and keeps the
watermark. `full_pull: true` (e.g. `dxw run ingest_reporting_system --conf '{"full_pull": true}'`)
pulls the whole half-year again.

**Schedule**: daily at 02:45 local time (`DXW_TIMEZONE`); a run pulls the current Decree-09 half-year and
the previous one; pass `period` (e.g. `2025S1`) for a single half-year.

**Re-run**: safe. An identical delivery lands nothing (its task is skipped and emits no asset
event, so `transform_warehouse` does not run for it); a changed value supersedes the previous
one (the latest value of a data element, org unit and period wins, as in DHIS2); a re-run
after a successful pull asks only for what changed since.

**Outlet**: `raw.dhis2_data_values` (triggers `transform_warehouse`).
"""

SOURCES: tuple[Source, ...] = (
    Source(
        name="public_service_portal",
        dag_id="ingest_public_service_portal",
        label_vi="Cổng Dịch vụ công (số liệu hệ thống)",
        label_en="public-service portal",
        connector="dxw.sources.portal",
        datasets=(
            RawDataset(
                "portal_dvc_progress",
                {
                    **PORTAL_AGENCY_FIELDS,
                    "totalReceived": int,
                    "totalCompleted": int,
                    "totalOnTime": int,
                    "totalOverdue": int,
                    "avgProcessingDays": float,
                    "ratio": float,
                    "score": float,
                    "maxScore": float,
                    **PORTAL_REQUEST_FIELDS,
                },
                key=_PORTAL_KEY,
                fetch="fetch_endpoint",
                options={"endpoint": "dvc-progress-tree"},
            ),
            RawDataset(
                "portal_provide_online",
                {
                    **PORTAL_AGENCY_FIELDS,
                    "onlineServiceTotal": int,
                    "fullCount": int,
                    "partialCount": int,
                    "onlineDossierCount": int,
                    "onlineOnTimeSum": int,
                    "onlineOverdueSum": int,
                    **PORTAL_REQUEST_FIELDS,
                },
                key=_PORTAL_KEY,
                fetch="fetch_endpoint",
                options={"endpoint": "provide-online-tree"},
            ),
        ),
        url_variable="DXW_PORTAL_URL",
        schedule="0 2 * * *",
        convention="calendar",
        doc_md=_PORTAL_DOC,
    ),
    Source(
        name="document_management",
        dag_id="ingest_document_management",
        label_vi="Hệ thống quản lý văn bản và điều hành (số liệu hệ thống)",
        label_en="document-management system",
        connector="dxw.sources.dms",
        datasets=(
            RawDataset(
                "dms_work_dossiers",
                {
                    "orgCode": str,
                    "orgName": str,
                    "dossiersTotal": int,
                    "dossiersSecret": int,
                    "processedOnline": int,
                    "signedOnline": int,
                },
                key=("orgCode",),
            ),
        ),
        url_variable="DXW_DMS_URL",
        schedule="30 2 * * *",
        doc_md=_DMS_DOC,
    ),
    Source(
        name="reporting_system",
        dag_id="ingest_reporting_system",
        label_vi="Hệ thống thông tin báo cáo",
        label_en="reporting system (DHIS2)",
        connector="dxw.sources.dhis2",
        datasets=(
            RawDataset(
                "dhis2_data_values",
                {
                    "dataElement": str,
                    "period": str,
                    "orgUnit": str,
                    "categoryOptionCombo": str,
                    "attributeOptionCombo": str,
                    "value": str,
                    "storedBy": str,
                    "lastUpdated": str,
                    "comment": str,
                    "followup": str,
                    "created": str,
                    "deleted": str,
                },
                key=("dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo"),
                task="land_data_values",
            ),
        ),
        url_variable="DXW_REPORTING_URL",
        schedule="45 2 * * *",
        watermark="watermark",
        doc_md=_REPORTING_DOC,
    ),
)


def source(name: str) -> Source:
    """The source named ``name`` (``raw.load_batch.source``)."""
    for entry in SOURCES:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown source {name!r}: one of {', '.join(s.name for s in SOURCES)}")


def dataset(name: str) -> RawDataset:
    """The raw dataset ``name`` of any source (unit uploads included)."""
    for entry in SOURCES:
        for candidate in entry.datasets:
            if candidate.name == name:
                return candidate
    if name == UPLOAD_DATASET.name:
        return UPLOAD_DATASET
    raise KeyError(f"unknown raw dataset {name!r}")


def labels_vi() -> dict[str, str]:
    """Every source's Vietnamese name, unit uploads included (the report's source column)."""
    return {**{entry.name: entry.label_vi for entry in SOURCES}, UPLOAD_SOURCE: UPLOAD_LABEL_VI}
