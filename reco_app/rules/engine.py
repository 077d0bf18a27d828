"""Seam for the merchandising rules stage of the serving pipeline.

Interim pass-through until the merchandising area lands its engine here.
"""

from __future__ import annotations

from reco_app.serving.types import Candidates, CatalogIndex, ServingContext


class RulesStage:
    def apply(self, cands: Candidates, catalog: CatalogIndex, ctx: ServingContext) -> Candidates:
        return cands
