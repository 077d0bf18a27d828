from __future__ import annotations

from typing import Any

import pytest

from reco_app.models import CatalogItem
from reco_app.models.rules import Rule
from tests.rules.helpers import ROWS


@pytest.fixture
def catalog_items(db: Any) -> None:
    """The helper catalog as CatalogItem rows (validation checks pinned keys against it)."""
    CatalogItem.objects.bulk_create(
        [CatalogItem(**{k: v for k, v in r.items() if k in {f.name for f in CatalogItem._meta.fields}}) for r in ROWS]
    )


@pytest.fixture
def make_rule(db: Any):  # type: ignore[no-untyped-def]
    """Create a rule through full_clean (as the admin would)."""

    def make(**fields: Any) -> Rule:
        fields.setdefault("name", f"rule {Rule.objects.count() + 1}")
        rule = Rule(**fields)
        rule.full_clean()
        rule.save()
        return rule

    return make


@pytest.fixture(autouse=True)
def fresh_rules_version() -> None:
    """Each test's database starts without rules, but the cache outlives the rollback:
    move the "rules" namespace on so no test reads rules cached by the previous one."""
    from reco_app import cache

    cache.bump("rules")
