from django.urls import path

from crm import views, webhooks
from crm.config_history import views as config_history_views
from crm.imports import views as import_views
from crm.reassign import views as reassign_views

app_name = "crm"

urlpatterns = [
    path("webhooks/calcom/", webhooks.calcom_webhook, name="calcom_webhook"),
    # The link in every e-mail to a customer (crm.unsubscribe): signed, public.
    path("baja/<str:firma>/", views.unsubscribe, name="unsubscribe"),
    path("clientes/", views.customer_list, name="customer_list"),
    path("clientes/nuevo/", views.customer_create, name="customer_create"),
    path("clientes/reasignar/", reassign_views.customer_reassign, name="customer_reassign"),
    path("clientes/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("clientes/<int:pk>/editar/", views.customer_update, name="customer_update"),
    path("clientes/<int:pk>/timeline/", views.customer_timeline, name="customer_timeline"),
    path("clientes/<int:pk>/notas/", views.customer_add_note, name="customer_add_note"),
    path("clientes/<int:pk>/fusionar/", views.customer_merge_pick, name="customer_merge_pick"),
    path(
        "clientes/<int:pk>/fusionar/<int:other_pk>/",
        views.customer_merge,
        name="customer_merge",
    ),
    path("agenda/", views.agenda, name="agenda"),
    path(
        "configuracion/historial/",
        config_history_views.config_history,
        name="config_history",
    ),
    path("importaciones/", import_views.import_list, name="import_list"),
    path("importaciones/nueva/", import_views.import_new, name="import_new"),
    path("importaciones/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("importaciones/<int:pk>/columnas/", import_views.import_columns, name="import_columns"),
    path("importaciones/<int:pk>/avance/", import_views.import_progress, name="import_progress"),
    path("importaciones/<int:pk>/errores.xlsx", import_views.import_errors, name="import_errors"),
    path("importaciones/<int:pk>/deshacer/", import_views.import_undo, name="import_undo"),
    path(
        "importaciones/<int:pk>/conflictos/<int:record_pk>/",
        import_views.import_decide,
        name="import_decide",
    ),
]
