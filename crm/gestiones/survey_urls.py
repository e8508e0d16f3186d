"""The survey screens' URLs, included into the `gestiones` namespace at /gestiones/encuestas/."""

from django.urls import path

from crm.gestiones import survey_views

urlpatterns = [
    path("", survey_views.survey_list, name="survey_list"),
    path("nueva/", survey_views.survey_create, name="survey_create"),
    path("<int:pk>/", survey_views.survey_report, name="survey_report"),
    path("<int:pk>/editar/", survey_views.survey_update, name="survey_update"),
]
