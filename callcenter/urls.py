from django.urls import path

from callcenter import views, webhooks

app_name = "callcenter"

urlpatterns = [
    path("webhooks/kommo/<str:secret>/", webhooks.kommo_webhook, name="kommo_webhook"),
    path("call-center-queue/", views.queue, name="queue"),
    path("call-center-queue/leads/<int:pk>/", views.lead_detail, name="lead_detail"),
    path("call-center-queue/leads/<int:pk>/tomar/", views.lead_take, name="lead_take"),
    path("call-center-queue/leads/<int:pk>/liberar/", views.lead_release, name="lead_release"),
    path("call-center-queue/leads/<int:pk>/datos/", views.lead_contact, name="lead_contact"),
    path(
        "call-center-queue/leads/<int:pk>/cliente/confirmar/",
        views.lead_match_confirm,
        name="lead_match_confirm",
    ),
    path(
        "call-center-queue/leads/<int:pk>/cliente/descartar/",
        views.lead_match_reject,
        name="lead_match_reject",
    ),
    path("call-center-queue/leads/<int:pk>/catalogo/", views.catalog, name="catalog"),
    path("call-center-queue/leads/<int:pk>/carrito/", views.cart_add, name="cart_add"),
    path(
        "call-center-queue/leads/<int:pk>/carrito/<int:product_id>/quitar/",
        views.cart_remove,
        name="cart_remove",
    ),
    path("call-center-queue/leads/<int:pk>/pedido/", views.order_confirm, name="order_confirm"),
    path("call-center-queue/leads/<int:pk>/resultado/", views.lead_outcome, name="lead_outcome"),
]
