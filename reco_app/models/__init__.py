"""reco_app's models. Each area keeps its models in its own module here."""

from reco_app.models.catalog import CatalogItem

# tracking & consent
from reco_app.models.consent import ConsentRecord
from reco_app.models.counters import DroppedEventCount
from reco_app.models.erasure import ErasureMarker
from reco_app.models.events import Event, EventType
from reco_app.models.registry import ModelVersion

# merchandising rules
from reco_app.models.rules import Rule, RuleChange

# segments
from reco_app.models.segments import Segment, SegmentKind, SegmentMembership, SegmentSizeSnapshot

# training
from reco_app.models.training import SuppressedSubject

__all__ = [
    "CatalogItem",
    "ConsentRecord",
    "DroppedEventCount",
    "ErasureMarker",
    "Event",
    "EventType",
    "ModelVersion",
    "Rule",
    "RuleChange",
    "Segment",
    "SegmentKind",
    "SegmentMembership",
    "SegmentSizeSnapshot",
    "SuppressedSubject",
]
