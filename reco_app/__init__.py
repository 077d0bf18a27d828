"""reco_app: privacy-respecting product recommendations for Django shops.

Public API (imported lazily so that importing the package never touches settings
or the app registry):

* ``reco_app.track(request, event_type, product=None, value=None, **context)``
* ``reco_app.recommend(subject, placement="for_you", *, limit=10, ...)``
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "recommend", "track"]


def track(*args: Any, **kwargs: Any) -> Any:
    from reco_app.tracking.service import track as _track

    return _track(*args, **kwargs)


def recommend(*args: Any, **kwargs: Any) -> Any:
    from reco_app.serving.pipeline import recommend as _recommend

    return _recommend(*args, **kwargs)
