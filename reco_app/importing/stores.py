"""Where parsed batches go: stored in this thread, or by parallel database connections.

On PostgreSQL, outside a surrounding transaction, several connections store batches at
once (each batch its own transaction): index maintenance, not parsing, is what an import
of millions of rows waits for, and it scales with the database's cores.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, Self

from django.db import connections

from reco_app.importing.writers import BatchWriter, EventRow, PostgresCopyWriter

Done = Callable[[Any, int], None]  # (batch, number stored)


class Batch(Protocol):
    rows: list[EventRow]


class SerialStore:
    """Store each batch in the calling thread, on the given writer."""

    def __init__(self, writer: BatchWriter, done: Done) -> None:
        self.writer, self.done = writer, done
        self.method = writer.method

    def __enter__(self) -> Self:
        self.writer.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.writer.__exit__(et, ev, tb)

    def submit(self, batch: Batch) -> None:
        self.done(batch, self.writer.write(batch.rows))


class ParallelStore:
    """Store batches on ``workers`` threads, each with its own connection to ``alias``.

    ``done`` is called (under a lock) as each batch commits. The first database error
    stops the import: later batches are not written, and it is raised from ``submit``
    or on leaving the ``with`` block.
    """

    method = "postgresql-copy-parallel"

    def __init__(self, alias: str, workers: int, done: Done) -> None:
        self.alias, self.done = alias, done
        self.lock = threading.Lock()
        self.batches: queue.Queue[Batch | None] = queue.Queue(maxsize=workers)
        self.error: BaseException | None = None
        self.threads = [threading.Thread(target=self._work, name=f"reco-import-{i}", daemon=True) for i in range(workers)]

    def __enter__(self) -> Self:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        for _ in self.threads:
            self.batches.put(None)
        for t in self.threads:
            t.join()
        if self.error is not None and ev is None:
            raise self.error

    def submit(self, batch: Batch) -> None:
        if self.error is not None:
            raise self.error
        self.batches.put(batch)

    def _fail(self, exc: BaseException) -> None:
        with self.lock:
            self.error = self.error or exc

    def _work(self) -> None:
        connection = connections[self.alias]  # this thread's own connection
        writer: PostgresCopyWriter | None = None
        try:
            try:
                writer = PostgresCopyWriter(connection).__enter__()
            except BaseException as exc:  # noqa: BLE001 - raised in the submitting thread
                self._fail(exc)
            # Keep taking batches after a failure so the submitting thread never blocks.
            while (batch := self.batches.get()) is not None:
                if writer is None or self.error is not None:
                    continue
                try:
                    stored = writer.write(batch.rows)
                    with self.lock:
                        self.done(batch, stored)
                except BaseException as exc:  # noqa: BLE001
                    self._fail(exc)
        finally:
            if writer is not None:
                try:
                    writer.__exit__(None, None, None)
                except Exception:  # noqa: BLE001, S110 - the temp table dies with the connection
                    pass
            connection.close()


def store_for(alias: str, workers: int, done: Done) -> SerialStore | ParallelStore:
    from reco_app.importing.writers import writer_for

    writer = writer_for(connections[alias])
    # Other connections cannot see (or join) a transaction already open on this one.
    if workers > 1 and isinstance(writer, PostgresCopyWriter) and not connections[alias].in_atomic_block:
        return ParallelStore(alias, workers, done)
    return SerialStore(writer, done)
