"""Staff pages of return visits, included under the `web` namespace at /callbacks/."""

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("", views.visit_worklist, name="visit_worklist"),
    path("report/", views.callback_report, name="callback_report"),
    path("<int:pk>/", views.visit_detail, name="visit_detail"),
    path("<int:pk>/<slug:action>/", views.visit_action, name="visit_action"),
]
