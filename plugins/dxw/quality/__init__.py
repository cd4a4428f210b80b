"""Quality gates: Great Expectations suites from ``expectations/`` run against the warehouse.

A suite file names the table it audits (``meta.dxw_table``) and the key columns that identify
a failing row (``meta.dxw_key_columns``). Each expectation carries a ``meta.severity``:
``error`` blocks publishing, ``warning`` is recorded only.

A gate can audit one period (one batch): with ``meta.dxw_period_column`` (``dxw_batch_column``)
the suite sees only that period's (batch's) rows, and an expectation argument written
``{"$query": "select ..."}`` is replaced by the first column of that query's rows
(``{"$scalar": ...}``: by its single value), run with the bound parameters ``period_id``,
``window_start`` and ``window_end`` (Decree 09 window). That is how
"every unit that must report is present" is checked against the unit dimension rather than a
hard-coded list. Expectations with ``meta.dxw_requires_period`` run only when a period is audited.

Every run is stored in ``quality_run`` / ``quality_failure`` of the audit schema and as GX
Data Docs HTML.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from dxw.errors import ConfigurationError, RunError
from dxw.periods import parse
from dxw.settings import Settings, get_settings
from dxw.warehouse import database
from dxw.warehouse.schemas import AUDIT_SCHEMA

log = logging.getLogger(__name__)

URL_VARIABLE = "DXW_GX_WAREHOUSE_URL"
SAMPLE_SIZE = 20

QUALITY_DDL = sql.SQL("""
create schema if not exists {audit};
create table if not exists {audit}.quality_run (
    quality_run_id bigint generated always as identity primary key,
    suite text not null,
    table_name text not null,
    run_id text,
    success boolean not null,
    evaluated integer not null,
    failed_errors integer not null,
    failed_warnings integer not null,
    started_at timestamptz not null,
    seconds numeric(10, 3) not null
);
create table if not exists {audit}.quality_failure (
    quality_run_id bigint not null references {audit}.quality_run (quality_run_id),
    check_name text not null,
    expectation text not null,
    severity text not null,
    kwargs jsonb not null,
    unexpected_count bigint,
    failing_rows jsonb not null
);
alter table {audit}.quality_run add column if not exists period_id text;
comment on table {audit}.quality_run is 'One row per run of a quality gate (Great Expectations suite).';
comment on column {audit}.quality_run.period_id is
    'The period the gate audited: publishing the period requires a passed run.';
comment on table {audit}.quality_failure is
    'One row per failed expectation of a gate run, with failing keys.';
""").format(audit=sql.Identifier(AUDIT_SCHEMA))


@dataclass
class Failure:
    check: str
    expectation: str
    severity: str
    kwargs: dict[str, Any]
    unexpected_count: int | None
    failing_rows: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        rows = "; ".join(_row_label(r) for r in self.failing_rows[:5])
        count = f"{self.unexpected_count} rows" if self.unexpected_count is not None else "table-level"
        return f"[{self.severity}] {self.check} ({self.expectation}, {count}){': ' + rows if rows else ''}"


def _row_label(row: Any) -> str:
    if isinstance(row, dict):
        return ", ".join(f"{k}={v}" for k, v in row.items())
    return str(row)


@dataclass
class GateResult:
    suite: str
    table: str
    success: bool
    evaluated: int
    failures: list[Failure]
    quality_run_id: int | None = None
    seconds: float = 0.0
    period_id: str | None = None

    @property
    def blocking(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "error"]

    def summary(self) -> str:
        head = f"quality gate {self.suite} on {self.table}: {'PASSED' if self.success else 'FAILED'}"
        return "\n".join([head, *(f"  {f.describe()}" for f in self.failures)])


class QualityGateFailed(RunError):
    """A gate found blocking failures: nothing may be published."""

    def __init__(self, result: GateResult):
        super().__init__(result.summary())
        self.result = result


def load_suite(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """The suite ``expectations/<name>.json``; a raw dataset without one gets :func:`baseline_raw_suite`."""
    settings = settings or get_settings()
    path = settings.expectations_dir / f"{name}.json"
    if not path.exists():
        baseline = baseline_raw_suite(name)
        if baseline is None:
            raise ConfigurationError(f"no expectation suite {path}")
        log.warning("no suite %s: %s gets the baseline raw gate (non-empty, key unique)", path, name)
        return baseline
    return json.loads(path.read_text(encoding="utf-8"))


def baseline_raw_suite(name: str) -> dict[str, Any] | None:
    """The raw gate a registry dataset has before it gets a reviewed suite, from its field contract:
    the batch is not empty and its key identifies one record (None: ``name`` is no raw dataset)."""
    from dxw.landing.copy import snake
    from dxw.sources import registry

    try:
        dataset = registry.dataset(name.removeprefix("raw_")) if name.startswith("raw_") else None
    except KeyError:
        dataset = None
    if dataset is None:
        return None
    key = [snake(field) for field in dataset.key]
    expectations: list[dict[str, Any]] = [
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 1},
            "meta": {"check": "the batch is not empty", "severity": "error"},
        },
        *(
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": column},
                "meta": {"check": f"{column} is filled (record key)", "severity": "error"},
            }
            for column in key
        ),
    ]
    if len(key) == 1:
        unique = {"type": "expect_column_values_to_be_unique", "kwargs": {"column": key[0]}}
    else:
        unique = {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": key}}
    if key:
        expectations.append({**unique, "meta": {"check": "one record per key", "severity": "error"}})
    return {
        "name": name,
        "meta": {
            "dxw_table": f"raw.{dataset.name}",
            "dxw_batch_column": "batch_id",
            "dxw_key_columns": key,
            "description": f"Baseline gate of raw.{dataset.name} (no reviewed suite yet), from its contract.",
        },
        "expectations": expectations,
    }


def _resolve_queries(value: Any, conn: psycopg.Connection, params: dict[str, Any]) -> Any:
    """Replace ``{"$query": sql}`` by the first column of its rows, ``{"$scalar": sql}`` by its value."""
    if isinstance(value, dict) and set(value) == {"$query"}:
        return [row[0] for row in conn.execute(value["$query"], params).fetchall()]
    if isinstance(value, dict) and set(value) == {"$scalar"}:
        return conn.execute(value["$scalar"], params).fetchone()[0]
    if isinstance(value, dict):
        return {k: _resolve_queries(v, conn, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_queries(v, conn, params) for v in value]
    return value


def _same_expectation(spec: dict[str, Any], config: Any) -> bool:
    """Whether GX's configuration of a run expectation is the suite's ``spec``."""
    kwargs, meta = spec.get("kwargs", {}), spec.get("meta", {})
    return (
        config.type == spec["type"]
        and all(config.kwargs.get(k) == v for k, v in kwargs.items())
        and all((config.meta or {}).get(k) == v for k, v in meta.items())
    )


def _table_level_evidence(kwargs: dict[str, Any], observed: Any) -> dict[str, Any]:
    """What a table-level expectation saw, beside what it expected."""
    expected = {k: v for k, v in kwargs.items() if k in ("value", "min_value", "max_value")}
    return {"observed": observed, **expected}


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _context(settings: Settings, variables: dict[str, str]):
    """An in-memory GX context whose ``${NAME}`` templates resolve from ``variables``, not the environment."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral", runtime_environment=variables)
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    docs = settings.gx_dir / "data_docs"
    context.add_data_docs_site(
        "dxw",
        {
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs)},
        },
    )
    return context


def validate(
    suite_name: str,
    run_id: str | None = None,
    settings: Settings | None = None,
    period_id: str | None = None,
    batch_id: int | None = None,
) -> GateResult:
    """Run a suite against its table (one period's or batch's rows when given); store the result."""
    settings = settings or get_settings()
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.expectation_suite import ExpectationSuite

    spec = load_suite(suite_name, settings)
    schema, table = spec["meta"]["dxw_table"].split(".", 1)
    keys = spec["meta"].get("dxw_key_columns", [])
    period_column = spec["meta"].get("dxw_period_column")
    batch_column = spec["meta"].get("dxw_batch_column")
    urls = database.resolve(settings)
    params: dict[str, Any] = {"period_id": period_id, "window_start": None, "window_end": None}
    if period_id:
        params["window_start"], params["window_end"] = parse(period_id).window("decree09")
    # Expectations about one half-year (completeness) only make sense when a period is audited.
    wanted = [
        e for e in spec["expectations"] if period_id or not e.get("meta", {}).get("dxw_requires_period")
    ]
    filters = []
    if period_id and period_column:
        filters.append((period_column, parse(period_id).id))
    if batch_id is not None and batch_column:
        filters.append((batch_column, int(batch_id)))
    # Composed from the reviewed suite file and parsed ids, never from user text.
    query = sql.SQL("select * from {} where {}").format(
        sql.Identifier(schema, table),
        sql.SQL(" and ").join(
            sql.SQL("{} = {}").format(sql.Identifier(column), sql.Literal(value)) for column, value in filters
        ),
    )
    with psycopg.connect(urls.warehouse) as conn:
        expectations = _resolve_queries(wanted, conn, params)
        query_text = query.as_string(conn) if filters else None
        columns = {
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = %s",
                (schema, table),
            )
        }
    # The key columns name a failing row; a misspelt one would only show when a batch fails.
    unknown_keys = sorted(set(keys) - columns)
    if columns and unknown_keys:
        raise ConfigurationError(
            f"suite {suite_name}: key columns {unknown_keys} are not columns of {schema}.{table}"
        )
    started_at = time.time()
    started = time.monotonic()
    # GX takes the URL through a ${VAR} template: it refuses some literal URLs and must not log
    # secrets. The template resolves from the context's own variables, never this process's environment.
    context = _context(settings, {URL_VARIABLE: urls.sqlalchemy("warehouse", driver="psycopg2")})
    source = context.data_sources.add_postgres(name="warehouse", connection_string="${" + URL_VARIABLE + "}")
    if query_text:
        name = "__".join([table, *(str(value) for _, value in filters)])
        asset = source.add_query_asset(name=name, query=query_text)
    else:
        asset = source.add_table_asset(name=table, table_name=table, schema_name=schema)
    batch = asset.add_batch_definition_whole_table("whole_table")
    suite = context.suites.add(
        ExpectationSuite(name=spec["name"], expectations=expectations, meta=spec["meta"])
    )
    if len(suite.expectations) != len(expectations):
        # GX drops an expectation whose type it does not know with only a log line: refuse instead.
        unknown = len(expectations) - len(suite.expectations)
        raise ConfigurationError(f"suite {suite_name}: {unknown} expectations of an unknown type")

    def run(name: str, checked: Any, result_format: dict[str, Any]) -> list[Any]:
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}__validation", data=batch, suite=checked)
        )
        checkpoint = gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=["dxw"])],
            result_format=result_format,
        )
        outcome = context.checkpoints.add(checkpoint).run()
        return [result for validation in outcome.run_results.values() for result in validation.results]

    # First whether the batch passes: only the counts, no failing rows looked up, which leaves out
    # two scans per expectation on a value (a national half-year's gate: 2.9 s against 5.6 s).
    # The expectations that fail are then run again for their failing rows (both runs are in
    # Data Docs); a batch that passes is read once.
    results = run(f"{suite_name}__gate", suite, {"result_format": "BOOLEAN_ONLY"})
    evaluated = len(results)
    failed = [result.expectation_config for result in results if not result.success]
    if failed:
        again = [e for e in expectations if any(_same_expectation(e, config) for config in failed)]
        rows_suite = context.suites.add(
            ExpectationSuite(
                name=f"{spec['name']}__failing_rows", expectations=again or expectations, meta=spec["meta"]
            )
        )
        details = {
            "result_format": "COMPLETE",
            "partial_unexpected_count": SAMPLE_SIZE,
            **({"unexpected_index_column_names": keys} if keys else {}),
        }
        results = run(f"{suite_name}__gate_failing_rows", rows_suite, details)
    failures: list[Failure] = []
    for result in results:
        if result.success:
            continue
        config = result.expectation_config
        meta = config.meta or {}
        details = result.result or {}
        rows = details.get("unexpected_index_list") or details.get("partial_unexpected_list") or []
        count = details.get("unexpected_count")
        found = (details.get("details") or {}).get("unexpected_rows") if not rows else None
        if found:  # an unexpected-rows query: the rows it returned, and how many
            rows, count = found, details.get("observed_value")
        elif not rows and "missing_count" in details:
            missing = details.get("partial_missing_list") or []
            rows = [{"missing": missing[:SAMPLE_SIZE], "missing_count": details["missing_count"]}]
        elif not rows and "observed_value" in details:
            rows = [_table_level_evidence(config.kwargs, details["observed_value"])]
        if result.exception_info and result.exception_info.get("raised_exception"):
            rows = [{"error": result.exception_info.get("exception_message")}]
        failures.append(
            Failure(
                check=meta.get("check", config.type),
                expectation=config.type,
                severity=meta.get("severity", "error"),
                kwargs=_json_safe({k: v for k, v in config.kwargs.items() if k != "batch_id"}),
                unexpected_count=count,
                failing_rows=_json_safe(rows[:SAMPLE_SIZE]),
            )
        )
    result = GateResult(
        suite=suite_name,
        table=f"{schema}.{table}"
        + "".join(f" ({part})" for part in (period_id, batch_id and f"batch {batch_id}") if part),
        success=not any(f.severity == "error" for f in failures),
        evaluated=evaluated,
        failures=failures,
        seconds=time.monotonic() - started,
        period_id=parse(period_id).id if period_id else None,
    )
    with psycopg.connect(urls.warehouse, autocommit=True) as conn:
        result.quality_run_id = _store(conn, result, run_id, started_at)
    log.info("%s", result.summary())
    return result


def _ensure_store(conn: psycopg.Connection) -> None:
    """Create (or upgrade) the gate's audit tables, once, inside the caller's transaction.

    Gates run side by side (a DAG's mapped landing tasks): two first gates running
    ``create table if not exists`` at once make PostgreSQL raise a unique violation on its own
    catalogue, so the DDL is serialised by an advisory lock, and skipped once the tables are
    there (no DDL lock on the audit tables on every run, whatever a reader holds).
    """
    # The last column QUALITY_DDL adds to each table: both there, the DDL has run to its end.
    present = conn.execute(
        "select count(*) = 2 from information_schema.columns where table_schema = %s and "
        "(table_name, column_name) in (('quality_run', 'period_id'), ('quality_failure', 'failing_rows'))",
        (AUDIT_SCHEMA,),
    ).fetchone()[0]
    if present:
        return
    conn.execute("select pg_advisory_xact_lock(hashtextextended('dxw.quality.ddl', 0))")
    conn.execute(QUALITY_DDL)


def _store(conn: psycopg.Connection, result: GateResult, run_id: str | None, started_at: float) -> int:
    with conn.transaction():
        _ensure_store(conn)
        run_pk = conn.execute(
            sql.SQL(
                "insert into {} (suite, table_name, run_id, success, evaluated, failed_errors, "
                "failed_warnings, started_at, seconds, period_id) "
                "values (%s, %s, %s, %s, %s, %s, %s, to_timestamp(%s), %s, %s) returning quality_run_id"
            ).format(sql.Identifier(AUDIT_SCHEMA, "quality_run")),
            (
                result.suite,
                result.table,
                run_id,
                result.success,
                result.evaluated,
                len(result.blocking),
                len(result.failures) - len(result.blocking),
                started_at,
                round(result.seconds, 3),
                result.period_id,
            ),
        ).fetchone()[0]
        for failure in result.failures:
            conn.execute(
                sql.SQL(
                    "insert into {} (quality_run_id, check_name, expectation, severity, kwargs, "
                    "unexpected_count, failing_rows) values (%s, %s, %s, %s, %s, %s, %s)"
                ).format(sql.Identifier(AUDIT_SCHEMA, "quality_failure")),
                (
                    run_pk,
                    failure.check,
                    failure.expectation,
                    failure.severity,
                    Jsonb(failure.kwargs),
                    failure.unexpected_count,
                    Jsonb(failure.failing_rows),
                ),
            )
    return run_pk


def suite_for(period_id: str) -> str:
    """The marts suite that audits a period: a year's annual mart, a half-year's semi-annual one."""
    return "mart_annual_indicator" if parse(period_id).kind == "year" else "mart_semiannual_indicator"


def gate(
    suite_name: str,
    run_id: str | None = None,
    settings: Settings | None = None,
    period_id: str | None = None,
    batch_id: int | None = None,
) -> GateResult:
    """Validate and raise :class:`QualityGateFailed` when a blocking expectation fails."""
    result = validate(suite_name, run_id, settings, period_id, batch_id)
    if not result.success:
        raise QualityGateFailed(result)
    return result


def data_docs_index(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).gx_dir / "data_docs" / "index.html"
