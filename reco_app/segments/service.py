"""Seam for shopper segments (the segments area replaces these with real lookups).

* ``segments_for(subject)`` → segment keys the shopper belongs to now (serving, rules);
* ``user_features(subjects)`` → per subject, the segment keys to use as LightFM user
  features (training).
"""

from __future__ import annotations


def segments_for(subject: str | None) -> list[str]:
    return []


def user_features(subjects: list[str]) -> dict[str, list[str]]:
    return {}
