"""Taking locks a BI session may hold: a bounded wait, said aloud, and retried.

A BI tool that leaves a transaction open on a mart holds an ``ACCESS SHARE`` lock until it
ends. DDL and the publish swap need ``ACCESS EXCLUSIVE``: a plain wait would hang the pipeline
silently and, queued behind the idle session, block every other reader too. So the pipeline's
DDL runs through :func:`bounded`: each attempt sets a short ``lock_timeout`` (readers queued
behind it wait at most that long), a refused attempt is rolled back whole, the sessions in the
way are logged, and the work is retried with backoff until ``DXW_LOCK_WAIT_SECONDS``. The
BI roles' own timeouts (``dxw.warehouse.roles``) are shorter than that wait, so an idle BI session can
delay a run but never fail it on a default install.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg

from dxw.errors import WarehouseError
from dxw.settings import Settings, get_settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Other sessions' granted locks on relations of these schemas are what a dxw DDL can wait for.
DXW_SCHEMAS = ("raw", "reference", "staging", "intermediate", "core", "marts_build", "marts", "marts_audit")

_HOLDERS = """
select distinct on (activity.pid)
    activity.pid, activity.usename, activity.state,
    extract(epoch from clock_timestamp() - coalesce(activity.state_change, activity.xact_start))::int,
    namespace.nspname || '.' || relation.relname, left(activity.query, 80)
from pg_locks as locks
join pg_stat_activity as activity on activity.pid = locks.pid
join pg_class as relation on relation.oid = locks.relation
join pg_namespace as namespace on namespace.oid = relation.relnamespace
where locks.granted and locks.pid <> pg_backend_pid() and namespace.nspname = any(%s)
order by activity.pid, relation.relname
"""


class LockWaitTimeout(WarehouseError):
    """The locks were not free within the configured wait; nothing of the work was done."""


@dataclass(frozen=True)
class Holder:
    """A session holding a lock on a dxw relation."""

    pid: int
    user: str
    state: str
    seconds: int
    relation: str
    query: str

    def __str__(self) -> str:
        return (
            f"pid {self.pid} ({self.user}, {self.state} for {self.seconds} s) holds {self.relation}: "
            f"{self.query!r}"
        )


def holders(conn: psycopg.Connection) -> list[Holder]:
    """Other sessions that hold a lock on a relation of dxw's schemas (outside a failed transaction)."""
    return [Holder(*row) for row in conn.execute(_HOLDERS, (list(DXW_SCHEMAS),)).fetchall()]


def bounded(
    conn: psycopg.Connection,
    what: str,
    work: Callable[[], T],
    settings: Settings | None = None,
) -> T:
    """Run ``work`` in a transaction of its own whose lock waits are bounded; retry when refused.

    ``conn`` must not be inside a transaction (an autocommit connection, or one idle): a refused
    attempt rolls back everything ``work`` did, and a retry inside an outer transaction would
    keep that transaction's locks while it waits. A deadlock is retried the same way.
    """
    settings = settings or get_settings()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError(f"{what}: bounded lock waits need a connection outside a transaction")
    deadline = time.monotonic() + settings.lock_wait_seconds
    attempt, pause = 0, 0.2
    while True:
        attempt += 1
        try:
            with conn.transaction():
                timeout = f"{settings.lock_timeout_ms}ms"
                conn.execute("select set_config('lock_timeout', %s, true)", (timeout,))
                return work()
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
            in_the_way = holders(conn)
            left = deadline - time.monotonic()
            reason = "deadlock" if isinstance(exc, psycopg.errors.DeadlockDetected) else "lock busy"
            sessions = "; ".join(str(h) for h in in_the_way) or "no session holds a lock any more"
            if left <= 0:
                raise LockWaitTimeout(
                    f"{what}: gave up after {settings.lock_wait_seconds:g} s ({attempt} attempts, {reason}); "
                    f"in the way: {sessions}. End those sessions (pg_terminate_backend) or raise "
                    "DXW_LOCK_WAIT_SECONDS; nothing was changed"
                ) from exc
            log.warning(
                "%s waits (%s, attempt %d, gives up in %.0f s): %s", what, reason, attempt, left, sessions
            )
            time.sleep(min(pause, max(left, 0.0)))
            pause = min(pause * 2, 5.0)
