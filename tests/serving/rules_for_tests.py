"""A tiny rules stage for tests: pins and hides what the test says (stands in for merchandising)."""

from __future__ import annotations

from typing import Any

import numpy as np

from reco_app.serving.types import Candidates, CatalogIndex, ServingContext

RULES: dict[str, Any] = {"pin": None, "hide": []}


class PinAndHide:
    def apply(self, cands: Candidates, catalog: CatalogIndex, ctx: ServingContext) -> Candidates:
        hide = catalog.indices(RULES["hide"])
        out = cands.take(~np.isin(cands.idx, hide))
        if RULES["pin"]:
            row = catalog.key_to_idx[RULES["pin"]]
            out.pinned = {0: row}
            out.trace = {row: ["pin-test"]}
            out.reasons = {row: "Staff pick"}
        return out
