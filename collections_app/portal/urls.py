"""The customer portal's URLs, included by collections_app.urls under /portal/.

No app_name: the names live in the `collections_app` namespace, prefixed `portal_`
(services.create_payment_link reverses `collections_app:portal_link`).
"""

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.generic import RedirectView

from collections_app.portal import views

urlpatterns = [
    path("", views.identify, name="portal_identify"),
    path("codigo/", views.code, name="portal_code"),
    path("codigo/llamada/", views.code_callback, name="portal_code_callback"),
    path("estado/", views.statement, name="portal_statement"),
    path("estado/cuenta/<slug:kind>/<int:account_id>/", views.account, name="portal_account"),
    path("pagar/", views.pay, name="portal_pay"),
    path("convenio/", views.agreement, name="portal_agreement"),
    path("informar-pago/", views.report, name="portal_report"),
    path("compromiso/", views.promise, name="portal_promise"),
    path("llamada/", views.callback, name="portal_callback"),
    path("pago/<str:reference>/", views.link, name="portal_link"),
    path("salir/", views.logout, name="portal_logout"),
    # The written-off portfolio's portal (recovery) lives at /recovery/, fixed.
    path("recovery/", login_not_required(RedirectView.as_view(url="/recovery/", permanent=True))),
]
