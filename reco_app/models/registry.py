from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelVersionQuerySet(models.QuerySet["ModelVersion"]):
    def active(self) -> ModelVersion | None:
        return self.filter(status=ModelVersion.Status.ACTIVE).order_by("-activated_at", "-id").first()

    def ready(self) -> ModelVersionQuerySet:
        return self.filter(status__in=[ModelVersion.Status.READY, ModelVersion.Status.ACTIVE])


class ModelVersion(models.Model):
    """One trained model: its artifact in storage, its parameters, data window and metrics."""

    class Status(models.TextChoices):
        TRAINING = "training", _("training")
        READY = "ready", _("ready")
        ACTIVE = "active", _("active")
        FAILED = "failed", _("failed")
        RETIRED = "retired", _("retired")

    class Kind(models.TextChoices):
        FULL = "full", _("full retrain")
        INCREMENTAL = "incremental", _("incremental update")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.TRAINING)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.FULL)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent version"), null=True, blank=True, on_delete=models.SET_NULL
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    evaluation = models.JSONField(_("evaluation table"), default=dict, blank=True)
    data_from = models.DateTimeField(_("data from"), null=True, blank=True)
    data_until = models.DateTimeField(_("data until"), null=True, blank=True)
    artifact_name = models.CharField(_("artifact name"), max_length=255, blank=True)
    sha256 = models.CharField(_("artifact sha256"), max_length=64, blank=True)
    n_users = models.PositiveIntegerField(_("shoppers"), default=0)
    n_items = models.PositiveIntegerField(_("products"), default=0)
    n_interactions = models.PositiveIntegerField(_("interactions"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    #: when retention deleted the artefact files (the row stays for its metrics)
    pruned_at = models.DateTimeField(_("files pruned at"), null=True, blank=True)

    objects = models.Manager.from_queryset(ModelVersionQuerySet)()

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="reco_modelversion_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"v{self.pk} ({self.get_status_display()})"
