"""Failure and deadline alerts reach a real webhook and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dxw.orchestration import alerts
from dxw.settings import Settings, get_settings

VN_ERROR = "Đơn vị 'Xã Lũng Cú' không có trong danh mục đơn vị hành chính (mã 00001)"
# H1 2025 under Decree 09: 15 Dec 2024 .. 14 Jun 2025, i.e. up to 15 Jun 00:00 in Hà Giang (UTC+7).
INTERVAL_START = datetime(2024, 12, 14, 17, 0, tzinfo=UTC)
INTERVAL_END = datetime(2025, 6, 14, 17, 0, tzinfo=UTC)
RUN_ID = "scheduled__2025-06-14T17:00:00+00:00"
LATE_RUN_ID = "scheduled__late"
DELAYED_RUN_ID = "scheduled__delayed"


# --- local servers -------------------------------------------------------------------------------


@dataclass
class Webhook:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A chat-style webhook on 127.0.0.1 recording every JSON body it receives."""
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.requests.append(
                {"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's signature)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_port}/hooks/T0KEN-s3cret"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()


@dataclass
class Mail:
    mail_from: str
    rcpt_to: list[str]
    data: bytes


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: greeting, EHLO, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        self.reply("220 127.0.0.1 test SMTP")
        mail_from, rcpt_to = "", []
        while line := self.rfile.readline():
            command = line.decode("ascii").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO", "RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "MAIL":
                mail_from = _angle_address(command)
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpt_to.append(_angle_address(command))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data_line := self.rfile.readline()) != b".\r\n":
                    lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                self.server.mails.append(Mail(mail_from, rcpt_to, b"".join(lines)))  # type: ignore[attr-defined]
                self.reply("250 Queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


def _angle_address(command: str) -> str:
    match = re.search(r"<([^>]*)>", command)
    assert match, command
    return match.group(1)


@pytest.fixture
def smtp_server() -> Iterator[socketserver.ThreadingTCPServer]:
    """An SMTP receiver on 127.0.0.1; delivered mails collect in ``.mails``."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.mails = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- settings and contexts -----------------------------------------------------------------------


@pytest.fixture
def settings() -> Settings:
    """No channel, a short timeout: each test turns on what it needs."""
    return replace(
        get_settings(),
        alert_webhook_url=None,
        alert_email_to=(),
        alert_timeout=2.0,
        timezone="Asia/Ho_Chi_Minh",
        publish_deadline_days=15,
    )


@pytest.fixture
def env_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """For code that reads ``get_settings()`` itself (Airflow calls callbacks with no settings)."""
    for name in ("DXW_ALERT_WEBHOOK_URL", "DXW_ALERT_EMAIL_TO", "DXW_PUBLISH_DEADLINE_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DXW_ALERT_TIMEOUT", "2")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@dataclass
class FakeTaskInstance:
    """The attributes of Airflow's RuntimeTaskInstance that the alert reads."""

    dag_id: str = "transform_warehouse"
    task_id: str = "publish_marts"
    run_id: str = RUN_ID
    try_number: int = 2
    max_tries: int = 2
    map_index: int = -1
    log_url: str = "http://localhost:8080/dags/transform_warehouse/runs/r/tasks/publish_marts?try_number=2"


def task_context(error: BaseException | str | None = None) -> dict[str, Any]:
    """The keys Airflow 3's task runner passes to ``on_failure_callback``."""
    ti = FakeTaskInstance()
    return {
        "dag": SimpleNamespace(dag_id=ti.dag_id),
        "task_instance": ti,
        "ti": ti,
        "run_id": ti.run_id,
        "logical_date": INTERVAL_START,
        "data_interval_start": INTERVAL_START,
        "data_interval_end": INTERVAL_END,
        "exception": ValueError(VN_ERROR) if error is None else error,
    }


def deadline_context() -> dict[str, Any]:
    """What Deadline.handle_miss hands the callback: the run as JSON and the deadline."""
    return {
        "dag_run": {
            "dag_id": "publish_semiannual",
            "dag_run_id": RUN_ID,
            "logical_date": INTERVAL_START.isoformat(),
            "data_interval_start": INTERVAL_START.isoformat(),
            "data_interval_end": INTERVAL_END.isoformat(),
            "run_type": "scheduled",
            "state": "failed",
        },
        "deadline": {"id": "0190-fake", "deadline_time": INTERVAL_END + timedelta(days=15)},
    }


# --- failure alerts ------------------------------------------------------------------------------


def test_task_failure_reaches_the_webhook_as_json(settings: Settings, webhook: Webhook) -> None:
    alerts.failure_callback(task_context(), replace(settings, alert_webhook_url=webhook.url))

    [request] = webhook.requests
    assert request["content_type"] == "application/json"
    body = request["json"]
    assert set(body) == {"text", "dag_id", "task_id", "run_id", "error"}
    assert body["dag_id"] == "transform_warehouse"
    assert body["task_id"] == "publish_marts"
    assert body["run_id"] == RUN_ID
    assert body["error"] == f"ValueError: {VN_ERROR}"
    text = body["text"]
    assert "task publish_marts of DAG transform_warehouse failed (try 2 of 3)" in text
    assert "Data interval: 2024-12-15 00:00 +07 – 2025-06-15 00:00 +07" in text
    assert VN_ERROR in text
    assert FakeTaskInstance.log_url in text


def test_task_failure_reaches_every_recipient_by_mail_in_utf8(
    settings: Settings, smtp_server: socketserver.ThreadingTCPServer
) -> None:
    configured = replace(
        settings,
        alert_email_to=("data-team@sotttt.hagiang.gov.vn", "oncall@sotttt.hagiang.gov.vn"),
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.server_address[1],
        smtp_from="dxw@sotttt.hagiang.gov.vn",
    )
    alerts.failure_callback(task_context(), configured)

    [mail] = smtp_server.mails  # type: ignore[attr-defined]
    assert mail.mail_from == "dxw@sotttt.hagiang.gov.vn"
    assert mail.rcpt_to == ["data-team@sotttt.hagiang.gov.vn", "oncall@sotttt.hagiang.gov.vn"]
    assert mail.data.isascii(), "a 7-bit relay must be able to carry the alert"
    message = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert message["Subject"] == "[dxw] transform_warehouse.publish_marts failed"
    assert message["To"] == "data-team@sotttt.hagiang.gov.vn, oncall@sotttt.hagiang.gov.vn"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert f"Error: ValueError: {VN_ERROR}" in body
    assert "Run: " + RUN_ID in body


def test_dag_failure_names_the_reason(settings: Settings, webhook: Webhook) -> None:
    context = {
        "dag": SimpleNamespace(dag_id="transform_warehouse"),
        "run_id": RUN_ID,
        "reason": "task_failure",
    }
    alerts.failure_callback(context, replace(settings, alert_webhook_url=webhook.url))

    [request] = webhook.requests
    assert request["json"]["task_id"] is None
    assert request["json"]["error"] == "task_failure"
    assert request["json"]["text"].startswith("dxw: DAG transform_warehouse failed (task_failure).")


def test_a_long_error_is_cut_short(settings: Settings, webhook: Webhook) -> None:
    alerts.failure_callback(task_context("x" * 50_000), replace(settings, alert_webhook_url=webhook.url))

    [request] = webhook.requests
    assert len(request["json"]["error"]) == alerts.MAX_ERROR_CHARS
    assert request["json"]["error"].endswith("…")


def test_failure_callback_reads_the_environment(env_settings: pytest.MonkeyPatch, webhook: Webhook) -> None:
    env_settings.setenv("DXW_ALERT_WEBHOOK_URL", webhook.url)
    get_settings.cache_clear()

    alerts.failure_callback(task_context())

    assert [r["json"]["task_id"] for r in webhook.requests] == ["publish_marts"]


def test_no_channel_configured_only_logs(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dxw.orchestration.alerts"):
        alerts.failure_callback(task_context(), settings)

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "No alert channel configured" in record.getMessage()
    assert VN_ERROR in record.getMessage()


def test_unreachable_channels_log_a_warning_and_never_raise(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    configured = replace(
        settings,
        alert_webhook_url=f"http://127.0.0.1:{port}/hooks/T0KEN-s3cret?key=abc",
        alert_email_to=("data-team@sotttt.hagiang.gov.vn",),
        smtp_host="127.0.0.1",
        smtp_port=port,
    )
    with caplog.at_level(logging.WARNING, logger="dxw.orchestration.alerts"):
        alerts.failure_callback(task_context(), configured)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith(f"Alert via webhook http://127.0.0.1:{port}/… failed (ConnectionError")
    assert warnings[1].startswith(
        "Alert via e-mail to data-team@sotttt.hagiang.gov.vn failed (ConnectionRefused"
    )
    assert all(VN_ERROR in w for w in warnings), "the alert itself must survive in the log"
    assert not any("s3cret" in w or "key=abc" in w for w in warnings), "webhook tokens stay out of logs"


def test_a_channel_down_does_not_stop_the_other(
    settings: Settings, smtp_server: socketserver.ThreadingTCPServer
) -> None:
    configured = replace(
        settings,
        alert_webhook_url=f"http://127.0.0.1:{_closed_port()}/hook",
        alert_email_to=("data-team@sotttt.hagiang.gov.vn",),
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.server_address[1],
    )
    alerts.failure_callback(task_context(), configured)

    assert len(smtp_server.mails) == 1  # type: ignore[attr-defined]


def test_a_webhook_error_status_is_logged(
    settings: Settings, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    webhook.status = 500
    with caplog.at_level(logging.WARNING, logger="dxw.orchestration.alerts"):
        alerts.failure_callback(task_context(), replace(settings, alert_webhook_url=webhook.url))

    assert len(webhook.requests) == 1
    [warning] = [r.getMessage() for r in caplog.records]
    assert "(HTTPError: 500 Server Error" in warning
    assert "T0KEN" not in warning


def test_a_webhook_that_never_answers_times_out(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as silent:
        # The kernel completes the handshake; nobody ever reads the request or answers it.
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="dxw.orchestration.alerts"):
            alerts.failure_callback(
                task_context(), replace(settings, alert_webhook_url=url, alert_timeout=0.5)
            )
        elapsed = time.monotonic() - started

    assert elapsed < 3
    [warning] = [r.getMessage() for r in caplog.records]
    assert "(ReadTimeout" in warning


# --- deadline alert ------------------------------------------------------------------------------


def test_deadline_alert_carries_the_configured_interval(settings: Settings) -> None:
    from airflow.sdk import AsyncCallback

    deadline = alerts.deadline_alert(replace(settings, publish_deadline_days=20))

    assert deadline is not None
    assert deadline.interval == timedelta(days=20)
    assert isinstance(deadline.reference, alerts.DagRunDataIntervalEndDeadline)
    assert isinstance(deadline.callback, AsyncCallback)
    assert deadline.callback.path == "dxw.orchestration.alerts.publish_deadline_missed"
    assert deadline.callback.kwargs == {"days": 20}


def test_deadline_alert_can_be_turned_off(settings: Settings) -> None:
    assert alerts.deadline_alert(replace(settings, publish_deadline_days=0)) is None


@pytest.fixture
def dag_runs() -> Iterator[Session]:
    """Airflow's dag_run table in a private in-memory database (not the shared metadata DB)."""
    from airflow.models import DagRun
    from airflow.models.tasklog import LogTemplate

    engine = sa.create_engine("sqlite://")
    LogTemplate.__table__.create(engine)
    DagRun.__table__.create(engine)
    with Session(engine) as session:
        for run_id, run_type, created in (
            (RUN_ID, "scheduled", INTERVAL_END),
            ("manual__rerun", "manual", INTERVAL_END),
            ("backfill__old", "backfill", INTERVAL_END),
            # Unpaused on 1 December 2026: the latest closed half-year's run, 2025S1's deadline long past.
            (LATE_RUN_ID, "scheduled", datetime(2026, 12, 1, 1, 0, tzinfo=UTC)),
            # Created a day after the cut-off (the scheduler was down): the deadline still stands.
            (DELAYED_RUN_ID, "scheduled", INTERVAL_END + timedelta(days=1)),
        ):
            session.execute(
                sa.insert(DagRun.__table__).values(
                    dag_id="publish_semiannual",
                    run_id=run_id,
                    run_type=run_type,
                    state="running",
                    run_after=INTERVAL_END,
                    logical_date=INTERVAL_START if run_id == RUN_ID else None,
                    data_interval_start=INTERVAL_START,
                    data_interval_end=INTERVAL_END,
                    clear_number=0,
                    created_at=created,
                )
            )
        yield session
    engine.dispose()


def test_deadline_is_the_cutoff_plus_interval_for_scheduled_runs_only(
    settings: Settings, dag_runs: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serialize the DAG and evaluate its deadline the way the scheduler does at run creation."""
    from airflow import plugins_manager
    from airflow.sdk import DAG
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.serialized_objects import DagSerialization

    # What the plugin in plugins/ declares with ``deadline_references``.
    registered = {
        "dxw.orchestration.alerts.DagRunDataIntervalEndDeadline": alerts.DagRunDataIntervalEndDeadline
    }
    monkeypatch.setattr(plugins_manager, "get_deadline_references_plugins", lambda: registered)

    dag = DAG("publish_semiannual", schedule=None, deadline=alerts.deadline_alert(settings))
    [encoded] = DagSerialization.serialize_dag(dag)["deadline"]
    assert encoded["reference"]["__class_path"] == "dxw.orchestration.alerts.DagRunDataIntervalEndDeadline"
    decoded = decode_deadline_alert(encoded)

    def deadline_of(run_id: str) -> datetime | None:
        return decoded.reference.evaluate_with(
            session=dag_runs, interval=decoded.interval, dag_id="publish_semiannual", run_id=run_id
        )

    assert deadline_of(RUN_ID) == INTERVAL_END + timedelta(days=15)
    assert deadline_of(DELAYED_RUN_ID) == INTERVAL_END + timedelta(days=15)
    assert deadline_of(LATE_RUN_ID) is None  # deployed after the deadline: no alert on day one
    assert deadline_of("manual__rerun") is None
    assert deadline_of("backfill__old") is None
    assert deadline_of("no_such_run") is None


def test_the_semiannual_marts_dag_carries_the_publish_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real DAG file, parsed as the dag-processor does, and stored with the real plugin.

    dagrun.run() strips deadlines for dag.test(), so no end-to-end run sees this one: without
    ``deadline=`` in dags/semiannual_marts.py, or without ``deadline_references`` in
    plugins/dxw_plugin.py (the dag-processor could not store the DAG), this test fails.
    """
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.definitions.deadline import AsyncCallback
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.serialized_objects import DagSerialization

    monkeypatch.setenv("DXW_PUBLISH_DEADLINE_DAYS", "9")  # read when the DAG file is parsed
    get_settings.cache_clear()
    try:
        bag = DagBag(dag_folder=str(get_settings().dags_dir / "semiannual_marts.py"))
    finally:
        get_settings.cache_clear()
    assert bag.import_errors == {}
    dag = bag.dags["semiannual_marts"]
    [deadline] = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert isinstance(deadline.reference, alerts.DagRunDataIntervalEndDeadline)
    assert deadline.interval == timedelta(days=9)
    assert isinstance(deadline.callback, AsyncCallback)
    assert deadline.callback.path == "dxw.orchestration.alerts.publish_deadline_missed"
    assert deadline.callback.kwargs == {"days": 9}

    # Stored and read back the way the dag-processor and the scheduler do, with the plugins of
    # the configured plugins folder (plugins/dxw_plugin.py) registering the reference.
    [encoded] = DagSerialization.serialize_dag(dag)["deadline"]
    decoded = decode_deadline_alert(encoded)
    assert isinstance(decoded.reference.inner_ref, alerts.DagRunDataIntervalEndDeadline)
    assert decoded.interval == timedelta(days=9)


def test_missed_deadline_alerts_through_airflows_callback_trigger(
    env_settings: pytest.MonkeyPatch, webhook: Webhook
) -> None:
    """The triggerer's own CallbackTrigger imports the callback by path and awaits it."""
    from airflow.triggers.callback import CallbackTrigger

    env_settings.setenv("DXW_ALERT_WEBHOOK_URL", webhook.url)
    get_settings.cache_clear()
    trigger = CallbackTrigger(
        callback_path="dxw.orchestration.alerts.publish_deadline_missed",
        callback_kwargs={"days": 15, "context": deadline_context()},
    )

    async def run() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run())

    assert [e["state"] for e in events] == ["running", "success"]
    [request] = webhook.requests
    body = request["json"]
    assert body["dag_id"] == "publish_semiannual"
    assert body["run_id"] == RUN_ID
    assert body["task_id"] is None
    assert body["error"] == "marts not published 15 days after the cut-off"
    assert body["text"].startswith(
        "dxw: the marts of DAG publish_semiannual for the period ending 2025-06-15 00:00 +07 "
        "are not published 15 days after the cut-off."
    )
    assert "Deadline: 2025-06-30 00:00 +07" in body["text"]
    assert "(state: failed)" in body["text"]
