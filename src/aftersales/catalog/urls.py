from django.urls import path

from . import views

urlpatterns = [
    path("", views.unit_list, name="unit_list"),
    path("<int:pk>/", views.unit_detail, name="unit_detail"),
    path("import/", views.unit_import, name="unit_import"),
    path("import/<int:pk>/", views.unit_import_report, name="unit_import_report"),
]
