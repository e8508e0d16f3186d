"""Document templates: DOCX files with placeholders, filled from a gestión."""

from django.contrib.auth.models import Group
from django.core.validators import FileExtensionValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.processes import GestionType


def template_upload_to(instance: "DocumentTemplate", filename: str) -> str:
    return f"plantillas/{filename}"


class DocumentTemplate(models.Model):
    """A DOCX with placeholders (contract, collection letter, promissory note)."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    description = models.CharField(_("descripción"), max_length=255, blank=True)
    file = models.FileField(
        _("plantilla DOCX"),
        upload_to=template_upload_to,
        validators=[FileExtensionValidator(["docx"])],
    )
    gestion_types = models.ManyToManyField(
        GestionType, verbose_name=_("tipos de gestión"), related_name="document_templates"
    )
    roles = models.ManyToManyField(
        Group,
        verbose_name=_("roles que lo generan"),
        blank=True,
        related_name="+",
        help_text=_("Vacío: cualquier rol que trabaje la gestión."),
    )
    is_active = models.BooleanField(_("activa"), default=True)
    created_at = models.DateTimeField(_("creada"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("plantilla de documento")
        verbose_name_plural = _("plantillas de documentos")

    def __str__(self) -> str:
        return self.name
