"""The recovery app's URLs: the agents' screens under /cobranzas/cartera-castigada/ and the
debtors' portal under /recovery/ (config/urls.py mounts both)."""

from django.urls import include, path

from recovery import views

app_name = "recovery"

agent_patterns = [
    path("", views.campaign_list, name="campaign_list"),
]

urlpatterns = [
    path("cobranzas/cartera-castigada/", include(agent_patterns)),
    path("recovery/", include("recovery.portal.urls")),
]
