"""What a ``purchase`` event is worth, as database expressions.

A purchase's ``value`` is the quantity bought (1 when absent). Its money, the line total,
is quantity × unit price; the unit price is ``context["unit_price"]`` when the event
carries a number there (``order_placed`` does; API clients may), else the product's
catalog price (``CatalogItem.price``), else 0. Both the dashboard and the segment
job (``reco_app.segments.history``) compute it in the database with these expressions.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.db import NotSupportedError
from django.db.models import Case, Expression, F, FloatField, Func, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from reco_app.models.catalog import CatalogItem
from reco_app.models.events import EventType

UNIT_PRICE_KEY = "unit_price"


class ContextNumber(Func):
    """``context[key]`` when it is a JSON number, else NULL.

    Anything else there (a string, ``null``, an object) reads as missing rather than
    failing a cast, so one odd event cannot break a query over all of them.
    """

    output_field = FloatField()
    sql_by_vendor: ClassVar[dict[str, str]] = {
        "postgresql": "(CASE WHEN jsonb_typeof({col} -> '{key}') = 'number' THEN ({col} ->> '{key}')::double precision END)",
        "sqlite": "(CASE WHEN json_type({col}, '$.{key}') IN ('integer', 'real') THEN CAST(json_extract({col}, '$.{key}') AS REAL) END)",
        "mysql": (
            "(CASE WHEN JSON_TYPE(JSON_EXTRACT({col}, '$.{key}')) IN ('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL')"
            " THEN JSON_EXTRACT({col}, '$.{key}') + 0e0 END)"
        ),
    }

    def __init__(self, key: str, field: str = "context") -> None:
        if not re.fullmatch(r"\w+", key):  # spelled into the SQL: a plain key only
            raise ValueError(f"not a plain JSON key: {key!r}")
        super().__init__(F(field))
        self.key = key

    def as_sql(self, compiler: Any, connection: Any, function: str | None = None, template: str | None = None, arg_joiner: str | None = None, **extra_context: Any) -> Any:
        sql = self.sql_by_vendor.get(connection.vendor)
        if sql is None:
            raise NotSupportedError(f"ContextNumber has no SQL for {connection.vendor}.")
        col, params = compiler.compile(self.source_expressions[0])
        return sql.format(col=col, key=self.key), (*params, *params)


def purchase_amount() -> Case:
    """The line total of a ``purchase`` event, 0 for other events (the catalog price is
    looked up for purchases only)."""
    return Case(When(event_type=EventType.PURCHASE, then=line_total()), default=Value(0.0), output_field=FloatField())


def line_total() -> Expression:
    """Quantity × unit price of a ``purchase`` event (see the module docstring)."""
    catalog_price = Subquery(CatalogItem.objects.filter(product_key=OuterRef("product_key")).values("price")[:1])
    quantity = Coalesce(F("value"), Value(1.0), output_field=FloatField())
    unit_price = Coalesce(ContextNumber(UNIT_PRICE_KEY), catalog_price, Value(0.0), output_field=FloatField())
    return quantity * unit_price
