"""The survey screens, in the `gestiones` namespace at /gestiones/encuestas/; the link a
customer gets by e-mail, public at /encuesta/<token>/ (no namespace)."""

from django.urls import path

from crm.gestiones.surveys import views

urlpatterns = [
    path("", views.survey_list, name="survey_list"),
    path("nueva/", views.survey_create, name="survey_create"),
    path("<int:pk>/", views.survey_report, name="survey_report"),
    path("<int:pk>/editar/", views.survey_update, name="survey_update"),
    path("<int:pk>/eliminar/", views.survey_delete, name="survey_delete"),
]

public_urlpatterns = [
    # A token is URL-safe base64 (`new_survey_token`): anything else is not found.
    path("<slug:token>/", views.survey_answer, name="survey_answer"),
]
