"""What gestiones records in the deletions audit (`crm.deletions`): the codes, and their
labels registered when this module is first imported (every deleting service imports it)."""

from django.utils.translation import gettext_lazy as _

from crm import deletions

GOAL = "goal"
SURVEY = "survey"
QUESTION = "question"
CAMPAIGN = "campaign"
DOCUMENT_TEMPLATE = "template"

LABELS = {
    GOAL: _("Meta"),
    SURVEY: _("Encuesta"),
    QUESTION: _("Pregunta de encuesta"),
    CAMPAIGN: _("Campaña"),
    DOCUMENT_TEMPLATE: _("Plantilla de documento"),
}

for _code, _label in LABELS.items():
    deletions.register_deletion_kind(_code, _label)
