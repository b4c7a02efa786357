from django.urls import path

from . import views

urlpatterns = [
    path("", views.part_list, name="part_list"),
    path("classification/", views.classification, name="part_classification"),
    path("classification/run/", views.classification_start, name="part_classification_run"),
    path("forecast/", views.forecast_list, name="part_forecast"),
    path("forecast/run/", views.forecast_start, name="part_forecast_start"),
    path("forecast/runs/<int:pk>/", views.forecast_run, name="part_forecast_run"),
    path(
        "forecast/runs/<int:pk>/progress/",
        views.forecast_progress,
        name="part_forecast_progress",
    ),
    path("service-curve/", views.service_curve, name="part_service_curve"),
    path(
        "service-curve/targets/",
        views.service_curve_targets,
        name="part_service_curve_targets",
    ),
    path("replenishment/", views.replenishment_page, name="part_replenishment"),
    path(
        "replenishment/suggest/",
        views.replenishment_start,
        name="part_replenishment_suggest",
    ),
    path(
        "replenishment/orders/<int:pk>/<slug:action>/",
        views.order_action,
        name="part_order_action",
    ),
    path(
        "replenishment/transfers/<int:pk>/approve/",
        views.suggested_transfer_approve,
        name="part_suggested_transfer_approve",
    ),
    path("backorders/", views.backorder_list, name="part_backorders"),
    path("backorders/<int:pk>/cancel/", views.backorder_cancel, name="part_backorder_cancel"),
    path("transfers/", views.transfer_list, name="part_transfers"),
    path("transfers/<int:pk>/<slug:action>/", views.transfer_action, name="part_transfer_action"),
    path("counts/", views.count_list, name="part_counts"),
    path("counts/<int:pk>/", views.count_detail, name="part_count"),
    path("cases/<str:number>/reserve/", views.case_reserve, name="part_case_reserve"),
    path("<str:number>/", views.part_detail, name="part_detail"),
    path("<str:number>/<slug:action>/", views.part_action, name="part_action"),
]
