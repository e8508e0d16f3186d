"""Segmentación, Plantillas and Eventos, under /cobranzas/estrategias/ in the `collections_app`
namespace (no app_name: collections_app.urls includes this module inside its own)."""

from django.urls import path

from collections_app.strategies import views

urlpatterns = [
    path("", views.strategies_home, name="strategies_home"),
    path("segmentos/", views.segment_list, name="segment_list"),
    path("segmentos/nuevo/", views.segment_create, name="segment_create"),
    path("segmentos/contar/", views.segment_count_preview, name="segment_count_preview"),
    path("segmentos/<int:pk>/", views.segment_update, name="segment_update"),
    path("segmentos/<int:pk>/clientes/", views.segment_count, name="segment_count"),
    path("segmentos/<int:pk>/eliminar/", views.segment_delete, name="segment_delete"),
    path("plantillas/", views.template_list, name="template_list"),
    path("plantillas/nueva/", views.template_create, name="template_create"),
    path("plantillas/variables/", views.template_variables, name="template_variables"),
    path("plantillas/contador/", views.template_counter, name="template_counter"),
    path("plantillas/vista-previa/", views.template_preview, name="template_preview"),
    path("plantillas/<int:pk>/", views.template_update, name="template_update"),
    path("plantillas/<int:pk>/eliminar/", views.template_delete, name="template_delete"),
    path("eventos/", views.event_settings, name="event_settings"),
    path("eventos/politica/", views.message_policy, name="message_policy"),
]
