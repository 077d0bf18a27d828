"""What every segment computation returns: members with a score and a reason each."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SegmentResult:
    key: str
    name: str
    kind: str
    description: str
    members: np.ndarray  # subject ids (indexes into History.subjects)
    scores: np.ndarray  # one float per member
    reasons: list[str] = field(default_factory=list)  # one "why" per member

    @property
    def size(self) -> int:
        return len(self.members)
