from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SuppressedSubject(models.Model):
    """An erased shopper whose vector may be in a kept model artefact: serving ignores it in
    the versions up to ``last_version`` (those trained, or being trained, when the erasure
    ran). Versions trained later know the shopper only from their new events, if any.

    The row is deleted once no kept artefact is that old (``reco_app.training.retention``).
    """

    subject = models.CharField(_("subject"), max_length=128, unique=True)
    created_at = models.DateTimeField(_("erased at"), auto_now_add=True)
    #: the highest ModelVersion id when the shopper was (last) erased
    last_version = models.PositiveIntegerField(_("applies to versions up to"), default=0)

    class Meta:
        verbose_name = _("suppressed subject")
        verbose_name_plural = _("suppressed subjects")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject
