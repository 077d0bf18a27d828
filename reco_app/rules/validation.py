"""Validation of a merchandising rule, with messages a merchandiser can act on.

``Rule.clean()`` calls :func:`validate_rule`, so the admin form shows these errors next
to the offending fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from reco_app import conf

if TYPE_CHECKING:
    from reco_app.models.rules import Rule

NEEDS_CONDITION = {"boost", "bury", "exclude", "filter"}


def placement_limit(placement: str) -> int:
    """Highest position a rule may pin at in this placement."""
    limits: dict[str, Any] = conf.get("RULES_PLACEMENT_LIMITS") or {}
    if placement in limits:
        return int(limits[placement])
    # The serving area's placement definitions, when present: {"name": {"max_limit": n}} or {"name": n}.
    spec = (conf.get_config().get("PLACEMENTS") or {}).get(placement)
    if isinstance(spec, int):
        return spec
    if isinstance(spec, dict):
        for key in ("max_limit", "limit"):
            if spec.get(key):
                return int(spec[key])
    return int(conf.get("RULES_MAX_PIN_POSITION"))


def _overlap(a: list[str], b: list[str]) -> bool:
    """Two scope lists overlap; an empty list means "everywhere"."""
    if not a or not b:
        return True
    return bool({x.lower() for x in a} & {x.lower() for x in b})


def conflicting_pins(rule: Rule) -> list[Rule]:
    """Enabled pin rules at the same position, pinning another product, in an overlapping scope and time."""
    from reco_app.models.rules import Rule as RuleModel

    if not (rule.enabled and rule.action == RuleModel.Action.PIN and rule.position):
        return []
    others = RuleModel.objects.enabled().filter(action=RuleModel.Action.PIN, position=rule.position)
    if rule.pk:
        others = others.exclude(pk=rule.pk)
    found = []
    for other in others:
        same_product = bool(rule.pin_product_key) and other.pin_product_key == rule.pin_product_key
        if same_product:
            continue
        if not all(_overlap(getattr(rule, f), getattr(other, f)) for f in RuleModel.SCOPE_FIELDS):
            continue
        starts_before_other_ends = other.ends_at is None or rule.starts_at is None or rule.starts_at < other.ends_at
        other_starts_before_end = rule.ends_at is None or other.starts_at is None or other.starts_at < rule.ends_at
        if starts_before_other_ends and other_starts_before_end:
            found.append(other)
    return found


def validate_rule(rule: Rule) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        add("ends_at", _("The end must be after the start."))
    if rule.price_min is not None and rule.price_max is not None and rule.price_min > rule.price_max:
        add("price_max", _("“Price up to” is below “price from”: no product could match."))
    if rule.stock_min is not None and rule.stock_max is not None and rule.stock_min > rule.stock_max:
        add("stock_max", _("“Stock at most” is below “stock at least”: no product could match."))
    if rule.launched_after and rule.launched_before and rule.launched_before <= rule.launched_after:
        add("launched_before", _("“Launched before” must be after “launched after”."))

    action = rule.action
    if action in NEEDS_CONDITION and not rule.has_condition():
        add(
            "__all__",
            _("A %(action)s rule needs a condition (category, brand, tag, price, stock, launch date or products).")
            % {"action": action},
        )
    if action in ("boost", "bury"):
        if rule.factor is None or rule.factor < 1:
            add("factor", _("Use a factor of 1 or more (1 = no change); a %(action)s divides or multiplies by it.") % {"action": action})
        if rule.additive is None or rule.additive < 0:
            add("additive", _("Use a positive amount (0 = no change)."))
        if rule.factor == 1 and rule.additive == 0:
            add("factor", _("Set a factor above 1 or an additive amount, otherwise the rule changes nothing."))
    if action == "cap":
        if not rule.cap_count:
            add("cap_count", _("How many products per brand or category at most?"))
        if not rule.cap_by:
            add("cap_by", _("Cap per brand or per category?"))
    if action == "pin":
        _validate_pin(rule, add)
    return errors


def _validate_pin(rule: Rule, add: Any) -> None:
    from reco_app.models import CatalogItem

    if not rule.position:
        add("position", _("A pin needs a position (1 = first)."))
    else:
        for placement in rule.placements or [""]:
            limit = placement_limit(placement)
            if rule.position > limit:
                where = _("placement “%(p)s”") % {"p": placement} if placement else _("any placement")
                add(
                    "position",
                    _("Position %(pos)s is beyond the %(limit)s products %(where)s shows.")
                    % {"pos": rule.position, "limit": limit, "where": where},
                )
    if not rule.pin_product_key and not rule.has_condition():
        add("pin_product_key", _("Choose the product to pin, or a condition to pick the best matching product."))
    elif rule.pin_product_key and not CatalogItem.objects.filter(product_key=rule.pin_product_key).exists():
        add("pin_product_key", _("No product with key “%(key)s” in the catalog.") % {"key": rule.pin_product_key})
    for other in conflicting_pins(rule):
        add(
            "position",
            _("Conflicts with rule “%(name)s”, which pins another product at position %(pos)s in an overlapping scope and time.")
            % {"name": other.name, "pos": rule.position},
        )
