from django.urls import include, path

from callcenter import views, webhooks

app_name = "callcenter"

# The agents' queue, under one prefix: another page's request passes this app with two
# checks (config/urls.py mounts it before the apps whose patterns are many).
queue_patterns = [
    path("", views.queue, name="queue"),
    path("leads/<int:pk>/", views.lead_detail, name="lead_detail"),
    path("leads/<int:pk>/tomar/", views.lead_take, name="lead_take"),
    path("leads/<int:pk>/liberar/", views.lead_release, name="lead_release"),
    path("leads/<int:pk>/datos/", views.lead_contact, name="lead_contact"),
    path(
        "leads/<int:pk>/cliente/confirmar/",
        views.lead_match_confirm,
        name="lead_match_confirm",
    ),
    path(
        "leads/<int:pk>/cliente/descartar/",
        views.lead_match_reject,
        name="lead_match_reject",
    ),
    path("leads/<int:pk>/catalogo/", views.catalog, name="catalog"),
    path("leads/<int:pk>/carrito/", views.cart_add, name="cart_add"),
    path(
        "leads/<int:pk>/carrito/<int:product_id>/quitar/",
        views.cart_remove,
        name="cart_remove",
    ),
    path("leads/<int:pk>/pedido/", views.order_confirm, name="order_confirm"),
    path("leads/<int:pk>/resultado/", views.lead_outcome, name="lead_outcome"),
    path("leads/<int:pk>/devolver/", views.lead_requeue, name="lead_requeue"),
    path("fuera-de-la-cola/", views.leads_out, name="leads_out"),
    path("pedidos/<int:pk>/anular/", views.order_annul, name="order_annul"),
]

urlpatterns = [
    path("webhooks/kommo/<str:secret>/", webhooks.kommo_webhook, name="kommo_webhook"),
    path("call-center-queue/", include(queue_patterns)),
]
