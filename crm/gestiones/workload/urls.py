"""The workload screen, under /gestiones/ in the `gestiones` namespace."""

from django.urls import path

from crm.gestiones.workload import views

urlpatterns = [
    path("carga/", views.workload, name="workload"),
]
