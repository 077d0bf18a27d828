"""Celery tasks (thin ``@shared_task`` wrappers); each area keeps its own in ``<area>/tasks.py``.

Celery's autodiscovery imports this module, which re-exports every area's tasks: tracking
and consent (retention, a withdrawal's derived data), training, segments (batch, live sweep, live queue).
"""

from reco_app.consent.tasks import erase_derived, forget_late  # noqa: F401
from reco_app.segments.tasks import (  # noqa: F401
    drain_live_segments,
    evaluate_live_segments,
    recompute_segments,
    sweep_live_segments,
)
from reco_app.tracking.tasks import purge_events  # noqa: F401
from reco_app.training.tasks import evaluate, train_full, train_incremental  # noqa: F401
