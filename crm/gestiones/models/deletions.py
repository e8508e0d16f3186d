"""What was deleted from the configuration (goals, surveys, campaigns, document templates),
by whom and when: the audit supervisors read, kept after the row itself is gone."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.processes import USER


class DeletionRecord(models.Model):
    """A configuration row someone deleted: what it was, who deleted it and when.

    Written only by `crm.gestiones.deletions.services.record_deletion`, in the same
    transaction as the deletion.
    """

    class Kind(models.TextChoices):
        GOAL = "goal", _("Meta")
        SURVEY = "survey", _("Encuesta")
        QUESTION = "question", _("Pregunta de encuesta")
        CAMPAIGN = "campaign", _("Campaña")
        DOCUMENT_TEMPLATE = "template", _("Plantilla de documento")

    kind = models.CharField(_("qué"), max_length=10, choices=Kind)
    object_id = models.PositiveBigIntegerField(_("n.º que tenía"))
    name = models.CharField(_("nombre"), max_length=255)
    # Its values when it was deleted, as (label, text) pairs a person reads.
    details = models.JSONField(_("datos que tenía"), default=list, blank=True)
    deleted_by = models.ForeignKey(
        USER,
        verbose_name=_("eliminado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The name at the time: the record outlives a user deleted later.
    deleted_by_name = models.CharField(_("nombre de quien eliminó"), max_length=150, blank=True)
    deleted_at = models.DateTimeField(_("eliminado"), default=timezone.now)

    class Meta:
        ordering = ["-deleted_at", "-id"]
        verbose_name = _("eliminación")
        verbose_name_plural = _("eliminaciones")
        indexes = [models.Index(fields=["-deleted_at", "-id"], name="gestiones_deletion_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    def detail_items(self) -> list[tuple[str, str]]:
        """Return the stored values as (label, text) pairs."""
        return [(str(label), str(text)) for label, text in (self.details or [])]
