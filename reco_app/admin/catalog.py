from __future__ import annotations

from django.contrib import admin

from reco_app.models import CatalogItem, Event


@admin.register(CatalogItem)
class CatalogItemAdmin(admin.ModelAdmin):
    list_display = ["product_key", "name", "category", "brand", "price", "stock", "in_stock", "published", "launched_at"]
    list_filter = ["in_stock", "published", "category", "brand"]
    search_fields = ["product_key", "name", "brand", "category"]
    readonly_fields = ["first_seen_at", "updated_at"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "event_type", "subject", "product_key", "value", "consent", "source"]
    list_filter = ["event_type", "consent", "source"]
    search_fields = ["subject", "product_key", "=event_id", "session_id"]
    date_hierarchy = "timestamp"
    list_select_related = False
    show_full_result_count = False
