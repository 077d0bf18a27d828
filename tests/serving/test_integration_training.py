"""Serving uses what training writes: cold products embedded with training's feature
encoding, and erased shoppers' trained vectors excluded until the next retrain."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from reco_app import privacy
from reco_app.models import CatalogItem, Event, ModelVersion
from reco_app.serving import model_store
from reco_app.serving.catalog_index import get_catalog
from reco_app.training import registry

pytestmark = pytest.mark.django_db(transaction=True)

CATS = ["Shoes", "Kitchen", "Books"]


def _shop(now: dt.datetime) -> None:
    rng = np.random.default_rng(7)
    for i in range(60):
        cat = CATS[i % 3]
        CatalogItem.objects.create(
            product_key=f"P{i:03d}", name=f"{cat} item {i}", category=cat, brand=f"{cat}-brand-{i % 2}",
            price=10 + i, tags=[cat.lower(), "sale" if i % 5 == 0 else "regular"],
            description=f"{cat.lower()} product made for {cat.lower()} lovers", stock=5,
            launched_at=now - dt.timedelta(days=200),
        )
    events = []
    for u in range(80):
        cat = u % 3
        for k in range(12):
            item = int(rng.integers(0, 20)) * 3 + cat
            events.append(Event(subject=f"c{u}", product_key=f"P{item:03d}", event_type="purchase" if k % 4 == 0 else "product_view",
                                consent="imported", timestamp=now - dt.timedelta(days=int(rng.integers(1, 90)))))
    Event.objects.bulk_create(events)


def test_cold_products_get_training_encoded_vectors_and_erasure_excludes_the_vector(settings) -> None:
    now = timezone.now()
    _shop(now)
    settings.RECO_APP = {**settings.RECO_APP, "TRAINING_EPOCHS": 8, "TRAINING_THREADS": 1}
    version = registry.train(activate_policy="always")
    assert version.status == ModelVersion.Status.ACTIVE, version.error
    # a product launched after training, in the Kitchen category
    CatalogItem.objects.create(product_key="NEW-1", name="New kettle", category="Kitchen", brand="Kitchen-brand-1",
                               price=30, tags=["kitchen", "regular"], description="kitchen product made for kitchen lovers",
                               stock=5, launched_at=now)
    model_store.reset()
    catalog = get_catalog()
    model = model_store.get_model(catalog)
    assert model is not None
    new_row = catalog.key_to_idx["NEW-1"]
    assert not model.known[new_row] and np.linalg.norm(model.item_vectors[new_row]) > 0
    # its nearest known neighbours are Kitchen products
    sims = model.unit_vectors @ model.unit_vectors[new_row]
    sims[new_row] = -np.inf
    top = np.argsort(-sims)[:5]
    assert sum(catalog.categories[catalog.category[j]] == "Kitchen" for j in top) >= 4

    assert model_store.user_vector("c1") is not None
    privacy.erase_subjects(["c1"])
    assert model_store.user_vector("c1") is None  # events gone and the trained vector excluded
