"""Merchandising rules: pins, boosts, buries, exclusions, filters, caps."""
