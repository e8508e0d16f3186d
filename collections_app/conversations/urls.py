"""The conversations inbox, under /cobranzas/conversaciones/ in the `collections_app`
namespace (collections_app.urls includes it)."""

from django.urls import path

from collections_app.conversations import views

urlpatterns = [
    path("", views.conversation_list, name="conversation_list"),
    path("alertas/", views.conversation_alerts, name="conversation_alerts"),
    path("reasignar/", views.conversation_reassign, name="conversation_reassign"),
    path("<int:customer_pk>/", views.conversation_detail, name="conversation_detail"),
    path(
        "<int:customer_pk>/responder/",
        views.conversation_reply,
        name="conversation_reply",
    ),
    path(
        "<int:customer_pk>/mensajes/<int:message_pk>/reenviar/",
        views.conversation_resend,
        name="conversation_resend",
    ),
    path(
        "<int:customer_pk>/asignar/",
        views.conversation_assign,
        name="conversation_assign",
    ),
    path(
        "<int:customer_pk>/etiquetas/",
        views.conversation_labels,
        name="conversation_labels",
    ),
]
