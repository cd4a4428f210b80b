"""A landed batch becomes current only after its raw quality gate passes."""

import threading

import psycopg
import pytest
from psycopg import sql

from dxw import quality
from dxw.intake.ingest import ingest_portal

pytestmark = pytest.mark.integration


def current_batch(conn, dataset):
    return conn.execute(
        "select batch_id from raw.load_batch "
        "where dataset = %s and period_id = '2025S1' and status = 'loaded' order by batch_id desc limit 1",
        (dataset,),
    ).fetchone()


def test_impossible_figures_are_rejected_and_the_previous_batch_stays_current(
    conn, empty_warehouse, simulator
):
    simulator.clear_faults()
    good = ingest_portal("provide-online-tree", "2025S1", simulator.url)
    assert good.status == "loaded"

    simulator.inject("inflate:fullCount")  # first record: 10x its fully-online services
    with pytest.raises(quality.QualityGateFailed) as failed:
        ingest_portal("provide-online-tree", "2025S1", simulator.url)
    message = str(failed.value)
    assert "fully-online services <= services online" in message
    assert "department_code=" in message

    assert current_batch(conn, "portal_provide_online") == (good.batch_id,)
    status, error = conn.execute(
        "select status, error from raw.load_batch where dataset = 'portal_provide_online' "
        "order by batch_id desc limit 1"
    ).fetchone()
    assert status == "rejected"
    assert "fully-online services" in error
    # The rejected rows are kept for inspection, and the next clean delivery is unchanged.
    again = ingest_portal("provide-online-tree", "2025S1", simulator.url)
    assert again.status == "unchanged"


SOURCES = [
    # 2025S1 (data/provincial_bodies.csv: 35 Hà Giang bodies existed in its window, 27 of them
    # serving the public, 26 still at its cut-off after the Decree 45/2025 mergers). The portal
    # lands one row per agency and calendar month, January..June 2025: 193 communes + 11
    # districts every month, with the 23 bodies serving the public in January and February and
    # 18 from March (8 merged away on 1 March, 3 created): 2 x 227 + 4 x 222.
    ("portal_dvc_progress", 2 * (193 + 11 + 23) + 4 * (193 + 11 + 18)),
    ("dms_work_dossiers", 193 + 11 + 35),
    ("dhis2_data_values", 26 * 4 + 2),  # two indicators x numerator/denominator, the pilot district's 2
]


def raw_count(conn, dataset):
    query = sql.SQL("select count(*) from {} where period_id = '2025S1'").format(
        sql.Identifier("raw", dataset)
    )
    return conn.execute(query).fetchone()[0]


@pytest.mark.parametrize(("dataset", "rows"), SOURCES)
def test_transient_faults_are_retried_and_the_batch_lands_exactly_once(
    conn, empty_warehouse, simulator, dataset, rows
):
    from dataclasses import replace

    from dxw.intake.ingest import ingest
    from dxw.settings import get_settings

    settings = replace(get_settings(), http_timeout_read=1.0, http_retries=4)
    simulator.clear_faults()
    for fault in ("429", "500", "timeout"):
        simulator.inject(fault)
    result = ingest(dataset, "2025S1", simulator.url, settings)
    assert simulator.faults_served == ["429", "500", "timeout"]
    assert (result.status, result.rows) == ("loaded", rows)
    assert raw_count(conn, dataset) == rows
    simulator.clear_faults()


@pytest.mark.parametrize(("dataset", "rows"), SOURCES)
@pytest.mark.parametrize("fault", ["truncate", "rename:period", "duplicate-page"])
def test_a_broken_delivery_lands_nothing_and_the_retry_lands_it_once(
    conn, empty_warehouse, simulator, dataset, rows, fault
):
    from dataclasses import replace

    from dxw.intake.ingest import ensure_raw_tables, ingest
    from dxw.settings import get_settings
    from dxw.sources.contract import SourceError

    settings = replace(get_settings(), http_timeout_read=1.0, http_retries=1)
    simulator.clear_faults()
    field = {"portal_dvc_progress": "totalReceived", "dms_work_dossiers": "orgName"}.get(dataset, "period")
    ensure_raw_tables(settings)
    simulator.inject(fault.replace("period", field), times=5)
    with pytest.raises(SourceError):
        ingest(dataset, "2025S1", simulator.url, settings)
    assert raw_count(conn, dataset) == 0
    failed = conn.execute(
        "select status, error from raw.load_batch where dataset = %s order by batch_id", (dataset,)
    ).fetchall()
    assert [status for status, _ in failed] == ["failed"]
    simulator.clear_faults()
    retried = ingest(dataset, "2025S1", simulator.url, settings)
    assert (retried.status, retried.rows) == ("loaded", rows)
    assert raw_count(conn, dataset) == rows


def test_the_reporting_system_gate_refuses_a_batch_with_a_duplicated_data_value(conn, empty_warehouse):
    """The gate checks uniqueness on its own (one aggregation), not trusting the connector's check."""
    from dxw.intake.ingest import DHIS2_DATASET, audit_batch, ensure_raw_tables
    from dxw.landing import copy
    from dxw.settings import get_settings
    from dxw.sources import dhis2

    ensure_raw_tables()
    value = dict.fromkeys(dhis2.FIELDS, "")
    value.update(dataElement="TSOkheuACkg", period="2025S1", orgUnit="Abcdefghij1", value="4")
    value.update(categoryOptionCombo=dhis2.DEFAULT_COMBO, attributeOptionCombo=dhis2.DEFAULT_COMBO)
    other = {**value, "dataElement": "LN9VTJBErqV"}
    settings = get_settings()

    clean = copy.land(conn, DHIS2_DATASET, "2025S1", [value, other], staged=True)
    audit_batch(conn, DHIS2_DATASET, clean, settings)  # passes: promoted

    doubled = copy.land(conn, DHIS2_DATASET, "2025S1", [value, other, {**value, "value": "5"}], staged=True)
    with pytest.raises(quality.QualityGateFailed) as failed:
        audit_batch(conn, DHIS2_DATASET, doubled, settings)
    assert "one value per data element, period, org unit and option combos" in str(failed.value)
    # The failing row is the key delivered twice, and how often (the query's own columns).
    (failure,) = failed.value.result.failures
    assert failure.unexpected_count == 1
    assert failure.failing_rows == [
        {
            "data_element": "TSOkheuACkg",
            "period": "2025S1",
            "org_unit": "Abcdefghij1",
            "category_option_combo": dhis2.DEFAULT_COMBO,
            "attribute_option_combo": dhis2.DEFAULT_COMBO,
            "copies": 2,
        }
    ]
    assert "TSOkheuACkg" in str(failed.value)
    assert current_batch(conn, "dhis2_data_values") == (clean.batch_id,)


def test_two_first_gates_at_once_both_record_their_run(urls):
    # The deployment's first scheduled pull lands a source's mapped datasets side by side, so two
    # gates can be the first to write the audit tables. Session A has created them and not yet
    # committed; session B's gate then waits for A instead of failing on PostgreSQL's catalogue
    # (a unique violation on pg_namespace here; on the sequence's name in the deployment test,
    # where the failed task was retried five minutes later).
    from tests.conftest import reset_warehouse

    reset_warehouse(keep_unit_test_runs=False)  # not even the audit schema: both gates create it

    def result(table: str) -> quality.GateResult:
        return quality.GateResult(suite="raw_portal", table=table, success=True, evaluated=3, failures=[])

    errors: list[BaseException] = []
    stored: list[int] = []

    def second_gate() -> None:
        try:
            with psycopg.connect(urls.warehouse, autocommit=True) as conn_b:
                stored.append(quality._store(conn_b, result("raw.b"), "run-b", 0.0))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with psycopg.connect(urls.warehouse, autocommit=True) as conn_a:
        with conn_a.transaction():
            stored.append(quality._store(conn_a, result("raw.a"), "run-a", 0.0))
            second = threading.Thread(target=second_gate)
            second.start()
            second.join(timeout=3)
            assert second.is_alive(), "the second gate did not wait for the first one's tables"
        second.join(timeout=60)
        assert not errors, errors
        tables = conn_a.execute(
            sql.SQL("select table_name from {} order by quality_run_id").format(
                sql.Identifier(quality.AUDIT_SCHEMA, "quality_run")
            )
        ).fetchall()
    assert tables == [("raw.a",), ("raw.b",)]
    assert len(set(stored)) == 2


def test_a_failing_gate_names_its_failing_rows_and_counts_every_expectation(conn, empty_warehouse):
    """A gate is read first for pass or fail only; the expectations that fail are read again for
    their rows. The record must still count all six expectations of the suite (by hand:
    expectations/raw_dhis2_data_values.json) and name the failing value by its key."""
    from dxw.intake.ingest import DHIS2_DATASET, ensure_raw_tables
    from dxw.landing import copy
    from dxw.sources import dhis2

    ensure_raw_tables()
    value = dict.fromkeys(dhis2.FIELDS, "")
    value.update(dataElement="TSOkheuACkg", period="2025S1", orgUnit="Abcdefghij1", value="4")
    value.update(categoryOptionCombo=dhis2.DEFAULT_COMBO, attributeOptionCombo=dhis2.DEFAULT_COMBO)
    bad = {**value, "dataElement": "LN9VTJBErq!"}  # not a DHIS2 UID (letter, then 10 letters or digits)
    batch = copy.land(conn, DHIS2_DATASET, "2025S1", [value, bad], staged=True)
    result = quality.validate("raw_dhis2_data_values", batch_id=batch.batch_id)
    assert not result.success
    assert result.evaluated == 6
    (failure,) = result.failures
    assert failure.check == "data element is a UID"
    assert failure.unexpected_count == 1
    assert failure.failing_rows == [
        {"data_element": "LN9VTJBErq!", "org_unit": "Abcdefghij1", "period": "2025S1"}
    ]
    stored = conn.execute(
        "select evaluated, failed_errors from marts_audit.quality_run where quality_run_id = %s",
        (result.quality_run_id,),
    ).fetchone()
    assert stored == (6, 1)


def test_a_suite_whose_key_columns_are_not_the_tables_is_refused_even_when_the_batch_passes(
    conn, empty_warehouse, tmp_path
):
    import json
    import shutil
    from dataclasses import replace

    from dxw.errors import ConfigurationError
    from dxw.intake.ingest import DHIS2_DATASET, ensure_raw_tables
    from dxw.landing import copy
    from dxw.settings import get_settings
    from dxw.sources import dhis2

    settings = get_settings()
    project = tmp_path / "project"
    folder = project / "expectations"
    shutil.copytree(settings.expectations_dir, folder)
    suite = json.loads((folder / "raw_dhis2_data_values.json").read_text(encoding="utf-8"))
    suite["meta"]["dxw_key_columns"] = ["data_element", "orgunit", "period"]  # org_unit misspelt
    (folder / "raw_dhis2_data_values.json").write_text(json.dumps(suite), encoding="utf-8")
    ensure_raw_tables()
    value = dict.fromkeys(dhis2.FIELDS, "")
    value.update(dataElement="TSOkheuACkg", period="2025S1", orgUnit="Abcdefghij1", value="4")
    value.update(categoryOptionCombo=dhis2.DEFAULT_COMBO, attributeOptionCombo=dhis2.DEFAULT_COMBO)
    batch = copy.land(conn, DHIS2_DATASET, "2025S1", [value], staged=True)
    with pytest.raises(ConfigurationError, match=r"key columns \['orgunit'\]"):
        quality.validate(
            "raw_dhis2_data_values",
            batch_id=batch.batch_id,
            settings=replace(settings, project_dir=project),
        )
