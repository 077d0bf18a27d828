"""Registry of personal data holders, so export and erasure reach every one of them.

Each area that stores something about a shopper registers a holder::

    privacy.register("segments", export=export_memberships, erase=erase_memberships)

``export(subjects)`` returns JSON-serialisable data; ``erase(subjects)`` deletes (or
excludes) it and returns a count; an optional ``prepare(subjects)`` runs before the erasure
takes its lock (slow reads that need no lock, such as model artefacts, belong there). ``subjects`` is the list of subject keys of one person
(their customer key and the ``anon:<visitor id>`` keys joined to it).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import transaction

Exporter = Callable[[list[str]], Any]
Eraser = Callable[[list[str]], int]
Preparer = Callable[[list[str]], None]


@dataclass(frozen=True)
class Holder:
    name: str
    export: Exporter
    erase: Eraser
    prepare: Preparer | None = None


_holders: dict[str, Holder] = {}


def register(name: str, *, export: Exporter, erase: Eraser, prepare: Preparer | None = None) -> None:
    _holders[name] = Holder(name, export, erase, prepare)


def holders() -> list[Holder]:
    return list(_holders.values())


def export_subjects(subjects: list[str]) -> dict[str, Any]:
    from reco_app.tracking import buffer

    buffer.flush()  # the product views this process has not written yet (VIEW_BUFFER_SECONDS)
    return {h.name: h.export(subjects) for h in holders()}


def erase_subjects(
    subjects: list[str], *, skip: tuple[str, ...] = (), wait: bool = True, cache_required: bool | None = None,
) -> dict[str, int]:
    """Erase the subjects' data from every holder but those named in ``skip`` (a withdrawal
    of consent handles events itself and keeps the consent records), in one transaction (a
    holder may defer cache work until it has committed, with ``transaction.on_commit``).

    The transaction (on the database reco_app's models are written to) holds the erasure
    lock and records an erasure marker per subject, so that no job that read the shopper
    before stores them again (:mod:`reco_app.erasure`). The lock waits at most
    ``ERASURE_LOCK_TIMEOUT`` seconds for running job writes, then raises
    :class:`reco_app.erasure.ErasureBusy` (nothing erased). Called inside a transaction of
    yours, the lock is held until that one commits: call it before writing any reco_app
    rows there, and commit soon.

    ``wait=False`` erases without the lock (nothing waits): a job writing at that moment
    may store what it read before, until its next run; used only when the locked erasure
    was busy and no Celery worker can retry it (:func:`reco_app.consent.service.forget`).
    Holders then do what they can (:data:`best_effort`): an unreachable cache is logged.
    Otherwise (or with ``cache_required=True``) an erasure that cannot reach the shared
    cache to invalidate the shoppers' cached lists raises
    :class:`reco_app.erasure.CacheUnavailable` (nothing erased); ``cache_required=False``
    erases all the same (the last retry of a task)."""
    from reco_app import erasure
    from reco_app.tracking import buffer

    buffer.flush()  # the product views this process has not written yet: erased with the rest
    active = [h for h in holders() if h.name not in skip]
    for h in active:
        if h.prepare is not None:
            h.prepare(subjects)  # before the lock: jobs and live evaluations are not held up by it
    token = best_effort.set(not (wait if cache_required is None else cache_required))
    try:
        with transaction.atomic(using=erasure.database()):
            if wait:
                erasure.lock_exclusive()
            erasure.record(subjects)
            return {h.name: h.erase(subjects) for h in active}
    finally:
        best_effort.reset(token)


#: inside :func:`erase_subjects` with ``wait=False`` (no worker can retry it): a holder does
#: what it can, and logs what it cannot (an unreachable cache); otherwise such a holder
#: raises :class:`reco_app.erasure.CacheUnavailable` and nothing is erased
best_effort: ContextVar[bool] = ContextVar("reco_erasure_best_effort", default=False)
