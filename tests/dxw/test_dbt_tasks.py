"""The dbt task groups as rendered from the manifest, and what a build selects (no database)."""

import pytest

from dxw.orchestration.assets import RAW_ASSETS
from dxw.transform import dbt_build
from dxw.transform.dbt_tasks import group_nodes, manifest


@pytest.fixture(scope="module")
def core():
    return group_nodes(manifest(), [], ["tag:publish"])


def test_a_node_reports_the_tests_of_it_alone_and_waits_for_the_tests_dbt_makes_it_wait_for(core):
    fct = core["model.dxw.fct_indicator_observation"]
    assert fct.tests  # unique keys, not nulls: built and tested with it
    assert all(test.startswith(("test.dxw.", "unit_test.dxw.")) for test in fct.tests)
    # A test of several nodes is its own task, before every node descending from all of them.
    mapped = "test.dxw.assert_source_units_are_mapped"
    assert core[mapped].upstream == ("model.dxw.int_observations_unpivoted", "seed.dxw.unit_crosswalk")
    assert mapped in core["model.dxw.int_observations_placed"].upstream
    relationship = next(
        uid for uid in core if uid.startswith("test.dxw.relationships_fct_indicator_observation_unit")
    )
    assert relationship in core["model.dxw.int_unit_coverage"].upstream
    # Unit tests go with their model: a failing one fails the model's task.
    assert any(
        t.startswith("unit_test.dxw.int_unit_submissions.")
        for t in core["model.dxw.int_unit_submissions"].tests
    )


def test_the_core_has_no_mart_and_the_marts_group_only_marts(core):
    assert not [uid for uid in core if "mart_" in uid]
    marts = group_nodes(manifest(), ["tag:publish"], [])
    assert {node.name for node in marts.values() if node.resource_type == "model"} == {
        "mart_semiannual_indicator", "mart_annual_indicator", "mart_unit_scorecard",
        "mart_annual_scorecard", "mart_award_eligibility", "mart_reporting_compliance",
    }  # fmt: skip
    # The marts' upstream (the core) is not theirs to build: no task waits for a core node.
    assert all(parent in marts for node in marts.values() for parent in node.upstream)


def test_every_raw_asset_selects_its_own_sources_branch():
    selectors = dbt_build.changed_selection([asset.name for asset in RAW_ASSETS], manifest())
    assert selectors == [
        "source:raw_dhis2.dhis2_data_values+",
        "source:raw_dms.dms_work_dossiers+",
        "source:raw.portal_dvc_progress+",
        "source:raw.portal_provide_online+",
        "source:raw_uploads.unit_upload_observations+",
    ]
    with pytest.raises(ValueError, match=r"'raw\.somewhere' is not a raw table"):
        dbt_build.changed_selection(["raw.somewhere"], manifest())


def test_the_project_signature_moves_with_a_seed_but_not_with_targets(tmp_path):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "target").mkdir()
    (tmp_path / "seeds" / "units.csv").write_text("code\n01\n")
    before = dbt_build.project_signature(tmp_path)
    (tmp_path / "target" / "run_results.json").write_text("{}")
    assert dbt_build.project_signature(tmp_path) == before
    (tmp_path / "seeds" / "units.csv").write_text("code\n01\n02\n")
    assert dbt_build.project_signature(tmp_path) != before


def test_every_dbt_task_retries_as_configured(monkeypatch):
    from datetime import timedelta

    from airflow.sdk import DAG

    from dxw.settings import get_settings
    from dxw.transform.dbt_tasks import dbt_task_group

    monkeypatch.setenv("DXW_DBT_TASK_RETRIES", "3")
    monkeypatch.setenv("DXW_DBT_TASK_RETRY_DELAY", "7.5")
    get_settings.cache_clear()
    try:
        with DAG("retry_settings", schedule=None) as dag:
            dbt_task_group("dbt", [], ["tag:publish"])
    finally:
        get_settings.cache_clear()
    assert len(dag.tasks) > 1  # the build and a task per node
    assert {(task.retries, task.retry_delay) for task in dag.tasks} == {(3, timedelta(seconds=7.5))}
