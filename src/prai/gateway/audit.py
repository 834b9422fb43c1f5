"""Durable, asynchronous audit writing: a per-process journal plus batched database inserts.

Guarantee: the gateway calls :meth:`AuditWriter.write` just before it hands the last byte
of an answer to the server; it appends the record to this process's journal file
(``os.write`` on an ``O_APPEND`` descriptor, a few microseconds, no fsync). So every client
that received a complete answer has a journaled record. From then on the record survives
the process being killed (SIGKILL included: the data is in the kernel's page cache). A
background thread fsyncs the journal and copies records to the database in batches (every
``flush_interval_s``, at most ``batch_max`` per transaction); on power loss at most the
last interval is lost. At start-up every journal whose owner is gone (its ``flock`` is
free) is replayed into the database; records carry a unique ``rid``, so replay never
duplicates.

Database outages: records stay in the journal (and in memory) and the thread retries
every second; requests keep flowing. :meth:`AuditWriter.full` turns true when
``max_pending`` records wait — the gateway then answers 503 until the database is back,
so no record is ever dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from prai.db.audit_log import append_audit

log = logging.getLogger("prai.gateway.audit")

_ROTATE_BYTES = 8 * 1024 * 1024
#: one journal line per record: compact JSON, UTF-8 (built once: ``json.dumps`` with options
#: builds a new encoder on every call)
_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _open_journal(directory: Path) -> tuple[Path, int]:
    path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return path, fd


def _read_journal(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break  # torn last line: the process died mid-write, before the response ended
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def replay_orphans(engine: Engine, directory: Path, *, batch_max: int = 500) -> int:
    """Copy records from journals of dead processes into the database; returns records read."""
    n = 0
    for path in sorted(directory.glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live gateway owns it
            records = _read_journal(path)
            for i in range(0, len(records), batch_max):
                append_audit(engine, records[i : i + batch_max])
            n += len(records)
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return n


class AuditWriter:
    """Journal-then-batch audit writer (one per gateway process).

    Args:
        engine: the gateway database.
        journal_dir: directory shared by the gateway processes of one host.
        batch_max: records per database transaction.
        flush_interval_s: seconds between flushes.
        max_pending: records held while the database is unreachable before :meth:`full`.
    """

    def __init__(
        self,
        engine: Engine,
        journal_dir: Path,
        *,
        batch_max: int = 500,
        flush_interval_s: float = 0.2,
        max_pending: int = 100_000,
    ) -> None:
        self.engine = engine
        self.journal_dir = journal_dir
        self.batch_max = batch_max
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        journal_dir.mkdir(parents=True, exist_ok=True)
        self.replayed = replay_orphans(engine, journal_dir, batch_max=batch_max)
        self._path, self._fd = _open_journal(journal_dir)
        self._size = 0
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.written = 0  # records stored, in the order they were journaled
        self.journaled = 0
        self.failures = 0
        self._outage = 0
        self._thread = threading.Thread(target=self._run, name="prai-audit", daemon=True)
        self._thread.start()

    def write(self, record: dict[str, Any]) -> None:
        """Journal one record now (one ``write`` system call); the database gets it within
        ``flush_interval_s``."""
        line = (_LINE.encode(record) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            self.journaled += 1
            self._size += len(line)
            self._pending.append(record)
            if self._idle.is_set():  # clear() takes the event's condition lock: only when needed
                self._idle.clear()

    def marks(self) -> tuple[int, int]:
        """(records journaled, records stored) by this writer so far: the record that was
        the N-th journaled is in the database once the second number reaches N."""
        return self.journaled, self.written

    @property
    def pending(self) -> int:
        """Records journaled but not yet in the database."""
        return len(self._pending)

    def full(self) -> bool:
        """True when ``max_pending`` records wait for the database."""
        return len(self._pending) >= self.max_pending

    def _flush_once(self, at_most: int) -> int:
        """Store up to ``min(at_most, batch_max)`` of the oldest pending records in one
        transaction; returns how many were stored (0 after a failure)."""
        with self._lock:
            batch = self._pending[: min(at_most, self.batch_max)]
            fd = self._fd
            if not batch:  # under the lock: a record journaled now clears it after this
                self._idle.set()
                return 0
        os.fsync(fd)
        try:
            try:
                append_audit(self.engine, batch, dedupe=False)
            except IntegrityError:  # a retried batch that was committed after all
                append_audit(self.engine, batch, dedupe=True)
        except Exception as exc:  # keep the journal; retry next round
            self.failures += 1
            self._outage += 1
            if self._outage == 1 or self._outage % 60 == 0:
                log.warning(
                    "audit: database write failed (%s); %d records wait in %s",
                    type(exc).__name__,
                    len(self._pending),
                    self._path,
                )
            self._stop.wait(min(1.0, self.flush_interval_s * 5))
            return 0
        self.written += len(batch)
        if self._outage:
            log.warning("audit: database reachable again after %d failed writes", self._outage)
            self._outage = 0
        with self._lock:
            del self._pending[: len(batch)]
            if not self._pending:
                os.ftruncate(self._fd, 0)
                self._size = 0
                self._idle.set()
            elif self._size > _ROTATE_BYTES:
                self._rotate_locked()
        return len(batch)

    def _rotate_locked(self) -> None:
        old_path, old_fd = self._path, self._fd
        self._path, self._fd = _open_journal(self.journal_dir)
        data = b"".join(
            (_LINE.encode(r) + "\n").encode() for r in self._pending
        )
        os.write(self._fd, data)
        os.fsync(self._fd)
        self._size = len(data)
        old_path.unlink(missing_ok=True)
        os.close(old_fd)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.flush_interval_s)
            # Drain only what was pending when the round began: records that arrive during
            # the round wait for the next one, so a busy gateway writes a few large batches
            # per interval instead of a stream of small transactions (each costs a round
            # trip, a head-row lock and a commit).
            with self._lock:
                left = len(self._pending)
            while left > 0:
                before = self.failures
                left -= self._flush_once(left)
                if self.failures != before or self._stop.is_set():
                    break
            with self._lock:
                if not self._pending:
                    self._idle.set()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every journaled record is in the database; False on timeout."""
        return self._idle.wait(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush, stop the thread and remove the (empty) journal."""
        self.flush(timeout_s)
        self._stop.set()
        self._thread.join(timeout_s)
        with self._lock:
            if not self._pending:
                with contextlib.suppress(OSError):
                    self._path.unlink()
            os.close(self._fd)


__all__ = ["AuditWriter", "replay_orphans"]
