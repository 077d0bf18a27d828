"""Celery tasks (thin ``@shared_task`` wrappers); each area keeps its own in ``<area>/tasks.py``.

Celery's autodiscovery imports this module, which re-exports every area's tasks.
"""

# tracking & consent
from reco_app.tracking.tasks import purge_events  # noqa: F401,E402
# training
from reco_app.training.tasks import evaluate, train_full, train_incremental  # noqa: E402,F401
# serving
# merchandising rules
# segments
from reco_app.segments.tasks import evaluate_live_segments, recompute_segments, sweep_live_segments  # noqa: F401
