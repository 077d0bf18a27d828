"""Who a privacy request is about: every subject key a person's data may sit under.

:func:`subjects_for_user` finds their customer key and the anonymous visitor ids joined to
it at login; :func:`expand_subjects` does the same for subject keys picked in the admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from reco_app.models import ConsentRecord, Event
from reco_app.models.events import ANONYMOUS_PREFIX, visitor_subject


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
