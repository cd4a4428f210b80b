"""A small client of Airflow 3's REST API (``/api/v2``): the way to drive a deployed Airflow.

Logs in through the simple auth manager's ``/auth/token`` and refreshes the token when it
expires. Only what dxw needs: unpause, trigger with a ``logical_date``, follow runs, read logs.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from dxw.errors import RunError

FINISHED = frozenset({"success", "failed"})
# A read the api-server failed (5xx, dropped connection) is asked up to this many times in all.
GET_ATTEMPTS = 4
RETRY_PAUSE = 1.0  # seconds, times the attempt number


class AirflowApiError(RunError):
    """The API refused a request; the message carries Airflow's own detail."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class AirflowApi:
    def __init__(self, url: str, username: str, password: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.session = requests.Session()
        self._token: str | None = None

    def _login(self) -> None:
        response = self.session.post(
            f"{self.url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=self.timeout,
        )
        if response.status_code >= 400:
            raise AirflowApiError(f"login as {self.username} at {self.url} refused: {response.text[:300]}")
        self._token = response.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call. A read (GET) the server failed with a 5xx or a dropped connection is asked
        again (a busy api-server answers "Database error" now and then); a write never is, since
        it may have been done."""
        if self._token is None:
            self._login()
        headers = kwargs.pop("headers", {})
        attempts = GET_ATTEMPTS if method.upper() == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._send(method, path, headers, **kwargs)
            except requests.ConnectionError:
                if attempt == attempts:
                    raise
                time.sleep(RETRY_PAUSE * attempt)
                continue
            if response.status_code >= 500 and attempt < attempts:
                time.sleep(RETRY_PAUSE * attempt)
                continue
            break
        if response.status_code >= 400:
            detail = f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}"
            raise AirflowApiError(detail, response.status_code)
        return response

    def _send(self, method: str, path: str, headers: dict, **kwargs: Any) -> requests.Response:
        """The request, logging in again once if the token expired."""
        for attempt in (1, 2):
            response = self.session.request(
                method,
                f"{self.url}{path}",
                headers={"Authorization": f"Bearer {self._token}", **headers},
                timeout=self.timeout,
                **kwargs,
            )
            if response.status_code == 401 and attempt == 1:
                self._login()  # the token expired
                continue
            break
        return response

    def dag(self, dag_id: str) -> dict | None:
        """The DAG as the API shows it, or None while the dag-processor has not stored it yet."""
        try:
            return self.request("GET", f"/api/v2/dags/{quote(dag_id)}").json()
        except AirflowApiError as exc:
            if exc.status_code == 404:
                return None
            raise

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while time.monotonic() < deadline:
            missing = [dag_id for dag_id in missing if self.dag(dag_id) is None]
            if not missing:
                return
            time.sleep(2)
        raise AirflowApiError(f"DAGs not parsed within {timeout:.0f} s: {', '.join(missing)}")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"/api/v2/dags/{quote(dag_id)}", json={"is_paused": paused})

    def trigger(self, dag_id: str, logical_date: datetime | None = None, conf: dict | None = None) -> str:
        """Create a run; returns its run id. ``logical_date`` must carry a time zone."""
        body = {"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf or {}}
        return self.request("POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", json=body).json()["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs, oldest first."""
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns"
        return self.request("GET", path, params={"order_by": "run_after", "limit": 100}).json()["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}").json()

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600.0) -> dict:
        """Poll until the run finished; returns it (success or failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            time.sleep(2)
        raise AirflowApiError(f"{dag_id} run {run_id} not finished within {timeout:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances"
        return self.request("GET", path, params={"limit": 1000}).json()["task_instances"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task's log as text (Airflow 3 returns it as structured events; each becomes a line)."""
        path = (
            f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
            f"/logs/{try_number}"
        )
        body = self.request("GET", path, params={"full_content": "true", "map_index": map_index}).json()
        content = body.get("content")
        if isinstance(content, str):
            return content
        lines = []
        for event in content or []:
            if isinstance(event, dict):
                line = " ".join(str(event.get(key, "")) for key in ("timestamp", "level", "event")).strip()
                # A skip or an error carries its reason in a field of its own.
                extra = [f"{key}: {event[key]}" for key in ("reason", "error_detail") if event.get(key)]
                lines.append(" ".join([line, *extra]))
            else:
                lines.append(str(event))
        return "\n".join(line for line in lines if line)
