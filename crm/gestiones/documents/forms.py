"""Input of the document-template screens: the list's filters and the template form."""

from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from crm.forms import ServiceErrorsMixin
from crm.gestiones.models import DocumentTemplate, GestionType
from lib.stale import KeepsOthersChangesPlain


class TemplateFilterForm(forms.Form):
    ACTIVE_CHOICES = [("", _("Todas")), ("1", _("Activas")), ("0", _("Inactivas"))]

    q = forms.CharField(label=_("Buscar"), required=False, max_length=120)
    gestion_type = forms.ModelChoiceField(
        label=_("Tipo de gestión"),
        queryset=GestionType.objects.order_by("name"),
        required=False,
        empty_label=_("Todos los tipos"),
    )
    active = forms.ChoiceField(label=_("Estado"), choices=ACTIVE_CHOICES, required=False)

    def filters(self) -> dict[str, Any]:
        """Return the cleaned filters as `selectors.template_list` takes them."""
        active = self.cleaned_data.get("active")
        return {
            "q": self.cleaned_data.get("q") or "",
            "gestion_type": self.cleaned_data.get("gestion_type"),
            "is_active": None if active in (None, "") else active == "1",
        }


class DocumentTemplateForm(KeepsOthersChangesPlain, ServiceErrorsMixin, forms.Form):
    """A template's fields; the DOCX is optional when editing (the current one stays). What
    another person saved while the form was open stays (`lib.stale`); the DOCX is not
    compared: one uploaded replaces the current one."""

    name = forms.CharField(label=_("Nombre"), max_length=120)
    description = forms.CharField(label=_("Descripción"), max_length=255, required=False)
    file = forms.FileField(
        label=_("Plantilla Word (.docx)"),
        widget=forms.FileInput(
            attrs={
                "accept": ".docx,application/vnd.openxmlformats-officedocument"
                ".wordprocessingml.document"
            }
        ),
        help_text=_("Escriba los marcadores entre llaves dobles, p. ej. {{ cliente.nombres }}."),
    )
    gestion_types = forms.ModelMultipleChoiceField(
        label=_("Tipos de gestión"),
        queryset=GestionType.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
    )
    roles = forms.ModelMultipleChoiceField(
        label=_("Roles que la generan"),
        queryset=Group.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Sin marcar: cualquier rol que trabaje la gestión."),
    )
    is_active = forms.BooleanField(label=_("Activa"), required=False, initial=True)

    def __init__(self, *args: Any, template: DocumentTemplate | None = None, **kwargs: Any):
        stored = None
        if template is not None:
            stored = {
                "name": template.name,
                "description": template.description,
                "gestion_types": list(template.gestion_types.all()),
                "roles": list(template.roles.all()),
                "is_active": template.is_active,
            }
            kwargs.setdefault("initial", stored)
        super().__init__(*args, stored=stored, **kwargs)
        if template is not None:
            self.fields["file"].required = False
            self.fields["file"].help_text = _("Déjelo vacío para conservar la plantilla actual.")

    def service_data(self) -> dict[str, Any]:
        """Return the keyword arguments of `services.create_template`/`update_template`."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "file": data.get("file") or None,
            "gestion_types": list(data["gestion_types"]),
            "roles": list(data["roles"]),
            "is_active": data["is_active"],
        }
