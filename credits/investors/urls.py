"""Investors and their liquidations, included into the `credits` namespace."""

from django.urls import path

from credits.investors import views

urlpatterns = [
    path("inversionistas/", views.investor_list, name="investor_list"),
    path("inversionistas/panel/", views.investor_dashboard, name="investor_dashboard"),
    path("inversionistas/nuevo/", views.investor_create, name="investor_create"),
    path("inversionistas/<int:pk>/", views.investor_detail, name="investor_detail"),
    path("inversionistas/<int:pk>/editar/", views.investor_update, name="investor_update"),
    path("liquidaciones/", views.liquidation_list, name="liquidation_list"),
    path("liquidaciones/nueva/", views.liquidation_create, name="liquidation_create"),
    path("liquidaciones/<int:pk>/", views.liquidation_detail, name="liquidation_detail"),
    path("liquidaciones/<int:pk>/xlsx/", views.liquidation_xlsx, name="liquidation_xlsx"),
    path("liquidaciones/<int:pk>/pagar/", views.liquidation_pay, name="liquidation_pay"),
]
