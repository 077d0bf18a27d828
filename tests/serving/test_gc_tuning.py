"""Long-lived serving state is frozen out of the garbage collector's walks."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_loading_the_catalog_freezes_what_is_alive_unless_turned_off(settings) -> None:  # type: ignore[no-untyped-def]
    import gc

    from reco_app.serving import catalog_index

    gc.unfreeze()  # an earlier test may have loaded serving state with the default (on)
    try:
        catalog_index.reset()
        catalog_index.get_catalog()
        assert gc.get_freeze_count() == 0  # tests turn it off
        settings.RECO_APP = {**settings.RECO_APP, "GC_FREEZE": True}
        catalog_index.reset()
        catalog_index.get_catalog()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        catalog_index.reset()
