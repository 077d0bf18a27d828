"""Keep the garbage collector away from what a web process loads once and keeps.

A full collection walks every tracked object alive; after the catalog index and the model
are loaded that is most of Django and reco_app, and a walk took tens of milliseconds — one in
a few hundred cache misses paid it. :func:`freeze_loaded` moves everything alive at that
moment to the permanent generation (``gc.freeze()``), so later collections only look at
objects made since. Objects that are not in reference cycles are still freed as usual when
dropped (a replaced catalog index or model is). ``GC_FREEZE = False`` turns it off.
"""

from __future__ import annotations

import gc

from reco_app import conf


def freeze_loaded() -> None:
    """Called after loading a catalog index or aligning a model."""
    if conf.get("GC_FREEZE"):
        gc.freeze()
