from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallcenterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "callcenter"
    verbose_name = _("Call center")

    def ready(self) -> None:
        from callcenter.services import leads
        from integrations import housekeeping, kommo, outbox, webhooks
        from integrations.models import OutboxMessage

        webhooks.register_processor("kommo", leads.process_kommo_event)
        outbox.register_sender(leads.KOMMO_UPDATE_LEAD, kommo.update_lead_from_payload)
        # Kept from the daily cleanup: the Kommo events waiting for the queue's settings
        # (saving them replays these), and every Kommo update (a lead's page reads its last
        # one: with a later one deleted, an old failure would show as current).
        housekeeping.register_kept("callcenter.waiting_kommo_events", leads.waiting_events)
        housekeeping.register_kept(
            "callcenter.kommo_updates",
            lambda: OutboxMessage.objects.filter(destination=leads.KOMMO_UPDATE_LEAD),
        )

        # The settings history page (crm.config_history) shows these models' changes.
        from crm.config_history import selectors as config_history

        config_history.register_setting_kind(
            "call_center", _("Cola del call center"), "callcenter.queuesettings"
        )
