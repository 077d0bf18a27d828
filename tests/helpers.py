"""Small helpers shared by tests of several areas."""

from __future__ import annotations

from typing import Any

from reco_app.adapter import get_adapter


def customer_key(user: Any) -> str:
    """The subject key reco_app uses for a logged-in user (the shop adapter decides)."""
    return get_adapter().customer_key(user)
