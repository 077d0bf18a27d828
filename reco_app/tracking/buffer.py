"""Product views written behind the page (``VIEW_BUFFER_SECONDS``), in batches.

The middleware's automatic product view is the one event every consenting shopper's product
page stores. Written in the request it costs the page an ``INSERT`` and a cache round trip
(:func:`reco_app.tracking.service.store`). With ``VIEW_BUFFER_SECONDS`` above 0 the page
only adds the validated row to this process's buffer; a thread of the process writes what
waits at most that many seconds later (at once when ``VIEW_BUFFER_SIZE`` rows wait), as one
batch through the same :func:`~reco_app.tracking.service.store`: one ``INSERT`` (or
``COPY``), one cache round trip for every shopper's namespace bump, the withdrawal marks and
the live-segment queue, ``event_stored`` once for the batch.

The shoppers' lists that requests compute meanwhile go the same way (:func:`add_list`):
each request keeps its list in its own process at once and leaves the copy for the shared
cache to the writer, which sends every list waiting in one round trip. Another process
asking for such a list before then computes it itself (a cache miss, never a stale list:
lists are tagged with their shopper's namespace version, :mod:`reco_app.serving.local_cache`).

With ``VIEW_BUFFER_HISTORIES`` the writer also keeps the batch's shoppers' histories in the
shared cache for their next list (:mod:`reco_app.serving.histories`), once the batch has
committed.

What a shopper notices: their "for you" reflects a view once it is written, up to
``VIEW_BUFFER_SECONDS`` later, and an export taken in that moment in another process
misses it. What it costs: a process killed without its exit handlers (``SIGKILL``, a
crash) loses the views it held.

Privacy is kept the way it is for any request still under way:

* a **withdrawal** marks its shoppers before deleting their events
  (:mod:`reco_app.consent.late`); each buffered row carries when its request read consent,
  so the batch's store removes the rows of a shopper who withdrew after that, and the sweeps
  do for anonymous browsers (the marks outlast the buffer by minutes);
* an **erasure** is met as the jobs meet it (:mod:`reco_app.erasure`): the batch notes the
  newest erasure marker before its first row is buffered, and its writing transaction takes
  the erasure lock shared and leaves out the shoppers erased since (an erasure under way:
  the batch waits for the next flush);
* a withdrawal, an erasure, an export or a sign-in in this process first writes this
  process's buffer (:func:`flush`), so what they read or delete includes it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

from django.db import close_old_connections, connections, transaction

from reco_app import conf

logger = logging.getLogger(__name__)
#: rows kept when writing fails (the database down), beyond which the oldest are dropped
#: (counted as ``buffer_overflow``): a process must not grow without bound
MAX_KEPT_BATCHES = 20

_lock = threading.Lock()
_wake = threading.Condition(_lock)
_rows: list[Any] = []
#: tagged lists waiting for the shared cache: (key, value, subject, tag)
_lists: list[tuple[str, Any, str, int | None]] = []
_mark: list[int | None] = [None]  # the erasure marker noted before the batch's first row
_since = [0.0]  # when the oldest row waiting was buffered (time.monotonic())
_state: dict[str, Any] = {"pid": 0, "thread": None, "writing": False}


def enabled() -> bool:
    return float(conf.get("VIEW_BUFFER_SECONDS") or 0) > 0


def add(rows: list[Any]) -> None:
    """Buffer validated, unsaved rows (they are written within ``VIEW_BUFFER_SECONDS``)."""
    if not rows:
        return
    from reco_app import erasure

    with _lock:
        _forget_if_forked()
        needs_mark = _mark[0] is None
    # a batch's first rows: the newest erasure marker, noted before they join it (a query,
    # outside the lock); an erasure committed after this is seen when the batch is written.
    # (Rows that join a batch a flush emptied meanwhile have no mark: the flush then checks
    # every marker kept, leaving out more rather than less.)
    mark = erasure.mark() if needs_mark else None
    with _lock:
        if mark is not None and (_mark[0] is None or mark < _mark[0]):
            _mark[0] = mark
        first = not _rows and not _lists  # (lists waiting: the writer's interval runs already)
        if first:
            _since[0] = time.monotonic()
        _rows.extend(rows)
        _ensure_thread()
        # the writer waits for a first row, then for the interval or a full buffer: woken
        # only then (not once per view)
        if first or len(_rows) >= int(conf.get("VIEW_BUFFER_SIZE")):
            _wake.notify()


def add_list(key: str, value: Any, *, subject: str, tag: int | None = None) -> bool:
    """Leave a computed list's copy for the shared cache to the writer (sent with the next
    batch, in one round trip with the others waiting; a tagged one only if its tag is still
    current then); False when views are not written behind the page (the caller writes it
    now)."""
    if not enabled():
        return False
    with _lock:
        _forget_if_forked()
        first = not _rows and not _lists
        if first:
            _since[0] = time.monotonic()
        _lists.append((key, value, subject, tag))
        _ensure_thread()
        if first:
            _wake.notify()
    return True


def pending() -> int:
    """Rows this process holds, not written yet."""
    with _lock:
        return len(_rows) if _state["pid"] == os.getpid() else 0


def flush() -> int:
    """Write what this process holds now; returns the number of rows written. Safe to call
    from anywhere (a request, a command, a test); a failure keeps the rows for the next
    flush and is logged, never raised."""
    from reco_app import erasure
    from reco_app.tracking.dropped import count_dropped
    from reco_app.tracking.service import store

    with _lock:
        _forget_if_forked()
        rows, mark, lists = list(_rows), _mark[0], list(_lists)
        _rows.clear()
        _lists.clear()
        _mark[0] = None
    if lists:
        _send_lists(lists)
    if not rows:
        return 0
    alias = erasure.database()
    try:
        with transaction.atomic(using=alias):
            if not erasure.try_lock_shared():  # an erasure under way: after it has committed
                _keep(rows, mark)
                return 0
            erased = erasure.erased_since(mark or 0)
            kept = [row for row in rows if row.subject not in erased]
            if len(kept) < len(rows):
                count_dropped("erased", [row.event_type for row in rows if row.subject in erased])
            stored = store(kept)
            if stored.stored:
                # once committed and their namespaces bumped (store's own callback, which
                # runs first): their next list reads their history from the shared cache
                _keep_histories([row.subject for row in stored.stored], alias)
        return len(stored.stored)
    except Exception:
        logger.exception("reco_app: writing %d buffered product views failed; kept for the next flush", len(rows))
        _keep(rows, mark)
        if connections[alias].in_atomic_block:
            return 0
        connections[alias].close_if_unusable_or_obsolete()
        return 0


def _keep_histories(subjects: list[str], alias: str) -> None:
    from reco_app.serving import histories

    transaction.on_commit(lambda: histories.keep(subjects), using=alias)


def _send_lists(lists: list[tuple[str, Any, str, int | None]]) -> None:
    """The waiting lists, written to the shared cache together (a list lost to a failure is
    only computed again where it is asked for)."""
    from reco_app import cache

    cache.set_indexed_many(lists)


def _keep(rows: list[Any], mark: int | None) -> None:
    from reco_app.tracking.dropped import count_dropped

    limit = MAX_KEPT_BATCHES * int(conf.get("VIEW_BUFFER_SIZE"))
    with _lock:
        if not _rows:
            _since[0] = time.monotonic()
        _rows[:0] = rows  # before what arrived meanwhile, under the older of the two marks
        if mark is not None and (_mark[0] is None or mark < _mark[0]):
            _mark[0] = mark
        overflow = len(_rows) - limit
        dropped = _rows[:overflow] if overflow > 0 else []
        if dropped:
            del _rows[:overflow]
    if dropped:
        logger.error("reco_app: %d buffered product views dropped (the database could not be written)", len(dropped))
        count_dropped("buffer_overflow", [row.event_type for row in dropped])


def _forget_if_forked() -> None:
    """(Under the lock.) A process forked after buffering (gunicorn's --preload) starts
    empty: its parent's rows are the parent's to write."""
    pid = os.getpid()
    if _state["pid"] != pid:
        _state["pid"], _state["thread"] = pid, None
        _rows.clear()
        _lists.clear()
        _mark[0] = None


def _ensure_thread() -> None:
    """(Under the lock.) The writer thread of this process, started on first use."""
    thread = _state["thread"]
    if thread is not None and thread.is_alive():  # type: ignore[attr-defined]
        return
    thread = threading.Thread(target=_writer, name="reco-view-buffer", daemon=True)
    _state["thread"] = thread
    thread.start()


def _writer() -> None:
    """Write what waits once its oldest row has waited ``VIEW_BUFFER_SECONDS`` (at once when
    ``VIEW_BUFFER_SIZE`` rows wait). Its database connection is its own, handled as a
    request's (closed when ``CONN_MAX_AGE`` says)."""
    while True:
        with _lock:
            while not _rows and not _lists:
                _wake.wait()
            while (_rows or _lists) and len(_rows) < int(conf.get("VIEW_BUFFER_SIZE")):
                left = float(conf.get("VIEW_BUFFER_SECONDS")) - (time.monotonic() - _since[0])
                if left <= 0:
                    break
                _wake.wait(left)
            _state["writing"] = True
        try:
            written = flush()
        except Exception:  # (flush logs its own failures; the thread must live on)
            logger.exception("reco_app: the product-view writer failed")
            written = 0
        finally:
            close_old_connections()
            _state["writing"] = False
        if not written and pending():  # not written (the database down, an erasure under way): not in a loop
            time.sleep(min(max(float(conf.get("VIEW_BUFFER_SECONDS")), 0.1), 5.0))


def _flush_at_exit() -> None:
    if pending():
        try:
            flush()
        except Exception:  # noqa: BLE001 - the database may already be gone at exit
            logger.warning("reco_app: could not write %d buffered product views at exit", pending())


atexit.register(_flush_at_exit)
