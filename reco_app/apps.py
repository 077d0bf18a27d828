from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecoAppConfig(AppConfig):
    name = "reco_app"
    verbose_name = _("Recommendations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from reco_app import (
            checks,  # noqa: F401  (registers system checks)
            signals,
        )

        signals.connect_catalog_signals()
        from reco_app.rules import service as _rules  # noqa: F401  (rule cache invalidation, audit)
        from reco_app.tracking import checks as _tracking_checks  # noqa: F401  tracking & consent
        from reco_app.tracking import receivers

        receivers.connect()
        # segments
        from reco_app.segments import service as segments_service

        segments_service.connect()

        from reco_app.training import checks as training_checks  # noqa: F401
        from reco_app.training import suppression

        suppression.register()

        from reco_app.serving import receivers as serving_receivers

        serving_receivers.connect()
