"""The survey link a customer gets by e-mail, public at /encuesta/<token>/ (no namespace)."""

from django.urls import path

from crm.gestiones import survey_views

urlpatterns = [
    path("<str:token>/", survey_views.survey_answer, name="survey_answer"),
]
