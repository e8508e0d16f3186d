"""The survey list's table."""

import django_tables2 as tables
from django.utils.translation import gettext, gettext_lazy

from crm.gestiones.models import Survey
from lib import lists


class SurveyTable(tables.Table):
    name = tables.Column(verbose_name=gettext_lazy("Encuesta"), order_by=("name", "id"))
    question_count = tables.Column(
        verbose_name=gettext_lazy("Preguntas"), order_by=("question_count", "id"), attrs=lists.RIGHT
    )
    sent_count = tables.Column(
        verbose_name=gettext_lazy("Enviadas"), order_by=("sent_count", "id"), attrs=lists.RIGHT
    )
    answered_count = tables.Column(
        verbose_name=gettext_lazy("Respondidas"),
        order_by=("answered_count", "id"),
        attrs=lists.RIGHT,
    )
    is_active = tables.Column(verbose_name=gettext_lazy("Estado"), orderable=False)
    actions = tables.Column(
        verbose_name="", empty_values=(), orderable=False, exclude_from_export=True
    )

    class Meta:
        model = Survey
        fields = ()
        sequence = (
            "name",
            "question_count",
            "sent_count",
            "answered_count",
            "is_active",
            "actions",
        )
        order_by = ("name",)
        template_name = "gestiones/partials/survey_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "survey-results"}
        empty_text = gettext_lazy("No hay encuestas que coincidan con la búsqueda.")

    def value_is_active(self, record: Survey) -> str:
        return gettext("Activa") if record.is_active else gettext("Inactiva")
