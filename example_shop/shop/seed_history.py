"""Simulated shopping history (pure numpy, no database).

Every shopper has a latent taste: 1-3 preferred categories (Dirichlet weights), 2-4
favourite brands from those categories, a price level (1 budget .. 4 luxury) and 2-3
favourite tags. A product's appeal to a shopper is

    u = 1.4·[favourite brand] + 0.9·(shared favourite tags) − 0.8·|price level gap|
        + 0.7·popularity

Sessions pick a category (92% from the shopper's preferences, 8% exploring by catalog
share), view products drawn ∝ exp(u) among those launched by then, and run the funnel
view → add_to_cart (∝ sigmoid(u − 2)) → remove_from_cart (12%) → purchase (55% of carts
check out) → rating (30% of purchases, a few days later, higher for higher u). Some
sessions start with a search; some views lead to a wishlist_add. Consumables are re-bought
20-45 days later. A few products trend: their view odds jump 6x in the last three weeks.
Purchase ``value`` is the QUANTITY bought (the unit price is in ``context["unit_price"]``);
rating ``value`` is 1-5 stars.

Two options are off by default (the demo shop's history stays as documented): a
``new_product_boost`` multiplies the view odds of products in their first NEW_DAYS, and
``behaviours`` splits the shoppers into groups (:class:`Behaviour`) that shop more or less,
cart and check out at other rates, or stop visiting part-way, which is what lifecycle and
RFM segments look for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from example_shop.shop.seed_catalog import CatalogPlan
from example_shop.shop.seed_words import CATEGORIES

DEMO_SHOPPER = "shopper"
LATE_SHARE = 0.12  # shoppers who arrive in the last fifth of the window
LATE_WINDOW = (0.8, 0.95)
EXPLORE = 0.08
CHECKOUT_RATE = 0.55
REMOVE_RATE = 0.12
RATING_RATE = 0.3
SEARCH_RATE = 0.3
REPEAT_RATE = 0.5
TREND_DAYS = 21
TREND_BOOST = 6.0  # view odds of a trending product in the last TREND_DAYS
NEW_DAYS = 14  # how long new_product_boost lasts after a product's launch


@dataclass(frozen=True)
class Behaviour:
    """A group of shoppers and how they differ from the default shopper."""

    share: float  # of all shoppers
    activity: float = 1.0  # multiplies the shopper's event budget
    cart: float = 1.0  # multiplies the add-to-cart odds
    checkout: float = CHECKOUT_RATE  # share of sessions with a cart that buy it
    leaves: tuple[float, float] | None = None  # stops after this share of their remaining window


@dataclass
class Shopper:
    key: str
    categories: list[int]
    category_weights: list[float]
    brands: list[int]
    level: int
    tags: list[str]
    arrival_day: float
    budget: int  # events to simulate for this shopper
    late: bool  # arrived in the last fifth of the window
    leave_day: float = float("inf")  # no visit after this day
    behaviour: str = ""  # key of the shopper's Behaviour, if any
    cart: float = 1.0
    checkout: float = CHECKOUT_RATE


# One event: (shopper index, product index or -1, type, value, session id, day, context)
EventRow = tuple[int, int, str, float | None, str, float, dict[str, Any]]


@dataclass
class HistoryPlan:
    shoppers: list[Shopper]
    events: list[EventRow]


def make_shoppers(
    rng: np.random.Generator, cat: CatalogPlan, n: int, n_events: int, days: int,
    behaviours: dict[str, Behaviour] | None = None,
) -> list[Shopper]:
    n_cat = len(cat.categories)
    share = np.bincount(cat.category, minlength=n_cat) + 1.0
    share /= share.sum()
    cat_tags = [sorted(set(spec.tags)) for spec in CATEGORIES]
    late = rng.random(n) < LATE_SHARE
    arrival = np.where(late, rng.uniform(LATE_WINDOW[0] * days, LATE_WINDOW[1] * days, n), rng.uniform(0, 0.7 * days, n))
    activity = rng.lognormal(0.0, 0.8, n) * (days - arrival) / days
    shoppers: list[Shopper] = []
    for i in range(n):
        k = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2]))
        cats = [int(c) for c in rng.choice(n_cat, size=k, replace=False, p=share)]
        level = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.25, 0.1]))
        if i == 0:  # the demo shopper: one clear taste
            cats, level, arrival[i], activity[i] = [0], 3, 0.0, 4 * activity.mean()
        weights = [float(w) for w in rng.dirichlet(np.full(len(cats), 2.0))]
        in_cats = cat_mask(cats)[cat.brand_home] | cat_mask(cats, extra=True)[cat.brand_second]
        bw = in_cats * np.exp(-np.abs(cat.brand_level - level))
        nb = min(int(rng.integers(2, 5)), int(in_cats.sum()))
        brands = [int(b) for b in rng.choice(len(cat.brands), size=nb, replace=False, p=bw / bw.sum())]
        pool = sorted({t for c in cats for t in cat_tags[c]})
        tags = [str(t) for t in rng.choice(pool, size=min(len(pool), int(rng.integers(2, 4))), replace=False)]
        shoppers.append(Shopper(
            key=DEMO_SHOPPER if i == 0 else f"c{i:05d}", categories=cats, category_weights=weights,
            brands=brands, level=level, tags=tags, arrival_day=float(arrival[i]), budget=0,
            late=bool(arrival[i] >= LATE_WINDOW[0] * days), leave_day=float(days),
        ))
    if behaviours:  # drawn last, so the other draws match a history without behaviours
        activity *= _assign(rng, shoppers, behaviours, days)
    budgets = np.maximum(3, np.ceil(n_events * activity / activity.sum())).astype(int)
    for s, b in zip(shoppers, budgets):
        s.budget = int(b)
    return shoppers


def _assign(rng: np.random.Generator, shoppers: list[Shopper], behaviours: dict[str, Behaviour], days: int) -> np.ndarray:
    """Give each shopper a behaviour; returns the factor of their activity."""
    names = list(behaviours)
    share = np.array([behaviours[k].share for k in names])
    kinds = rng.choice(len(names), size=len(shoppers), p=share / share.sum())
    stay = rng.uniform(0, 1, len(shoppers))
    factor = np.ones(len(shoppers))
    for i, (s, k) in enumerate(zip(shoppers, kinds)):
        b = behaviours[names[k]]
        s.behaviour, s.cart, s.checkout = names[k], b.cart, b.checkout
        factor[i] = b.activity
        if b.leaves is not None:
            part = b.leaves[0] + (b.leaves[1] - b.leaves[0]) * stay[i]
            s.leave_day = s.arrival_day + part * (days - s.arrival_day)
            factor[i] *= part  # a shorter stay, fewer events
    return factor


def cat_mask(cats: list[int], extra: bool = False) -> np.ndarray:
    """Boolean mask over category indexes; with ``extra`` it has a False slot for index -1."""
    mask = np.zeros(len(CATEGORIES) + int(extra), dtype=bool)
    mask[cats] = True
    return mask


def appeal(cat: CatalogPlan, s: Shopper) -> np.ndarray:
    tag_pref = np.zeros(len(cat.tags), dtype=np.float32)
    tag_pref[[cat.tags.index(t) for t in s.tags]] = 1.0
    fav = np.zeros(len(cat.brands), dtype=bool)
    fav[s.brands] = True
    return (
        1.4 * fav[cat.brand]
        + 0.9 * (cat.tag_matrix @ tag_pref)
        - 0.8 * np.abs(cat.level - s.level)
        + 0.7 * cat.popularity
    )


def simulate(
    rng: np.random.Generator, cat: CatalogPlan, n_shoppers: int, n_events: int, days: int,
    *, behaviours: dict[str, Behaviour] | None = None, new_product_boost: float = 1.0,
) -> HistoryPlan:
    shoppers = make_shoppers(rng, cat, n_shoppers, n_events, days, behaviours)
    n_cat = len(cat.categories)
    share = np.bincount(cat.category, minlength=n_cat) + 1.0
    share /= share.sum()
    # Products of each category in launch order: those launched by day t are a prefix.
    members = []
    for c in range(n_cat):
        m = np.flatnonzero(cat.category == c)
        members.append(m[np.argsort(cat.launch_day[m], kind="stable")])
    launched = [cat.launch_day[m] for m in members]
    trend_boost = np.where(cat.trending, TREND_BOOST, 1.0)
    events: list[EventRow] = []
    sessions = 0
    for si, s in enumerate(shoppers):
        u = appeal(cat, s)
        eu = np.exp(u - u.max())
        eu_recent = eu * trend_boost  # in the last TREND_DAYS, trending products surge
        p_cart = (s.cart * 0.25 / (1.0 + np.exp(2.0 - u))).tolist()
        p_wish = (0.03 + 0.05 / (1.0 + np.exp(2.0 - u))).tolist()
        cat_p = EXPLORE * share
        cat_p[s.categories] += (1 - EXPLORE) * np.array(s.category_weights)
        cat_cs = np.cumsum(cat_p) / cat_p.sum()
        start = len(events)
        while len(events) - start < s.budget:
            sessions += 1
            sid = f"seed{sessions:07d}"
            t = float(rng.uniform(s.arrival_day, s.leave_day))
            c = min(int(np.searchsorted(cat_cs, rng.random(), side="right")), n_cat - 1)
            avail = members[c][: int(np.searchsorted(launched[c], t, side="right"))]
            if not len(avail):
                continue
            if rng.random() < SEARCH_RATE:
                pool = s.tags if c in s.categories else cat.product_tags[int(avail[0])]
                events.append((si, -1, "search", None, sid, t, {"query": str(rng.choice(pool))}))
            odds = (eu_recent if t >= days - TREND_DAYS else eu)[avail]
            if new_product_boost != 1.0:
                odds = odds * np.where(t - cat.launch_day[avail] < NEW_DAYS, new_product_boost, 1.0)
            cs = np.cumsum(odds)
            picks = np.searchsorted(cs, rng.random(1 + int(rng.poisson(2.5))) * cs[-1], side="right")
            viewed = avail[np.minimum(picks, len(avail) - 1)].tolist()
            cart: list[int] = []
            for j in viewed:
                t += float(rng.exponential(2.0)) / 1440
                events.append((si, j, "product_view", None, sid, t, {}))
                if rng.random() < p_wish[j]:
                    events.append((si, j, "wishlist_add", None, sid, t + 10 / 86400, {}))
                if j not in cart and rng.random() < p_cart[j]:
                    t += 30 / 86400
                    events.append((si, j, "add_to_cart", 1.0, sid, t, {}))
                    cart.append(j)
            for j in list(cart):
                if rng.random() < REMOVE_RATE:
                    t += 40 / 86400
                    events.append((si, j, "remove_from_cart", 1.0, sid, t, {}))
                    cart.remove(j)
            if cart and rng.random() < s.checkout:
                t += float(rng.exponential(3.0)) / 1440
                for j in cart:
                    _purchase(rng, cat, u, events, si, j, sid, t)
                    sessions = _repeats(rng, cat, events, si, j, t, s.leave_day, sessions)
    events = [e for e in events if e[5] < days]
    events.sort(key=lambda e: (e[5], e[0]))
    return HistoryPlan(shoppers=shoppers, events=events)


def _purchase(
    rng: np.random.Generator, cat: CatalogPlan, u: np.ndarray, events: list[EventRow],
    si: int, j: int, sid: str, t: float,
) -> None:
    qty = 1 + int(rng.poisson(0.6)) if cat.consumable_category[cat.category[j]] else 1
    events.append((si, j, "purchase", float(qty), sid, t, {"unit_price": float(cat.price[j])}))
    if rng.random() < RATING_RATE:
        stars = float(np.clip(round(3.4 + 0.6 * (u[j] - 1.5) + rng.normal(0, 0.7)), 1, 5))
        events.append((si, j, "rating", stars, sid, t + float(rng.uniform(3, 14)), {}))


def _repeats(
    rng: np.random.Generator, cat: CatalogPlan, events: list[EventRow], si: int, j: int, t: float,
    until: float, sessions: int,
) -> int:
    """Consumables come back: a short re-buy session every few weeks (until ``until``)."""
    if not cat.consumable_category[cat.category[j]]:
        return sessions
    while rng.random() < REPEAT_RATE:
        t += float(rng.uniform(20, 45))
        if t >= until:
            break
        sessions += 1
        sid = f"seed{sessions:07d}"
        events.append((si, j, "product_view", None, sid, t, {}))
        events.append((si, j, "add_to_cart", 1.0, sid, t + 60 / 86400, {}))
        qty = 1 + int(rng.poisson(0.6))
        events.append((si, j, "purchase", float(qty), sid, t + 180 / 86400, {"unit_price": float(cat.price[j])}))
    return sessions
