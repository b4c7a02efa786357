from django.urls import path

from . import views

urlpatterns = [
    path("", views.complaint_list, name="complaint_list"),
    path("new/", views.complaint_new, name="complaint_new"),
    path("reviews/", views.complaint_reviews, name="complaint_reviews"),
    path("approvals/", views.complaint_approvals, name="complaint_approvals"),
    path("report/", views.complaint_report, name="complaint_report"),
    path("<str:number>/", views.complaint_detail, name="complaint_detail"),
    path("<str:number>/<slug:action>/", views.complaint_action, name="complaint_action"),
]
