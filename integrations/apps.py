from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """Provider clients, the webhook inbox and the outbox; imports no domain app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = _("Integraciones")
