"""The REST client asks a failed read again, never a write (it may have been done)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dxw.orchestration import airflow_api
from dxw.orchestration.airflow_api import AirflowApi, AirflowApiError


class _Server(ThreadingHTTPServer):
    def __init__(self, failures: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures  # how many API calls answer 500 before one answers 200
        self.calls: list[tuple[str, str]] = []


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _api(self) -> None:
        self.server.calls.append((self.command, self.path))
        if self.server.failures:
            self.server.failures -= 1
            self._answer(500, {"detail": {"reason": "Database error"}})
        else:
            self._answer(200, {"dag_runs": [], "total_entries": 0})

    def do_POST(self):
        if self.path == "/auth/token":
            self.rfile.read(int(self.headers["Content-Length"]))
            self._answer(201, {"access_token": "t"})
        else:
            self._api()

    def do_GET(self):
        self._api()

    def do_PATCH(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._api()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(airflow_api, "RETRY_PAUSE", 0.0)
    servers = []

    def start(failures: int) -> tuple[_Server, AirflowApi]:
        srv = _Server(failures)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv, AirflowApi(f"http://127.0.0.1:{srv.server_address[1]}", "admin", "pw", timeout=5)

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_a_read_the_server_failed_is_asked_again(server):
    srv, api = server(failures=2)
    assert api.runs("semiannual_marts") == []
    assert [method for method, _ in srv.calls] == ["GET", "GET", "GET"]  # two 500s, then the answer


def test_a_read_that_keeps_failing_fails_after_the_last_attempt(server):
    srv, api = server(failures=10)
    with pytest.raises(AirflowApiError) as failure:
        api.runs("semiannual_marts")
    assert failure.value.status_code == 500
    assert len(srv.calls) == airflow_api.GET_ATTEMPTS


def test_a_write_is_never_sent_twice(server):
    srv, api = server(failures=1)
    with pytest.raises(AirflowApiError):
        api.set_paused("semiannual_marts", False)
    assert [method for method, _ in srv.calls] == ["PATCH"]
