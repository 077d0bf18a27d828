from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from example_shop.shop.importing import import_catalog
from example_shop.shop.models import Brand, Category, Product
from reco_app.models import CatalogItem
from tests.foundation.helpers import make_product, write_csv

pytestmark = pytest.mark.django_db

HEADER = "product_id,name,category,brand,price,tags,description,created_at,stock\n"
GOOD = HEADER + """SKU-1,Trail runner,Shoes,Acme,59.90,Running|trail| running ,"Light, grippy",2024-01-02T08:00:00Z,3
SKU-2,Rain jacket,Jackets,,120,outdoor,,1704200000,0
SKU-3,Wool socks,Socks & more,Knitco,7.5,,,,
"""


def test_good_rows_create_products_categories_brands_and_the_snapshot(tmp_path: Path) -> None:
    result = import_catalog(write_csv(tmp_path / "c.csv", GOOD))
    assert (result.read, result.created, result.updated, result.bad) == (3, 3, 0, 0)
    assert (result.categories_created, result.brands_created) == (3, 2)
    shoe = Product.objects.get(sku="SKU-1")
    assert (shoe.name, shoe.category.name, shoe.brand.name, shoe.price) == ("Trail runner", "Shoes", "Acme", Decimal("59.90"))
    assert (shoe.tags, shoe.description, shoe.stock) == ("running|trail", "Light, grippy", 3)
    assert shoe.created_at == dt.datetime(2024, 1, 2, 8, tzinfo=dt.UTC)
    jacket = Product.objects.get(sku="SKU-2")
    assert (jacket.brand, jacket.created_at) == (None, dt.datetime.fromtimestamp(1704200000, dt.UTC))
    assert Category.objects.get(name="Socks & more").slug == "socks-more"
    # the recommendation snapshot follows the bulk import
    assert sorted(CatalogItem.objects.available().values_list("product_key", flat=True)) == ["SKU-1"]
    assert CatalogItem.objects.get(product_key="SKU-1").tags == ["running", "trail"]


def test_re_importing_is_an_upsert(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", GOOD)
    import_catalog(path)
    again = import_catalog(path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = write_csv(tmp_path / "c2.csv", HEADER + "SKU-2,Rain jacket,Jackets,Acme,99,outdoor,,,\n")
    result = import_catalog(changed)
    assert (result.created, result.updated) == (0, 1)
    jacket = Product.objects.get(sku="SKU-2")
    assert (jacket.price, jacket.brand.name, jacket.stock) == (Decimal("99.00"), "Acme", 0)  # empty stock kept
    assert jacket.created_at == dt.datetime.fromtimestamp(1704200000, dt.UTC)  # empty created_at kept
    assert CatalogItem.objects.get(product_key="SKU-2").price == 99.0
    assert Product.objects.count() == 3 and Brand.objects.count() == 2


def test_bad_rows_are_reported_with_line_numbers(tmp_path: Path) -> None:
    make_product("SKU-9")
    text = HEADER + """SKU-1,Good,Shoes,Acme,10,,,,1
SKU-2,Bad price,Shoes,Acme,ten,,,,1
SKU-1,Twice,Shoes,Acme,10,,,,1
,No id,Shoes,Acme,10,,,,1
SKU-3,,Shoes,Acme,10,,,,1
SKU-4,No category,,Acme,10,,,,1
SKU-5,Negative stock,Shoes,Acme,10,,,,-2
SKU-6,Half stock,Shoes,Acme,10,,,,1.5
SKU-7,Bad date,Shoes,Acme,10,,,someday,1
SKU-8,Too cheap,Shoes,Acme,-1,,,,1
SKU-9,Short row
"""
    result = import_catalog(write_csv(tmp_path / "c.csv", text))
    reasons = {i.line: i.reason for i in result.issues}
    assert sorted(reasons) == list(range(3, 13))
    assert "price 'ten' is not a number" in reasons[3]
    assert "already given on line 2" in reasons[4]
    assert "product_id is empty" in reasons[5] and "name is empty" in reasons[6]
    assert "category is empty" in reasons[7] and "negative" in reasons[8]
    assert "whole number" in reasons[9] and "someday" in reasons[10]
    assert "between 0 and" in reasons[11] and "columns" in reasons[12]
    assert (result.read, result.created, result.bad) == (11, 1, 10)
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["SKU-1", "SKU-9"]


def test_command_summary_and_missing_columns(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("shop_import_catalog", str(write_csv(tmp_path / "c.csv", GOOD + "SKU-4,Broken,Shoes,Acme,x,,,,\n")))
    out = capsys.readouterr().out
    assert "line 5: price 'x' is not a number" in out
    assert "Read 4 rows" in out and "3 products created, 0 updated, 0 unchanged, 1 bad rows skipped" in out
    with pytest.raises(CommandError, match="missing column.*price"):
        call_command("shop_import_catalog", str(write_csv(tmp_path / "d.csv", "product_id,name,category\nA,B,C\n")))
