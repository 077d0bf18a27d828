"""reco_app's models. Each area keeps its models in its own module here."""

from reco_app.models.catalog import CatalogItem
from reco_app.models.counters import DroppedEventCount
from reco_app.models.events import Event, EventType
from reco_app.models.registry import ModelVersion

# tracking & consent
# training
from reco_app.models.training import SuppressedSubject
# merchandising rules
# segments

__all__ = ["CatalogItem", "DroppedEventCount", "Event", "EventType", "ModelVersion", "SuppressedSubject"]
