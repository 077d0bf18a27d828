"""Signal receivers: identity resolution at login, purchases from ``order_placed``.

Connected in ``RecoAppConfig.ready()`` via :func:`connect`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models.signals import class_prepared, post_delete, post_save, pre_delete

from reco_app import cache
from reco_app.models import ConsentRecord, Event
from reco_app.models.events import PERSONAL_BASES
from reco_app.signals import order_placed

logger = logging.getLogger(__name__)


def merge_visitor_history(user: Any, visitor_id: str) -> int:
    """Re-key a visitor's consented anonymous events to the user's customer key.

    Events are moved, not copied, so the history joins exactly once however often the
    visitor logs in; the visitor id stays on the rows so later exports find them.

    The move holds the erasure lock shared, as the jobs do (:mod:`reco_app.erasure`): an
    erasure of the account waits for it to commit, and so deletes the joined events too.
    While an erasure is running, nothing is joined (the request path does not wait): the
    history stays with the visitor and joins at their next login.
    """
    from reco_app import erasure
    from reco_app.adapter import subject_of

    if not visitor_id:
        return 0
    anon = f"anon:{visitor_id}"
    key = subject_of(user)
    with transaction.atomic(using=erasure.database()):
        if not erasure.try_lock_shared():
            return 0
        moved = Event.objects.filter(subject=anon, consent__in=PERSONAL_BASES).update(subject=key, user=user)
    if moved:
        cache.bump_many([f"subject:{anon}", f"subject:{key}"])
    return moved


def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    from reco_app.consent.service import record
    from reco_app.tracking.context import get_context

    ctx = get_context(request)
    ctx.reread_consent()  # (read before the login, it was the anonymous visitor's)
    request.reco_signing_in = True  # (what the browser decided before is its own: consent_gone)
    if not ctx.may_track:
        return
    if ctx.known_visitor_id:
        from reco_app.tracking import buffer

        buffer.flush()  # the visitor's product views this process has not written yet join too
        merge_visitor_history(user, ctx.known_visitor_id)
    decision = str(ctx.consent.decision)
    latest = ConsentRecord.objects.for_user(user).values_list("granted", flat=True).first()
    if decision == "granted" and latest is not True:
        record(user, ctx.subject, granted=True, method=ConsentRecord.Method.LOGIN)


def on_logout(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """A decline this browser made while signed in and this request is the first to see
    (django-cookie-consent's page, then "Sign out"): applied for the account, which is
    still signed in here. Then consent read earlier in this request, the account's, is read
    again for whoever uses the browser now (the account's tracking of it ends, see
    ``update_cookie``)."""
    if request is None:
        return
    from reco_app.consent.service import consent_gone
    from reco_app.tracking.context import get_context

    ctx = get_context(request)
    # (a decline, or a privacy signal where it refuses: what update_cookie would apply)
    if (ctx.known_visitor_id and not ctx.is_bot and not ctx.consent.allowed
            and not getattr(request, "reco_denied_by_account", False)):
        consent_gone(request, had_cookie=True)
    ctx.reread_consent()


#: stands for a quantity that is missing or no number: the event validation refuses it
_NOT_A_NUMBER = "not a number"


def _number(value: Any, *, required: bool = False) -> Any:
    """``value`` as a float when it is a number (int, Decimal, "2"); ``None`` when it is
    ``None`` and not required; else something the event validation refuses."""
    if value is None:
        return _NOT_A_NUMBER if required else None
    if isinstance(value, bool):
        return _NOT_A_NUMBER
    try:
        return float(value)
    except (TypeError, ValueError, ArithmeticError):
        return _NOT_A_NUMBER


def _lines(lines: Any) -> Iterator[Any]:
    """The order's lines as given; ``lines`` that are no sequence at all are one refused
    line, and lines that fail part-way end there (logged): those read before are kept."""
    if lines is None:
        return
    from contextlib import nullcontext

    from django.db import connection

    try:
        # (a queryset runs its query here: in a transaction, a savepoint keeps a failing one
        # from breaking it)
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            iterator = iter(lines)
    except Exception as exc:  # no sequence, or one failing as it starts (a queryset's query)
        if not isinstance(exc, TypeError):
            logger.exception("reco_app: reading the lines of an order failed")
        yield None
        return
    while True:
        try:
            line = next(iterator)
        except StopIteration:
            return
        except Exception:  # the shop's own lines failed: what came before stands
            logger.exception("reco_app: reading the lines of an order failed")
            yield None
            return
        yield line


def on_order_placed(sender: Any, request: Any = None, order: Any = None, lines: Any = (), user: Any = None, **kwargs: Any) -> list[Event]:
    """One ``purchase`` event per order line (value = quantity) for the ordering visitor.

    Sent after the order is committed, so it must not raise: a malformed line (not a
    (product, quantity, unit price) triple, no quantity, a quantity or price that is no
    number) goes to the validation as it is and is dropped and counted there, as with
    ``track()`` (consent first, then "invalid")."""
    if request is None:
        return []
    from reco_app.tracking.service import track_many

    order_ref = str(getattr(order, "pk", "") or "")
    items: list[tuple[str, Any, float | None, dict[str, Any]]] = []
    for line in _lines(lines):
        try:
            product, quantity, unit_price = line
        except Exception:  # noqa: BLE001 - not a triple (or one failing as it is read): refused
            items.append(("purchase", None, _NOT_A_NUMBER, {}))  # type: ignore[arg-type]  # refused
            continue
        price = _number(unit_price)
        items.append(("purchase", product, _number(quantity, required=True), {"order": order_ref, "unit_price": price}))
    return track_many(request, items)


def forget_cached_decision(sender: Any, instance: ConsentRecord, **kwargs: Any) -> None:
    """A consent record was written or deleted: the account's cached decision goes at once
    (for this transaction's own reads), and once committed the decision as it then stands is
    cached, so that a request which read the records before the commit and caches what it
    read afterwards (``cache.add``) cannot bring the old decision back: also "unknown",
    for an account an erasure left without records. Once per account and transaction,
    however many of its records it writes or deletes."""
    from django.db import connections

    from reco_app.consent.backends import account_decision_key

    user_pk = instance.user_id  # type: ignore[attr-defined]
    if user_pk is None:
        return
    cache.delete(account_decision_key(user_pk))
    alias = instance._state.db or "default"
    refresh = partial(_cache_decision, user_pk)
    pending = connections[alias].run_on_commit  # (empty outside a transaction: runs at once)
    funcs: list[Any] = [entry[1] for entry in pending]  # (savepoint ids, function, robust)
    if not any(getattr(func, "func", None) is _cache_decision and func.args == refresh.args for func in funcs):
        transaction.on_commit(refresh, using=alias)


def _cache_decision(user_pk: Any) -> None:
    from reco_app.consent.backends import account_decision_key, latest_decision

    cache.set(account_decision_key(user_pk), latest_decision(user_pk))


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deleted account takes its data with it, as an erasure request would: the events
    under its customer key (imported ones too, which the user column does not tie to it) and
    every derived holder (segment memberships, the model vectors, cached lists), and its
    consent grants. If a job holds the erasure lock past ``ERASURE_LOCK_TIMEOUT``, the
    deletion does not wait a second time: the events and the grants go at once, and the
    derived data once the lock is free (as for a withdrawal of consent)."""
    from django.db import connections

    from reco_app.consent import privacy
    from reco_app.consent.service import erase_derived_later
    from reco_app.erasure import ErasureBusy, database

    alias = database()
    subjects = privacy.subjects_for_user(instance)
    # the deletion's own block (Django deletes a queryset's users in one): once one of them
    # found the lock busy, the others do not wait ERASURE_LOCK_TIMEOUT again, one by one
    blocks = connections[alias].atomic_blocks
    deletion = blocks[-1] if blocks else None
    try:
        if getattr(deletion, "reco_erasure_busy", False):
            raise ErasureBusy
        privacy.erase(subjects)
    except ErasureBusy:
        if deletion is not None:
            deletion.reco_erasure_busy = True  # type: ignore[attr-defined]
        with transaction.atomic(using=alias):
            privacy.erase_events(subjects)
            privacy.erase_consent(subjects)
            transaction.on_commit(partial(erase_derived_later, subjects), using=alias)


def _watch_user_deletion(model: Any) -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    if model is user_model or (model._meta.proxy and issubclass(model, user_model)):
        pre_delete.connect(on_user_deleted, sender=model, dispatch_uid=f"reco_app_user_deleted_{id(model)}")


def _class_prepared(sender: Any, **kwargs: Any) -> None:
    from django.apps import apps

    if apps.ready:
        _watch_user_deletion(sender)


def connect() -> None:
    from django.apps import apps

    # the user model and its proxies (a proxy's delete() names the proxy as the sender),
    # also those defined later
    for model in apps.get_models():
        _watch_user_deletion(model)
    class_prepared.connect(_class_prepared, dispatch_uid="reco_app_user_proxies")
    post_save.connect(forget_cached_decision, sender=ConsentRecord, dispatch_uid="reco_app_consent_saved")
    post_delete.connect(forget_cached_decision, sender=ConsentRecord, dispatch_uid="reco_app_consent_deleted")
    user_logged_in.connect(on_login, dispatch_uid="reco_app_identity_resolution")
    user_logged_out.connect(on_logout, dispatch_uid="reco_app_sign_out")
    order_placed.connect(on_order_placed, dispatch_uid="reco_app_order_purchases")
    from reco_app.consent.privacy import register_holders

    register_holders()
