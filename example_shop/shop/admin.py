from __future__ import annotations

from django.contrib import admin

from example_shop.shop.models import Brand, Category, Order, OrderLine, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "brand", "price", "stock", "is_active", "created_at")
    list_filter = ("is_active", "category", "brand", "created_at")
    list_editable = ("price", "stock", "is_active")
    search_fields = ("sku", "name", "tags", "description", "brand__name")
    list_select_related = ("category", "brand")
    autocomplete_fields = ("category", "brand")
    date_hierarchy = "created_at"
    list_per_page = 50


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    autocomplete_fields = ("product",)
    readonly_fields = ("line_total",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("__str__", "user", "email", "created_at", "total")
    list_filter = ("created_at",)
    search_fields = ("email", "full_name", "user__username", "lines__product__sku")
    date_hierarchy = "created_at"
    inlines = [OrderLineInline]
    raw_id_fields = ("user",)
