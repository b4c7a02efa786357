from django.urls import path

from . import views

urlpatterns = [
    path("", views.case_queue, name="case_queue"),
    path("new/", views.case_new, name="case_new"),
    path("<str:number>/", views.case_detail, name="case_detail"),
    path(
        "<str:number>/attachments/<int:attachment_id>/",
        views.case_attachment_download,
        name="case_attachment_download",
    ),
    path(
        "<str:number>/<slug:kind>/",
        views.case_action,
        name="case_action",
    ),
]
