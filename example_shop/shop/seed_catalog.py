"""Synthetic catalog generation (pure numpy, no database): categories, brands, products.

Brands have a home category (some a second one) and a price level; a product's price
follows its category, brand level and product type; its tags and description are drawn
from its category's vocabulary plus the brand's signature tag. About 10% of products
launch late in the history window (cold items); a few are out of stock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from example_shop.shop.seed_words import (
    CATEGORIES,
    COLOURS,
    MODEL_SUFFIXES,
    OPENERS,
    PRICE_LEVEL_FACTOR,
    PRICE_LEVEL_NAMES,
    CategorySpec,
)

COLD_SHARE = 0.10  # products launched in the last weeks of the window
COLD_WINDOW = (0.88, 0.98)  # as fractions of the window
OUT_OF_STOCK_SHARE = 0.07
TRENDING_SHARE = 0.03  # products that get popular in the last TREND_DAYS of the window
# A brand may also sell in a neighbouring category (an outdoor brand makes running gear).
NEIGHBOURS = {0: (1, 11, 10), 1: (0, 5, 11), 2: (3, 4), 3: (2,), 4: (2, 10, 6), 5: (1, 6),
              6: (7, 4), 7: (6,), 8: (11,), 9: (10,), 10: (4, 0, 9), 11: (8, 0, 1)}


@dataclass
class CatalogPlan:
    categories: list[str]
    consumable_category: np.ndarray  # bool per category
    brands: list[str]
    brand_home: np.ndarray  # category index per brand
    brand_second: np.ndarray  # second category index per brand, -1 if none
    brand_level: np.ndarray  # 1..4
    brand_tag: list[str]  # signature tag per brand
    tags: list[str]  # the tag vocabulary, index = column of tag_matrix
    sku: list[str]
    name: list[str]
    category: np.ndarray  # category index per product
    brand: np.ndarray  # brand index per product
    price: np.ndarray  # dollars, 2 decimals
    product_tags: list[list[str]]
    tag_matrix: np.ndarray  # products x tags, float32 0/1
    description: list[str]
    stock: np.ndarray
    launch_day: np.ndarray  # days since window start (negative: launched before it)
    popularity: np.ndarray  # latent log-popularity
    trending: np.ndarray  # bool: products whose popularity surges in the last weeks
    days: int  # length of the history window

    @property
    def level(self) -> np.ndarray:
        return self.brand_level[self.brand]

    @property
    def cold(self) -> np.ndarray:
        """Products launched in the last weeks of the window: little or no history."""
        return self.launch_day >= COLD_WINDOW[0] * self.days


def _nice_price(x: float) -> float:
    """Shop-style prices: 7.49, 7.99, 45.99."""
    if x < 10:
        return round(max(0.99, float(np.floor(x * 2)) / 2 + 0.49), 2)
    return round(float(np.floor(x)) + 0.99, 2)


def generate_brands(rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    names: list[str] = []
    home: list[int] = []
    for ci, spec in enumerate(CATEGORIES):
        for b in spec.brands:
            names.append(b)
            home.append(ci)
    n = len(names)
    home_arr = np.array(home)
    second = np.full(n, -1)
    has_second = rng.random(n) < 0.25
    for b in np.flatnonzero(has_second):
        second[b] = int(rng.choice(NEIGHBOURS[int(home_arr[b])]))
    level = rng.choice([1, 2, 3, 4], size=n, p=[0.3, 0.35, 0.25, 0.1])
    sig = [str(rng.choice(CATEGORIES[h].tags)) for h in home]
    return names, home_arr, second, level, sig


def generate_catalog(rng: np.random.Generator, n_products: int, days: int) -> CatalogPlan:
    brands, b_home, b_second, b_level, b_tag = generate_brands(rng)
    n_cat = len(CATEGORIES)
    cat_weight = rng.dirichlet(np.full(n_cat, 4.0))
    category = rng.choice(n_cat, size=n_products, p=cat_weight)
    brand_size = rng.lognormal(0.0, 0.5, len(brands))
    noun_factor = rng.lognormal(0.0, 0.45, (n_cat, 10))
    all_tags = sorted({t for spec in CATEGORIES for t in spec.tags} | set(b_tag))
    tag_index = {t: i for i, t in enumerate(all_tags)}

    brand = np.empty(n_products, dtype=int)
    for ci in range(n_cat):
        members = np.flatnonzero(category == ci)
        w = brand_size * ((b_home == ci) * 1.0 + (b_second == ci) * 0.5)
        brand[members] = rng.choice(len(brands), size=len(members), p=w / w.sum())

    n_cold = round(COLD_SHARE * n_products)
    launch = -rng.uniform(0, 540, n_products)
    order = rng.permutation(n_products)
    cold_idx, mid_idx = order[:n_cold], order[n_cold : 2 * n_cold]
    launch[cold_idx] = rng.uniform(COLD_WINDOW[0] * days, COLD_WINDOW[1] * days, n_cold)
    launch[mid_idx] = rng.uniform(0, 0.8 * days, len(mid_idx))
    stock = rng.integers(3, 180, n_products)
    stock[rng.random(n_products) < OUT_OF_STOCK_SHARE] = 0
    popularity = rng.normal(0.0, 1.0, n_products)
    trending = (rng.random(n_products) < TRENDING_SHARE) & (launch < 0.5 * days)

    names: list[str] = []
    used: set[str] = set()
    descriptions: list[str] = []
    product_tags: list[list[str]] = []
    prices = np.empty(n_products)
    tag_matrix = np.zeros((n_products, len(all_tags)), dtype=np.float32)
    for i in range(n_products):
        spec = CATEGORIES[category[i]]
        b = brand[i]
        noun_i = int(rng.integers(len(spec.nouns)))
        noun = spec.nouns[noun_i]
        suffix = MODEL_SUFFIXES[int(rng.integers(len(MODEL_SUFFIXES)))]
        adjective = spec.adjectives[int(rng.integers(len(spec.adjectives)))]
        names.append(_unique(" ".join(p for p in (brands[b], adjective, noun, suffix) if p), used, cat_sku(i)))
        k = int(rng.integers(2, 5))
        tags = [str(t) for t in rng.choice(spec.tags, size=k, replace=False)]
        if b_home[b] == category[i] and b_tag[b] not in tags and rng.random() < 0.7:
            tags.append(b_tag[b])
        tags.sort()
        product_tags.append(tags)
        for t in tags:
            tag_matrix[i, tag_index[t]] = 1.0
        x = spec.base_price * PRICE_LEVEL_FACTOR[int(b_level[b])] * noun_factor[category[i], noun_i]
        prices[i] = _nice_price(x * rng.lognormal(0.0, 0.12))
        descriptions.append(_describe(rng, spec, names[-1], noun, brands[b], int(b_level[b]), tags))
    return CatalogPlan(
        categories=[c.name for c in CATEGORIES],
        consumable_category=np.array([c.consumable for c in CATEGORIES]),
        brands=brands, brand_home=b_home, brand_second=b_second, brand_level=b_level,
        brand_tag=b_tag, tags=all_tags,
        sku=[cat_sku(i) for i in range(n_products)],
        name=names, category=category, brand=brand, price=prices, product_tags=product_tags,
        tag_matrix=tag_matrix, description=descriptions, stock=stock, launch_day=launch,
        popularity=popularity, trending=trending, days=days,
    )


def cat_sku(i: int) -> str:
    return f"P{i + 1:05d}"


def _unique(name: str, used: set[str], sku: str) -> str:
    """Shops don't list two products under one name: add a colour, or the product id."""
    for candidate in [name, *(f"{name}, {c}" for c in COLOURS), f"{name} ({sku})"]:
        if candidate not in used:
            used.add(candidate)
            return candidate
    raise AssertionError("unreachable: the product id makes the name unique")


def _describe(
    rng: np.random.Generator, spec: CategorySpec, name: str, noun: str, brand: str, level: int, tags: list[str]
) -> str:
    w = [str(x) for x in rng.choice(spec.words, size=4, replace=False)]
    opener = OPENERS[int(rng.integers(len(OPENERS)))].format(name=name, brand=brand, level=PRICE_LEVEL_NAMES[level])
    t0, t1 = tags[0], tags[-1]
    return (
        f"{opener} — a {t0} {noun.lower()} with {w[0]} and {w[1]} in mind. "
        f"Loved for its {w[2]}, it suits anyone looking for something {t1}. "
        f"Part of the {PRICE_LEVEL_NAMES[level]} {brand} collection; think {w[3]}, "
        f"{', '.join(tags)}."
    )
