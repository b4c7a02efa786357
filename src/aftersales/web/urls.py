from django.urls import include, path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("customers/", include("aftersales.customers.urls")),
    path("units/", include("aftersales.catalog.urls")),
    path("cases/", include("aftersales.cases.urls")),
    path("complaints/", include("aftersales.complaints.urls")),
    path("sla/", include("aftersales.sla.urls")),
    path("notifications/", include("aftersales.notifications.urls")),
    path("audit/", include("aftersales.core.urls")),
    path("privacy/", include("aftersales.privacy.urls")),
    path("callbacks/", include("aftersales.callbacks.urls")),
    path("parts/", include("aftersales.parts.urls")),
]
