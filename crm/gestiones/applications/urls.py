"""Credit-application screens, in the `gestiones` namespace (included at the site's root)."""

from django.urls import path

from crm.gestiones.applications import views

urlpatterns = [
    path("gestiones/solicitudes/leads/", views.lead_list, name="credit_leads"),
    path("gestiones/solicitudes/leads/<int:pk>/", views.lead_detail, name="credit_lead"),
    path(
        "gestiones/solicitudes/leads/<int:pk>/confirmar/",
        views.lead_confirm,
        name="credit_lead_confirm",
    ),
    path(
        "gestiones/solicitudes/leads/<int:pk>/descartar/",
        views.lead_discard,
        name="credit_lead_discard",
    ),
    path(
        "gestiones/solicitudes/leads/<int:pk>/reabrir/",
        views.lead_reopen,
        name="credit_lead_reopen",
    ),
    path("gestiones/solicitudes/nueva/", views.application_create, name="application_create"),
    path("gestiones/<int:pk>/solicitud/", views.application_edit, name="application_edit"),
    path("gestiones/<int:pk>/creditos/vincular/", views.loan_link, name="loan_link"),
    path(
        "gestiones/<int:pk>/creditos/<int:loan_pk>/desvincular/",
        views.loan_unlink,
        name="loan_unlink",
    ),
    path("gestiones/credito/<int:pk>/", views.loan_gestiones, name="loan_gestiones"),
]
