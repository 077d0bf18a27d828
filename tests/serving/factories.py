"""A small deterministic shop for serving tests: products, consented events, a real model."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from django.utils import timezone

from example_shop.shop.models import Brand, Category, Product
from reco_app.models import Event, ModelVersion
from reco_app.models.catalog import CatalogItem
from reco_app.serving.features import item_feature_names
from reco_app.training.artifact import ModelArtifact, save_artifact

CATEGORIES = {
    "Shoes": (["Acme", "Stride", "Peak"], ["running", "trail", "leather", "casual"], 80.0),
    "Shirts": (["Acme", "Cotto", "Linea"], ["cotton", "linen", "casual", "formal"], 35.0),
    "Coffee": (["Bean Co", "Roastery"], ["arabica", "espresso", "decaf", "organic"], 12.0),
    "Books": (["Pagefold", "Inkwell"], ["fiction", "cooking", "travel", "history"], 20.0),
}
CODES = {"Shoes": "SH", "Shirts": "TS", "Coffee": "CO", "Books": "BK"}
PER_CATEGORY = 10
DAY = dt.timedelta(days=1)


@dataclass
class Shop:
    products: dict[str, Product] = field(default_factory=dict)
    by_category: dict[str, list[str]] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)  # customer key -> favourite category
    new_key: str = ""
    sold_out_key: str = ""
    hidden_key: str = ""

    def category_of(self, key: str) -> str:
        return CatalogItem.objects.get(product_key=key).category


def make_catalog(now: dt.datetime | None = None) -> Shop:
    now = now or timezone.now()
    rng = random.Random(7)
    shop = Shop()
    for c_i, (cat_name, (brands, tags, base_price)) in enumerate(CATEGORIES.items()):
        cat = Category.objects.create(name=cat_name)
        brand_objs = [Brand.objects.get_or_create(name=b)[0] for b in brands]
        keys = []
        for j in range(PER_CATEGORY):
            key = f"{CODES[cat_name]}-{j:02d}"
            p = Product.objects.create(
                sku=key, name=f"{cat_name[:-1]} {j}", category=cat, brand=brand_objs[j % len(brand_objs)],
                price=f"{base_price * (0.6 + 0.1 * j):.2f}", stock=5 + j,
                tags="|".join(sorted(rng.sample(tags, 2))), created_at=now - (200 + c_i * 10 + j) * DAY,
            )
            shop.products[key] = p
            keys.append(key)
        shop.by_category[cat_name] = keys
    shoes = Category.objects.get(name="Shoes")
    shop.new_key = "SH-NEW"
    shop.products["SH-NEW"] = Product.objects.create(
        sku="SH-NEW", name="Trail runner 2", category=shoes, brand=Brand.objects.get(name="Peak"),
        price="88.00", stock=9, tags="running|trail", created_at=now - 2 * DAY,
    )
    shop.sold_out_key = "SH-00"
    p = shop.products["SH-00"]
    p.stock = 0
    p.save()
    shop.hidden_key = "SH-01"
    p = shop.products["SH-01"]
    p.is_active = False
    p.save()
    return shop


def make_events(shop: Shop, now: dt.datetime | None = None, n_customers: int = 24) -> None:
    """Each customer likes one category: views and buys in it, sessions of 2-4 products."""
    now = now or timezone.now()
    rng = random.Random(11)
    cats = list(CATEGORIES)
    rows = []
    for c in range(n_customers):
        key = f"CUST-{c:03d}"
        fav = cats[c % len(cats)]
        shop.customers[key] = fav
        pool = shop.by_category[fav]
        for s in range(4):
            session = f"s-{c}-{s}"
            ts = now - rng.randint(1, 40) * DAY
            basket = rng.sample(pool[:6] if s % 2 else pool, 3)
            for k in basket:
                rows.append(Event(subject=key, product_key=k, event_type="product_view", session_id=session, timestamp=ts, consent="imported", source="import"))
            for k in basket[:2]:
                rows.append(Event(subject=key, product_key=k, event_type="purchase", session_id=session, timestamp=ts + dt.timedelta(minutes=5), consent="imported", source="import"))
    # the sold-out shoe is the most viewed product of all
    for v in range(40):
        rows.append(Event(subject=f"anon:v{v}", visitor_id=f"v{v}", product_key=shop.sold_out_key, event_type="product_view", session_id=f"x{v}", timestamp=now - DAY, consent="granted"))
    Event.objects.bulk_create(rows)


def train_model(name: str = "test-model", epochs: int = 15) -> ModelVersion:
    """Train a small LightFM hybrid model on the stored events and activate it."""
    from lightfm import LightFM

    items = list(CatalogItem.objects.order_by("product_key").values("product_key", "category", "brand", "tags"))
    item_index = {r["product_key"]: i for i, r in enumerate(items)}
    feature_names = sorted({f for r in items for f in item_feature_names(r)})
    feat_index = {f: len(items) + j for j, f in enumerate(feature_names)}
    rows, cols = [], []
    for i, r in enumerate(items):
        names = item_feature_names(r)
        rows += [i] * (1 + len(names))
        cols += [i] + [feat_index[f] for f in names]
    item_features = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(items), len(items) + len(feature_names)))
    item_features = sp.diags(1.0 / np.asarray(item_features.sum(axis=1)).ravel()) @ item_features
    events = list(Event.objects.consented().exclude(subject__startswith="anon:").values_list("subject", "product_key", "event_type"))
    users = sorted({e[0] for e in events})
    user_index = {u: i for i, u in enumerate(users)}
    weight = {"product_view": 1.0, "purchase": 5.0}
    data: dict[tuple[int, int], float] = {}
    for subject, key, etype in events:
        if key in item_index:
            k = (user_index[subject], item_index[key])
            data[k] = data.get(k, 0.0) + weight.get(etype, 0.0)
    inter = sp.coo_matrix((list(data.values()), ([k[0] for k in data], [k[1] for k in data])), shape=(len(users), len(items)))
    model = LightFM(no_components=8, loss="warp", random_state=3)
    model.fit(inter, item_features=item_features.tocsr(), epochs=epochs, num_threads=1)
    item_bias, item_emb = model.get_item_representations(item_features.tocsr())
    user_bias, user_emb = model.get_user_representations()
    artifact = ModelArtifact(
        item_keys=np.array([r["product_key"] for r in items]), user_keys=np.array(users),
        item_embeddings=item_emb.astype(np.float32), item_biases=item_bias.astype(np.float32),
        user_embeddings=user_emb.astype(np.float32), user_biases=user_bias.astype(np.float32),
        feature_names=np.array(feature_names), feature_embeddings=model.item_embeddings[len(items):].astype(np.float32),
        feature_biases=model.item_biases[len(items):].astype(np.float32), manifest={"test": True},
    )
    name = f"{name}-{uuid.uuid4().hex[:8]}"
    sha = save_artifact(artifact, name)
    ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).update(status=ModelVersion.Status.RETIRED)
    return ModelVersion.objects.create(
        status=ModelVersion.Status.ACTIVE, artifact_name=name, sha256=sha, n_users=len(users), n_items=len(items),
        n_interactions=len(data), activated_at=timezone.now(),
    )
