"""The dbt task groups of the DAGs, rendered by Cosmos from the pre-built manifest.

Rendering from ``target/manifest.json`` (``dxw manifest``, kept fresh by ``make``) keeps DAG
parsing free of dbt invocations; each dbt node becomes one task running ``dbt build`` for that
node, so a model's tests run right after it and stop what depends on it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from dxw.errors import ConfigurationError
from dxw.settings import get_settings
from dxw.transform import dbt


class ManifestMissing(ConfigurationError):
    """The dbt manifest the DAGs render from has not been built."""


def dbt_task_group(group_id: str, select: list[str] | None = None, exclude: list[str] | None = None,
                   **kwargs: Any) -> DbtTaskGroup:  # fmt: skip
    """A Cosmos task group over the selected part of the dbt project."""
    settings = get_settings()
    manifest = settings.dbt_project_dir / "target" / "manifest.json"
    if not manifest.exists():
        raise ManifestMissing(f"{manifest} is missing: run `make manifest` (dbt parse) first")
    project_config = ProjectConfig(
        dbt_project_path=settings.dbt_project_dir, manifest_path=manifest, project_name="dxw"
    )
    # Cosmos wraps the manifest in an ObjectStoragePath, whose first open() sets up Airflow's
    # hook-lineage collector: a third of a second per DAG file parse. The manifest is a local file.
    project_config.manifest_path = manifest
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project_config,
        profile_config=ProfileConfig(
            profile_name="dxw",
            target_name="warehouse",
            profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml",
        ),
        # In-process dbt: no interpreter start-up per node.
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            select=select or [],
            exclude=exclude or [],
            # Tests spanning several models (relationships, crosswalk coverage) run once all are built.
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={
            # Lineage lives in dbt docs; per-model Airflow assets would only add noise here.
            "install_deps": False,
            "emit_datasets": False,
            # Each node is a dbt process on a core: the pool (created by `dxw airflow up`) bounds how
            # many run at once, so a small worker still answers its heartbeats; a node that lost
            # its heartbeat anyway is retried (dbt build of one node is idempotent).
            "pool": settings.dbt_pool,
            "retries": settings.dbt_task_retries,
            "retry_delay": timedelta(seconds=30),
            # The connection dbt's profile reads, derived from the warehouse setting in the task's
            # own process (not at parse time: the password would be serialized with the DAG).
            "on_execute_callback": dbt.export_connection_env,
        },
        **kwargs,
    )
