"""National scale: 10,395 communes x 40 indicators x 10 half-years through the real paths.

    .venv/bin/python bench/national.py

1. A copy of the dbt project gets the country's reference data (``dxw.simulator.national``):
   63 provinces, 693 districts, 10,395 communes, 40 indicators (80 DHIS2 data elements).
2. The simulator serves that country's reporting system over HTTP, in a process of its own
   (``dxw simulator serve --national``); the DHIS2 connector pulls each half-year one province
   per request (``DXW_DHIS2_CONCURRENCY`` at a time), and the COPY loader lands it behind its
   Great Expectations gate: 831,600 data values per half-year, 8.3 M in all. Each landed batch
   is reconciled with the simulator's truth. The simulator is asked for each half-year's answers
   once before the ingestion and timed alone (it keeps what it rendered), so the ingestion's
   figure is not the simulator's; the COPY loader alone (``landing.copy.land`` of a half-year's
   data values) is timed in the same run, the named baseline of the ingestion's rate.
   ``--ingest-only`` stops here; ``--half-years N`` (with it) ingests the first N half-years.
3. dbt builds the warehouse for the first nine half-years; then the tenth lands, and
   ``dbt build`` (new half-year, incremental models) is timed against ``dbt build
   --full-refresh`` (the named baseline: the full rebuild) of the same warehouse, then a build
   with nothing new. Each build runs as the DAGs run it (``dxw.transform.dbt_build.build``: one
   ``dbt build``, logged, and not run at all when its inputs are those of the last clean build).
   Both must leave byte-identical facts and marts, and the facts must reconcile with the truth.
   Each build's per-node timings are written to ``<workdir>/builds/<build>.json``.

Runs in its own database (``--database``, dropped at the start) on the configured server; the
embedded one by default. Takes about a quarter of an hour on 2 cores. Not part of the tests.
``--reuse`` keeps the database of an earlier run and times step 3 alone on the half-years it
landed: the last one's batches are set aside ('staged') for a full build of the others, then
loaded again (the new half-year).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _prepare(workdir: Path, database: str) -> None:
    """The project copy with national seeds; settings point at it (before dxw reads them)."""
    from dxw.simulator.national import NationalWorld

    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(
        REPO / "dbt_project", workdir / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    shutil.copytree(REPO / "expectations", workdir / "expectations")
    world = NationalWorld()
    world.write_seeds(workdir / "dbt_project" / "seeds")
    os.environ["DXW_HOME"] = os.environ.get("DXW_HOME") or str(REPO / ".dxw")
    os.environ["DXW_PROJECT_DIR"] = str(workdir)
    os.environ["DXW_DATABASE_NAME"] = database
    os.environ["DXW_REPORTING_ORG_UNITS"] = ",".join(world.province_uids)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_simulator() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "dxw"), "simulator", "serve", "--national", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the national simulator did not start")


# Plan 86 III.4's pilot registry is Hà Giang's: the synthetic country has none of those units, so
# the registry's checks (its own and dim_pilot_unit's) are left out of the national builds, the
# same for every build timed here.
NOT_NATIONAL = ["--exclude", "path:tests/pilot_units", "dim_pilot_unit,resource_type:test"]


# The builds timed, in order (dxw.transform.dbt_build.BuildOutcome).
BUILDS: list = []


def _timed_dbt(args: list[str], urls, settings) -> float:
    """``dbt <args>`` (``build``, maybe ``--full-refresh``) as a DAG builds; wall seconds."""
    from dxw.transform import dbt, dbt_build

    if not (settings.dbt_project_dir / "target" / "partial_parse.msgpack").exists():
        # What `make manifest` does for the DAGs: builds start from the parsed project.
        dbt.run(["parse"], urls.warehouse, settings)
    started = time.perf_counter()
    outcome = dbt_build.build(
        "bench_national",
        "build",
        exclude=NOT_NATIONAL[1:],
        full_refresh="--full-refresh" in args,
        settings=settings,
    )
    seconds = time.perf_counter() - started
    if outcome.failed:
        raise SystemExit(f"dbt build failed: {outcome.failed}")
    BUILDS.append(outcome)
    return seconds


def _slowest_nodes(settings, step: str, count: int = 6) -> str:
    """The slowest nodes of the last build; its node timings are kept in ``builds/<step>.json``."""
    results = BUILDS[-1].results
    folder = settings.project_dir / "builds"
    folder.mkdir(exist_ok=True)
    (folder / f"{step}.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    slowest = sorted(results.items(), key=lambda item: item[1]["seconds"], reverse=True)[:count]
    # unique ids: model.dxw.<name>, test.dxw.<name>.<hash>
    return ", ".join(f"{uid.split('.')[2][:48]} {result['seconds']:.1f}s" for uid, result in slowest)


def _unit_tests(outcome) -> str:
    """How many dbt unit tests a build ran, and their seconds (they test code, not data)."""
    seconds = [result["seconds"] for uid, result in outcome.results.items() if uid.startswith("unit_test.")]
    return f"{len(seconds)} ({sum(seconds):.1f} s of node time)"


def _fingerprints(conn) -> dict[str, tuple[int, str]]:
    from dxw.publish import table_checksum

    tables = [("core", "fct_indicator_observation")] + [
        ("marts_build", name)
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts_build' order by 1"
        )
    ]
    return {f"{schema}.{table}": table_checksum(conn, schema, table) for schema, table in tables}


def _reconcile_facts(conn, world, periods=None) -> None:
    """Commune observations per half-year (``periods``: all) in the facts against the simulator's truth."""
    facts = {
        period: (count, numerators, denominators)
        for period, count, numerators, denominators in conn.execute(
            "select period_id, count(*), sum(numerator)::bigint, sum(denominator)::bigint "
            "from core.fct_indicator_observation where is_official group by period_id"
        )
    }
    for period in periods or world.periods():
        truth = world.truth(period)
        if facts.get(period.id) != truth:
            raise SystemExit(f"{period.id}: facts {facts.get(period.id)} != simulator truth {truth}")


def _warm_simulator(url: str, world, period) -> float:
    """Ask the simulator for every province's answer of ``period`` once; the seconds it took."""
    from dxw.sources import dhis2

    started = time.perf_counter()
    for province in world.province_uids:
        query = urllib.parse.urlencode(
            {
                "dataSet": dhis2.data_set_uid(),
                "period": period.id,
                "orgUnit": province,
                "children": "true",
                "includeDeleted": "true",
            }
        )
        with urllib.request.urlopen(f"{url}{dhis2.PATH}?{query}", timeout=120) as answer:
            answer.read()
    return time.perf_counter() - started


def _loader_rate(settings, world, period) -> tuple[int, float]:
    """The COPY loader alone on a half-year's data values (the named baseline of the ingestion):
    ``landing.copy.land`` of the records as the connector delivers them (columns, in key order),
    into a table of its own."""
    from dxw.intake import ingest
    from dxw.landing import copy
    from dxw.simulator import dhis2_data
    from dxw.sources.contract import ColumnRecords
    from dxw.warehouse import database

    # The world's rows are DHIS2's CSV export; CSV_FIELDS names its columns.
    rows = zip(*world.data_values(period), strict=True)
    columns = dict(zip(dhis2_data.CSV_FIELDS, map(list, rows), strict=True))
    columns["created"] = columns["lastUpdated"]
    records = ColumnRecords(columns).ordered_by(ingest.DHIS2_DATASET.key)
    fields, key = ingest.DHIS2_DATASET.fields, ingest.DHIS2_DATASET.key
    dataset = copy.Dataset("bench", "bench_loader_rate", fields, key)
    with database.connect(settings, autocommit=True) as conn:
        copy.ensure_tables(conn, [dataset])
        started = time.perf_counter()
        copy.land(conn, dataset, period.id, records)
        return len(records), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="dxw_bench_national")
    parser.add_argument("--workdir", type=Path, default=REPO / ".dxw" / "bench" / "national")
    parser.add_argument(
        "--half-years",
        type=int,
        default=None,
        help="ingest only the first N half-years (all 10 by default; the dbt builds need all)",
    )
    parser.add_argument("--ingest-only", action="store_true", help="stop after the ingestion (no dbt builds)")
    parser.add_argument(
        "--reuse", action="store_true", help="time the builds (step 3) on the database of an earlier run"
    )
    args = parser.parse_args()
    if args.half_years is not None and not args.ingest_only:
        parser.error("--half-years needs --ingest-only: the dbt builds reconcile all ten half-years")
    _prepare(args.workdir, args.database)

    import psycopg
    from psycopg import sql

    from dxw.intake import ingest
    from dxw.settings import get_settings
    from dxw.simulator.national import NationalWorld
    from dxw.warehouse import database

    settings = get_settings()
    urls = database.resolve(settings)
    if args.reuse:
        return _time_builds(settings, urls, NationalWorld(), reuse=True)
    with psycopg.connect(urls.maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.database)))
    database.ensure_databases(urls)
    ingest.ensure_raw_tables(settings)
    world = NationalWorld()
    periods = world.periods()[: args.half_years]
    print(
        f"national world: {len(world.communes):,} communes x {world.indicators} indicators x "
        f"{len(periods)} half-years = {len(world.communes) * world.indicators * len(periods):,} observations",
        flush=True,
    )

    simulator, url = _start_simulator()
    landed = 0
    ingest_seconds = simulator_seconds = 0.0
    try:
        for period in periods:
            # The simulator renders each answer once and keeps it: asked for them all first, it
            # is timed alone, and the ingestion below is not waiting for its rendering.
            simulator_seconds += _warm_simulator(url, world, period)
            t0 = time.perf_counter()
            result = ingest.ingest("dhis2_data_values", period.id, url, settings)
            seconds = time.perf_counter() - t0
            truth_rows = world.truth(period)[0] * 2
            if result.rows != truth_rows:
                raise SystemExit(
                    f"{period.id}: landed {result.rows} data values, the simulator holds {truth_rows}"
                )
            landed += result.rows
            ingest_seconds += seconds
            with database.connect(settings, autocommit=True) as conn:
                fetched, copied = conn.execute(
                    "select (details ->> 'fetch_seconds')::float, seconds::float from raw.load_batch "
                    "where batch_id = %s",
                    (result.batch_id,),
                ).fetchone()
            print(
                f"  {period.id}: {result.rows:,} data values landed in {seconds:.1f} s "
                f"(pull and placement {fetched:.1f} s, COPY {copied:.1f} s, "
                f"gate and the rest {seconds - fetched - copied:.1f} s)",
                flush=True,
            )
            if not args.ingest_only and period == periods[-2]:
                first_build = _timed_dbt(["build"], urls, settings)
                print(f"dbt build, first nine half-years: {first_build:.1f} s", flush=True)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    loader_rows, loader_seconds = _loader_rate(settings, world, periods[-1])
    rate, loader_rate = landed / ingest_seconds, loader_rows / loader_seconds
    print(f"simulator alone: {landed:,} data values rendered and sent in {simulator_seconds:.1f} s")
    print(
        f"COPY loader alone (landing.copy.land, {loader_rows:,} data values of {periods[-1].id}): "
        f"{loader_seconds:.2f} s, {loader_rate:,.0f} values/s"
    )
    print(
        f"ingestion ({settings.dhis2_concurrency} requests at a time): {landed:,} data values in "
        f"{ingest_seconds:.1f} s ({rate:,.0f} values/s end to end): {rate / loader_rate:.3f} of the "
        "loader's rate (goal >= 150,000 values/s and >= 0.15)",
        flush=True,
    )
    if args.ingest_only:
        return

    _time_builds(settings, urls, world)


def _time_builds(settings, urls, world, reuse: bool = False) -> None:
    """Step 3: the new half-year's build against a full rebuild, then a build with nothing new."""
    from dxw.warehouse import database

    periods = world.periods()
    if reuse:
        with database.connect(settings, autocommit=True) as conn:
            landed = {
                period
                for (period,) in conn.execute(
                    "select distinct period_id from raw.load_batch "
                    "where status = 'loaded' and dataset = 'dhis2_data_values'"
                )
            }
            periods = [period for period in periods if period.id in landed]
            tenth = periods[-1].id
            conn.execute(
                "update raw.load_batch set status = 'staged' where status = 'loaded' and period_id = %s",
                (tenth,),
            )
        try:
            first_build = _timed_dbt(["build", "--full-refresh"], urls, settings)
        finally:
            with database.connect(settings, autocommit=True) as conn:
                conn.execute(
                    "update raw.load_batch set status = 'loaded' where status = 'staged' and period_id = %s",
                    (tenth,),
                )
        print(
            f"dbt build --full-refresh, the first {len(periods) - 1} of {len(periods)} half-years "
            f"landed (reused database): {first_build:.1f} s"
        )
    incremental = _timed_dbt(["build"], urls, settings)
    incremental_units = _unit_tests(BUILDS[-1])
    incremental_nodes = _slowest_nodes(settings, "incremental")
    nothing_new = _timed_dbt(["build"], urls, settings)
    nothing_new_ran = "skipped: nothing changed" if BUILDS[-1].skipped else "dbt ran"
    with database.connect(settings, autocommit=True) as conn:
        after_incremental = _fingerprints(conn)
    full = _timed_dbt(["build", "--full-refresh"], urls, settings)
    full_units = _unit_tests(BUILDS[-1])
    full_nodes = _slowest_nodes(settings, "full")
    with database.connect(settings, autocommit=True) as conn:
        after_full = _fingerprints(conn)
        _reconcile_facts(conn, world, periods)
        facts = after_full["core.fct_indicator_observation"][0]
    differing = sorted(name for name in after_full if after_incremental.get(name) != after_full[name])
    if differing:
        raise SystemExit(f"the incremental build and the full rebuild differ in {differing}")

    print()
    print(f"| dbt build ({facts:,} fact rows) | seconds |")
    print("|---|---|")
    print(f"| new half-year (incremental) | {incremental:.1f} |")
    print(f"| nothing new (incremental, {nothing_new_ran}) | {nothing_new:.1f} |")
    print(f"| full rebuild `--full-refresh` (baseline) | {full:.1f} |")
    print(f"new half-year / full rebuild: {incremental / full:.3f} (goal <= 0.05)")
    print(f"slowest nodes, new half-year: {incremental_nodes}")
    print(f"slowest nodes, full rebuild:  {full_nodes}")
    print(f"unit tests run: new half-year {incremental_units}; full rebuild {full_units}")
    print(
        f"facts and {len(after_full) - 1} marts identical after both builds; "
        "facts reconcile with the simulator"
    )


if __name__ == "__main__":
    sys.exit(main())
