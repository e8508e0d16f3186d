"""The deletions audit, included into the `gestiones` namespace at /gestiones/eliminaciones/."""

from django.urls import path

from crm.gestiones.deletions import views

urlpatterns = [
    path("", views.deletion_list, name="deletion_list"),
]
