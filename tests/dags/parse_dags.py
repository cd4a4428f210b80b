"""Parse the dags folder with no database and no network; print a JSON report.

Run as a separate process by test_dag_integrity.py so that the Airflow configuration points at
an unreachable database and any socket connection attempt fails the parse.
"""

import json
import sys
import time


def _forbid_network(event: str, args: tuple) -> None:
    if event == "socket.connect":
        raise RuntimeError(f"network access while parsing DAG files: {args[1]!r}")


def _assets(condition) -> list:
    """The assets of a schedule's condition (an asset, or any/all of conditions)."""
    if hasattr(condition, "objects"):
        return [asset for part in condition.objects for asset in _assets(part)]
    return [condition] if hasattr(condition, "watchers") else []  # none for a time-only schedule


def _schedule(dag) -> dict:
    """The DAG's timetable, the timetable of its time part, and its assets with their watchers."""
    timetable = dag.timetable
    condition = getattr(timetable, "asset_condition", None)
    assets = _assets(condition)
    part = getattr(timetable, "timetable", None)
    return {
        "timetable": type(timetable).__name__,
        "time": None if part is None else [type(part).__name__, getattr(part, "expression", None)],
        "assets": {asset.name: [list(w.trigger.serialize()) for w in asset.watchers] for asset in assets},
    }


def main(dags_folder: str) -> None:
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    airflow_import = time.perf_counter() - started
    sys.addaudithook(_forbid_network)
    bag = DagBag(dag_folder=dags_folder)
    report = {
        "airflow_import_seconds": airflow_import,
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "files": [
            {"file": str(stat.file), "seconds": stat.duration.total_seconds(), "dags": stat.dag_num}
            for stat in bag.dagbag_stats
        ],
        "dags": {
            dag_id: {
                "doc_md": bool(dag.doc_md),
                "tags": sorted(dag.tags),
                "tasks": len(dag.tasks),
                "order": [t.task_id for t in dag.topological_sort()],
                "schedule": _schedule(dag),
            }
            for dag_id, dag in bag.dags.items()
        },
    }
    sys.stdout.write("DXW-REPORT " + json.dumps(report) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
