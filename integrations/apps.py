from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """Provider clients, the webhook inbox and the outbox; imports no domain app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = _("Integraciones")

    def ready(self) -> None:
        from integrations import email, outbox

        # Plain e-mail (staff notifications): a failure shows in admin, nowhere else.
        outbox.register_sender(email.DESTINATION, email.send_payload)
