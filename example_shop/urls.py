from django.contrib import admin
from django.urls import include, path

from example_shop.shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("search/", views.search, name="search"),
    path("p/<str:sku>/", views.product_detail, name="product_detail"),
    path("img/<str:sku>.svg", views.product_image, name="product_image"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("reco/", include("reco_app.urls")),
    path("cookies/", include("cookie_consent.urls")),
    path("admin/", admin.site.urls),
]
