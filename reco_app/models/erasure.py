from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ErasureMarker(models.Model):
    """A shopper was erased: kept for a day, so that a job which read their data before the
    erasure (the batch segments, a queued live evaluation) does not store it again.

    The primary key is the erasure's place in the order erasures committed (erasures take
    an exclusive lock, :mod:`reco_app.erasure`); a job remembers the highest one before it
    reads and skips the subjects of every newer marker when it stores.
    """

    subject = models.CharField(_("subject"), max_length=128, db_index=True, blank=True)
    erased_at = models.DateTimeField(_("erased at"), db_index=True)

    class Meta:
        verbose_name = _("erasure marker")
        verbose_name_plural = _("erasure markers")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.subject or '(pruned)'} erased {self.erased_at:%Y-%m-%d %H:%M}"
