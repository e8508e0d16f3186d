"""The notifications bell and list, under /notificaciones/ in the `gestiones` namespace."""

from django.urls import path

from crm.gestiones.notifications import views

urlpatterns = [
    path("", views.notifications, name="notifications"),
    path("contador/", views.notifications_badge, name="notifications_badge"),
    path("leidas/", views.notifications_read, name="notifications_read"),
    path("<int:pk>/", views.notification_open, name="notification_open"),
]
