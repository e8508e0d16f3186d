from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from crm import services
        from integrations import webhooks

        webhooks.register_processor("calcom", services.process_calcom_event)
