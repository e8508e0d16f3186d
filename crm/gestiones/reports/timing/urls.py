"""The time metrics' URL, in the `gestiones` namespace at /gestiones/tableros/tiempos/."""

from django.urls import path

from crm.gestiones.reports.timing import views

urlpatterns = [
    path("", views.application_times, name="application_times"),
]
