from django.urls import include, path

from collections_app import views, webhooks

app_name = "collections_app"

# Grouped under their first segment: a request for another app's page passes this app
# with three prefix checks, and a gateway's notification is found without walking the
# agents' screens (URL resolution was a tenth of a webhook's receipt).
webhook_patterns = [
    # The payment gateways' notifications (integrations.webhooks.receive).
    path("mercadopago/", webhooks.mercadopago_webhook, name="mercadopago_webhook"),
    path("clear/", webhooks.clear_webhook, name="clear_webhook"),
    # SMS and WhatsApp delivery statuses and replies (collections_app.channels).
    path("twilio/", webhooks.twilio_webhook, name="twilio_webhook"),
    path("whatsapp/", webhooks.whatsapp_webhook, name="whatsapp_webhook"),
]

# The collections agents' screens (collections_app.views).
agent_patterns = [
    path("pagos-a-verificar/", views.reported_list, name="reported_list"),
    path("pagos-a-verificar/pendientes/", views.reported_badge, name="reported_badge"),
    path("pagos-a-verificar/<int:pk>/", views.reported_detail, name="reported_detail"),
    path(
        "pagos-a-verificar/<int:pk>/comprobante/",
        views.reported_receipt,
        name="reported_receipt",
    ),
    path(
        "pagos-a-verificar/<int:pk>/aprobar/",
        views.reported_approve,
        name="reported_approve",
    ),
    path(
        "pagos-a-verificar/<int:pk>/rechazar/",
        views.reported_reject,
        name="reported_reject",
    ),
    path(
        "pagos-a-verificar/<int:pk>/reabrir/",
        views.reported_reopen,
        name="reported_reopen",
    ),
    path("compromisos/", views.promise_list, name="promise_list"),
    path("compromisos/<int:pk>/anular/", views.promise_cancel, name="promise_cancel"),
    path("links/<int:pk>/anular/", views.link_cancel, name="link_cancel"),
    path("convenios/<int:pk>/anular/", views.agreement_cancel, name="agreement_cancel"),
    path("links/", views.link_list, name="link_list"),
    path("llamadas/", views.callback_list, name="callback_list"),
    path("llamadas/<int:pk>/cerrar/", views.callback_close, name="callback_close"),
    path(
        "clientes/<int:customer_pk>/",
        views.customer_collections,
        name="customer_collections",
    ),
    path(
        "clientes/<int:customer_pk>/link/",
        views.customer_link_create,
        name="customer_link_create",
    ),
    path(
        "clientes/<int:customer_pk>/compromiso/",
        views.customer_promise_create,
        name="customer_promise_create",
    ),
    path(
        "clientes/<int:customer_pk>/pago-informado/",
        views.customer_report_create,
        name="customer_report_create",
    ),
    path(
        "clientes/<int:customer_pk>/llamada/",
        views.customer_callback_create,
        name="customer_callback_create",
    ),
    path(
        "clientes/<int:customer_pk>/anular-pago/",
        views.customer_payment_annul,
        name="customer_payment_annul",
    ),
    path(
        "clientes/<int:customer_pk>/convenio/",
        views.customer_agreement_create,
        name="customer_agreement_create",
    ),
]

# Conversations (collections_app.conversations) and strategies (collections_app.strategies).
agent_patterns += [
    path("conversaciones/", include("collections_app.conversations.urls")),
    path("estrategias/", include("collections_app.strategies.urls")),
    path("estrategias/", include("collections_app.strategies.flow_urls")),
]

urlpatterns = [
    path("webhooks/", include(webhook_patterns)),
    path("cobranzas/", include(agent_patterns)),
    # The customer portal (names `portal_*`, in this namespace).
    path("portal/", include("collections_app.portal.urls")),
]
