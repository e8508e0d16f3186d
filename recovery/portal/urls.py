from django.urls import path

from recovery.portal import views

urlpatterns = [
    path("", views.identify, name="identify"),
]
