"""The dashboards' URLs, included into the `gestiones` namespace at /gestiones/tableros/."""

from django.urls import path

from crm.gestiones import report_views

urlpatterns = [
    path("", report_views.dashboard, name="dashboard"),
    path("excel/", report_views.dashboard_xlsx, name="dashboard_xlsx"),
    path("seccion/<slug:key>/", report_views.dashboard_section, name="dashboard_section"),
]
