from __future__ import annotations

from reco_app.serving.checks import check_serving


def test_default_placements_pass(settings) -> None:  # type: ignore[no-untyped-def]
    assert check_serving() == []


def test_a_bad_placement_or_rules_stage_is_reported(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "PLACEMENTS": {"x": {"sources": ["no.such.Source"]}}, "RULES_STAGE": "no.such.Stage"}
    assert sorted(e.id for e in check_serving()) == ["reco_app.E501", "reco_app.E502"]
