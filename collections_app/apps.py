from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectionsAppConfig(AppConfig):
    """Collections: the payment-event life cycle, the gateways' webhooks, the bot API and the
    customer portal.

    Named `collections_app` because `collections` is a standard-library module.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "collections_app"
    verbose_name = _("Cobranzas")

    def ready(self) -> None:
        from collections_app import (  # noqa: F401 (checks registers)
            channels,
            checks,
            receivables,
            services,
        )
        from crm import timeline
        from integrations import sms, webhooks, whatsapp

        receivables.register(receivables.LoanReceivable())
        # The portal's visit steps: one visit's entries share its id; the step is in words.
        timeline.register_detail("visit", _("Visita al portal"))
        timeline.register_detail("step", kind=timeline.HIDDEN)
        for provider in services.GATEWAYS:
            webhooks.register_processor(provider, services.process_gateway_event)
        webhooks.register_processor(sms.NAME, channels.process_twilio_event)
        webhooks.register_processor(whatsapp.NAME, channels.process_whatsapp_event)
