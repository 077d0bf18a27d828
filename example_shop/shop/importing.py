"""``shop_import_catalog``: create or update products from a CSV file, by product id.

Columns ``product_id, name, category, brand, price, tags, description, created_at, stock``
(``product_id``, ``name``, ``category`` and ``price`` are required columns; ``tags`` are
separated by ``|``; ``created_at`` is ISO 8601 or Unix seconds). Categories and brands are
created by name. An empty ``created_at`` or ``stock`` keeps the product's current value
(new products: now, 0). Products are written in bulk, so the recommendation catalog
snapshot is refreshed once at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from example_shop.shop.models import Brand, Category, Product
from reco_app.importing.csvfile import (
    IssueLog,
    RowError,
    RowIssue,
    optional_column,
    parse_timestamp,
    read_rows,
    text_field,
)

REQUIRED = ("product_id", "name", "category", "price")
UPDATED_FIELDS = ["name", "category", "brand", "price", "tags", "description", "created_at", "stock"]
MAX_PRICE = Decimal("99999999.99")
CENT = Decimal("0.01")
TAGS_MAX: int = getattr(Product._meta.get_field("tags"), "max_length", None) or 500


@dataclass
class CatalogImportResult:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0
    categories_created: int = 0
    brands_created: int = 0
    seconds: float = 0.0
    issues: list[RowIssue] = field(default_factory=list)


def parse_product(fields: list[str], columns: dict[str, int]) -> dict[str, Any]:
    """Validate one row; raises ``RowError`` with the reason."""
    price_text = fields[columns["price"]].strip()
    try:
        price = Decimal(price_text).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise RowError(f"price {price_text!r} is not a number") from None
    if not price.is_finite() or price < 0 or price > MAX_PRICE:
        raise RowError(f"price {price_text!r} must be between 0 and {MAX_PRICE}")
    tags: list[str] = []
    for tag in optional_column(fields, columns, "tags").split("|"):
        if (tag := tag.strip().lower()) and tag not in tags:
            tags.append(tag)
    if len("|".join(tags)) > TAGS_MAX:
        raise RowError("tags are longer than 500 characters in total")
    stock_text = optional_column(fields, columns, "stock").strip()
    try:
        stock = int(stock_text) if stock_text else None
    except ValueError:
        raise RowError(f"stock {stock_text!r} is not a whole number") from None
    if stock is not None and stock < 0:
        raise RowError(f"stock {stock} is negative")
    created = optional_column(fields, columns, "created_at").strip()
    return {
        "sku": text_field(fields, columns, "product_id", max_length=64),
        "name": text_field(fields, columns, "name", max_length=200),
        "category": text_field(fields, columns, "category", max_length=120),
        "brand": text_field(fields, columns, "brand", max_length=120, required=False) if "brand" in columns else "",
        "price": price,
        "tags": "|".join(tags),
        "description": optional_column(fields, columns, "description").replace("\x00", "").strip(),
        "created_at": parse_timestamp(created, allow_future=True) if created else None,
        "stock": stock,
    }


class _Names:
    """Categories and brands by name, created on first use."""

    def __init__(self, result: CatalogImportResult) -> None:
        self.result = result
        self.categories = {c.name: c for c in Category.objects.all()}
        self.brands = {b.name: b for b in Brand.objects.all()}

    def category(self, name: str) -> Category:
        if name not in self.categories:
            base = slugify(name)[:130] or "category"
            slug, n = base, 1
            while Category.objects.filter(slug=slug).exists():
                n += 1
                slug = f"{base}-{n}"
            self.categories[name] = Category.objects.create(name=name, slug=slug)
            self.result.categories_created += 1
        return self.categories[name]

    def brand(self, name: str) -> Brand | None:
        if not name:
            return None
        if name not in self.brands:
            self.brands[name] = Brand.objects.create(name=name)
            self.result.brands_created += 1
        return self.brands[name]


def _write(rows: list[dict[str, Any]], names: _Names, result: CatalogImportResult) -> None:
    with transaction.atomic():
        existing = {p.sku: p for p in Product.objects.filter(sku__in=[r["sku"] for r in rows])}
        new, changed = [], []
        for row in rows:
            values = {
                **row,
                "category": names.category(row["category"]),
                "brand": names.brand(row["brand"]),
            }
            product = existing.get(row["sku"])
            if product is None:
                values["created_at"] = values["created_at"] or timezone.now()
                values["stock"] = values["stock"] or 0
                new.append(Product(**values))
                continue
            for key in ("created_at", "stock"):  # empty cell: keep the current value
                if values[key] is None:
                    values[key] = getattr(product, key)
            if all(getattr(product, f) == values[f] for f in UPDATED_FIELDS):
                result.unchanged += 1
                continue
            for f in UPDATED_FIELDS:
                setattr(product, f, values[f])
            changed.append(product)
        Product.objects.bulk_create(new)
        Product.objects.bulk_update(changed, UPDATED_FIELDS)
    result.created += len(new)
    result.updated += len(changed)


def import_catalog(
    path: str | Path,
    *,
    batch_size: int = 1000,
    progress: Callable[[CatalogImportResult], None] | None = None,
    on_issue: Callable[[RowIssue], None] | None = None,
    keep_issues: int = 100,
    sync_snapshot: bool = True,
) -> CatalogImportResult:
    """Upsert products from ``path``; bad rows are skipped and reported with line numbers.

    Raises ``HeaderError`` when a required column is missing (nothing is imported).
    """
    result = CatalogImportResult()
    issues = IssueLog(keep=keep_issues, sink=on_issue)
    started = time.monotonic()
    names = _Names(result)
    first_line: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    passed = row_errors = 0
    try:
        for line, columns, fields in read_rows(path, REQUIRED, issues):
            passed += 1
            try:
                row = parse_product(fields, columns)
                if row["sku"] in first_line:
                    raise RowError(f"product_id {row['sku']!r} was already given on line {first_line[row['sku']]}")
            except RowError as exc:
                row_errors += 1
                issues.add(line, str(exc))
                continue
            first_line[row["sku"]] = line
            batch.append(row)
            if len(batch) >= batch_size:
                _write(batch, names, result)
                batch = []
                result.read, result.bad = passed + issues.count - row_errors, issues.count
                result.seconds = time.monotonic() - started
                if progress:
                    progress(result)
        if batch:
            _write(batch, names, result)
    finally:
        # Bulk writes send no signals: bring the recommendation snapshot up to date,
        # also after a failure (every finished batch is stored).
        if sync_snapshot and (result.created or result.updated):
            from reco_app.catalog import sync_all

            sync_all()
    result.read, result.bad = passed + issues.count - row_errors, issues.count
    result.issues = issues.first
    result.seconds = time.monotonic() - started
    return result


__all__ = ["CatalogImportResult", "import_catalog", "parse_product"]
