"""The goal screens' URLs, included into the `gestiones` namespace at /gestiones/metas/."""

from django.urls import path

from crm.gestiones import goal_views

urlpatterns = [
    path("", goal_views.goal_list, name="goal_list"),
    path("nueva/", goal_views.goal_create, name="goal_create"),
    path("avance/", goal_views.goal_progress, name="goal_progress"),
    path("<int:pk>/editar/", goal_views.goal_update, name="goal_update"),
    path("<int:pk>/eliminar/", goal_views.goal_delete, name="goal_delete"),
]
