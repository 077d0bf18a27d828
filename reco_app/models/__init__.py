"""reco_app's models. Each area keeps its models in its own module here."""

from reco_app.models.catalog import CatalogItem
from reco_app.models.counters import DroppedEventCount
from reco_app.models.events import Event, EventType
from reco_app.models.registry import ModelVersion

# tracking & consent
from reco_app.models.consent import ConsentRecord  # noqa: E402
# training
from reco_app.models.training import SuppressedSubject
# merchandising rules
from reco_app.models.rules import Rule, RuleChange  # noqa: E402,F401
# segments
from reco_app.models.segments import Segment, SegmentKind, SegmentMembership, SegmentSizeSnapshot  # noqa: E402,F401

__all__ = [
    "CatalogItem",
    "ConsentRecord",
    "DroppedEventCount",
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
