"""Privacy rights: access (export), erasure and retention, over the holder registry.

The person is named by a user or a subject key; :func:`subjects_for_user` finds every
subject key their data may sit under (their customer key and the anonymous visitor ids
joined to it at login), :func:`expand_subjects` does the same for subject keys picked in the
admin. Each area registers its holder with ``reco_app.privacy.register``; this module
registers events, consent records, cached recommendations and cached state.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from reco_app import cache, conf, privacy
from reco_app.models import ConsentRecord, Event
from reco_app.models.events import ANONYMOUS_PREFIX, visitor_subject

PURGE_CHUNK = 5_000


def subjects_for_user(user: Any) -> list[str]:
    from reco_app.adapter import subject_of

    return _subjects_for_key(subject_of(user), user.pk)


def _persons_events(key: str, user_pk: Any = None) -> models.Q:
    """The events of the person with this customer key (and account): those under the key
    that no other account is tied to, and every event tied to the account, under whatever key
    (a renamed user's earlier one). A key an account had before another one got it names both
    people's rows: each account reaches only its own."""
    if user_pk is None:
        return models.Q(subject=key)
    return (models.Q(subject=key) & (models.Q(user__isnull=True) | models.Q(user=user_pk))) | models.Q(user=user_pk)


def _subjects_for_key(key: str, user_pk: Any = None) -> list[str]:
    """A customer key, the earlier keys of its account (a renamed user's, unless another
    account has that key now: its derived data is that account's), and the
    ``anon:<visitor id>`` subjects joined to them (their events carry the visitor ids they
    were recorded under)."""
    from reco_app.adapter import user_for_subject

    keys: set[str] = set()
    visitors: set[str] = set()
    rows = Event.objects.filter(_persons_events(key, user_pk)).order_by().values_list("subject", "visitor_id").distinct()
    for subject, visitor in rows:
        if visitor:
            visitors.add(visitor_subject(visitor))
        if subject.startswith(ANONYMOUS_PREFIX):
            visitors.add(subject)
        elif subject and subject != key:
            keys.add(subject)
    earlier = [k for k in sorted(keys) if (owner := user_for_subject(k)) is None or owner.pk == user_pk]
    return [key, *earlier, *sorted(visitors)]


def _only_account(key: str) -> Any | None:
    """The one account the events and consent records under a customer key no user has (any
    more) are tied to: a renamed user's earlier key (None when none, or several)."""
    from django.contrib.auth import get_user_model

    pks = set(Event.objects.filter(subject=key).exclude(user=None).order_by().values_list("user", flat=True).distinct()[:2])
    pks |= set(ConsentRecord.objects.filter(subject=key).exclude(user=None).order_by().values_list("user", flat=True)
               .distinct()[:2])
    if len(pks) != 1:
        return None
    return get_user_model()._default_manager.filter(pk=pks.pop()).first()


def _person(key: str) -> list[str]:
    """Every subject key of the person a customer key names."""
    from reco_app.adapter import user_for_subject

    user = user_for_subject(key) or _only_account(key)
    if user is None:
        return _subjects_for_key(key)
    subjects = subjects_for_user(user)
    return subjects if key in subjects else [*subjects, key]


def _visitors_person(visitor_id: str) -> list[str]:
    """The subjects of the one person a visitor's history was joined to: the account its
    events are tied to (whatever key they sit under: a renamed account's earlier one may be
    another account's now), else the one customer key they sit under; none when several
    (a shared device: expanding would reach other people)."""
    from django.contrib.auth import get_user_model

    joined = Event.objects.filter(visitor_id=visitor_id).exclude(subject="").exclude(subject__startswith=ANONYMOUS_PREFIX)
    accounts = list(joined.exclude(user=None).order_by().values_list("user", flat=True).distinct()[:2])
    loose = set(joined.filter(user=None).order_by().values_list("subject", flat=True).distinct()[:2])
    if len(accounts) == 1:
        user = get_user_model()._default_manager.filter(pk=accounts[0]).first()
        subjects = subjects_for_user(user) if user is not None else []
        return subjects if loose <= set(subjects) else []  # (another customer key too: a shared device)
    if not accounts and len(loose) == 1:
        return _person(loose.pop())
    return []


def expand_subjects(subjects: Iterable[str], users: Iterable[Any] = ()) -> list[str]:
    """Every subject key of the people named by ``subjects`` (and ``users``): what the admin
    actions export and erase, so they cover what ``reco_privacy --user`` and the "Your data"
    page cover.

    * a customer key (as the shop knows it: one longer than the ``subject`` columns is
      shortened as every capture path shortens it) → :func:`subjects_for_user` of its user
      (the key, the account's earlier keys and the anonymous visitor ids joined to them);
      for a key no user has (any more), of the one account its rows are tied to (a renamed
      user's earlier key), else the key and its joined visitor ids;
    * ``anon:<visitor id>`` → itself, and, when that visitor's events now sit under exactly
      one customer key (they logged in: their anonymous history was joined to it), that
      customer's subjects too: it is the same person. A visitor id found under several
      customer keys (a shared device) is not expanded, as that would reach other people:
      erase each customer by their own key.
    """
    from reco_app.adapter import customer_subject

    out: list[str] = []
    for user in users:
        out.extend(subjects_for_user(user))
    for subject in dict.fromkeys(s for s in subjects if s):
        if subject.startswith(ANONYMOUS_PREFIX):
            out.extend(_visitors_person(subject[len(ANONYMOUS_PREFIX):]))
            out.append(subject)
            continue
        out.extend(_person(customer_subject(subject)))
    return sorted(dict.fromkeys(out), key=lambda s: (s.startswith(ANONYMOUS_PREFIX), s))  # customer keys first


def export(subjects: list[str]) -> dict[str, Any]:
    return {
        "subjects": subjects,
        "exported_at": timezone.now().isoformat(),
        "data": privacy.export_subjects(subjects),
    }


def erase(subjects: list[str]) -> dict[str, int]:
    """Erase everything of these subjects, in one transaction; their cached entries and
    cache namespaces go once it has committed (see :func:`erase_cached`)."""
    with transaction.atomic():
        return privacy.erase_subjects(subjects)


# --- holders -------------------------------------------------------------------------------
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
            f"Recommendation lists and segment lists computed for these subjects are cached for at most {seconds} "
            "seconds after they were computed, and deleted on erasure. A web process may keep a copy in its memory for "
            "as long; after an erasure it is never served again."
        ),
        "entries": [
            {"subject": subject, "key": key, "value": _json(value)}
            for subject in subjects for key, value in cache.subject_entries(subject).items()
        ],
    }


def erase_cached(subjects: list[str]) -> int:
    """Move their namespaces now (nothing cached before is read from here on), and once the
    erasure has committed delete their cached entries and then their namespace keys (every
    holder has bumped them by then; a request that read their data before the commit can
    only have cached it under a version that is never current again)."""
    from reco_app.erasure import CacheUnavailable

    versions = _subject_versions(subjects)
    # an unreachable cache fails the erasure (nothing erased, try again; the tasks retry), but
    # where nothing can retry it (privacy.best_effort) the erasure goes on without it
    try:
        cache.bump_many((f"{cache.SUBJECT_NS}{s}" for s in subjects), strict=not privacy.best_effort.get())
    except CacheUnavailable:
        # a cache refusing writes (out of memory) may still delete: what is cached for them
        # goes now all the same (recomputed from their data while it is there: harmless)
        cache.purge_subjects(subjects, _state_keys(subjects, [versions], decisions=False))
        raise
    found = cache.count_subject_entries(subjects)

    def purge() -> None:
        after = _subject_versions(subjects)
        # (not the accounts' cached consent decisions: their records' deletion has cached the
        # decision as it now stands, which a request that read the old one must not replace)
        cache.purge_subjects(subjects, _state_keys(subjects, [versions, after], decisions=False))

    transaction.on_commit(purge)
    return found


def _subject_versions(subjects: list[str]) -> dict[str, int]:
    """Their namespace versions as stored (missing ones left out: reading must not create)."""
    keys = {s: cache.make_key("ns", f"{cache.SUBJECT_NS}{s}") for s in subjects}
    try:
        found = cache.get_cache().get_many(list(keys.values()))
    except Exception:  # noqa: BLE001 - cache down: nothing to find
        return {}
    return {s: int(found[k]) for s, k in keys.items() if found.get(k) is not None}


def _users(subjects: list[str]) -> list[Any]:
    from reco_app.adapter import user_for_subject

    return [u for s in subjects if not s.startswith(ANONYMOUS_PREFIX) and (u := user_for_subject(s))]


def _state_keys(subjects: list[str], versions: list[dict[str, int]], *, decisions: bool = True) -> list[str]:
    """Cache keys of their per-subject state that are known without an index: the live
    segment state, the "suppressed" flag (at the given namespace versions) and (with
    ``decisions``) the cached consent decision of their account."""
    from reco_app.consent.backends import account_decision_key
    from reco_app.segments.live.state import _state_key

    keys = [_state_key(s) for s in subjects]
    keys += [cache.make_key("suppressed", v[s], s) for v in versions for s in subjects if s in v]
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
    versions = _subject_versions(subjects)
    suppressed = {s: cache.get(cache.make_key("suppressed", v, s)) for s, v in versions.items()}
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
    keys = _state_keys(subjects, [_subject_versions(subjects)])
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


# --- retention -----------------------------------------------------------------------------
def purge_events(days: int | None = None, *, now: dt.datetime | None = None) -> int:
    """Delete events older than ``days`` (default RETENTION_DAYS), in chunks. ``days``
    must be at least 1: 0 or less would delete today's events too (a typo, not a policy)."""
    days = conf.get("RETENTION_DAYS") if days is None else days
    if days < 1:
        raise ValueError(f"a retention of {days} days would delete every event; give at least 1")
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    total = 0
    while True:
        ids = list(Event.objects.before(cutoff).order_by().values_list("id", flat=True)[:PURGE_CHUNK])
        if not ids:
            return total
        count, _ = Event.objects.filter(id__in=ids).delete()
        total += count
