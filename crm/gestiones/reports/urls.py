"""The dashboards' URLs, included into the `gestiones` namespace at /gestiones/tableros/."""

from django.urls import include, path

from crm.gestiones.reports import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("excel/", views.dashboard_xlsx, name="dashboard_xlsx"),
    path("seccion/<slug:key>/", views.dashboard_section, name="dashboard_section"),
    path("tiempos/", include("crm.gestiones.reports.timing.urls")),
]
