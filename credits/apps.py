from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "credits"
    verbose_name = _("Créditos")

    def ready(self) -> None:
        from credits.services import contracts
        from integrations import webhooks

        webhooks.register_processor("docuseal", contracts.process_docuseal_event)
