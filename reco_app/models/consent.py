from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ConsentRecordQuerySet(models.QuerySet["ConsentRecord"]):
    def for_user(self, user: object) -> ConsentRecordQuerySet:
        return self.filter(user=user)

    def for_subjects(self, subjects: list[str]) -> ConsentRecordQuerySet:
        return self.filter(subject__in=subjects)


class ConsentRecord(models.Model):
    """Proof of a consent decision: who, what, when, which policy version, how."""

    class Method(models.TextChoices):
        BANNER = "banner", _("consent banner")
        WITHDRAWAL = "withdrawal", _("one-click withdrawal")
        LOGIN = "login", _("decision carried over at login")
        SIGNAL = "signal", _("browser privacy signal (GPC/DNT)")
        COOKIE_SETTINGS = "cookie_settings", _("in the shop's cookie settings")
        ADMIN = "admin", _("recorded by staff")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reco_consent_records",
    )
    subject = models.CharField(_("subject"), max_length=128, blank=True)
    purpose = models.CharField(_("purpose"), max_length=32, default="personalisation")
    granted = models.BooleanField(_("granted"))
    policy_version = models.CharField(_("policy version"), max_length=32, blank=True)
    method = models.CharField(_("how"), max_length=16, choices=Method.choices)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    objects = models.Manager.from_queryset(ConsentRecordQuerySet)()

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="reco_consent_user_ts"),
            models.Index(fields=["subject"], name="reco_consent_subject"),
        ]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "refused"
        return f"{self.subject or self.user_id}: {self.purpose} {verb} ({self.method}, {self.created_at:%Y-%m-%d})"
