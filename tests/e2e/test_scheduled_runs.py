"""Scheduled runs that behave (issue 16): through Airflow's dag.test() and its metadata database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dxw.orchestration import dagrun
from dxw.orchestration.timetables import HalfYearTimetable
from dxw.sources import registry

pytestmark = pytest.mark.integration


def asset_events() -> int:
    """Asset events of raw.dms_work_dossiers in Airflow's metadata database (what starts the transform)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    dagrun.ensure_metadata_db()  # read before any run: on a new metadata database, create its tables
    with create_session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AssetEvent)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .where(AssetModel.uri == registry.dataset("dms_work_dossiers").asset_uri)
            )
            or 0
        )


def test_an_unchanged_delivery_emits_no_asset_event(empty_warehouse, simulator):
    conf = {"period": "2025S1", "source_url": simulator.url}
    before = asset_events()
    first = dagrun.run("ingest_document_management", conf)
    assert dagrun.task_states(first)["land_dms_work_dossiers"] == "success"
    events = asset_events()
    assert events == before + 1  # a new batch: the event that starts transform_warehouse

    again = dagrun.run("ingest_document_management", conf)  # the run succeeds ...
    assert dagrun.task_states(again)["land_dms_work_dossiers"] == "skipped"  # ... nothing new landed
    assert asset_events() == events  # no event: transform_warehouse is not started


def test_a_manual_run_without_period_or_logical_date_is_refused(empty_warehouse):
    with pytest.raises(dagrun.DagRunFailed) as failed:
        dagrun.run("semiannual_marts", {}, logical_date=None)
    assert failed.value.task_states["half_year"] == "failed"
    assert failed.value.task_states["publish_marts"] == "upstream_failed"


def test_conf_period_is_built_whatever_the_logical_date_and_skips_without_data(empty_warehouse, conn):
    # Logical date in 2026S1, conf 2025S1: 2025S1 is the half-year; with no core data it is skipped,
    # not failed at the gate, and nothing is published.
    run = dagrun.run(
        "semiannual_marts", {"period": "2025S1"}, logical_date=HalfYearTimetable().logical_date_for("2026S1")
    )
    states = dagrun.task_states(run)
    assert states["half_year"] == "skipped"
    assert states["quality_gate"] == "skipped"
    assert states["publish_marts"] == "skipped"
    published = conn.execute("select to_regclass('marts.mart_semiannual_indicator')").fetchone()[0]
    assert published is None
