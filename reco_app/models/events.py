from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from reco_app.adapter import SUBJECT_MAX


class EventType(models.TextChoices):
    PRODUCT_VIEW = "product_view", _("product view")
    SEARCH = "search", _("search")
    ADD_TO_CART = "add_to_cart", _("add to cart")
    REMOVE_FROM_CART = "remove_from_cart", _("remove from cart")
    WISHLIST_ADD = "wishlist_add", _("wishlist add")
    PURCHASE = "purchase", _("purchase")
    RATING = "rating", _("rating")
    REC_IMPRESSION = "rec_impression", _("recommendation impression")
    REC_CLICK = "rec_click", _("recommendation click")
    DWELL = "dwell", _("dwell time")


class ConsentBasis(models.TextChoices):
    """Why an event may be stored and used for personalisation."""

    GRANTED = "granted", _("explicit consent")
    OPT_OUT = "opt_out", _("no objection (opt-out regime)")
    IMPORTED = "imported", _("imported from the shop's own records")
    ANONYMISED = "anonymised", _("anonymised (no longer personal)")


PERSONAL_BASES = (ConsentBasis.GRANTED, ConsentBasis.OPT_OUT, ConsentBasis.IMPORTED)

#: Event types that say something about a shopper's taste: serving's shopper profile reads
#: only these, so only these invalidate the shopper's cached recommendations when stored
#: (impressions, searches, dwell times and cart removals do not).
TASTE_TYPES = frozenset({"product_view", "add_to_cart", "wishlist_add", "purchase", "rating", "rec_click"})

ANONYMOUS_PREFIX = "anon:"


def visitor_subject(visitor_id: str) -> str:
    """The subject key of an anonymous visitor (customer keys never carry this prefix)."""
    return f"{ANONYMOUS_PREFIX}{visitor_id}"


class EventQuerySet(models.QuerySet["Event"]):
    def consented(self) -> EventQuerySet:
        """Events that carry a basis for personalisation (training and serving use these)."""
        return self.filter(consent__in=PERSONAL_BASES).exclude(subject="")

    def since(self, when: dt.datetime) -> EventQuerySet:
        return self.filter(timestamp__gte=when)

    def before(self, when: dt.datetime) -> EventQuerySet:
        return self.filter(timestamp__lt=when)

    def of_types(self, types: Iterable[str]) -> EventQuerySet:
        return self.filter(event_type__in=list(types))

    def for_subject(self, subject: str) -> EventQuerySet:
        return self.filter(subject=subject)


class Event(models.Model):
    """One behavioural event. Pseudonymous: no IP address, no user agent, no names."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    # The shopper: a customer key (adapter.customer_key(user), or ``user_id`` of an
    # imported file) or ``anon:<visitor id>`` for an anonymous visitor; "" once anonymised.
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reco_events",
        db_index=False,  # partial index below: most events (imported, anonymous) have no user
    )
    visitor_id = models.CharField(_("visitor id"), max_length=64, blank=True)
    product_key = models.CharField(_("product key"), max_length=64, blank=True)
    event_type = models.CharField(_("event type"), max_length=32, choices=EventType.choices)
    value = models.FloatField(_("value"), null=True, blank=True)
    session_id = models.CharField(_("session id"), max_length=64, blank=True)
    context = models.JSONField(_("context"), default=dict, blank=True)
    consent = models.CharField(
        _("consent basis"), max_length=16, choices=ConsentBasis.choices, default=ConsentBasis.GRANTED
    )
    source = models.CharField(_("source"), max_length=16, blank=True)
    timestamp = models.DateTimeField(_("timestamp"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    objects = models.Manager.from_queryset(EventQuerySet)()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["subject", "timestamp"], name="reco_event_subject_ts"),
            models.Index(fields=["timestamp"], name="reco_event_ts"),
            models.Index(fields=["event_type", "timestamp"], name="reco_event_type_ts"),
            models.Index(fields=["product_key", "event_type"], name="reco_event_product_type"),
            # Partial: lookups are always by a non-empty value, and skipping the empty
            # ones keeps the indexes small and bulk imports fast.
            models.Index(fields=["visitor_id"], name="reco_event_visitor", condition=~models.Q(visitor_id="")),
            models.Index(fields=["session_id"], name="reco_event_session", condition=~models.Q(session_id="")),
            models.Index(fields=["user"], name="reco_event_user", condition=models.Q(user__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.product_key or ''} by {self.subject or '-'} at {self.timestamp:%Y-%m-%d %H:%M}"
