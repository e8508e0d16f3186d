"""Flujos and Efectividad, under /cobranzas/estrategias/ in the `collections_app` namespace."""

from django.urls import path

from collections_app.strategies import flow_views

urlpatterns = [
    path("flujos/", flow_views.flow_list, name="flow_list"),
    path("flujos/nuevo/", flow_views.flow_create, name="flow_create"),
    path("flujos/<int:pk>/", flow_views.flow_detail, name="flow_detail"),
    path("flujos/<int:pk>/editar/", flow_views.flow_update, name="flow_update"),
    path("flujos/<int:pk>/estado/", flow_views.flow_set_active, name="flow_set_active"),
    path("flujos/<int:pk>/ejecutar/", flow_views.flow_run, name="flow_run"),
    path("flujos/<int:pk>/eliminar/", flow_views.flow_delete, name="flow_delete"),
    path("efectividad/", flow_views.effectiveness_page, name="effectiveness"),
]
