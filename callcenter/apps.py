from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallcenterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "callcenter"
    verbose_name = _("Call center")

    def ready(self) -> None:
        from callcenter.services import leads
        from integrations import kommo, outbox, webhooks

        webhooks.register_processor("kommo", leads.process_kommo_event)
        outbox.register_sender(leads.KOMMO_UPDATE_LEAD, kommo.update_lead_from_payload)
