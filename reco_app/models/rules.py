"""Merchandising rules edited in the admin and applied by ``reco_app.rules.engine``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RuleQuerySet(models.QuerySet["Rule"]):
    def enabled(self) -> RuleQuerySet:
        return self.filter(enabled=True)

    def live_at(self, when: dt.datetime) -> RuleQuerySet:
        """Enabled rules whose schedule includes ``when`` (start inclusive, end exclusive)."""
        return self.enabled().filter(
            models.Q(starts_at__isnull=True) | models.Q(starts_at__lte=when),
            models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=when),
        )


class Rule(models.Model):
    """One merchandising rule: an action, a product condition, a scope and a schedule."""

    class Action(models.TextChoices):
        PIN = "pin", _("pin a product at a position")
        BOOST = "boost", _("boost (raise scores)")
        BURY = "bury", _("bury (lower scores)")
        EXCLUDE = "exclude", _("exclude matching products")
        FILTER = "filter", _("filter (only show matching products)")
        CAP = "cap", _("cap (at most N per brand or category)")

    class CapBy(models.TextChoices):
        BRAND = "brand", _("brand")
        CATEGORY = "category", _("category")

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    priority = models.IntegerField(
        _("priority"), default=100, help_text=_("Lower numbers run first; among conflicting pins the lower number wins.")
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)

    # --- action parameters ------------------------------------------------------------
    position = models.PositiveSmallIntegerField(
        _("pin position"), null=True, blank=True, help_text=_("1 = first slot of the placement.")
    )
    pin_product_key = models.CharField(
        _("pinned product key"),
        max_length=64,
        blank=True,
        help_text=_("Product to pin. Empty: the best-scored candidate matching the condition."),
    )
    factor = models.FloatField(
        _("factor"),
        default=1.0,
        help_text=_("Boost multiplies scores by this, bury divides them by it (use a value above 1)."),
    )
    additive = models.FloatField(
        _("additive amount"),
        default=0.0,
        help_text=_("Boost adds this to scores, bury subtracts it (use a positive value)."),
    )
    cap_count = models.PositiveSmallIntegerField(_("cap: at most"), null=True, blank=True)
    cap_by = models.CharField(_("cap: per"), max_length=16, choices=CapBy.choices, blank=True)

    # --- condition on products (all given criteria must hold; lists match any entry) ----
    categories = models.JSONField(_("categories"), default=list, blank=True)
    brands = models.JSONField(_("brands"), default=list, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    price_min = models.FloatField(_("price from"), null=True, blank=True)
    price_max = models.FloatField(_("price up to"), null=True, blank=True)
    stock_min = models.IntegerField(_("stock at least"), null=True, blank=True)
    stock_max = models.IntegerField(_("stock at most"), null=True, blank=True)
    launched_after = models.DateTimeField(_("launched after"), null=True, blank=True)
    launched_before = models.DateTimeField(_("launched before"), null=True, blank=True)
    launched_within_days = models.PositiveIntegerField(
        _("launched within (days)"), null=True, blank=True, help_text=_("New arrivals: launched in the last N days.")
    )
    product_keys = models.JSONField(_("hand-picked products"), default=list, blank=True)

    # --- scope ------------------------------------------------------------------------
    placements = models.JSONField(_("placements"), default=list, blank=True, help_text=_("Empty: every placement."))
    segments = models.JSONField(_("segments"), default=list, blank=True, help_text=_("Empty: every shopper."))
    devices = models.JSONField(_("devices"), default=list, blank=True, help_text=_("Empty: every device."))
    page_categories = models.JSONField(
        _("page categories"), default=list, blank=True, help_text=_("Empty: every page.")
    )
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True, help_text=_("Exclusive."))

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = models.Manager.from_queryset(RuleQuerySet)()

    CONDITION_FIELDS = (
        "categories", "brands", "tags", "price_min", "price_max", "stock_min", "stock_max",
        "launched_after", "launched_before", "launched_within_days", "product_keys",
    )  # fmt: skip
    SCOPE_FIELDS = ("placements", "segments", "devices", "page_categories")

    class Meta:
        verbose_name = _("merchandising rule")
        verbose_name_plural = _("merchandising rules")
        ordering = ["priority", "id"]
        indexes = [models.Index(fields=["enabled", "priority"], name="reco_rule_enabled_prio")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True)
                | models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="reco_rule_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def has_condition(self) -> bool:
        return any(getattr(self, f) not in (None, "", []) for f in self.CONDITION_FIELDS)

    def is_live(self, when: dt.datetime | None = None) -> bool:
        when = when or timezone.now()
        return (
            self.enabled
            and (self.starts_at is None or self.starts_at <= when)
            and (self.ends_at is None or when < self.ends_at)
        )

    def clean(self) -> None:
        from reco_app.rules.validation import validate_rule

        errors = validate_rule(self)
        if errors:
            raise ValidationError(errors)

    def as_dict(self) -> dict[str, Any]:
        """Plain, picklable values (the engine caches these; the audit trail diffs them)."""
        skip = {"id", "created_at", "updated_at"}
        return {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields if f.attname not in skip}


class RuleChange(models.Model):
    """Audit trail: who created, changed or deleted a rule, when, and what changed."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        CHANGED = "changed", _("changed")
        DELETED = "deleted", _("deleted")

    rule = models.ForeignKey(
        Rule, verbose_name=_("rule"), null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    rule_name = models.CharField(_("rule name"), max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    diff = models.JSONField(_("changes"), default=dict, blank=True, help_text=_("field: [before, after]"))
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("rule change")
        verbose_name_plural = _("rule changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["rule", "at"], name="reco_rulechange_rule_at")]

    def __str__(self) -> str:
        return f"{self.rule_name} {self.kind} at {self.at:%Y-%m-%d %H:%M}"
