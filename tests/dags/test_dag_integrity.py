"""Every DAG file imports quickly with no database and no network, and has no cycle."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dxw.settings import get_settings
from tests.conftest import DAG_PARSE_REPORT

EXPECTED_DAGS = {
    "ingest_public_service_portal",
    "ingest_document_management",
    "ingest_reporting_system",
    "ingest_unit_uploads",
    "transform_warehouse",
    "semiannual_marts",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    settings = get_settings()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        # Nothing listens on port 9: any attempt to use the metadata database would fail.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@127.0.0.1:9/none",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "postgresql+psycopg://nobody@127.0.0.1:9/none",
        "DXW_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    }
    script = Path(__file__).with_name("parse_dags.py")
    result = subprocess.run(
        [sys.executable, str(script), str(settings.dags_dir)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("DXW-REPORT ")]
    assert result.returncode == 0, result.stderr[-3000:]
    assert lines, result.stdout[-3000:]
    parsed = json.loads(lines[-1].removeprefix("DXW-REPORT "))
    for stat in parsed["files"]:
        DAG_PARSE_REPORT.append(
            f"{Path(stat['file']).name:<40} {stat['seconds']:.3f} s  ({stat['dags']} DAG)"
        )
    DAG_PARSE_REPORT.append(
        f"{'(airflow import, once per process)':<40} {parsed['airflow_import_seconds']:.3f} s"
    )
    return parsed


def test_dag_files_import_without_errors(report):
    assert report["import_errors"] == {}


def test_expected_dags_are_defined(report):
    assert set(report["dags"]) == EXPECTED_DAGS


def test_every_dag_is_documented_and_tagged(report):
    for dag_id, dag in report["dags"].items():
        assert dag["doc_md"], f"{dag_id} has no doc_md"
        assert dag["tags"], f"{dag_id} has no tags"


def test_marts_are_written_then_audited_then_published(report):
    order = report["dags"]["semiannual_marts"]["order"]
    dbt_tasks = [task for task in order if task.startswith("dbt.")]
    assert any("mart_semiannual_indicator" in task for task in dbt_tasks)
    assert max(order.index(t) for t in dbt_tasks) < order.index("quality_gate") < order.index("publish_marts")


def test_transform_builds_the_core_but_not_the_marts(report):
    order = report["dags"]["transform_warehouse"]["order"]
    assert any("fct_indicator_observation" in task for task in order)
    assert not any("mart_" in task for task in order)
    assert order[0] == "ensure_raw_tables"
    assert order[-1] == "core_built"


def test_uploads_start_when_a_file_arrives_with_an_hourly_safety_net(report):
    # The inbox DAG runs on the inbox asset, whose watcher is dxw's trigger on this settings' inbox
    # (polled every second), or on the hour for a file that arrived while nobody watched.
    inbox = str((get_settings().uploads_dir / "inbox").absolute())
    assert report["dags"]["ingest_unit_uploads"]["schedule"] == {
        "timetable": "AssetOrTimeSchedule",
        "time": ["CronTriggerTimetable", "0 * * * *"],
        "assets": {
            "unit_upload_inbox": [
                ["dxw.orchestration.inbox.InboxTrigger", {"inbox": inbox, "poll_interval": 1.0}]
            ]
        },
    }
    # The transform still runs on the raw tables' events, not on the inbox.
    assert "unit_upload_inbox" not in report["dags"]["transform_warehouse"]["schedule"]["assets"]
