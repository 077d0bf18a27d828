"""The public entry point: :func:`recommend` (and :func:`preview` for the admin).

A request: resolve the subject, find the list in this process, the shared cache (read with
the shopper's namespace) or compute it (:mod:`reco_app.serving.run`: candidate sources →
blend → filters → merchandising rules → ranking → fallback fill), then hand out its cards.
Results are cached under versioned keys (model, rules, catalog; a shopper's lists tagged
with their namespace version), and served without the cache when Redis is down.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string

from reco_app import cache as reco_cache
from reco_app import conf
from reco_app.adapter import key_of
from reco_app.serving import local_cache
from reco_app.serving.catalog_index import get_catalog
from reco_app.serving.placements import Pipeline, UnknownPlacement, get_pipeline
from reco_app.serving.run import Row, rules_stage, run
from reco_app.serving.subjects import Who, resolve
from reco_app.serving.tokens import make_token
from reco_app.serving.types import CatalogIndex, ServingContext

logger = logging.getLogger(__name__)

__all__ = ["InvalidLimit", "MissingProduct", "Recommendation", "RecommendationError", "UnknownPlacement", "preview", "recommend"]


class RecommendationError(ValueError):
    """Bad arguments to :func:`recommend` (the API turns these into 400s)."""


class InvalidLimit(RecommendationError):
    pass


class MissingProduct(RecommendationError):
    pass


class _ProductBatch:
    """Loads the shop's product objects of one list in one query, on first access."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self._objects: dict[str, Any] | None = None

    def get(self, key: str) -> Any:
        if self._objects is None:
            from reco_app.adapter import get_adapter

            self._objects = get_adapter().get_products(self.keys)
        return self._objects.get(key)


@dataclass
class Recommendation:
    product_key: str
    name: str
    url: str
    image: str
    price: float | None
    score: float
    reason: str
    source: str
    token: str = ""  # the signed rec token (issued with the list, so cached lists keep theirs)
    placement: str = ""
    position: int = 0  # 1-based
    model_version: int | None = None
    _batch: _ProductBatch | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.token:
            self.token = make_token(self.placement, self.product_key, self.position, self.model_version)

    @property
    def product(self) -> Any:
        """The shop's product object (all products of the list load in one query)."""
        return self._batch.get(self.product_key) if self._batch else None

    @property
    def link(self) -> str:
        """The product URL carrying the rec token (``?rt=``)."""
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}rt={quote(self.token, safe=':')}"


def recommend(subject: Any = None, placement: str = "for_you", *, limit: int = 10, product: Any = None, cart: Any = None, context: dict[str, Any] | None = None) -> list[Recommendation]:
    """Recommendations for ``subject`` in ``placement``, best first.

    ``subject``: a request (consent decides personalisation), a user, ``"anon:<visitor id>"``
    or a customer key string (as in imported event files). ``product``: the product on the
    page (object or key), required by ``similar`` and ``bought_together``. ``cart``: products
    or keys in the cart. ``context``: ``{"category": ..., "exclude": [keys], "device": ...}``.
    """
    args = _arguments(subject, placement, limit, product, cart)
    memo = _page_memo(subject)
    if memo is None:
        return _recommend(*args, context or {})
    # the same list asked twice by one page (a template's two tags)
    pipeline, limit, _who, product_key, cart_keys = args
    memo_key = (pipeline.name, limit, product_key, tuple(cart_keys), repr(sorted((context or {}).items())))
    found = memo.get(memo_key)
    if found is None or found[0] != reco_cache.generation:
        found = memo[memo_key] = (reco_cache.generation, _recommend(*args, context or {}))
    return list(found[1])


def _page_memo(subject: Any) -> dict[Any, Any] | None:
    """A request's own memo of the lists it was given, while nothing was bumped since
    (``reco_app.cache.generation``); None for other subjects."""
    if not isinstance(subject, HttpRequest):
        return None
    memo = getattr(subject, "_reco_recommendations", None)
    if memo is None:
        memo = subject._reco_recommendations = {}  # type: ignore[attr-defined]
    return memo


def _recommend(
    pipeline: Pipeline, limit: int, who: Who, product_key: str | None, cart_keys: list[str], context: dict[str, Any]
) -> list[Recommendation]:
    # A placement that reads no history (similar, trending…) is one list per product, cart,
    # segments and device, shared by every shopper: a shopper's new events do not touch it.
    personal = pipeline.personal and who.personalised and who.subject
    page_exclude = list(dict.fromkeys(str(k) for k in context.get("exclude", []))) if not personal else []
    if page_exclude:
        # "not what the page already shows" (e.g. trending below a personal list): the shared
        # list, a little longer, minus those products — instead of one list per shopper
        context = {k: v for k, v in context.items() if k != "exclude"}
        shown = set(page_exclude)
        wanted, limit = limit, limit + len(page_exclude)
    versions = local_cache.ns_versions(["model", "rules", "catalog"])  # (usually from this process's memo)
    catalog = get_catalog(versions["catalog"])
    varies = _varies_by(pipeline, catalog)
    ctx = _context(pipeline, who, limit, product_key, cart_keys, context, segments="segments" in varies)
    if not personal:
        ctx.subject = None  # the list is shared: nothing in it may depend on who computed it
    # segments and device are part of the key only when a rule looks at them (the page's
    # category comes in ``context``, which is always part of it)
    key = reco_cache.make_key(
        "rec", pipeline.name, who.subject if personal else "-", int(bool(personal)), product_key or "-",
        _digest(cart_keys, context, ctx.segments, ctx.device if "device" in varies else ""), limit, catalog.version,
        versions["model"], versions["rules"],
    )
    model_ns = versions["model"]
    tag, prefetched, cacheable = None, None, versions.read
    if personal:
        # the shopper's namespace and their list in one round trip: the list is tagged with
        # the namespace version it was computed at, and used only under the current one
        # (and, for a list computed again, the copy of their history the view writer keeps
        # and the flag saying whether their trained vector was erased, each with the version
        # it stands at)
        namespace, subject = f"subject:{who.subject}", str(who.subject)
        history, history_at = reco_cache.history_keys(subject)
        flag, flag_at = reco_cache.suppressed_keys(subject)
        mine = local_cache.ns_versions([namespace], prefetch=(key, history, history_at, flag, flag_at))
        tag, prefetched, cacheable = mine[namespace], mine.prefetched.get(key), cacheable and mine.read
        found = mine.prefetched
        if mine.read:
            ctx.extra["subject_version"] = tag
            ctx.extra["suppressed"] = (found.get(flag), found.get(flag_at))
        else:
            ctx.extra["subject_version"] = None
        if history in found:
            ctx.extra["history"] = (found[history], found.get(history_at))

    def compute() -> tuple[int | None, list[tuple[Any, ...]]]:
        version, rows = run(pipeline, catalog, ctx, who, model_ns)
        return version, [_card(catalog, pipeline.name, pos, version, row) for pos, row in enumerate(rows, start=1)]

    # the cached value holds everything a card shows, so a hit touches no array and signs nothing
    if cacheable:
        model_version, cards = local_cache.get_or_set(
            key, compute, subject=who.subject if personal else None, tag=tag, prefetched=prefetched,
        )
    else:
        # the shared cache is down: every version reads as 1, the same before and after an
        # erasure or a new event, so a list kept here could outlive them: computed, not kept
        model_version, cards = compute()
    if page_exclude:
        kept = [(pos, c) for pos, c in enumerate(cards, start=1) if c[0] not in shown][:wanted]
        # a card that moved up gets a token naming its new position
        cards = [c if was == pos else (*c[:-1], make_token(pipeline.name, c[0], pos, model_version))
                 for pos, (was, c) in enumerate(kept, start=1)]
    batch = _ProductBatch([c[0] for c in cards])
    return [
        Recommendation(
            product_key=k, name=name, url=url, image=image, price=price, score=score, reason=reason, source=source,
            token=token, placement=pipeline.name, position=pos, model_version=model_version, _batch=batch,
        )
        for pos, (k, name, url, image, price, score, reason, source, token) in enumerate(cards, start=1)
    ]


def _card(catalog: CatalogIndex, placement: str, position: int, version: int | None, row: Row) -> tuple[Any, ...]:
    """The fields of one :class:`Recommendation`, in order, up to ``source``, plus its token."""
    key, score, source, reason, _rules = row
    i = catalog.key_to_idx[key]
    price = None if np.isnan(catalog.price[i]) else float(catalog.price[i])
    token = make_token(placement, key, position, version)
    return (key, str(catalog.names[i]), str(catalog.urls[i]), str(catalog.images[i]), price, score, reason, source, token)


def preview(subject: Any, placement: str, *, limit: int = 10, product: Any = None, cart: Any = None) -> dict[str, list[dict[str, Any]]]:
    """The list without and with the merchandising rules (uncached), for the rules admin."""
    pipeline, limit, who, product_key, cart_keys = _arguments(subject, placement, limit, product, cart)
    catalog = get_catalog()
    result = {}
    for label, with_rules in (("before", False), ("after", True)):
        ctx = _context(pipeline, who, limit, product_key, cart_keys, {})
        _version, rows = run(pipeline, catalog, ctx, who, None, with_rules=with_rules)
        result[label] = [
            {"position": pos, "product_key": k, "name": str(catalog.names[catalog.key_to_idx[k]]), "score": s, "source": src, "reason": reason, "rules": rules}
            for pos, (k, s, src, reason, rules) in enumerate(rows, start=1)
        ]
    return result


def _arguments(subject: Any, placement: str, limit: Any, product: Any, cart: Any) -> tuple[Pipeline, int, Who, str | None, list[str]]:
    pipeline = get_pipeline(placement)
    max_limit = conf.get("MAX_LIMIT")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_limit:
        raise InvalidLimit(f"limit must be an integer from 1 to {max_limit}")
    product_key = key_of(product) or None
    if pipeline.requires == "product" and not product_key:
        raise MissingProduct(f"placement {placement!r} needs a product")
    return pipeline, limit, resolve(subject), product_key, _cart_keys(cart)


def _cart_keys(cart: Any) -> list[str]:
    if not cart:
        return []
    items = cart.keys() if isinstance(cart, dict) else cart
    keys = []
    for item in items:
        item = item[0] if isinstance(item, (tuple, list)) else item
        keys.append(key_of(item))
    return list(dict.fromkeys(k for k in keys if k))


_ALL_PARTS = frozenset({"segments", "device"})


def _varies_by(pipeline: Pipeline, catalog: CatalogIndex) -> frozenset[str]:
    """What the placement's rules stage can depend on (a stage without ``varies_by``: everything)."""
    if not pipeline.rules:
        return frozenset()
    stage = rules_stage()
    varies_by = getattr(stage, "varies_by", None)
    if varies_by is None:
        return _ALL_PARTS
    try:
        return frozenset(varies_by(catalog, pipeline.name))
    except Exception:
        logger.exception("reco_app: rules stage varies_by failed")
        return _ALL_PARTS


def _context(pipeline: Pipeline, who: Who, limit: int, product_key: str | None, cart_keys: list[str], context: dict[str, Any], *, segments: bool = True) -> ServingContext:
    return ServingContext(
        placement=pipeline.name, subject=who.subject, user=who.user, visitor_id=who.visitor_id,
        session_id=who.session_id, product_key=product_key, cart_keys=cart_keys, limit=limit,
        segments=list(context["segments"]) if "segments" in context else (_segments(who) if segments else []),
        device=str(context.get("device") or who.device), page_category=str(context.get("category") or ""),
        personalised=who.personalised, now=timezone.now(),
        extra={"exclude": [str(k) for k in context.get("exclude", [])]},
    )


def _segments(who: Who) -> list[str]:
    if not who.personalised:
        return []
    try:
        return list(import_string(conf.get("SEGMENTS_PROVIDER"))(who.subject))
    except Exception:
        logger.exception("reco_app: SEGMENTS_PROVIDER failed")
        return []


def _digest(cart_keys: list[str], context: dict[str, Any], segments: list[str], device: str) -> str:
    # segments and device: merchandising rules can be scoped to them
    raw = repr((sorted(cart_keys), sorted((k, str(v)) for k, v in context.items()), sorted(segments), device))
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


