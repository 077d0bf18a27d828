"""Consented event history as column arrays (one query, no ORM loops).

Every batch segment (RFM, lifecycle, clusters, manual) reads the same :class:`History`,
built once per run by :func:`load_history`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from django.utils import timezone

from reco_app import conf
from reco_app.models import CatalogItem, Event
from reco_app.models.purchases import purchase_amount

DAY = 86400.0


@dataclass
class History:
    now: float  # epoch seconds
    subjects: np.ndarray  # unique subject keys (object array), index = subject id
    subj: np.ndarray  # per event: subject id
    etype: np.ndarray  # per event: event type (str array)
    ts: np.ndarray  # per event: epoch seconds
    value: np.ndarray  # per event: value (nan when absent); a purchase's is the quantity
    #: per event: money of a purchase (quantity × unit price, as
    #: :func:`reco_app.models.purchases.line_total` prices it), 0 for other events
    amount: np.ndarray
    price: np.ndarray  # per event: catalog price of the product (nan when unknown)
    cat: np.ndarray  # per event: category id (-1 when unknown)
    session: np.ndarray  # per event: session id, unique across subjects
    categories: list[str] = field(default_factory=list)

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @cached_property
    def is_purchase(self) -> np.ndarray:
        return self.etype == "purchase"

    def per_subject(self, weights: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``weights`` (or a count) per subject over events in ``mask``."""
        subj = self.subj if mask is None else self.subj[mask]
        w = None if weights is None else (weights if mask is None else weights[mask])
        return np.bincount(subj, weights=w, minlength=self.n_subjects).astype(float)

    def last_per_subject(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Latest timestamp per subject among events in ``mask`` (-inf when none)."""
        out = np.full(self.n_subjects, -np.inf)
        m = slice(None) if mask is None else mask
        np.maximum.at(out, self.subj[m], self.ts[m])
        return out

    def first_per_subject(self, mask: np.ndarray | None = None) -> np.ndarray:
        out = np.full(self.n_subjects, np.inf)
        m = slice(None) if mask is None else mask
        np.minimum.at(out, self.subj[m], self.ts[m])
        return out

    def distinct_per_subject(self, ids: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Number of distinct ``ids`` per subject among events in ``mask``."""
        m = np.ones(len(self.subj), bool) if mask is None else mask
        pairs = np.unique(np.stack([self.subj[m], ids[m]]), axis=1)
        return np.bincount(pairs[0], minlength=self.n_subjects).astype(float)

    def subject_index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.subjects.tolist())}


def _factorize(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    uniques, codes = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    return uniques.astype(object), codes.astype(np.int64)


def load_history(now: dt.datetime | None = None, window_days: int | None = None) -> History:
    """Consented events of the last ``window_days`` (setting SEGMENTS_WINDOW_DAYS)."""
    now = now or timezone.now()
    days = window_days if window_days is not None else conf.get("SEGMENTS_WINDOW_DAYS")
    rows = list(
        Event.objects.consented()
        .since(now - dt.timedelta(days=days))
        .filter(timestamp__lte=now)
        .annotate(amount=purchase_amount())
        .values_list("subject", "event_type", "product_key", "value", "amount", "session_id", "timestamp")
        .order_by()
    )
    if not rows:
        empty = np.zeros(0)
        return History(now.timestamp(), np.zeros(0, object), empty.astype(np.int64), empty.astype(str), empty, empty, empty, empty, empty.astype(np.int64), empty.astype(np.int64))
    subject_col, type_col, product_col, value_col, amount_col, session_col, ts_col = zip(*rows)
    subjects, subj = _factorize(list(subject_col))
    ts = np.fromiter((t.timestamp() for t in ts_col), float, len(rows))
    value = np.array(value_col, float)  # None becomes nan
    amount = np.array(amount_col, float)

    products, prod = _factorize(list(product_col))
    catalog = {k: (c, p) for k, c, p in CatalogItem.objects.values_list("product_key", "category", "price").order_by()}
    info = [catalog.get(p, ("", None)) for p in products.tolist()]
    prod_price = np.array([np.nan if p is None else p for _, p in info], float)
    categories = sorted({c for c, _ in info if c})
    cat_index = {c: i for i, c in enumerate(categories)}
    prod_cat = np.array([cat_index.get(c, -1) for c, _ in info], np.int64)

    # A session is (subject, session id); events without one fall into a per-day session.
    day = (ts // DAY).astype(np.int64)
    session_keys = [f"{s}\x00{sid or d}" for s, sid, d in zip(subj.tolist(), session_col, day.tolist())]
    _, session = _factorize(session_keys)
    return History(
        now=now.timestamp(),
        subjects=subjects,
        subj=subj,
        etype=np.asarray(type_col, dtype=str),
        ts=ts,
        value=value,
        amount=amount,
        price=prod_price[prod],
        cat=prod_cat[prod],
        session=session,
        categories=categories,
    )
