from django.contrib import admin
from django.urls import include, path

from example_shop.shop import views

urlpatterns = [
    # first: reco.js beacons are the most frequent request, and URLs resolve in order
    path("reco/", include("reco_app.urls")),
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("search/", views.search, name="search"),
    path("p/<str:sku>/", views.product_detail, name="product_detail"),
    path("img/<str:sku>.svg", views.product_image, name="product_image"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/<str:sku>/", views.cart_add, name="cart_add"),
    path("cart/update/<str:sku>/", views.cart_update, name="cart_update"),
    path("cart/remove/<str:sku>/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<int:pk>/", views.order_confirmation, name="order_confirmation"),
    path("account/", views.account, name="account"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("cookies/", include("cookie_consent.urls")),
    path("admin/", admin.site.urls),
]
