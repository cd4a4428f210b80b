"""Alerts to the data team: failed tasks and DAG runs, and half-years whose marts are published late.

Channels come from :mod:`dxw.settings`: a webhook (``DXW_ALERT_WEBHOOK_URL``, JSON POST) and/or
e-mail (``DXW_ALERT_EMAIL_TO`` through ``DXW_SMTP_HOST``). An alert is best effort: a channel
that is down is logged and skipped, never raised into Airflow, and every send has a timeout.

Wiring in a DAG file::

    @dag(
        default_args={"on_failure_callback": failure_callback},
        deadline=deadline_alert(),
        ...,
    )

:class:`DagRunDataIntervalEndDeadline` must be registered with Airflow through the
``deadline_references`` of an ``AirflowPlugin`` in ``plugins/``: without it the scheduler
cannot decode the deadline and creates no run of the DAG.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from airflow.sdk import AsyncCallback, BaseDeadlineReference, DeadlineAlert

from dxw.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# Enough for an exception message; a dbt log pasted into a chat message helps nobody.
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Alert:
    """One alert, rendered once and sent alike to every channel."""

    subject: str
    text: str
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    error: str | None = None

    def payload(self) -> dict[str, str | None]:
        """The webhook's JSON body."""
        return {
            "text": self.text,
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "run_id": self.run_id,
            "error": self.error,
        }


def failure_callback(context: Mapping[str, Any], settings: Settings | None = None) -> None:
    """``on_failure_callback`` for tasks and DAGs: alert every configured channel, never raise."""
    try:
        settings = settings or get_settings()
        send_alert(_failure_alert(context, settings), settings)
    except Exception:
        # A broken alert must not hide the failure that triggered it (nor fail Airflow's callback).
        log.exception("Could not build or send the failure alert")


def _failure_alert(context: Mapping[str, Any], settings: Settings) -> Alert:
    """The alert for a task's context, or a DAG's (which carries ``reason`` and no exception)."""
    tz = ZoneInfo(settings.timezone)
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None)
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    reason = context.get("reason")
    error = _describe_error(context.get("exception"))

    if reason is not None:
        subject = f"[dxw] DAG {dag_id} failed"
        lines = [f"dxw: DAG {dag_id} failed ({reason})."]
        if task_id:
            lines.append(f"Last task: {task_id}")
    else:
        subject = f"[dxw] {dag_id}.{task_id} failed"
        lines = [f"dxw: task {task_id} of DAG {dag_id} failed{_tries(ti)}."]
    lines.append(f"Run: {run_id}")
    lines.extend(_period_lines(context, tz))
    if error:
        lines.append(f"Error: {error}")
    if log_url := getattr(ti, "log_url", None):
        lines.append(f"Log: {log_url}")
    return Alert(subject, "\n".join(lines), dag_id, task_id, run_id, error or reason)


def send_alert(alert: Alert, settings: Settings) -> None:
    """Send ``alert`` to the webhook and the e-mail recipients configured; log what happened."""
    channels: list[tuple[str, Callable[[], None]]] = []
    if url := settings.alert_webhook_url:
        channels.append((f"webhook {_without_secrets(url)}", partial(_post_webhook, alert, url, settings)))
    if recipients := ", ".join(settings.alert_email_to):
        channels.append((f"e-mail to {recipients}", partial(_send_email, alert, settings)))
    if not channels:
        log.warning("No alert channel configured (DXW_ALERT_*), only logging:\n%s", alert.text)
        return
    for name, send in channels:
        try:
            send()
        except OSError as exc:  # requests' and smtplib's errors included: the channel is down
            reason = _scrub(str(exc), settings.alert_webhook_url)
            log.warning("Alert via %s failed (%s: %s):\n%s", name, type(exc).__name__, reason, alert.text)
        except Exception:
            log.exception("Alert via %s failed:\n%s", name, alert.text)
        else:
            log.info("Alert sent via %s: %s", name, alert.subject)


def _post_webhook(alert: Alert, url: str, settings: Settings) -> None:
    import requests  # deferred: DAG files import this module and must parse fast

    response = requests.post(url, json=alert.payload(), timeout=settings.alert_timeout)
    response.raise_for_status()


def _send_email(alert: Alert, settings: Settings) -> None:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.alert_email_to)
    message["Date"] = formatdate(localtime=True)
    # make_msgid() and smtplib would otherwise ask DNS for our FQDN, which no timeout bounds.
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or "localhost")
    # Quoted-printable keeps the Vietnamese text intact through relays that only speak 7-bit.
    message.set_content(alert.text, charset="utf-8", cte="quoted-printable")
    with smtplib.SMTP(
        settings.smtp_host,
        settings.smtp_port,
        local_hostname=socket.gethostname(),
        timeout=settings.alert_timeout,
    ) as smtp:
        smtp.send_message(message)


class DagRunDataIntervalEndDeadline(BaseDeadlineReference):
    """Deadline reference: the end of a scheduled run's data interval, i.e. its period's cut-off.

    Airflow 3.3 has no such built-in reference (only the logical date, which a timetable with real
    data intervals sets to the *start* of the period). Manual runs and backfills get no deadline:
    re-running an old half-year must not page anyone for a cut-off long past. Nor does a scheduled
    run created after its deadline had already passed: the DAG was deployed (or unpaused) after
    it, so nobody could have published in time, and the alert would fire on day one.
    """

    required_kwargs = frozenset({"dag_id", "run_id"})

    def _evaluate_with(self, *, session: Session, **kwargs: Any) -> datetime | None:
        # Core imports stay here: this class is also imported by DAG files, which only need the SDK.
        from airflow.models import DagRun
        from airflow.utils.types import DagRunType
        from sqlalchemy import select

        row = session.execute(
            select(DagRun.run_type, DagRun.data_interval_end, DagRun.created_at).where(
                DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"]
            )
        ).one_or_none()
        if row is None or row.run_type != DagRunType.SCHEDULED or row.data_interval_end is None:
            return None
        deadline = row.data_interval_end + timedelta(days=get_settings().publish_deadline_days)
        if row.created_at is not None and row.created_at >= deadline:
            log.info(
                "%s: no publish deadline for %s, created %s after its deadline %s (deployed late)",
                kwargs["dag_id"],
                kwargs["run_id"],
                row.created_at.isoformat(),
                deadline.isoformat(),
            )
            return None
        return row.data_interval_end


def deadline_alert(settings: Settings | None = None) -> DeadlineAlert | None:
    """Alert when a half-year's run has not published its marts N days after the cut-off.

    N is ``DXW_PUBLISH_DEADLINE_DAYS``; 0 turns the alert off (returns ``None``).
    """
    settings = settings or get_settings()
    days = settings.publish_deadline_days
    if days <= 0:
        return None
    return DeadlineAlert(
        reference=DagRunDataIntervalEndDeadline(),
        interval=timedelta(days=days),
        callback=AsyncCallback(publish_deadline_missed, kwargs={"days": days}),
        name=f"Marts published within {days} days of the cut-off",
    )


async def publish_deadline_missed(context: Mapping[str, Any] | None = None, days: int | None = None) -> None:
    """Deadline Alert callback, run by the triggerer: alert that the marts are late."""
    settings = get_settings()
    alert = _deadline_missed_alert(context or {}, days, settings)
    # The triggerer runs all triggers on one event loop: blocking network I/O would stall them.
    await asyncio.to_thread(send_alert, alert, settings)


def _deadline_missed_alert(context: Mapping[str, Any], days: int | None, settings: Settings) -> Alert:
    """The alert for the simple context a Deadline Alert callback gets (``dag_run``, ``deadline``)."""
    tz = ZoneInfo(settings.timezone)
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    dag_id = dag_run.get("dag_id") or "?"
    run_id = dag_run.get("dag_run_id")
    cutoff = _local(dag_run.get("data_interval_end"), tz)
    late = f"{days} days after the cut-off" if days is not None else "by the deadline"
    lines = [
        f"dxw: the marts of DAG {dag_id} for the period ending {cutoff} are not published {late}.",
        f"Deadline: {_local(deadline.get('deadline_time'), tz)}",
        f"Run: {run_id} (state: {dag_run.get('state', '?')})",
        *_period_lines(dag_run, tz),
    ]
    error = f"marts not published {late}"
    return Alert(f"[dxw] {dag_id}: marts not published {late}", "\n".join(lines), dag_id, None, run_id, error)


def _tries(ti: object) -> str:
    try_number = getattr(ti, "try_number", None)
    max_tries = getattr(ti, "max_tries", None)
    if not isinstance(try_number, int):
        return ""
    if isinstance(max_tries, int):
        return f" (try {try_number} of {max_tries + 1})"
    return f" (try {try_number})"


def _period_lines(source: Mapping[str, Any], tz: ZoneInfo) -> list[str]:
    start, end = source.get("data_interval_start"), source.get("data_interval_end")
    if start is not None and end is not None:
        return [f"Data interval: {_local(start, tz)} – {_local(end, tz)}"]
    if (logical_date := source.get("logical_date")) is not None:
        return [f"Logical date: {_local(logical_date, tz)}"]
    return []


def _local(value: object, tz: ZoneInfo) -> str:
    """A timestamp (datetime or ISO string, as Airflow hands them out) in the platform's time zone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        # Airflow keeps UTC throughout; a naive value can only be UTC.
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    return "?" if value is None else str(value)


def _describe_error(error: object) -> str | None:
    if error is None or error == "":
        return None
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    else:
        text = str(error)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _without_secrets(url: str) -> str:
    """A webhook URL fit for logs: chat webhooks carry their token in the path or the query."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else f"{parts.hostname}"
    return f"{parts.scheme}://{host}/…"


def _scrub(message: str, url: str | None) -> str:
    """``message`` without the webhook's path and query (requests quotes them in its errors)."""
    if not url:
        return message
    parts = urlsplit(url)
    for secret in (f"{parts.path}?{parts.query}", parts.path, parts.query, url):
        if secret.strip("/?"):
            message = message.replace(secret, "/…")
    return message
