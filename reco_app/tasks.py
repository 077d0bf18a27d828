"""Celery tasks (thin ``@shared_task`` wrappers); each area keeps its own in ``<area>/tasks.py``.

Celery's autodiscovery imports this module, which re-exports every area's tasks.
"""

# tracking & consent
# training
from reco_app.training.tasks import evaluate, train_full, train_incremental  # noqa: E402,F401
# serving
# merchandising rules
# segments
