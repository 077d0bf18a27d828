"""The catalog snapshot as a :class:`CatalogIndex` of the serving columns, loaded once per process.

The index is rebuilt when the cache namespace ``"catalog"`` changes: the catalog service
calls :func:`on_catalog_changed` listeners after every snapshot change, and ours bumps it,
so every process (and every web node) picks up the new catalog on its next request.
"""

from __future__ import annotations

import logging
import threading

from reco_app import cache, conf
from reco_app.datasets.catalog import SERVING_FIELDS, CatalogIndex, load_catalog
from reco_app.serving.gc_tuning import freeze_loaded

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_current: CatalogIndex | None = None
_reloading: str | None = None
_thread: threading.Thread | None = None
_dirty = False  # this process changed the catalog (works even while the cache is down)


def get_catalog(version: int | None = None) -> CatalogIndex:
    """The process's catalog index for the current ``"catalog"`` namespace version.

    The first load happens inline. After that, with ``CATALOG_BACKGROUND_RELOAD`` (default),
    a new version is loaded by a background thread (with the model aligned to it) while
    requests keep being served from the previous index, so a stock change after an order does
    not stall every web worker for the seconds a large catalog takes to load.
    """
    global _current, _dirty
    tag = str(cache.ns_version("catalog") if version is None else version)
    current = _current
    if current is not None and current.version == tag and not _dirty:
        return current
    if current is not None and conf.get("CATALOG_BACKGROUND_RELOAD"):
        _reload_in_background(tag)
        return current
    with _lock:
        if _current is None or _current.version != tag or _dirty:
            _dirty = False
            _current = load_catalog(fields=SERVING_FIELDS, version=tag)
            freeze_loaded()
        return _current


def loaded() -> CatalogIndex | None:
    """The index this process has loaded, if any, without checking the cache for a newer
    version (for cheap lookups that tolerate a catalog change still in flight)."""
    return _current


def known_keys(keys: list[str]) -> set[str]:
    """Which of ``keys`` are in the catalog: this process's index first, a fresh one if needed.

    Saves the API a cache round trip per request; only an unknown key checks the version.
    """
    current = _current
    if current is not None and all(k in current.key_to_idx for k in keys):
        return set(keys)
    fresh = get_catalog().key_to_idx
    return {k for k in keys if k in fresh}


def _reload_in_background(tag: str) -> None:
    global _reloading, _thread, _dirty
    with _lock:
        if _reloading == tag and not _dirty:
            return
        _reloading, _dirty = tag, False
        _thread = threading.Thread(target=_reload, args=(tag,), name="reco-catalog-reload", daemon=True)
        _thread.start()


def _reload(tag: str) -> None:
    global _current, _reloading
    from django.db import connections

    from reco_app.serving.model_store import get_model

    try:
        index = load_catalog(fields=SERVING_FIELDS, version=tag)
        get_model(index)  # align the model before the swap, off the request path
        freeze_loaded()
        with _lock:
            if _reloading == tag:  # not superseded by a newer reload or a reset
                _current = index
    except Exception:
        logger.exception("reco_app: reloading the catalog index failed")
    finally:
        with _lock:
            if _reloading == tag:
                _reloading = None
        connections.close_all()


def wait_for_reload(timeout: float = 60.0) -> None:
    """Block until a background reload in progress has finished (tests, commands)."""
    thread = _thread
    if thread is not None:
        thread.join(timeout)


def reset() -> None:
    """Forget this process's index (tests); a reload in progress is waited for and dropped."""
    global _current, _reloading, _dirty
    wait_for_reload()
    with _lock:
        _current, _reloading, _dirty = None, None, False


def invalidate() -> None:
    """Tell every process (this one included) to reload its index."""
    global _dirty
    _dirty = True
    cache.bump("catalog")
