"""DAG file parse time: every file in dags/ against the goal of < 0.3 s, dbt rendered from a manifest.

    .venv/bin/python bench/dag_parse.py --repeat 5

Like Airflow's DAG processor, each parse runs in a fresh process that has already imported
Airflow (not timed); the time is that of ``DagBag(dag_folder=<file>)``, median of ``--repeat``
processes. As in tests/dags/test_dag_integrity.py, Airflow and the warehouse point at
127.0.0.1:9 (nothing listens) and any socket connection fails the run: parsing must not touch a
database or the network.

Baseline, same run: Cosmos rendering the semi-annual marts' dbt selection (``tag:publish``) with
``dbt ls`` (LoadMode.DBT_LS, Cosmos' default without a manifest; Cosmos' caches off so that it
really runs), against the same construction from the manifest; Cosmos is imported beforehand in
both, so these are the render alone. Caches off, dbt cannot reuse target/partial_parse.msgpack
(written by `dxw manifest` with another profile and no --profile/--target), so every dbt ls parses
the whole project. Not part of the tests; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_SECONDS = 0.3
NOWHERE = "postgresql://nobody@127.0.0.1:9/none"  # nothing listens on port 9
MARKER = "DXW-BENCH "
RENDERS = ("dbt_ls", "manifest")


def _forbid_network(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        raise RuntimeError(f"network access while parsing: {args[1]!r}")


def child_parse(path: str) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag  # the processor's child has Airflow imported

    sys.addaudithook(_forbid_network)
    started = time.perf_counter()
    bag = DagBag(dag_folder=path)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "tasks": sum(len(dag.tasks) for dag in bag.dags.values()),
        "errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    }


def child_render(mode: str) -> dict[str, Any]:
    """What ``dbt_tasks.dbt_task_group("dbt", select=["tag:publish"])`` builds, in a throwaway DAG."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401  (imported, as in the processor)
    from airflow.sdk import DAG
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    from dxw.settings import get_settings

    sys.addaudithook(_forbid_network)
    project_dir = get_settings().dbt_project_dir
    manifest = project_dir / "target" / "manifest.json"
    started = time.perf_counter()
    with DAG(dag_id=f"bench_render_{mode}", schedule=None) as dag:
        if mode == "manifest":
            project_config = ProjectConfig(
                dbt_project_path=project_dir, manifest_path=manifest, project_name="dxw"
            )
            project_config.manifest_path = manifest  # a plain Path, as dxw.transform.dbt_tasks does
        else:
            project_config = ProjectConfig(dbt_project_path=project_dir, project_name="dxw")
        DbtTaskGroup(
            group_id="dbt",
            project_config=project_config,
            profile_config=ProfileConfig(
                profile_name="dxw",
                target_name="warehouse",
                profiles_yml_filepath=project_dir / "profiles.yml",
            ),
            execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST if mode == "manifest" else LoadMode.DBT_LS,
                test_behavior=TestBehavior.BUILD,
                select=["tag:publish"],
                exclude=[],
                should_detach_multiple_parents_tests=True,
            ),
            operator_args={"install_deps": False, "emit_datasets": False},
        )
    return {"seconds": time.perf_counter() - started, "tasks": len(dag.tasks), "errors": {}}


def isolated_env(tmp: Path) -> dict[str, str]:
    """dxw's Airflow environment, with its databases nowhere and its state in ``tmp``."""
    from dxw.orchestration import airflow_env
    from dxw.settings import get_settings
    from dxw.warehouse.database import DatabaseUrls

    settings = get_settings()
    env = {**os.environ, **airflow_env.environment(settings, DatabaseUrls(NOWHERE, NOWHERE, NOWHERE))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp / "airflow"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp / "airflow" / "logs"),
            "AIRFLOW__COSMOS__CACHE_DIR": str(tmp / "cosmos"),
            "DBT_LOG_PATH": str(tmp / "dbt-logs"),
            "SCARF_NO_ANALYTICS": "true",
            # Cosmos' RenderConfig looks for the dbt executable on PATH, as in the Airflow image.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def measure(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    if result.returncode != 0 or not lines:
        sys.exit(f"{' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(lines[-1].removeprefix(MARKER))
    if report["errors"]:
        sys.exit(f"{' '.join(args)}: import errors\n" + "\n".join(report["errors"].values()))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per measurement (median)")
    parser.add_argument("--child-parse", help=argparse.SUPPRESS)
    parser.add_argument("--child-render", choices=RENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_parse or args.child_render:
        report = child_parse(args.child_parse) if args.child_parse else child_render(args.child_render)
        print(MARKER + json.dumps(report), flush=True)
        return 0

    from dxw.settings import get_settings

    files = sorted(get_settings().dags_dir.glob("*.py"))
    jobs = {f.name: ["--child-parse", str(f)] for f in files} | {m: ["--child-render", m] for m in RENDERS}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in jobs}
    with tempfile.TemporaryDirectory(prefix="dxw-bench-parse-") as tmp:
        env = isolated_env(Path(tmp))
        render_env = {
            **env,
            "AIRFLOW__COSMOS__ENABLE_CACHE": "False",
            "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
        }
        for i in range(args.repeat):  # round-robin: CPU contention spreads over all measurements
            print(f"run {i + 1}/{args.repeat} ...", flush=True)
            for name, job in jobs.items():
                runs[name].append(measure(job, render_env if name in RENDERS else env))
    median = {name: statistics.median(r["seconds"] for r in reports) for name, reports in runs.items()}
    tasks = {name: reports[0]["tasks"] for name, reports in runs.items()}

    width = max(len(f.name) for f in files)
    print(f"\n{'file':<{width}} | {'tasks':>5} | {'median s':>8} | goal < {GOAL_SECONDS} s")
    for f in files:
        verdict = "meets" if median[f.name] < GOAL_SECONDS else "MISSES"
        print(f"{f.name:<{width}} | {tasks[f.name]:>5} | {median[f.name]:>8.3f} | {verdict}")

    manifest, dbt_ls = median["manifest"], median["dbt_ls"]
    print(f"\nCosmos render of tag:publish ({tasks['manifest']} tasks), Cosmos already imported:")
    ratio = manifest / dbt_ls
    print(f"Cosmos render: manifest {manifest:.3f} s, dbt ls (baseline) {dbt_ls:.3f} s, ratio {ratio:.3f}")
    print(f"  the manifest renders {dbt_ls / manifest:.0f}x faster than the baseline")
    if tasks["manifest"] != tasks["dbt_ls"]:
        print(f"  WARNING: dbt ls built {tasks['dbt_ls']} tasks: not a like-for-like comparison")
    marts = median.get("semiannual_marts.py")
    if marts is not None:
        print(f"  for context, the whole semiannual_marts.py file: {marts:.3f} s")

    slow = [f.name for f in files if median[f.name] >= GOAL_SECONDS]
    if slow:
        print(f"\nGoal < {GOAL_SECONDS} s per DAG file: NOT met by {', '.join(slow)}")
    else:
        print(f"\nGoal < {GOAL_SECONDS} s per DAG file: met by all {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
