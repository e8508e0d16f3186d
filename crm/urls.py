from django.urls import path

from crm import views, webhooks

app_name = "crm"

urlpatterns = [
    path("webhooks/calcom/", webhooks.calcom_webhook, name="calcom_webhook"),
    path("clientes/", views.customer_list, name="customer_list"),
    path("clientes/nuevo/", views.customer_create, name="customer_create"),
    path("clientes/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("clientes/<int:pk>/editar/", views.customer_update, name="customer_update"),
    path("clientes/<int:pk>/timeline/", views.customer_timeline, name="customer_timeline"),
    path("clientes/<int:pk>/notas/", views.customer_add_note, name="customer_add_note"),
    path("agenda/", views.agenda, name="agenda"),
]
