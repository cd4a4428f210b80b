"""Load the spreadsheets reporting units drop into the upload landing folder."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from dxw.orchestration.alerts import failure_callback
from dxw.orchestration.assets import UPLOADS_ASSET
from dxw.orchestration.inbox import inbox_asset
from dxw.settings import get_settings
from dxw.sources.registry import UPLOAD_DAG_ID, UPLOAD_SOURCE

DOC = """
### Unit uploads (landing folder) -> raw

When a file arrives, takes the files waiting in `$DXW_UPLOAD_DIR/inbox/` (a folder per unit,
`inbox/<unit code>/`, or the root when the form names the unit), and for each: checks it is a
safe `.xlsx`/`.csv` (size, macros, zip bombs), reads the table however messy, validates every
row against the unit and indicator catalogue, lands the accepted rows as the unit's submission
for the half-year (raw gate, then `raw.unit_upload_observations`; "no data" answers land no row
but count as submitted), writes the rejection report (or a receipt listing "no data" rows and
denominator warnings) in Vietnamese to `outbox/<unit>/` and archives the file under
`archive/<period>/<unit>/`.
The file's arrival in the inbox (its modification time) is recorded in the ledger as when the
unit submitted (the on-time test of Plan 86 VI.6), never the time of this run.
A bad file is an outcome, not a task failure; a database failure fails the task, which retries.

**Schedule**: on the asset `unit_upload_inbox`, whose watcher (`dxw.orchestration.inbox.InboxTrigger`,
in the triggerer) lists the inbox every second and fires for each complete file that arrived or
changed: the unit's receipt or rejection report is written seconds after its file lands. Files
still being written (`.part`, `.tmp`, names starting with `.`) wait until renamed. Also hourly,
a safety net for files that arrived while the triggerer was down or whose run failed.
The watcher runs while the DAG is unpaused (from the DAG processor's next parse of this file).

**Re-run**: safe. A file is moved out of the inbox only once its outcome is recorded; loading
the same content again changes nothing, and a unit's resubmission replaces its previous one
(kept in the ledger).

**Outlet**: `raw.unit_upload_observations` (triggers `transform_warehouse`).
"""


@dag(
    dag_id=UPLOAD_DAG_ID,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone=get_settings().timezone),
        assets=inbox_asset(get_settings()),
    ),
    start_date=pendulum.datetime(2022, 1, 1, tz=get_settings().timezone),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["ingestion", UPLOAD_SOURCE],
    default_args={
        "retries": 2,
        "retry_delay": pendulum.duration(minutes=2),
        "on_failure_callback": failure_callback,
    },
)
def ingest_unit_uploads():
    @task
    def waiting_files() -> list[str]:
        from dxw.intake.upload_folder import pending

        return pending()

    @task(outlets=[UPLOADS_ASSET], map_index_template="{{ relative }}")
    def load_upload(relative: str) -> dict:
        from dxw.intake.upload_folder import process

        return process(relative)

    load_upload.expand(relative=waiting_files())


ingest_unit_uploads()
