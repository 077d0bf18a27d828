from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from reco_app.models import Segment, SegmentMembership
from reco_app.segments import clusters
from reco_app.segments.history import load_history
from reco_app.segments.service import recompute_all
from tests.segments.helpers import NOW, add, catalog, event, reco_settings

pytestmark = pytest.mark.django_db


def build_three_groups(per_group: int = 12) -> None:
    catalog(shoe=("Shoes", 200.0), bag=("Bags", 20.0), hat=("Hats", 60.0))
    events = []
    for i in range(per_group):
        for s in range(10):  # frequent, recent, expensive shoe lovers
            start = NOW - dt.timedelta(days=s * 3 + 1, minutes=i)
            events += [event(f"shoe{i}", "product_view", at=start + dt.timedelta(minutes=5 * k), product="shoe", session=f"shoe{i}-{s}") for k in range(3)]
        for s in range(2):  # rare, lapsed, cheap bag buyers
            start = NOW - dt.timedelta(days=50 + s * 10, minutes=i)
            events += [event(f"bag{i}", "product_view", at=start + dt.timedelta(minutes=k), product="bag", session=f"bag{i}-{s}") for k in range(2)]
            events.append(event(f"bag{i}", "purchase", at=start + dt.timedelta(minutes=3), product="bag", value=1, session=f"bag{i}-{s}"))
        for s in range(4):  # cart abandoners
            start = NOW - dt.timedelta(days=s * 5 + 2, minutes=i)
            events += [event(f"hat{i}", t, at=start + dt.timedelta(minutes=k), product="hat", session=f"hat{i}-{s}") for k, t in enumerate(["product_view", "add_to_cart"])]
    add(*events)


def groups_by_cluster() -> dict[str, set[str]]:
    rows = SegmentMembership.objects.filter(segment__kind="cluster").values_list("segment__key", "subject")
    out: dict[str, set[str]] = {}
    for key, subject in rows:
        out.setdefault(key, set()).add(subject.rstrip("0123456789"))
    return out


@reco_settings(SEGMENTS_CLUSTERS_K=3)
def test_each_behaviour_group_is_one_cluster() -> None:
    build_three_groups()
    recompute_all(NOW)
    assert sorted(map(sorted, groups_by_cluster().values())) == [["bag"], ["hat"], ["shoe"]]


def test_silhouette_finds_the_three_groups() -> None:
    build_three_groups()
    feats = clusters.behaviour_features(load_history(NOW))
    x, _ = feats.matrix()
    assert clusters.choose_k(x, seed=0) == 3


@reco_settings(SEGMENTS_CLUSTERS_K=3)
def test_clusters_are_described_in_plain_words() -> None:
    build_three_groups()
    recompute_all(NOW)
    names = {group.pop(): Segment.objects.get(key=key) for key, group in groups_by_cluster().items()}
    assert "frequent visitors" in names["shoe"].name.lower()
    assert "high price level" in names["shoe"].name.lower()
    assert "mostly Shoes" in names["shoe"].name
    assert "often abandon carts" in names["hat"].name.lower()
    assert "mostly Hats" in names["hat"].name
    assert "low price level" in names["bag"].name.lower() or "not seen recently" in names["bag"].name.lower()
    assert "visits a month" in names["shoe"].description


@reco_settings(SEGMENTS_CLUSTERS_K=3)
def test_clusters_are_stable_under_the_fixed_seed() -> None:
    build_three_groups()
    first = clusters.cluster(clusters.behaviour_features(load_history(NOW)))
    second = clusters.cluster(clusters.behaviour_features(load_history(NOW)))
    assert np.array_equal(first[0], second[0])
    recompute_all(NOW)
    before = dict(SegmentMembership.objects.filter(segment__kind="cluster").values_list("subject", "segment__key"))
    recompute_all(NOW)
    after = dict(SegmentMembership.objects.filter(segment__kind="cluster").values_list("subject", "segment__key"))
    assert before == after


def test_too_few_shoppers_give_no_clusters() -> None:
    catalog(shoe=("Shoes", 200.0))
    add(*(event(f"s{i}", "product_view", product="shoe", days_ago=k) for i in range(3) for k in range(4)))
    assert clusters.compute(load_history(NOW)) == []
