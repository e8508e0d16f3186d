"""Document templates' URLs, included into the `gestiones` namespace at /gestiones/documentos/."""

from django.urls import path

from crm.gestiones.documents import views

urlpatterns = [
    path("", views.template_list, name="document_template_list"),
    path("nueva/", views.template_create, name="document_template_create"),
    path("ejemplo/", views.template_sample, name="document_template_sample"),
    path("<int:pk>/editar/", views.template_update, name="document_template_update"),
    path("<int:pk>/archivo/", views.template_file, name="document_template_file"),
    path("<int:pk>/eliminar/", views.template_delete, name="document_template_delete"),
    path(
        "gestion/<int:gestion_id>/generar/<int:template_id>/",
        views.document_generate,
        name="document_generate",
    ),
    path("adjuntos/<int:pk>/", views.attachment_download, name="attachment_download"),
]
