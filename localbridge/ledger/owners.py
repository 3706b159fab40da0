"""Who holds a ledger: each process that opened it, and whether it is still alive.

Several processes may share one ledger file: a ``run`` that drives the
schedules and, beside it, ``invoke``, ``replay``, ``dlq redrive`` or ``serve``.
Each registers itself (``claim``) with a random token, its PID, its host and
the start time of that PID, and stamps the attempts it opens with its token.
A start then recovers only the attempts whose owner is gone, and a second
``run`` on a ledger a live ``run`` drives is refused.

An owner is alive when, on this host, its PID runs and started when the
recorded one did (so a recycled PID is not mistaken for it); an owner on
another host (a container sharing the file) is alive while its lease, renewed
by a thread every ``LEASE_RENEW_S``, has not run out. Liveness is real time,
never the runtime's (possibly virtual) clock.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.instants import display_instant, format_instant, parse_instant
from localbridge.ticks import AttemptOutcome, TickState

LEASE = timedelta(seconds=60)
LEASE_RENEW_S = 15.0


class LedgerBusyError(Exception):
    """Another live process drives the ledger's schedules."""


@dataclass(frozen=True)
class Owner:
    token: str
    pid: int
    host: str
    process_start: str
    """The PID's start time as the kernel counts it ("" where unknown)."""
    drives: bool
    """Fires the schedules (``run``): one at a time per ledger."""
    started_at: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {display_instant(self.started_at)}"


def process_start(pid: int) -> str:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``); "" elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces; the fields after it do not.
    return stat.rsplit(")", 1)[1].split()[19]


def this_process(drives: bool) -> Owner:
    pid = os.getpid()
    now = datetime.now(UTC)
    return Owner(uuid.uuid4().hex, pid, socket.gethostname(), process_start(pid), drives, now)


def is_alive(owner: Owner, lease_until: datetime) -> bool:
    if owner.host != socket.gethostname():
        return lease_until > datetime.now(UTC)
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return owner.process_start in ("", process_start(owner.pid))


def live_owners(db: sqlite3.Connection) -> list[Owner]:
    """The owners still alive; rows of those gone are removed (call in a transaction)."""
    rows = db.execute(
        "SELECT token, pid, host, process_start, drives, started_at, lease_until FROM owners"
    ).fetchall()
    alive: list[Owner] = []
    gone: list[Owner] = []
    for row in rows:
        owner = Owner(row[0], row[1], row[2], row[3], bool(row[4]), parse_instant(row[5]))
        (alive if is_alive(owner, parse_instant(row[6])) else gone).append(owner)
    db.executemany("DELETE FROM owners WHERE token = ?", [(owner.token,) for owner in gone])
    return alive


def claim(db: sqlite3.Connection, owner: Owner, ledger: Path) -> None:
    """Register ``owner``; refuse a second live driver (call in a transaction)."""
    if owner.drives:
        for other in live_owners(db):
            if other.drives and other.token != owner.token:
                raise LedgerBusyError(
                    f"{ledger} is driven by another `localbridge run` ({other.describe()}); "
                    "stop that one first, or give this one its own --ledger"
                )
    db.execute(
        "INSERT INTO owners (token, pid, host, process_start, drives, started_at, lease_until) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            owner.token,
            owner.pid,
            owner.host,
            owner.process_start,
            int(owner.drives),
            format_instant(owner.started_at),
            format_instant(datetime.now(UTC) + LEASE),
        ),
    )


def renew(db: sqlite3.Connection, token: str) -> None:
    db.execute(
        "UPDATE owners SET lease_until = ? WHERE token = ?",
        (format_instant(datetime.now(UTC) + LEASE), token),
    )


class LeaseKeeper:
    """Renews an owner's lease from a daemon thread until stopped."""

    def __init__(self, renew_now: Callable[[], None]) -> None:
        self._renew_now = renew_now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="localbridge-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(LEASE_RENEW_S):
            try:
                self._renew_now()
            except sqlite3.Error:
                continue  # the next renewal tries again; the lease has room for it

    def stop(self) -> None:
        self._stop.set()


def recover_orphaned(db: sqlite3.Connection, stamp: str) -> int:
    """Close the open attempts of owners that are gone; their ticks become pending again.

    Returns how many ticks were recovered (call in a transaction).
    """
    live = [owner.token for owner in live_owners(db)]
    marks = ", ".join("?" for _ in live)
    orphaned = f"outcome IS NULL AND (owner IS NULL OR owner NOT IN ({marks}))"
    ticks = db.execute(f"SELECT DISTINCT tick_id FROM attempts WHERE {orphaned}", live).fetchall()
    db.execute(
        "UPDATE attempts SET outcome = ?, ended_at = ?, error_type = ?, error_message = ? "
        f"WHERE {orphaned}",
        (
            AttemptOutcome.INTERRUPTED.value,
            stamp,
            "Interrupted",
            "localbridge stopped while this attempt ran",
            *live,
        ),
    )
    cursor = db.executemany(
        "UPDATE ticks SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
        [(TickState.PENDING.value, stamp, row[0], TickState.RUNNING.value) for row in ticks],
    )
    return cursor.rowcount
