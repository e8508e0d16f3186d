from django.urls import path

from crm.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.export_list, name="list"),
    path("avance/", views.export_progress, name="progress"),
    path("<int:pk>/archivo/", views.export_download, name="download"),
]
