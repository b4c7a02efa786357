"""The customer's survey page (no sign-in), included at the site root: /survey/<token>/."""

from django.urls import URLPattern, path

from . import portal

urlpatterns: list[URLPattern] = [
    path("survey/<str:token>/", portal.survey_page, name="survey"),
]
