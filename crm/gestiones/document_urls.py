"""Document templates' URLs, included into the `gestiones` namespace at /gestiones/documentos/."""

from django.urls import path

from crm.gestiones import document_views

urlpatterns = [
    path("", document_views.template_list, name="document_template_list"),
    path("nueva/", document_views.template_create, name="document_template_create"),
    path("ejemplo/", document_views.template_sample, name="document_template_sample"),
    path("<int:pk>/editar/", document_views.template_update, name="document_template_update"),
    path("<int:pk>/archivo/", document_views.template_file, name="document_template_file"),
    path(
        "gestion/<int:gestion_id>/generar/<int:template_id>/",
        document_views.document_generate,
        name="document_generate",
    ),
    path("adjuntos/<int:pk>/", document_views.attachment_download, name="attachment_download"),
]
