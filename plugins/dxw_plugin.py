"""Registers dxw's Airflow extensions: the half-year timetable and the publish-deadline reference.

Airflow stores a custom timetable or deadline reference under its import path
(``dxw.orchestration.timetables.HalfYearTimetable``,
``dxw.orchestration.alerts.DagRunDataIntervalEndDeadline``) and refuses to serialize or
deserialize a class that no plugin lists: without this file the dag-processor cannot store
``semiannual_marts`` and the scheduler cannot create its runs. The classes live in
the ``dxw`` package so that DAG files and this plugin import one and the same class under one
import path (the plugin loader executes plugin files as top-level modules of their own).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from dxw.orchestration.alerts import DagRunDataIntervalEndDeadline
from dxw.orchestration.timetables import HalfYearTimetable


class DxwPlugin(AirflowPlugin):
    """Airflow plugin listing dxw's custom timetables and deadline references."""

    name = "dxw"
    timetables: ClassVar[list[Any]] = [HalfYearTimetable]
    deadline_references: ClassVar[list[Any]] = [DagRunDataIntervalEndDeadline]
