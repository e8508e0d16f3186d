"""The gestiones screens, in the `gestiones` namespace; each topic package adds its own."""

from django.urls import include, path

from crm.gestiones import views

app_name = "gestiones"

urlpatterns = [
    path("gestiones/", views.my_work, name="my_work"),
    path("gestiones/todas/", views.gestion_list, name="list"),
    path("gestiones/tablero/", views.board, name="board"),
    path("gestiones/nueva/<int:customer_id>/", views.gestion_create, name="create"),
    path("gestiones/<int:pk>/", views.gestion_detail, name="detail"),
    path("gestiones/<int:pk>/seguimiento/", views.follow_up_create, name="follow_up"),
    path("gestiones/<int:pk>/datos/", views.gestion_data, name="data"),
    path("gestiones/<int:pk>/reasignar/", views.reassign, name="reassign"),
    path("gestiones/<int:pk>/corregir-estado/", views.correct_state, name="correct_state"),
    path("gestiones/cliente/<int:customer_id>/", views.customer_gestiones, name="customer"),
    path("", include("crm.gestiones.applications.urls")),
    path("gestiones/", include("crm.gestiones.workload.urls")),
    path("notificaciones/", include("crm.gestiones.notifications.urls")),
    path("gestiones/tableros/", include("crm.gestiones.reports.urls")),
    path("gestiones/documentos/", include("crm.gestiones.documents.urls")),
    path("gestiones/campanas/", include("crm.gestiones.campaigns.urls")),
    path("gestiones/encuestas/", include("crm.gestiones.surveys.urls")),
    path("gestiones/metas/", include("crm.gestiones.goals.urls")),
    path("gestiones/eliminaciones/", include("crm.gestiones.deletions.urls")),
]
