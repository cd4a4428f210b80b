"""The ``dxw`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import date, datetime
from pathlib import Path
from types import TracebackType

from dxw.errors import ConfigurationError, DxwError, InputError
from dxw.secrets import mask_url, scrub
from dxw.settings import get_settings
from dxw.sources.registry import SOURCES, UPLOAD_DAG_ID

log = logging.getLogger("dxw")

# The ingestion DAGs of the registry's sources, and the source each one pulls from.
INGEST_DAGS = {source.dag_id: source.name for source in SOURCES}
DEMO_FIRST, DEMO_LAST, DEMO_SHOW = "2022S1", "2025S2", "2025S1"


def _say(message: str = "") -> None:
    print(message, flush=True)


def _iso_date(text: str, what: str) -> date:
    """``text`` as an ISO date; an :class:`InputError` naming ``what`` otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} {text!r} is not a date: write it YYYY-MM-DD, e.g. 2025-06-14") from None


# --- db ---------------------------------------------------------------------------------------
def cmd_db_url(args: argparse.Namespace) -> int:
    from dxw.warehouse import database

    urls = database.resolve()
    database.ensure_databases(urls)
    url = urls.airflow if args.airflow else urls.warehouse
    _say(url if args.show_password else mask_url(url))
    return 0


def cmd_db_grant(args: argparse.Namespace) -> int:
    from dxw.warehouse import database, roles

    settings = get_settings()
    urls = database.resolve(settings)
    database.ensure_databases(urls)
    with database.connect(settings, autocommit=True) as conn:
        for line in roles.grant(conn, settings):
            _say(line)
    return 0


def cmd_db_scope(args: argparse.Namespace) -> int:
    from dxw.warehouse import database, roles, row_security

    settings = get_settings()
    urls = database.resolve(settings)
    database.ensure_databases(urls)
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            _say(f"refused: environment variable {args.password_env} is not set or empty")
            return 2
    as_of = _iso_date(args.as_of, "--as-of") if args.as_of else None
    with database.connect(settings, autocommit=True) as conn:
        for line in roles.grant(conn, settings):
            _say(line)
        try:
            lines = roles.scope(
                conn,
                args.login,
                args.unit,
                as_of=as_of,
                password=password,
                reset_password=args.reset_password,
                own_roles=(roles.OWNER, roles.LOADER),
                settings=settings,
            )
        except row_security.RowSecurityError as exc:
            _say(f"refused: {exc}")
            return 2
        for line in lines:
            _say(line)
    return 0


def cmd_db_start(args: argparse.Namespace) -> int:
    from dxw.warehouse import database, embedded_pg

    settings = get_settings()
    if not settings.uses_embedded_database:
        _say("DXW_DATABASE_URL is set: dxw uses that server and starts none of its own.")
        return 0
    server = embedded_pg.start(settings)
    created = database.ensure_databases(database.resolve(settings))
    _say(f"embedded PostgreSQL running on 127.0.0.1:{server.port} (data in {server.data_dir})")
    if created:
        _say(f"created databases: {', '.join(created)}")
    return 0


def cmd_db_stop(args: argparse.Namespace) -> int:
    from dxw.warehouse import embedded_pg

    settings = get_settings()
    if not settings.uses_embedded_database:
        _say("DXW_DATABASE_URL is set: there is no embedded server to stop.")
        return 0
    stopped = embedded_pg.stop(settings)
    _say("embedded PostgreSQL stopped." if stopped else "embedded PostgreSQL was not running.")
    return 0


# --- simulator ----------------------------------------------------------------------------------
def cmd_simulator_serve(args: argparse.Namespace) -> int:
    from dxw.simulator import serve_forever

    settings = get_settings()
    port = args.port if args.port is not None else (settings.simulator_port or 8765)
    _say(f"source simulator on http://{args.host or settings.simulator_host}:{port} (Ctrl-C stops it)")
    national = None
    if args.national:
        from dxw.simulator.national import NationalWorld

        national = NationalWorld()
        _say(f"reporting system: the national world, {len(national.communes):,} communes")
    serve_forever(args.host or settings.simulator_host, port, tuple(args.fault), national)
    return 0


# --- airflow (the deployment) ------------------------------------------------------------------
def cmd_airflow_up(args: argparse.Namespace) -> int:
    from dxw.orchestration import deployment

    settings = get_settings()
    _say(f"dxw airflow up: starting the deployment from {settings.home} ...")
    started = time.monotonic()
    try:
        running = deployment.start(settings, timeout=args.timeout)
    except deployment.DeploymentError as exc:
        _say(f"refused: {exc}")
        return 1
    # The password is shown only when asked for, as `dxw db url` does: terminals get logged.
    password = running.admin_password if args.show_password else f"*** (in {running.secrets_file})"
    _say(f"  Airflow UI: {running.url}   login: {running.admin_user} / {password}")
    _say(f"  Celery broker: {mask_url(running.broker_url)}   worker slots: {settings.worker_concurrency}, "
         f"dbt pool: {settings.dbt_pool_slots}")  # fmt: skip
    if running.simulator_url:
        _say(f"  sources: bundled simulator at {running.simulator_url} (set DXW_*_URL for real ones)")
    _say(f"  processes: {', '.join(f'{name} ({pid})' for name, pid in running.pids.items())}")
    _say(f"  their logs: {running.log_dir}")
    _say(f"Healthy in {time.monotonic() - started:.0f} s. DAGs start paused: unpause them in the UI. "
         "`dxw airflow down` stops everything.")  # fmt: skip
    return 0


def cmd_airflow_down(args: argparse.Namespace) -> int:
    from dxw.orchestration import deployment

    stopped = deployment.stop(get_settings())
    _say(f"stopped: {', '.join(stopped)}" if stopped else "no deployment was running.")
    return 0


def cmd_airflow_trigger(args: argparse.Namespace) -> int:
    """Start a run through the deployment's REST API: the half-year is named, never taken from a date."""
    from dxw.orchestration import deployment
    from dxw.orchestration.airflow_api import AirflowApiError

    conf: dict[str, str] = {}
    if args.period:
        from dxw.periods import parse

        conf["period"] = parse(args.period).id
    elif args.dag_id == "semiannual_marts":
        _say("refused: semiannual_marts builds one half-year: name it with --period, e.g. --period 2025S1")
        return 2
    try:
        api = deployment.api(get_settings())
        dag = api.dag(args.dag_id)
        if dag is None:
            _say(f"refused: the deployment has no DAG {args.dag_id!r} (or the dag-processor is parsing it)")
            return 1
        if dag["is_paused"]:
            if not args.unpause:
                _say(
                    f"refused: {args.dag_id} is paused, so its run would wait in the queue: unpause it in "
                    "the UI or add --unpause (which also starts its schedule)"
                )
                return 1
            api.set_paused(args.dag_id, False)
            _say(f"{args.dag_id} unpaused (its schedule runs from now on)")
        run_id = api.trigger(args.dag_id, conf=conf)
        period = f" for {conf['period']}" if conf else ""
        _say(f"{args.dag_id}: run {run_id} queued{period}; {api.url}/dags/{args.dag_id}/runs/{run_id}")
        if not args.wait:
            return 0
        run = api.wait_for_run(args.dag_id, run_id, timeout=args.timeout)
    except (deployment.DeploymentError, AirflowApiError) as exc:
        _say(f"refused: {scrub(str(exc))}")
        return 1
    tasks = api.task_instances(args.dag_id, run_id)
    failed = [ti["task_id"] for ti in tasks if ti["state"] == "failed"]
    _say(f"{args.dag_id}: run {run_id} {run['state']}" + (f" (failed: {', '.join(failed)})" * bool(failed)))
    # A task that skipped itself (an unchanged delivery, a half-year not ready) says why in its log.
    for ti in tasks:
        if ti["state"] == "skipped" and ti.get("start_date") and ti.get("try_number"):
            log_text = api.task_log(args.dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
            reasons = [line.split("reason: ", 1)[1] for line in log_text.splitlines() if "reason: " in line]
            _say(f"  {ti['task_id']} skipped: {reasons[-1] if reasons else 'see its log'}")
    published = any(ti["task_id"] == "publish_marts" and ti["state"] == "success" for ti in tasks)
    if run["state"] == "success" and args.dag_id == "semiannual_marts" and not published:
        _say(f"  nothing was published for {conf['period']}")
        return 1
    return 0 if run["state"] == "success" else 1


def cmd_airflow_worker(args: argparse.Namespace) -> int:
    from dxw.orchestration import deployment

    settings = get_settings()
    _say(f"dxw airflow worker: a Celery worker of the deployment at {settings.airflow_url or '?'} ...")
    try:
        deployment.worker(settings)
    except deployment.DeploymentError as exc:
        _say(f"refused: {exc}")
        return 2
    return 0  # not reached: the worker replaced this process


def cmd_airflow_status(args: argparse.Namespace) -> int:
    from dxw.orchestration import deployment

    running = deployment.status(get_settings())
    for name, pid in running.items():
        _say(f"  {name:<14} pid {pid}")
    if not running:
        _say("no deployment is running.")
    return 0 if running else 1


# --- run ----------------------------------------------------------------------------------------
@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send everything written to stdout/stderr (Airflow, dbt, GX) to ``path`` at fd level."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    # What the pipeline waits for (a BI session holding a mart, dxw.warehouse.locking) stays on the terminal.
    terminal = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    waits = logging.StreamHandler(terminal)
    waits.setLevel(logging.WARNING)
    waits.setFormatter(logging.Formatter("  %(message)s"))
    logging.getLogger("dxw.warehouse.locking").addHandler(waits)
    with path.open("ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            logging.getLogger("dxw.warehouse.locking").removeHandler(waits)
            terminal.close()
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _run_dags(runs: Sequence[tuple[str, dict]], quiet: bool = True) -> None:
    """Run DAGs in order through Airflow, with the simulator as the source unless configured.

    With ``quiet``, the runs' own logs go to ``$DXW_HOME/logs/`` and only progress is shown;
    the log's tail is shown when a run fails.
    """
    from dxw.orchestration import airflow_env, deployment

    running = deployment.status(get_settings())
    if running:
        # Its scheduler shares the metadata database and would take over the in-process run's tasks.
        raise ConfigurationError(
            f"a deployment runs from {get_settings().home} ({', '.join(running)}): start runs in it with "
            "`dxw airflow trigger`, or stop it first (make airflow-stop)"
        )
    airflow_env.apply()
    from dxw.orchestration import dagrun

    settings = get_settings()
    log_file = settings.home / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"
    _say(f"  warehouse: {mask_url(settings.database_url or '')}   logs: {log_file}")
    with ExitStack() as stack:
        simulator_url = None
        for dag_id, conf in runs:
            source = INGEST_DAGS.get(dag_id)
            if source and settings.source_url(source) is None:
                if simulator_url is None:
                    from dxw.simulator import start_in_thread

                    simulator = start_in_thread(settings.simulator_host, settings.simulator_port)
                    stack.enter_context(simulator)
                    simulator_url = simulator.url
                    _say(f"  sources: bundled simulator at {simulator_url} (set DXW_*_URL for real ones)")
                conf = {"source_url": simulator_url, **conf}
            started = time.monotonic()
            shown = ", ".join(f"{k}={v}" for k, v in conf.items() if k != "source_url")
            _say(f"  running {dag_id}{' (' + shown + ')' if shown else ''} ...")
            try:
                with _output_to(log_file) if quiet else nullcontext():
                    dagrun.run(dag_id, conf=conf)
            except dagrun.DagRunFailed:
                if quiet:
                    tail = log_file.read_text(errors="replace").splitlines()[-40:]
                    _say("\n".join(["  --- last lines of the run log ---", *tail]))
                raise
            _say(f"  {dag_id}: success in {time.monotonic() - started:.0f} s")


def cmd_run(args: argparse.Namespace) -> int:
    import json

    try:
        conf: dict = json.loads(args.conf) if args.conf else {}
    except json.JSONDecodeError as exc:
        raise InputError(
            f"--conf is not JSON ({exc}): write an object, e.g. '{{\"full_pull\": true}}'"
        ) from None
    if not isinstance(conf, dict):
        raise InputError("--conf must be a JSON object, e.g. '{\"full_pull\": true}'")
    if args.period:
        from dxw.periods import parse

        conf["period"] = parse(args.period).id
    _run_dags([(args.dag_id, conf)], quiet=not args.verbose)
    return 0


# --- demo and backfill ------------------------------------------------------------------------
def _pipeline(first: str, last: str, publish: list[str]) -> list[tuple[str, dict]]:
    """Ingest ``first..last`` in one run, rebuild the core, then build/audit/publish half-years."""
    from dxw.periods import halfyears

    periods = [p.id for p in halfyears(first, last)]
    return [
        *((source.dag_id, {"periods": periods}) for source in SOURCES),
        (UPLOAD_DAG_ID, {}),
        ("transform_warehouse", {}),
        *(("semiannual_marts", {"period": period}) for period in publish),
    ]


def _demo_publishes(first: str, show: str) -> list[str]:
    """The half-years the demo gates and publishes: the one shown and the one before it, if ingested.

    The change since the previous half-year and the trend compare gated figures only; each half-year
    is one run of semiannual_marts (`dxw backfill` gates and publishes a whole range).
    """
    from dxw.periods import parse

    shown = parse(show)
    return [p.id for p in (shown.previous(), shown) if p >= parse(first)]


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    _say(f"dxw demo: Hà Giang digital-transformation indicators, {args.first}..{args.last}")
    from dxw.intake import upload_folder
    from dxw.simulator.upload_data import drop_uploads

    inbox = upload_folder.folders()["inbox"]
    dropped = drop_uploads(inbox, args.show)
    _say(
        f"  uploads: {len(dropped)} district forms for {args.show} dropped in {inbox}, "
        "each at the time its district submitted it (dxw.simulator.submissions)"
    )
    _run_dags(
        _pipeline(args.first, args.last, _demo_publishes(args.first, args.show)), quiet=not args.verbose
    )
    from dxw.serving.reports import terminal

    for table in (
        terminal.attainment_table,
        terminal.scorecard_table,
        terminal.award_table,
        terminal.uploads_table,
        terminal.compliance_table,
    ):
        _say()
        _say(table(args.show))
    from dxw.serving.reports import write_report

    files = write_report(args.show, get_settings().home / "reports")
    _say()
    _say(f"Semi-annual report {args.show} (Vietnamese, with charts): {files.html}")
    _say(f"                             and as a workbook: {files.xlsx}")
    _say()
    _say(f"Done in {time.monotonic() - started:.0f} s. Where to look next:")
    for line in terminal.next_steps():
        _say(f"  {line}")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from dxw.periods import halfyears

    started = time.monotonic()
    periods = [p.id for p in halfyears(args.first, args.last)]
    _say(f"dxw backfill: {periods[0]}..{periods[-1]} ({len(periods)} half-years)")
    _run_dags(_pipeline(args.first, args.last, periods), quiet=not args.verbose)
    _say(f"Backfilled and published {len(periods)} half-years in {time.monotonic() - started:.0f} s.")
    return 0


# --- ingest and upload -----------------------------------------------------------------------
def cmd_ingest_dhis2(args: argparse.Namespace) -> int:
    import json

    from dxw.intake import imports

    summary = imports.import_dhis2_file(
        Path(args.file),
        id_scheme=args.id_scheme,
        period_id=args.period,
        import_strategy=args.import_strategy,
        dry_run=args.dry_run,
    )
    _say(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2) if args.json else summary.text())
    return 1 if summary.status == "ERROR" else 0


def cmd_ingest_upload(args: argparse.Namespace) -> int:
    from dxw.intake import imports

    report_dir = Path(args.report_dir) if args.report_dir else Path(args.file).resolve().parent
    try:
        submitted_at = datetime.fromisoformat(args.submitted_at) if args.submitted_at else None
    except ValueError:
        raise InputError(
            f"--submitted-at {args.submitted_at!r} is not a time: write it ISO, e.g. 2025-06-14T16:30"
        ) from None
    if submitted_at is not None and submitted_at.tzinfo is None:
        submitted_at = submitted_at.replace(tzinfo=get_settings().zone)
    outcome = imports.import_upload(
        Path(args.file),
        unit_code=args.unit,
        period_id=args.period,
        report_dir=report_dir,
        submitted_at=submitted_at,
    )
    _say(
        f"{outcome.file_name}: {outcome.status} (unit {outcome.unit_code or '?'}, {outcome.period_id or '?'})"
    )
    _say(
        f"  accepted rows: {outcome.accepted}, rejected rows: {outcome.rejected}, "
        f"no-data rows: {outcome.no_data}, warnings: {outcome.warnings}"
    )
    if outcome.batch_id is not None:
        _say(f"  batch {outcome.batch_id}: {outcome.load_status}")
    for code, count in sorted(outcome.reasons.items()):
        _say(f"    {count} x {code}")
    _say(f"  {outcome.summary_vi}")
    if outcome.report:
        _say(f"  report for the unit: {outcome.report}")
    return 1 if outcome.status == "rejected" else 0


def cmd_upload_template(args: argparse.Namespace) -> int:
    from dxw.intake import uploads
    from dxw.periods import parse

    period = parse(args.period)
    out = Path(args.out) if args.out else Path(f"bieu-mau-{args.unit}-{period.id}.xlsx")
    path = uploads.write_template(out, uploads.load_catalogue(), args.unit, period.id)
    _say(f"wrote {path}")
    return 0


def cmd_upload_inbox(args: argparse.Namespace) -> int:
    from dxw.intake import upload_folder

    for name, path in upload_folder.folders().items():
        _say(f"{name:8} {path}")
    waiting = upload_folder.pending()
    _say(f"{len(waiting)} file(s) waiting" + (": " + ", ".join(waiting) if waiting else ""))
    return 0


# --- report -------------------------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    from dxw.serving.reports import write_report

    settings = get_settings()
    started = time.monotonic()
    out = Path(args.out) if args.out else settings.home / "reports"
    files = write_report(args.period, out, settings, structure=args.structure)
    kind = "Annual" if len(args.period) == 4 else "Semi-annual"
    _say(f"{kind} report {args.period} written in {time.monotonic() - started:.1f} s:")
    _say(f"  {files.html}")
    _say(f"  {files.xlsx}")
    return 0


# --- status -------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    from dxw.serving.reports import terminal

    _say(terminal.status())
    return 0


# --- period -------------------------------------------------------------------------------------
def cmd_period(args: argparse.Namespace) -> int:
    from dxw import periods

    day = _iso_date(args.date, "date")
    for convention in periods.CONVENTIONS:
        for kind in ("month", "quarter", "halfyear", "year"):
            period = periods.period_of(day, kind, convention)
            start, end = period.window(convention)
            _say(f"{convention:9} {kind:9} {period.id:7} {start} .. {end}")
    return 0


# --- build helpers ----------------------------------------------------------------------------
def cmd_manifest(args: argparse.Namespace) -> int:
    """dbt parse: the manifest Cosmos renders the transform DAG from (no database needed)."""
    from dxw.transform import dbt

    settings = get_settings()
    env_url = settings.database_url or "postgresql://postgres@127.0.0.1:5432/dxw"
    dbt.run(["parse", "--quiet"], env_url, settings)
    _say(f"dbt manifest written to {dbt.manifest_path(settings)}")
    return 0


def cmd_units_write_seeds(args: argparse.Namespace) -> int:
    from dxw.units import write_seeds

    for path in write_seeds(get_settings().dbt_project_dir / "seeds"):
        _say(f"wrote {path}")
    return 0


# Commands that write nothing under DXW_HOME: they work whatever it is.
WITHOUT_HOME = frozenset(
    {cmd_period, cmd_manifest, cmd_units_write_seeds, cmd_upload_template, cmd_simulator_serve}
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dxw",
        description="dxw: data pipeline and warehouse for the provincial digital-transformation programme.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show info logs, the runs' own logs, and tracebacks of errors",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str, parent=commands):
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    demo = add("demo", cmd_demo, "Run the whole pipeline on the bundled source simulator and show results.")
    demo.add_argument(
        "--from", dest="first", default=DEMO_FIRST, help=f"first half-year (default {DEMO_FIRST})"
    )
    demo.add_argument("--to", dest="last", default=DEMO_LAST, help=f"last half-year (default {DEMO_LAST})")
    demo.add_argument(
        "--show",
        default=DEMO_SHOW,
        help=f"half-year to print; it and the one before it are gated and published (default {DEMO_SHOW})",
    )

    backfill = add("backfill", cmd_backfill, "Ingest, rebuild and publish every half-year of a range.")
    backfill.add_argument("--from", dest="first", required=True, help="first half-year, e.g. 2022S1")
    backfill.add_argument("--to", dest="last", required=True, help="last half-year, e.g. 2025S2")

    db = commands.add_parser("db", help="The warehouse database.", description="The warehouse database.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    url = add(
        "url", cmd_db_url, "Print the warehouse URL (starts the embedded server if needed).", db_commands
    )
    url.add_argument("--airflow", action="store_true", help="print the Airflow metadata database URL instead")
    url.add_argument(
        "--show-password",
        action="store_true",
        help='print the password too (masked as *** by default), e.g. psql "$(dxw db url --show-password)"',
    )
    add("start", cmd_db_start, "Start the embedded PostgreSQL (no-op with DXW_DATABASE_URL).", db_commands)
    add(
        "grant",
        cmd_db_grant,
        "Create the roles dxw_owner, dxw_loader, dxw_bi and apply their rights.",
        db_commands,
    )
    add("stop", cmd_db_stop, "Stop the embedded PostgreSQL cleanly.", db_commands)
    scoped = add(
        "scope",
        cmd_db_scope,
        "Create a BI login that sees one unit version's rows and what follows from it (RLS; README).",
        db_commands,
    )
    scoped.add_argument("login", help="the login to create or re-scope, e.g. bi_huyen_024")
    scoped.add_argument("--unit", required=True, help="the unit it may see, e.g. 024 (a district)")
    scoped.add_argument(
        "--as-of",
        help="the day the unit is meant as (YYYY-MM-DD; codes were reused on 1 July 2025); "
        "default: its version valid today, else its latest",
    )
    scoped.add_argument("--password-env", help="environment variable holding the login's password")
    scoped.add_argument(
        "--reset-password",
        action="store_true",
        help="allow --password-env to change the password of a login that exists already",
    )

    simulator = commands.add_parser(
        "simulator",
        help="The source simulator.",
        description="The source simulator (real HTTP on 127.0.0.1).",
    )
    sim_commands = simulator.add_subparsers(dest="simulator_command", required=True, metavar="ACTION")
    serve = add("serve", cmd_simulator_serve, "Serve the simulated sources until interrupted.", sim_commands)
    serve.add_argument(
        "--host", default=None, help="address to bind (default DXW_SIMULATOR_HOST or 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=None, help="port (default DXW_SIMULATOR_PORT or 8765)")
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        help="queue a fault for the next requests, e.g. 429:2, 500, timeout, rename:fullCount (repeatable)",
    )
    serve.add_argument(
        "--national",
        action="store_true",
        help="serve the reporting system of a whole country (10,395 communes; see bench/national.py)",
    )

    airflow = commands.add_parser(
        "airflow",
        help="The real Airflow deployment on this machine (Celery worker, scheduler, UI).",
        description="The real Airflow deployment on this machine (Celery worker, scheduler, UI).",
    )
    airflow_commands = airflow.add_subparsers(dest="airflow_command", required=True, metavar="ACTION")
    up = add(
        "up",
        cmd_airflow_up,
        "Start Redis, the simulator, api-server, scheduler, dag-processor, triggerer and a Celery worker.",
        airflow_commands,
    )
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for health (default 180)")
    up.add_argument("--show-password", action="store_true", help="print the admin password")
    add("down", cmd_airflow_down, "Stop every process `dxw airflow up` started.", airflow_commands)
    add("status", cmd_airflow_status, "List the deployment's running processes.", airflow_commands)
    add(
        "worker",
        cmd_airflow_worker,
        "Run a Celery worker of a deployment on another machine, in the foreground (README: more workers).",
        airflow_commands,
    )
    trigger = add(
        "trigger",
        cmd_airflow_trigger,
        "Start a DAG run through the deployment's REST API (the half-year by name: --period 2025S1).",
        airflow_commands,
    )
    trigger.add_argument("dag_id", help="e.g. semiannual_marts, ingest_public_service_portal")
    trigger.add_argument("--period", help="half-year to work on (required for semiannual_marts)")
    trigger.add_argument("--unpause", action="store_true", help="unpause the DAG first (starts its schedule)")
    trigger.add_argument("--wait", action="store_true", help="wait for the run; exit 1 unless it succeeded")
    trigger.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits (default 3600)")

    run = add("run", cmd_run, "Run one DAG to completion through Airflow (dag.test).")
    run.add_argument(
        "dag_id",
        help=f"{', '.join([*INGEST_DAGS, UPLOAD_DAG_ID])}, transform_warehouse or semiannual_marts",
    )
    run.add_argument("--period", help="half-year to work on, e.g. 2025S1")
    run.add_argument("--conf", help="the run's parameters as JSON, e.g. '{\"full_pull\": true}'")

    add("status", cmd_status, "Latest batches per source, quality gates, what is published and when.")

    report = add(
        "report", cmd_report, "Write a published half-year's or year's report (HTML and Excel, Plan 86 VI.6)."
    )
    report.add_argument("--period", required=True, help="half-year (2025S1) or year (2025)")
    report.add_argument("--out", help="output folder (default .dxw/reports/ under DXW_HOME)")
    report.add_argument(
        "--structure",
        choices=("before_2025", "from_2025"),
        help="unit structure (default: the period's own; 2025S2 and 2025 read in both)",
    )

    period = add("period", cmd_period, "Show the periods a date falls in, with their windows.")
    period.add_argument("date", help="ISO date, e.g. 2025-06-14")

    add("manifest", cmd_manifest, "Parse the dbt project into target/manifest.json (used by the DAGs).")

    ingest = commands.add_parser(
        "ingest", help="Load a file by hand.", description="Load a file by hand, as the DAGs would."
    )
    ingest_commands = ingest.add_subparsers(dest="ingest_command", required=True, metavar="KIND")
    dhis2 = add(
        "dhis2",
        cmd_ingest_dhis2,
        "Import a DHIS2 dataValueSets file (.json or .csv) and print the import summary.",
        ingest_commands,
    )
    dhis2.add_argument("file", help="the data value set file")
    dhis2.add_argument(
        "--id-scheme",
        choices=["uid", "code"],
        default="uid",
        help="how the file names data elements and org units (default uid)",
    )
    dhis2.add_argument("--period", help="refuse values of any other half-year, e.g. 2025S1")
    dhis2.add_argument(
        "--import-strategy",
        choices=["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"],
        default="CREATE_AND_UPDATE",
        help="DHIS2's importStrategy (default CREATE_AND_UPDATE)",
    )
    dhis2.add_argument(
        "--dry-run", action="store_true", help="print the summary the import would give; land nothing"
    )
    dhis2.add_argument("--json", action="store_true", help="print the summary as DHIS2's JSON")
    upload = add(
        "upload",
        cmd_ingest_upload,
        "Validate and load one unit's spreadsheet; write its rejection report (Vietnamese).",
        ingest_commands,
    )
    upload.add_argument("file", help="the .xlsx or .csv file")
    upload.add_argument(
        "--unit", help="the submitting unit (default: the form's 'Đơn vị', else the rows' unit column)"
    )
    upload.add_argument(
        "--period", help="the half-year (default: the form's 'Kỳ báo cáo', else the rows' period column)"
    )
    upload.add_argument("--report-dir", help="where to write the rejection report (default: beside the file)")
    upload.add_argument(
        "--submitted-at",
        help="when the unit submitted the file, ISO time, Hà Giang time unless it has an offset "
        "(default: now); the reporting duty's on-time test reads it",
    )

    uploads = commands.add_parser("upload", help="Unit upload forms.", description="Unit upload forms.")
    upload_commands = uploads.add_subparsers(dest="upload_command", required=True, metavar="ACTION")
    template = add(
        "template",
        cmd_upload_template,
        "Write the xlsx form (Vietnamese) a unit fills in for a half-year.",
        upload_commands,
    )
    template.add_argument("--unit", required=True, help="unit code, e.g. 024 or 02.SNV")
    template.add_argument("--period", required=True, help="half-year, e.g. 2025S1")
    template.add_argument("--out", help="output file (default bieu-mau-<unit>-<period>.xlsx)")
    add("inbox", cmd_upload_inbox, "Show the upload landing folders and the files waiting.", upload_commands)

    units = commands.add_parser("units", help="Reporting units.", description="Reporting units.")
    unit_commands = units.add_subparsers(dest="units_command", required=True, metavar="ACTION")
    add(
        "write-seeds",
        cmd_units_write_seeds,
        "Rewrite the dbt unit seeds from the unit registry.",
        unit_commands,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: what a user can fix (a :class:`DxwError`) is one line, anything else a traceback."""
    # Anything but a DxwError is a bug: it propagates with its traceback, shown without secrets.
    sys.excepthook = _excepthook
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.handler not in WITHOUT_HOME:
            get_settings().writable_home()
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except DxwError as exc:
        if args.verbose:
            _excepthook(type(exc), exc, exc.__traceback__)
        elif isinstance(exc, ConfigurationError):
            print(f"dxw: {_scrub(str(exc))}", file=sys.stderr)
        else:
            print(f"dxw: error: {_scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    print(_scrub("".join(traceback.format_exception(kind, exc, tb))), file=sys.stderr, end="")


def _scrub(text: str) -> str:
    """``text`` without the secrets of the configured URLs: libraries quote what they were given."""
    try:
        return scrub(text, get_settings().database_url, *(_source_urls()))
    except DxwError:  # the settings themselves are what is wrong
        return scrub(text)


def _source_urls() -> list[str | None]:
    settings = get_settings()
    return list(settings.source_urls.values())


if __name__ == "__main__":
    sys.exit(main())
