"""System checks for the serving settings (ids reco_app.E501-E102)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from reco_app import conf


@register(Tags.compatibility)
def check_serving(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from reco_app.serving.placements import _build, placement_configs

    errors = []
    try:
        configs = placement_configs()
    except Exception as exc:  # noqa: BLE001 - report, don't crash the checks
        return [Error(f'RECO_APP["PLACEMENTS"] is malformed: {exc}', id="reco_app.E501")]
    for name, cfg in configs.items():
        try:
            _build(name, cfg)
        except Exception as exc:  # noqa: BLE001
            errors.append(Error(f'RECO_APP["PLACEMENTS"][{name!r}] cannot be built: {exc}', hint="Check the dotted paths and options of its sources, filters and ranker.", id="reco_app.E501"))
    try:
        import_string(conf.get("RULES_STAGE"))
    except ImportError as exc:
        errors.append(Error(f'RECO_APP["RULES_STAGE"] cannot be imported: {exc}', id="reco_app.E502"))
    return errors
