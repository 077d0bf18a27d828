"""reco_app's models. Each area keeps its models in its own module here."""

from reco_app.models.catalog import CatalogItem
from reco_app.models.counters import DroppedEventCount
from reco_app.models.events import Event, EventType
from reco_app.models.registry import ModelVersion

# tracking & consent
# training
# merchandising rules
# segments
from reco_app.models.segments import Segment, SegmentKind, SegmentMembership, SegmentSizeSnapshot  # noqa: E402,F401

__all__ = ["CatalogItem", "DroppedEventCount", "Event", "EventType", "ModelVersion"]
