"""Rule lifecycle: audit trail, cache invalidation and the ``rules_changed`` signal.

Imported from ``RecoAppConfig.ready()`` so the receivers below are connected.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django.core.signals import request_finished
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from reco_app import cache
from reco_app.models.rules import Rule, RuleChange
from reco_app.rules import cache_stats
from reco_app.signals import rules_changed


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field that differs (JSON-ready)."""
    before, after = before or {}, after or {}
    return {
        field: [_plain(before.get(field)), _plain(after.get(field))]
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    }


def record_change(rule: Rule, user: Any, before: dict[str, Any] | None, *, deleted: bool = False) -> RuleChange | None:
    """Write one audit row; ``before`` is ``rule.as_dict()`` read before the change (None = created)."""
    if deleted:
        kind, changes = RuleChange.Kind.DELETED, diff(before or rule.as_dict(), None)
    elif before is None:
        kind, changes = RuleChange.Kind.CREATED, diff(None, rule.as_dict())
    else:
        kind, changes = RuleChange.Kind.CHANGED, diff(before, rule.as_dict())
        if not changes:
            return None
    return RuleChange.objects.create(
        rule=None if deleted else rule,
        rule_name=rule.name,
        user=user if getattr(user, "pk", None) else None,
        kind=kind,
        diff=changes,
    )


def invalidate(rule: Rule | None = None) -> None:
    """Make every server drop its cached rules and the recommendation lists built with them.

    ``rules_changed`` is the invalidation (its serving receiver bumps the "rules" namespace);
    the bump is repeated after commit, as a request may have re-read the old rules in between.
    """
    rules_changed.send(sender=Rule, rule=rule)
    transaction.on_commit(lambda: cache.bump("rules"))


@receiver(post_save, sender=Rule, dispatch_uid="reco_rules_saved")
def _saved(sender: Any, instance: Rule, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        invalidate(instance)


@receiver(post_delete, sender=Rule, dispatch_uid="reco_rules_deleted")
def _deleted(sender: Any, instance: Rule, **kwargs: Any) -> None:
    invalidate(instance)


request_finished.connect(cache_stats.on_request_finished, dispatch_uid="reco_cache_stats_flush")
