from django.urls import path

from . import views

urlpatterns = [
    path("breaches/", views.sla_breaches, name="sla_breaches"),
]
