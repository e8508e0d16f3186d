"""An inbound campaign's public form, under /campana/ (no namespace, no sign-in)."""

from django.urls import path

from crm.gestiones import campaign_views as views

urlpatterns = [
    path("<slug:slug>/", views.campaign_form, name="campaign_form"),
    path("<slug:slug>/gracias/", views.campaign_thanks, name="campaign_thanks"),
]
