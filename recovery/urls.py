"""The recovery app's URLs: the agents' screens under /cobranzas/cartera-castigada/ and the
debtors' portal under /recovery/ (config/urls.py mounts both)."""

from django.urls import include, path

from recovery import import_views, views

app_name = "recovery"

agent_patterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("nueva/", views.campaign_create, name="campaign_create"),
    path("nueva/vista-previa/", views.campaign_preview, name="campaign_preview"),
    path("embudo/", views.funnel, name="funnel"),
    path("plantilla.xlsx", import_views.template_xlsx, name="import_template"),
    path("<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/finalizar/", views.campaign_finish, name="campaign_finish"),
    path("<int:pk>/pagos/<int:payment_pk>/anular/", views.payment_annul, name="payment_annul"),
    path(
        "<int:pk>/pagos/<int:payment_pk>/comprobante/",
        views.payment_receipt,
        name="payment_receipt",
    ),
]

urlpatterns = [
    path("cobranzas/cartera-castigada/", include(agent_patterns)),
    path("recovery/", include("recovery.portal.urls")),
]
