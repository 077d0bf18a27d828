from __future__ import annotations

import numpy as np
import pytest

from reco_app.models import SegmentMembership
from reco_app.segments import rfm
from reco_app.segments.history import load_history
from reco_app.segments.profile import build_profile
from reco_app.segments.service import recompute_all
from tests.segments.helpers import NOW, add, buyer, catalog, event, reco_settings

pytestmark = pytest.mark.django_db


def scores_by_subject() -> dict[str, tuple[int, int, int, str]]:
    h = load_history(NOW)
    s = rfm.score(h)
    return {h.subjects[b]: (int(r), int(f), int(m), n) for b, r, f, m, n in zip(s.buyers, s.r, s.f, s.m, s.names)}


def test_quantile_scores_rank_into_bins_and_share_ties() -> None:
    assert rfm.quantile_scores(np.array([10, 20, 30, 40, 50]), 5).tolist() == [1, 2, 3, 4, 5]
    assert rfm.quantile_scores(np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 5).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rfm.quantile_scores(np.array([7, 7, 7]), 5).tolist() == [4, 4, 4]
    assert rfm.quantile_scores(np.array([1, 2, 3, 4]), 2).tolist() == [1, 1, 2, 2]


def test_aligned_buyers_get_matching_scores_and_names() -> None:
    for i in range(1, 6):  # b5: most recent, most orders, biggest spend
        buyer(f"b{i}", orders=i, last_days_ago=(6 - i) * 20, spend=i * 100)
    add(event("browser", "product_view"))  # never bought: no RFM score
    got = scores_by_subject()
    assert got == {
        "b1": (1, 1, 1, "lost"),
        "b2": (2, 2, 2, "hibernating"),
        "b3": (3, 3, 3, "need_attention"),
        "b4": (4, 4, 4, "loyal"),
        "b5": (5, 5, 5, "champions"),
    }


def test_named_segments_new_cant_lose_at_risk() -> None:
    buyer("fresh", orders=1, last_days_ago=1, spend=10)
    buyer("m2", orders=2, last_days_ago=10, spend=50)
    buyer("m3", orders=3, last_days_ago=20, spend=100)
    buyer("m4", orders=4, last_days_ago=30, spend=200)
    buyer("old_big", orders=5, last_days_ago=300, spend=500)
    names = {s: v[3] for s, v in scores_by_subject().items()}
    assert names == {"fresh": "new", "m2": "potential_loyalist", "m3": "need_attention", "m4": "at_risk", "old_big": "cant_lose"}


def spend_by_subject() -> dict[str, float]:
    h = load_history(NOW)
    return dict(zip(h.subjects.tolist(), build_profile(h).spend.tolist()))


def test_spend_is_quantity_times_the_unit_price_of_the_event() -> None:
    catalog(p1=("Shoes", 99.0))  # the event's own price wins
    add(event("s", "purchase", days_ago=1, value=3, unit_price=10))
    assert spend_by_subject() == {"s": 30.0}


def test_spend_without_a_unit_price_uses_the_catalog_price() -> None:
    catalog(p1=("Shoes", 12.5), p2=("Hats", 4.0))
    unpriced, odd = event("s", "purchase", days_ago=1, value=3, product="p2"), event("s", "purchase", days_ago=1, value=1, product="p2")
    unpriced.context, odd.context = {"unit_price": None}, {"unit_price": "cheap"}  # neither is a price
    add(
        event("s", "purchase", days_ago=1, value=2),
        unpriced,
        odd,
        event("s", "purchase", days_ago=2, product="p2"),  # no quantity: one
        event("s", "purchase", days_ago=3, value=5, product="p9"),  # not in the catalog: no money
        event("s", "add_to_cart", days_ago=1, value=7, unit_price=10),  # not a purchase
    )
    assert spend_by_subject() == {"s": 2 * 12.5 + 3 * 4.0 + 4.0 + 4.0}


def test_monetary_score_ranks_money_not_units() -> None:
    buyer("many_cheap", orders=2, last_days_ago=5, spend=20, quantity=10)
    buyer("few_dear", orders=2, last_days_ago=5, spend=400, quantity=1)
    m = {s: v[2] for s, v in scores_by_subject().items()}
    assert m["few_dear"] > m["many_cheap"]


def test_several_lines_on_one_day_are_one_order() -> None:
    add(*(event("basket", "purchase", days_ago=2, value=1, unit_price=10, product=f"p{i}") for i in range(3)))
    buyer("repeat", orders=3, last_days_ago=2, spend=30)
    h = load_history(NOW)
    s = rfm.score(h)
    f = dict(zip(h.subjects[s.buyers].tolist(), s.f.tolist()))
    assert f["basket"] < f["repeat"]


@reco_settings(SEGMENTS_RFM_BINS=3)
def test_bins_are_configurable() -> None:
    for i in range(1, 4):
        buyer(f"b{i}", orders=i, last_days_ago=(4 - i) * 20, spend=i * 100)
    assert {s: v[:3] for s, v in scores_by_subject().items()} == {"b1": (1, 1, 1), "b2": (2, 2, 2), "b3": (3, 3, 3)}
    assert scores_by_subject()["b3"][3] == "champions"  # 3 of 3 is 5 of 5


def test_recompute_stores_memberships_with_why() -> None:
    for i in range(1, 6):
        buyer(f"b{i}", orders=i, last_days_ago=(6 - i) * 20, spend=i * 100)
    recompute_all(NOW)
    m = SegmentMembership.objects.get(segment__key="rfm:champions")
    assert m.subject == "b5"
    assert m.reason == "R5 F5 M5: last purchase 20 days ago, 5 orders, 500.00 spent"
    assert m.computed_at == NOW and m.expires_at is None
