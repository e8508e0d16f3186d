from django.urls import path

from credits import investor_views, views, webhooks

app_name = "credits"

urlpatterns = [
    path("webhooks/docuseal/", webhooks.docuseal_webhook, name="docuseal_webhook"),
    path("creditos/", views.loan_list, name="loan_list"),
    path("creditos/nuevo/", views.loan_create, name="loan_create"),
    path("creditos/vista-previa/", views.loan_preview, name="loan_preview"),
    path("creditos/cartera/", views.portfolio_report, name="portfolio_report"),
    path("creditos/cartera/xlsx/", views.portfolio_xlsx, name="portfolio_xlsx"),
    path("creditos/<int:pk>/", views.loan_detail, name="loan_detail"),
    path("creditos/<int:pk>/pagos/nuevo/", views.payment_create, name="payment_create"),
    path(
        "creditos/<int:pk>/pagos/<int:payment_pk>/anular/",
        views.payment_annul,
        name="payment_annul",
    ),
    path("creditos/<int:pk>/estado/", views.loan_transition, name="loan_transition"),
    path("creditos/<int:pk>/inversionistas/", views.participation_add, name="participation_add"),
    path("inversionistas/", investor_views.investor_list, name="investor_list"),
    path("inversionistas/panel/", investor_views.investor_dashboard, name="investor_dashboard"),
    path("inversionistas/nuevo/", investor_views.investor_create, name="investor_create"),
    path("inversionistas/<int:pk>/", investor_views.investor_detail, name="investor_detail"),
    path("inversionistas/<int:pk>/editar/", investor_views.investor_update, name="investor_update"),
    path("liquidaciones/", investor_views.liquidation_list, name="liquidation_list"),
    path("liquidaciones/nueva/", investor_views.liquidation_create, name="liquidation_create"),
    path("liquidaciones/<int:pk>/", investor_views.liquidation_detail, name="liquidation_detail"),
    path("liquidaciones/<int:pk>/xlsx/", investor_views.liquidation_xlsx, name="liquidation_xlsx"),
    path("liquidaciones/<int:pk>/pagar/", investor_views.liquidation_pay, name="liquidation_pay"),
]
