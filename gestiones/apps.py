from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GestionesConfig(AppConfig):
    """Customer processes (gestiones) and what runs around them.

    Its own app rather than part of `crm`: it reads loans (documents, life-cycle events),
    so it sits after `credits` in the dependency chain, which `crm` cannot.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "gestiones"
    verbose_name = _("Gestiones")
