"""Campaign and life-cycle screens, under /gestiones/campanas/ in the `gestiones` namespace;
an inbound campaign's public form under /campana/ (no namespace, no sign-in)."""

from django.urls import path

from crm.gestiones.campaigns import views

urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("nueva/", views.campaign_create, name="campaign_create"),
    path("segmento/", views.campaign_segment_count, name="campaign_segment_count"),
    path("ciclo-de-vida/", views.lifecycle_list, name="lifecycle"),
    path("<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/editar/", views.campaign_update, name="campaign_update"),
    path("<int:pk>/eliminar/", views.campaign_delete, name="campaign_delete"),
    path("<int:pk>/lanzar/", views.campaign_launch, name="campaign_launch"),
    path("<int:pk>/progreso/", views.campaign_progress, name="campaign_progress"),
]

public_urlpatterns = [
    path("<slug:slug>/", views.campaign_form, name="campaign_form"),
    path("<slug:slug>/gracias/", views.campaign_thanks, name="campaign_thanks"),
]
