"""The goal screens' URLs, included into the `gestiones` namespace at /gestiones/metas/."""

from django.urls import path

from crm.gestiones.goals import views

urlpatterns = [
    path("", views.goal_list, name="goal_list"),
    path("nueva/", views.goal_create, name="goal_create"),
    path("avance/", views.goal_progress, name="goal_progress"),
    path("<int:pk>/editar/", views.goal_update, name="goal_update"),
    path("<int:pk>/eliminar/", views.goal_delete, name="goal_delete"),
]
