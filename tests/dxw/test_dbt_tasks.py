"""The dbt task groups as rendered from the manifest, and what a build selects (no database)."""

import pytest

from dxw.orchestration.assets import RAW_ASSETS
from dxw.transform import dbt_build
from dxw.transform.dbt_tasks import (
    Node,
    Verdict,
    dbt_task_group,
    group_nodes,
    manifest,
    result_lines,
    verdict,
)


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


# What a node's task does with the build's XCom, written out by hand from the rules in
# dxw.transform.dbt_tasks' docstring: the triggerer and a worker apply the same verdict.
NODE = Node("model.dxw.m", "m", "model", ("test.dxw.not_null_m_id.1",), ())
PASSED = {"status": "success", "seconds": 0.5, "message": None}


def outcome(results: dict, *, try_number: int = 1, skipped: bool = False) -> dict:
    return {"selection": ["source:raw.x+"], "results": results, "seconds": 1.0, "skipped": skipped,
            "try_number": try_number}  # fmt: skip


def test_a_node_passed_in_the_build_reports_its_own_results_only():
    results = {"model.dxw.m": PASSED, "test.dxw.not_null_m_id.1": PASSED, "model.dxw.other": PASSED}
    assert verdict(NODE, outcome(results), 1) == Verdict(
        "report", results={"model.dxw.m": PASSED, "test.dxw.not_null_m_id.1": PASSED}
    )


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (None, "the group's dbt build did not run"),
        (outcome({}, skipped=True), "nothing changed since the group's last clean build"),
        (outcome({"model.dxw.other": PASSED}), "m is not downstream of what changed: this run's build "
         "selected source:raw.x+"),
    ],
)  # fmt: skip
def test_a_node_the_build_did_not_run_is_skipped_and_says_why(build, reason):
    found = verdict(NODE, build, 1)
    assert (found.action, found.results) == ("skip", {})
    assert found.reason.startswith(reason)


def test_a_retry_and_a_node_dbt_skipped_are_rebuilt():
    # The build's results are those of the first try: a second try of the task rebuilds, even passed.
    assert verdict(NODE, outcome({"model.dxw.m": PASSED}), 2).action == "rebuild"
    skipped = {"status": "skipped", "seconds": 0.0, "message": None}
    assert verdict(NODE, outcome({"model.dxw.m": skipped}), 1).action == "rebuild"


def test_the_result_lines_name_each_node_and_list_the_failures():
    lines, problems = result_lines({
        "model.dxw.m": PASSED,
        "test.dxw.not_null_m_id.1": {"status": "fail", "seconds": 0.25, "message": "Got 3 results"},
        "unit_test.dxw.m.a_case": {"status": "error", "seconds": 0.0, "message": "boom"},
    })  # fmt: skip
    assert [line.split() for line in lines] == [
        ["m", "success", "0.50", "s"],
        ["not_null_m_id", "fail", "0.25", "s"],
        ["a_case", "error", "0.00", "s"],
    ]  # fmt: skip
    assert problems == ["not_null_m_id: fail: Got 3 results", "a_case: error: boom"]


def test_every_node_task_starts_in_the_triggerer_with_its_node_in_the_serialized_dag():
    """The scheduler reads the serialized DAG: a node task it does not see as starting from the
    trigger takes a worker process and a pool slot, as every node did before."""
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("node_tasks", schedule=None) as dag:
        group = dbt_task_group("dbt", [], ["tag:publish"])
    nodes = group_nodes(manifest(), [], ["tag:publish"])
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    starting = {task.task_id for task in serialized.tasks if task.start_from_trigger}
    assert starting == {f"dbt.{node.name}" for node in nodes.values()}
    assert "dbt.build" not in starting  # the build runs dbt: a worker's work
    assert group.group_id == "dbt"
    args = dag.get_task("dbt.dim_unit").start_trigger_args
    assert args.trigger_cls == "dxw.transform.dbt_tasks.DbtNodeTrigger"
    assert Node.from_dict(args.trigger_kwargs["node"]) == nodes["model.dxw.dim_unit"]
    assert args.trigger_kwargs["build_task_id"] == "dbt.build"
