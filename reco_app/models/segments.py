"""Shopper segments: definitions, memberships (with when and why), daily sizes."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SegmentKind(models.TextChoices):
    RFM = "rfm", _("RFM (recency, frequency, monetary)")
    LIFECYCLE = "lifecycle", _("lifecycle stage")
    CLUSTER = "cluster", _("behavioural cluster")
    LIVE = "live", _("live (this session)")
    MANUAL = "manual", _("manual (merchandiser-defined)")


BATCH_KINDS = (SegmentKind.RFM, SegmentKind.LIFECYCLE, SegmentKind.CLUSTER, SegmentKind.MANUAL)


class Segment(models.Model):
    """A named group of shoppers. ``key`` is what rules and the model see ("rfm:champions")."""

    key = models.CharField(_("key"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=SegmentKind.choices)
    description = models.TextField(_("description"), blank=True, help_text=_("What these shoppers have in common, in plain words."))
    # Manual segments only: {"match": "all"|"any", "conditions": [{"field", "op", "value"}, ...]}.
    definition = models.JSONField(_("definition"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["kind", "key"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        _segments_changed()

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        result = super().delete(*args, **kwargs)
        _segments_changed()
        return result


def _segments_changed() -> None:
    """A segment was enabled, disabled, renamed or deleted: cached segment lists are stale."""
    from reco_app import cache

    cache.bump("segments")
    transaction.on_commit(lambda: cache.bump("segments"))


class MembershipQuerySet(models.QuerySet["SegmentMembership"]):
    def current(self, now: object = None) -> MembershipQuerySet:
        """Memberships in force now: enabled segment, not expired."""
        now = now or timezone.now()
        return self.filter(segment__enabled=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def expired(self, now: object = None) -> MembershipQuerySet:
        return self.filter(expires_at__lte=now or timezone.now())


class SegmentMembership(models.Model):
    """One shopper in one segment: when it was computed, why, and (live) until when."""

    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="memberships")
    subject = models.CharField(_("subject"), max_length=128)
    score = models.FloatField(_("score"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    objects = models.Manager.from_queryset(MembershipQuerySet)()

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        ordering = ["segment", "subject"]
        constraints = [models.UniqueConstraint(fields=["segment", "subject"], name="reco_segmember_unique")]
        indexes = [
            models.Index(fields=["subject"], name="reco_segmember_subject"),
            models.Index(fields=["expires_at"], name="reco_segmember_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} in {self.segment_id}"


class SegmentSizeSnapshot(models.Model):
    """Segment size on one day (the last batch run of the day wins)."""

    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField(_("day"))
    size = models.PositiveIntegerField(_("size"))

    class Meta:
        verbose_name = _("segment size snapshot")
        verbose_name_plural = _("segment size snapshots")
        ordering = ["segment", "-day"]
        constraints = [models.UniqueConstraint(fields=["segment", "day"], name="reco_segsize_unique")]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.day}: {self.size}"
