"""The privacy holders this app registers (``reco_app.privacy.register``): events, consent
records, cached recommendations and cached state, each with its export and its erasure."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import models, transaction

from reco_app import cache, conf, privacy
from reco_app.models import ConsentRecord, Event
from reco_app.models.events import ANONYMOUS_PREFIX


def _fields(model: type[models.Model]) -> tuple[str, ...]:
    """Every stored column of ``model`` (``user_id`` for a foreign key)."""
    return tuple(f.attname for f in model._meta.concrete_fields)


#: every column of an event: an access request gets all of them
EVENT_FIELDS = _fields(Event)
CONSENT_FIELDS = _fields(ConsentRecord)


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _theirs(subjects: list[str]) -> models.Q:
    """Rows under their subject keys that no other account is tied to, and the rows tied to
    their accounts by the user column (under a customer key the account no longer has: a
    renamed user; never those of another account that has that key now)."""
    users = [u.pk for u in _users(subjects)]
    return (models.Q(subject__in=subjects) & (models.Q(user__isnull=True) | models.Q(user__in=users))) | models.Q(
        user__in=users
    )


def _events(subjects: list[str]) -> Any:
    """Their events (:func:`_theirs`)."""
    return Event.objects.filter(_theirs(subjects))


def count_events(subjects: list[str]) -> int:
    return int(_events(subjects).count())


def export_events(subjects: list[str]) -> list[dict[str, Any]]:
    rows = _events(subjects).order_by("timestamp", "id").values(*EVENT_FIELDS)
    return [_json(row) for row in rows]


def erase_events(subjects: list[str]) -> int:
    count, _ = _events(subjects).delete()
    return count


def _consent_qs(subjects: list[str]) -> Any:
    """Their consent records: those tied to their accounts, and, under their subject keys,
    those tied to no account — for a person with an account only their visitors' (a
    customer key's record without an account is that of an account since deleted: a
    refusal kept as proof, another person's if the key has been given to someone else)."""
    users = [u.pk for u in _users(subjects)]
    if not users:
        return ConsentRecord.objects.filter(subject__in=subjects, user__isnull=True)
    visitors = [s for s in subjects if s.startswith(ANONYMOUS_PREFIX)]
    return ConsentRecord.objects.filter(models.Q(user__in=users) | models.Q(subject__in=visitors, user__isnull=True))


def export_consent(subjects: list[str]) -> list[dict[str, Any]]:
    rows = _consent_qs(subjects).order_by("created_at", "id").values(*CONSENT_FIELDS)
    return [_json(row) for row in rows]


def erase_consent(subjects: list[str]) -> int:
    """Grants are deleted; refusals that still stand are kept, as the proof that the refusal
    is honoured. A refusal a later grant overrode goes with the grants: kept, it would become
    the account's latest decision and turn personalisation off on all their devices after an
    erasure that refused nothing."""
    records = _consent_qs(subjects)
    doomed = models.Q(granted=True)
    for user_pk in set(records.exclude(user=None).values_list("user", flat=True)):
        grant = ConsentRecord.objects.filter(user=user_pk, granted=True).first()  # the latest
        if grant is not None:
            doomed |= models.Q(user=user_pk) & (
                models.Q(created_at__lt=grant.created_at) | models.Q(created_at=grant.created_at, id__lt=grant.pk)
            )
    deleted, _ = ConsentRecord.objects.filter(pk__in=records.filter(doomed).values("pk")).delete()
    return deleted


def export_cached(subjects: list[str]) -> dict[str, Any]:
    """The cached entries computed for them (recommendation lists, segment keys), as they
    are in the shared cache now."""
    seconds = int(conf.get("CACHE_TIMEOUT"))
    return {
        "kept": (
            f"Recommendation lists and segment lists computed for these subjects, and the copy of their recent events "
            f"that the product-view writer keeps for their next list, are cached for at most {seconds} seconds after "
            "they were computed, and deleted on erasure. A web process may keep a copy of a list in its memory for as "
            "long; after an erasure it is never served again."
        ),
        "entries": [
            {"subject": subject, "key": key, "value": _json(value)}
            for subject in subjects for key, value in cache.subject_entries(subject).items()
        ],
    }


def erase_cached(subjects: list[str]) -> int:
    """Move their namespaces now (nothing cached before is read from here on), and once the
    erasure has committed delete their namespace keys and then their cached entries (every
    holder has bumped them by then; a request that read their data before the commit can
    only have cached it under a version that is never current again)."""
    from reco_app.erasure import CacheUnavailable

    # an unreachable cache fails the erasure (nothing erased, try again; the tasks retry), but
    # where nothing can retry it (privacy.best_effort) the erasure goes on without it
    try:
        cache.bump_many((f"{cache.SUBJECT_NS}{s}" for s in subjects), strict=not privacy.best_effort.get())
    except CacheUnavailable:
        # a cache refusing writes (out of memory) may still delete: what is cached for them
        # goes now all the same (recomputed from their data while it is there: harmless)
        cache.purge_subjects(subjects, _state_keys(subjects, decisions=False))
        raise
    found = cache.count_subject_entries(subjects)

    def purge() -> None:
        # (not the accounts' cached consent decisions: their records' deletion has cached the
        # decision as it now stands, which a request that read the old one must not replace)
        cache.purge_subjects(subjects, _state_keys(subjects, decisions=False))

    transaction.on_commit(purge)
    return found


def _users(subjects: list[str]) -> list[Any]:
    from reco_app.adapter import user_for_subject

    return [u for s in subjects if not s.startswith(ANONYMOUS_PREFIX) and (u := user_for_subject(s))]


def _state_keys(subjects: list[str], *, decisions: bool = True) -> list[str]:
    """Cache keys of their per-subject state that are known without an index: the live
    segment state, the "suppressed" flag and the version it stands at, the version the view
    writer's copy of their history stands at, and (with ``decisions``) the cached consent
    decision of their account."""
    from reco_app.consent.backends import account_decision_key
    from reco_app.segments.live.state import _state_key

    keys = [_state_key(s) for s in subjects]
    keys += [k for s in subjects for k in (*cache.suppressed_keys(s), cache.history_keys(s)[1])]
    if decisions:
        keys += [account_decision_key(u.pk) for u in _users(subjects)]
    return list(dict.fromkeys(keys))


def export_cached_state(subjects: list[str]) -> dict[str, Any]:
    """Per-subject state reco_app keeps in the cache: the live-segment state (the session of
    a pending cart, live memberships with their expiry, the newest session), the cached
    consent decision of their account and the cached "suppressed" flag."""
    from reco_app.consent.backends import account_decision_key
    from reco_app.segments.live import LOOKBACK, load_state

    live = {}
    for subject in subjects:
        state = load_state(subject)
        if state is not None:
            live[subject] = {
                "cart_session": state.cart_session,
                "memberships": {k: {"id": pk, "expires_at": _json(exp)} for k, (pk, exp) in state.members.items()},
                "session": state.session,
            }
    suppressed = {s: cache.get(cache.suppressed_keys(s)[0]) for s in subjects}
    decisions = {str(u.pk): cache.get(account_decision_key(u.pk)) for u in _users(subjects)}
    return {
        "kept": (
            f"The live-segment state is cached for at most {int(LOOKBACK.total_seconds())} seconds after the last "
            "evaluation; the consent decision and the suppressed flag for at most "
            f"{int(conf.get('CACHE_TIMEOUT'))} seconds. All are deleted on erasure."
        ),
        "live_segment_state": live,
        "consent_decision": {k: v for k, v in decisions.items() if v is not None},
        "suppressed_flag": {k: v for k, v in suppressed.items() if v is not None},
    }


def erase_cached_state(subjects: list[str]) -> int:
    """Deleted now (and again with the cached entries once the erasure has committed)."""
    keys = _state_keys(subjects)
    try:
        found = len(cache.get_cache().get_many(keys))
    except Exception:  # noqa: BLE001
        found = 0
    cache.delete(*keys)
    return found


def register_holders() -> None:
    privacy.register("events", export=export_events, erase=erase_events)
    privacy.register("consent_records", export=export_consent, erase=erase_consent)
    privacy.register("cached_recommendations", export=export_cached, erase=erase_cached)
    privacy.register("cached_state", export=export_cached_state, erase=erase_cached_state)
