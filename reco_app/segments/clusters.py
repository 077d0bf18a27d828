"""Behavioural clusters: k-means over normalised behaviour features, described in words.

Features per shopper (with at least ``SEGMENTS_CLUSTERS_MIN_EVENTS`` events): visit
frequency (sessions per month), session length (minutes), price level (mean price of the
products they touched), cart abandonment rate (sessions with an add-to-cart and no
purchase), recency (days since the last event) and category mix (share of events in each
of the ``SEGMENTS_CLUSTERS_TOP_CATEGORIES`` largest categories). ``k`` is fixed by
``SEGMENTS_CLUSTERS_K`` or chosen by silhouette over ``SEGMENTS_CLUSTERS_K_RANGE``.
Clusters are numbered by size (1 = largest) so keys stay stable between runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reco_app import conf
from reco_app.models.segments import SegmentKind
from reco_app.segments.history import DAY, History
from reco_app.segments.types import SegmentResult

NUMERIC = ["visit_frequency", "session_length", "price_level", "cart_abandonment", "recency"]
PHRASES = {
    "visit_frequency": ("frequent visitors", "rare visitors"),
    "session_length": ("long sessions", "short sessions"),
    "price_level": ("high price level", "low price level"),
    "cart_abandonment": ("often abandon carts", "rarely abandon carts"),
    "recency": ("not seen recently", "recently active"),
}
CATEGORY_WEIGHT = 2.0  # a one-category shopper vs another: distance ≈ 2.8 standard deviations
STANDOUT_Z = 0.5
MIN_SHOPPERS = 10  # fewer shoppers than this: no clusters
SEARCH_SAMPLE = 2000  # shoppers used to choose k


@dataclass
class Features:
    subjects: np.ndarray  # subject ids
    raw: np.ndarray  # (n, 5) NUMERIC columns in natural units
    shares: np.ndarray  # (n, C) category shares
    categories: list[str]

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Normalised matrix for k-means, and the z-scores of the numeric columns."""
        logged = self.raw.copy()
        logged[:, :3] = np.log1p(logged[:, :3])  # frequency, length, price are skewed
        std = logged.std(axis=0)
        z = (logged - logged.mean(axis=0)) / np.where(std > 0, std, 1.0)
        return np.hstack([z, self.shares * CATEGORY_WEIGHT]), z


def behaviour_features(h: History) -> Features:
    n_events = h.per_subject()
    keep = np.flatnonzero(n_events >= conf.get("SEGMENTS_CLUSTERS_MIN_EVENTS"))
    n_sess = int(h.session.max()) + 1 if len(h.session) else 0
    sess_subj = np.zeros(n_sess, np.int64)
    sess_subj[h.session] = h.subj
    start, end = np.full(n_sess, np.inf), np.full(n_sess, -np.inf)
    np.minimum.at(start, h.session, h.ts)
    np.maximum.at(end, h.session, h.ts)
    sessions = np.bincount(sess_subj, minlength=h.n_subjects).astype(float)
    minutes = np.bincount(sess_subj, weights=(end - start) / 60.0, minlength=h.n_subjects) / np.maximum(sessions, 1)

    first, last = h.first_per_subject(), h.last_per_subject()
    months = np.maximum((h.now - first) / DAY, 7.0) / 30.0
    visit_frequency = sessions / months

    priced = ~np.isnan(h.price)
    price_sum = h.per_subject(np.nan_to_num(h.price), priced)
    price_n = h.per_subject(mask=priced)
    overall = float(np.nanmedian(h.price)) if priced.any() else 0.0
    price_level = np.where(price_n > 0, price_sum / np.maximum(price_n, 1), overall)

    carted = np.bincount(h.session[h.etype == "add_to_cart"], minlength=n_sess) > 0
    bought = np.bincount(h.session[h.is_purchase], minlength=n_sess) > 0
    cart_sessions = np.bincount(sess_subj, weights=carted, minlength=h.n_subjects)
    abandoned = np.bincount(sess_subj, weights=carted & ~bought, minlength=h.n_subjects)
    abandonment = np.where(cart_sessions > 0, abandoned / np.maximum(cart_sessions, 1), 0.0)

    recency = (h.now - last) / DAY

    top_n = int(conf.get("SEGMENTS_CLUSTERS_TOP_CATEGORIES"))
    known = h.cat >= 0
    cat_counts = np.bincount(h.cat[known], minlength=len(h.categories))
    top = np.argsort(-cat_counts, kind="stable")[:top_n]
    top = top[cat_counts[top] > 0]
    shares = np.zeros((h.n_subjects, len(top)))
    for j, c in enumerate(top.tolist()):
        shares[:, j] = h.per_subject(mask=h.cat == c)
    shares /= np.maximum(n_events, 1)[:, None]

    raw = np.column_stack([visit_frequency, minutes, price_level, abandonment, recency])
    return Features(keep, raw[keep], shares[keep], [h.categories[c] for c in top.tolist()])


def choose_k(x: np.ndarray, seed: int) -> int:
    fixed = conf.get("SEGMENTS_CLUSTERS_K")
    if fixed:
        return max(1, min(int(fixed), len(x)))
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    lo, hi = conf.get("SEGMENTS_CLUSTERS_K_RANGE")
    if len(x) > SEARCH_SAMPLE:  # the search only compares k: a sample is enough
        x = x[np.random.default_rng(seed).choice(len(x), SEARCH_SAMPLE, replace=False)]
    best_k, best = 1, -1.0
    for k in range(max(2, lo), min(hi, len(x) - 1) + 1):
        labels = KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(x)
        if len(set(labels.tolist())) < 2:
            continue
        sil = silhouette_score(x, labels, random_state=seed)
        if sil > best:
            best_k, best = k, sil
    return best_k


def cluster(feats: Features) -> tuple[np.ndarray, np.ndarray]:
    """Cluster number (0 = largest) and distance to its centre, per shopper."""
    from sklearn.cluster import KMeans

    x, _ = feats.matrix()
    if len(x) < 2:
        return np.zeros(len(x), int), np.zeros(len(x))
    seed = int(conf.get("SEGMENTS_CLUSTERS_RANDOM_STATE"))
    k = choose_k(x, seed)
    model = KMeans(n_clusters=k, random_state=seed, n_init=4).fit(x)
    labels = model.labels_
    dist = np.linalg.norm(x - model.cluster_centers_[labels], axis=1)
    sizes = np.bincount(labels, minlength=k)
    # Number clusters by size, ties broken by the centre, so the numbering is reproducible.
    order = sorted(range(k), key=lambda c: (-sizes[c], tuple(np.round(model.cluster_centers_[c], 6))))
    renumber = np.empty(k, int)
    renumber[order] = np.arange(k)
    return renumber[labels], dist


def describe(feats: Features, members: np.ndarray) -> tuple[str, str]:
    """(short name, longer description) of the shoppers at positions ``members``."""
    _, z = feats.matrix()
    zc = z[members].mean(axis=0)
    standouts = sorted((i for i in range(len(NUMERIC)) if abs(zc[i]) >= STANDOUT_Z), key=lambda i: -abs(zc[i]))[:3]
    words = [PHRASES[NUMERIC[i]][0 if zc[i] > 0 else 1] for i in standouts]
    if feats.shares.shape[1]:
        share = feats.shares[members].mean(axis=0)
        population = feats.shares.mean(axis=0)
        c = int(np.argmax(share))
        if share[c] >= 0.4 and share[c] >= 1.2 * population[c]:
            words.append(f"mostly {feats.categories[c]}")
    name = ", ".join(words) if words else "typical shoppers"
    m = feats.raw[members].mean(axis=0)
    details = (
        f"{m[0]:.1f} visits a month, sessions of {m[1]:.0f} min, average price {m[2]:.2f}, "
        f"{m[3]:.0%} of carts abandoned, last seen {m[4]:.0f} days ago"
    )
    if feats.shares.shape[1]:
        share = feats.shares[members].mean(axis=0)
        top = [c for c in np.argsort(-share)[:2].tolist() if share[c] >= 0.05]
        if top:
            details += "; top categories " + ", ".join(f"{feats.categories[c]} ({share[c]:.0%})" for c in top)
    return name[0].upper() + name[1:], f"{name[0].upper() + name[1:]}: {details}."


def compute(h: History) -> list[SegmentResult]:
    import sklearn.cluster  # noqa: F401 - load its OpenMP runtime before limiting it
    from threadpoolctl import threadpool_limits

    feats = behaviour_features(h)
    if len(feats.subjects) < MIN_SHOPPERS:
        return []
    # One thread: the matrix is small, and OpenMP threads spin-waiting on a busy machine
    # made k-means 40x slower in the benchmark.
    with threadpool_limits(1):
        labels, dist = cluster(feats)
    results = []
    used: set[str] = set()
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        rows = np.flatnonzero(labels == c)
        name, description = describe(feats, rows)
        if name in used:  # two clusters that differ only in weaker features
            name = f"{name} ({c + 1})"
        used.add(name)
        raw = feats.raw[rows]
        reasons = [
            f"{vf:.1f} visits/month, sessions {sl:.0f} min, average price {pl:.2f}, {ab:.0%} carts abandoned, last seen {rc:.0f} days ago"
            for vf, sl, pl, ab, rc in raw.tolist()
        ]
        results.append(SegmentResult(f"cluster:{c + 1}", name, SegmentKind.CLUSTER, description, feats.subjects[rows], np.round(dist[rows], 4), reasons))
    return results
