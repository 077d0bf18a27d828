from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SuppressedSubject(models.Model):
    """A shopper who asked to be erased: serving ignores their vector in the active model
    until a retrain (which no longer sees their events) drops it."""

    subject = models.CharField(_("subject"), max_length=128, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed subject")
        verbose_name_plural = _("suppressed subjects")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject
