"""Adding a source is a connector module, a registry entry and a staging model (issue 17).

A copy of the project gets a toy source: its connector module, its entry in
``dxw.sources.registry`` and its staging model, nothing else. ``dxw run`` in that copy (its own
process, importing the copy's package) then runs the toy's ingestion DAG, which exists only
because the registry declares it, against a real HTTP server: the DAG, its asset, the raw
table, its (baseline) raw gate and the URL setting all come from the entry, and dbt builds the
staging view.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from dxw.settings import get_settings
from tests.http_server import serving

pytestmark = pytest.mark.integration

PERIOD = "2025S1"
THINGS = [{"unitCode": "TOY-024", "things": 7}, {"unitCode": "TOY-026", "things": 11}]

CONNECTOR = '''"""Toy source: how many things each unit has, one JSON answer per half-year."""

from __future__ import annotations

from dxw.periods import Period
from dxw.settings import Settings
from dxw.sources import http_session as http
from dxw.sources import registry
from dxw.sources.contract import Delivery, check_record

DATASET = "toy_things"
FIELDS = registry.dataset(DATASET).fields


def fetch(settings: Settings, base_url: str, period: Period) -> Delivery:
    """Every unit's things in ``period``, contract-checked."""
    url = base_url.rstrip("/") + "/things"
    with http.session(settings) as session:
        params = {"period": period.id}
        document, raw = http.fetch_page(session, settings, DATASET, 1, "GET", url, params=params)
    delivery = Delivery(documents=[raw])
    for index, record in enumerate(document["items"]):
        check_record(DATASET, FIELDS, record, f"record {index}")
        delivery.records.append(record)
    return delivery
'''

ENTRY = """    Source(
        name="toy",
        dag_id="ingest_toy",
        label_vi="Nguồn thử nghiệm",
        label_en="toy source",
        connector="dxw.sources.toy",
        datasets=(RawDataset("toy_things", {"unitCode": str, "things": int}, key=("unitCode",)),),
        url_variable="DXW_TOY_URL",
        schedule="15 3 * * *",
        doc_md="### Toy source -> raw",
    ),
"""

SOURCES_YML = """version: 2

sources:
  - name: raw_toy
    schema: raw
    description: The toy source landed by dxw.landing.
    tables:
      - name: toy_things
        description: One row per batch and unit.
"""

STAGING_SQL = """with source as (
    select * from {{ source('raw_toy', 'toy_things') }}
),

current_batch as (
    {{ current_batch('toy_things') }}
),

renamed as (
    select
        source.batch_id,
        source.period_id,
        source.unit_code as source_unit_id,
        source.things::bigint as things
    from source
    inner join current_batch on source.batch_id = current_batch.batch_id
),

final as (
    select * from renamed
)

select * from final
"""


AFTER_THE_RUN = """
import os
from datetime import datetime

from dxw.orchestration import airflow_env
from dxw.transform import dbt
from dxw.settings import get_settings

urls = airflow_env.apply()
from airflow.models.asset import AssetEvent, AssetModel
from airflow.utils.session import create_session
from sqlalchemy import func, select

with create_session() as session:
    query = (
        select(func.count())
        .select_from(AssetEvent)
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetModel.name == "raw.toy_things")
        .where(AssetEvent.timestamp >= datetime.fromisoformat(os.environ["TOY_SINCE"]))
    )
    print("raw.toy_things events:", session.scalar(query))
dbt.run(["run", "--select", "+stg_toy__things"], urls.warehouse, get_settings())
"""


class _Things(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        period = parse_qs(url.query).get("period", [""])[0]
        _Things.asked.append(period)
        if url.path != "/things":
            self.send_error(404)
            return
        body = json.dumps({"period": period, "items": THINGS}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def toy_server():
    _Things.asked.clear()
    with serving(_Things) as url:
        yield url


def _copy_project(target: Path) -> Path:
    source = get_settings().project_dir
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in ("dags", "plugins", "expectations"):
        shutil.copytree(source / part, target / part, ignore=ignore)
    # The DAG files render dbt from its manifest: of the dbt build output, only the manifest.
    dbt_project = target / "dbt_project"
    shutil.copytree(source / "dbt_project", dbt_project, ignore=shutil.ignore_patterns("target", "logs"))
    (dbt_project / "target").mkdir()
    shutil.copy2(source / "dbt_project" / "target" / "manifest.json", dbt_project / "target")
    return target


def _add_toy_source(project: Path) -> None:
    """What README's "Adding a source" asks for, and nothing else."""
    (project / "plugins" / "dxw" / "sources" / "toy.py").write_text(CONNECTOR, encoding="utf-8")
    registry = project / "plugins" / "dxw" / "sources" / "registry.py"
    text = registry.read_text(encoding="utf-8")
    opening = "SOURCES: tuple[Source, ...] = (\n"
    assert text.count(opening) == 1
    registry.write_text(text.replace(opening, opening + ENTRY), encoding="utf-8")
    staging = project / "dbt_project" / "models" / "staging" / "toy"
    staging.mkdir()
    (staging / "_toy__sources.yml").write_text(SOURCES_YML, encoding="utf-8")
    (staging / "stg_toy__things.sql").write_text(STAGING_SQL, encoding="utf-8")


def _in_copy(project: Path, home: Path, url: str, *command: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **extra,
        "DXW_PROJECT_DIR": str(project),
        "DXW_HOME": str(home),
        "DXW_TOY_URL": url,
        # The copy's package, not the installed one: its registry is the one with the toy.
        "PYTHONPATH": str(project / "plugins"),
    }
    return subprocess.run(
        [sys.executable, *command], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_registry_entry_adds_a_source_end_to_end(tmp_path, toy_server, empty_warehouse, conn):
    project = _copy_project(tmp_path / "project")
    _add_toy_source(project)
    home = tmp_path / "home"
    since = datetime.now(UTC).isoformat()

    run = _in_copy(project, home, toy_server, "-m", "dxw.cli", "run", "ingest_toy", "--period", PERIOD)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "ingest_toy: success" in run.stdout
    # The URL came from the entry's DXW_TOY_URL: the bundled simulator was not started for it.
    assert "bundled simulator" not in run.stdout
    assert _Things.asked == [PERIOD]

    batch = conn.execute(
        "select source, status, row_count from raw.load_batch "
        "where dataset = 'toy_things' and period_id = %s order by batch_id desc limit 1",
        (PERIOD,),
    ).fetchone()
    assert batch == ("toy", "loaded", 2)  # landed in the entry's raw table and passed its gate
    rows = conn.execute("select unit_code, things from raw.toy_things order by unit_code").fetchall()
    assert rows == [("TOY-024", 7), ("TOY-026", 11)]

    # The task's outlet is the entry's asset (Airflow recorded its event), and dbt builds the
    # staging model over the raw table (its batch view upstream of it); one process for both.
    after = _in_copy(project, home, toy_server, "-c", AFTER_THE_RUN, TOY_SINCE=since)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    assert "raw.toy_things events: 1" in after.stdout
    staged = conn.execute(
        "select source_unit_id, things from staging.stg_toy__things where period_id = %s order by 1",
        (PERIOD,),
    ).fetchall()
    assert staged == [("TOY-024", 7), ("TOY-026", 11)]
