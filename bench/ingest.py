"""Ingestion benchmark: dxw's COPY loader against `psql \\copy` (ceiling) and `pandas.to_sql`.

All three load the same N observation rows into the same warehouse, in the same run:

    .venv/bin/python bench/ingest.py --rows 1000000

Prints rows/s for each path and the loader's ratio to each baseline. The ceiling and the loader
run ``--repeat`` times as pairs (the ceiling, then the loader, so both meet the same load on the
machine), each pair's ratio printed, then the medians and the lowest pair's ratio (a checkpoint
landing in one run moves it by a second); the slow baseline runs once. Not part of the tests.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from dxw.landing import copy
from dxw.warehouse import database

FIELDS = {
    "unitCode": str,
    "indicatorCode": str,
    "reportPeriod": str,
    "numerator": int,
    "denominator": int,
    "value": float,
}
DATASET = copy.Dataset("bench", "bench_observations", FIELDS)
CEILING = "psql \\copy (ceiling)"
LOADER = "dxw landing.copy.land"
BASELINE = "pandas.to_sql (baseline)"


def make_records(rows: int) -> list[dict]:
    rng = random.Random(86)
    records = []
    for i in range(rows):
        denominator = rng.randint(1, 20000)
        numerator = rng.randint(0, denominator)
        records.append(
            {
                "unitCode": f"{i % 10000:05d}",
                "indicatorCode": f"IND_{i % 40:02d}",
                "reportPeriod": f"{2021 + (i // 400000) % 5}S{1 + (i // 200000) % 2}",
                "numerator": numerator,
                "denominator": denominator,
                "value": round(100 * numerator / denominator, 2),
            }
        )
    return records


def psql_binary() -> str:
    from dxw.warehouse.embedded_pg import _bin

    bundled = Path(_bin("psql"))
    return str(bundled) if bundled.exists() else (shutil.which("psql") or "psql")


def bench_loader(url: str, records: list[dict]) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table if exists raw.bench_observations")
        copy.ensure_tables(conn, [DATASET])  # the ledger too, on a database that has none yet
        conn.execute("delete from raw.load_batch where dataset = 'bench_observations'")
        started = time.perf_counter()
        copy.land(conn, DATASET, "bench", records)
        return time.perf_counter() - started


def bench_psql_copy(url: str, records: list[dict], folder: Path) -> float:
    path = folder / "rows.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        for r in records:
            writer.writerow([r[f] for f in FIELDS])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists bench")
        conn.execute("drop table if exists bench.psql_copy")
        conn.execute(
            "create table bench.psql_copy (unit_code text, indicator_code text, report_period text, "
            "numerator bigint, denominator bigint, value double precision)"
        )
    started = time.perf_counter()
    subprocess.run(
        [psql_binary(), url, "-v", "ON_ERROR_STOP=1", "-c", f"\\copy bench.psql_copy from '{path}' csv"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def bench_to_sql(url: str, records: list[dict]) -> float:
    import pandas as pd
    import sqlalchemy

    frame = pd.DataFrame.from_records(records)
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    started = time.perf_counter()
    frame.to_sql("to_sql", engine, schema="bench", if_exists="replace", index=False, chunksize=10000)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="paired runs of the ceiling and the loader")
    args = parser.parse_args()
    urls = database.resolve()
    database.ensure_databases(urls)
    print(f"generating {args.rows:,} observation rows ...", flush=True)
    records = make_records(args.rows)
    ceiling, loader = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # Each run times the ceiling, then the loader, so a pair shares the machine's load.
        for run in range(1, args.repeat + 1):
            ceiling.append(bench_psql_copy(urls.warehouse, records, Path(tmp)))
            loader.append(bench_loader(urls.warehouse, records))
            print(
                f"run {run}: {CEILING} {ceiling[-1]:.2f} s, {LOADER} {loader[-1]:.2f} s: "
                f"{ceiling[-1] / loader[-1]:.2f} of the ceiling",
                flush=True,
            )
        timings = {
            CEILING: statistics.median(ceiling),
            LOADER: statistics.median(loader),
            BASELINE: bench_to_sql(urls.warehouse, records),
        }
    print(f"\n{'path':<28} {'seconds':>8} {'rows/s':>12}  (median of {args.repeat} runs; baseline once)")
    for name, seconds in timings.items():
        print(f"{name:<28} {seconds:>8.2f} {args.rows / seconds:>12,.0f}")
    median = timings[LOADER]
    lowest = min(c / m for c, m in zip(ceiling, loader, strict=True))
    print(
        f"\n{LOADER} vs {CEILING}: {timings[CEILING] / median:.2f} of the ceiling (medians); "
        f"lowest run {lowest:.2f}"
    )
    print(f"{LOADER} vs {BASELINE}: {timings[BASELINE] / median:.1f}x the baseline speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
