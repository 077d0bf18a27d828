from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DroppedEventCount(models.Model):
    """How many events were not stored, per day, reason and type — counts only, nothing personal."""

    day = models.DateField(_("day"))
    reason = models.CharField(_("reason"), max_length=32)  # no_consent, gpc, dnt, bot, invalid...
    event_type = models.CharField(_("event type"), max_length=32, blank=True)
    count = models.PositiveBigIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("dropped event count")
        verbose_name_plural = _("dropped event counts")
        ordering = ["-day", "reason", "event_type"]
        constraints = [
            models.UniqueConstraint(fields=["day", "reason", "event_type"], name="reco_dropped_unique_day_reason_type")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.reason} {self.event_type}: {self.count}"
