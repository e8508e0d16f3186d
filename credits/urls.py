from django.urls import include, path

from credits import views, webhooks
from credits.reassign import views as reassign_views
from credits.write_offs import views as write_off_views

app_name = "credits"

urlpatterns = [
    path("webhooks/docuseal/", webhooks.docuseal_webhook, name="docuseal_webhook"),
    path("creditos/", views.loan_list, name="loan_list"),
    path("creditos/nuevo/", views.loan_create, name="loan_create"),
    path("creditos/vista-previa/", views.loan_preview, name="loan_preview"),
    path("creditos/reasignar/", reassign_views.loan_reassign, name="loan_reassign"),
    path("creditos/cartera/", views.portfolio_report, name="portfolio_report"),
    path("creditos/cartera/xlsx/", views.portfolio_xlsx, name="portfolio_xlsx"),
    path("creditos/castigos/", write_off_views.write_off_batch_list, name="write_off_batch_list"),
    path("creditos/castigos/nuevo/", write_off_views.write_off_new, name="write_off_new"),
    path("creditos/castigos/<int:pk>/", write_off_views.write_off_batch, name="write_off_batch"),
    path(
        "creditos/castigos/<int:pk>/avance/",
        write_off_views.write_off_batch_progress,
        name="write_off_batch_progress",
    ),
    path("creditos/<int:pk>/", views.loan_detail, name="loan_detail"),
    path("creditos/<int:pk>/pagos/nuevo/", views.payment_create, name="payment_create"),
    path("creditos/<int:pk>/aval/", views.loan_cosigner, name="loan_cosigner"),
    path(
        "creditos/<int:pk>/pagos/<int:payment_pk>/anular/",
        views.payment_annul,
        name="payment_annul",
    ),
    path(
        "creditos/<int:pk>/pagos/<int:payment_pk>/comprobante/",
        views.payment_receipt,
        name="payment_receipt",
    ),
    path(
        "creditos/<int:pk>/contratos/<int:contract_pk>/firmado/",
        views.contract_file,
        name="contract_file",
    ),
    path("creditos/<int:pk>/estado/", views.loan_transition, name="loan_transition"),
    path("creditos/<int:pk>/inversionistas/", views.participation_add, name="participation_add"),
    path("", include("credits.investors.urls")),
]
