from django.urls import include, path

app_name = "gestiones"

urlpatterns = [
    path("gestiones/tableros/", include("gestiones.report_urls")),
    path("gestiones/documentos/", include("gestiones.document_urls")),
    path("gestiones/campanas/", include("gestiones.campaign_urls")),
    path("gestiones/encuestas/", include("gestiones.survey_urls")),
    path("gestiones/metas/", include("gestiones.goal_urls")),
]
