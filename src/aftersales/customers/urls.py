"""Staff pages of the customer file, included under the `web` namespace at /customers/."""

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("", views.customer_search, name="customer_search"),
    path("call/", views.caller_lookup, name="caller_lookup"),
    path("new/", views.customer_new, name="customer_new"),
    path("tiers/", views.tier_report, name="customer_tiers"),
    path("<int:pk>/", views.customer_detail, name="customer_detail"),
    path("<int:pk>/reveal/", views.customer_reveal, name="customer_reveal"),
    path("<int:pk>/merge/", views.customer_merge, name="customer_merge"),
    path("<int:pk>/tier/", views.customer_tier_override, name="customer_tier_override"),
]
