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
            merge_handlers,
            receivables,
            rule_references,
            services,
        )
        from collections_app.conversations import services as conversation_services
        from collections_app.models import EventSetting
        from collections_app.strategies import events as event_settings
        from collections_app.strategies import flows, segments, templating
        from credits import imports as credit_imports
        from credits.services import loans as loan_services
        from credits.services import payments as payment_services
        from crm import deletions, timeline
        from crm import messages as customer_messages
        from integrations import sms, webhooks, whatsapp
        from lib import small_tables

        receivables.register(receivables.LoanReceivable())
        # A disbursement annulled by mistake waits while collections has something open on it.
        loan_services.register_annulment_check("collections", receivables.open_events_refusal)
        # A loans import is not undone while collections' events name its loans.
        credit_imports.register_undo_check("collections", receivables.events_holding_imported)
        # A payment applied to a loan withdraws the loan's links it outgrew.
        payment_services.register_payment_hook("collections", services.withdraw_after_loan_payment)
        # A merge of two customers folds their conversations into one (crm.merge).
        merge_handlers.register()
        # A tag, branch or loan product a segment names is not deleted (crm.references).
        rule_references.register()
        # The strategies' deletions, in the audit gestiones shows (crm.deletions).
        deletions.register_deletion_kind(segments.DELETION_KIND, _("Segmento de cobranza"))
        deletions.register_deletion_kind(templating.DELETION_KIND, _("Plantilla de mensaje"))
        deletions.register_deletion_kind(flows.DELETION_KIND, _("Flujo de cobranza"))
        # The portal's visit steps: one visit's entries share its id; the step is in words.
        timeline.register_detail("visit", _("Visita al portal"))
        timeline.register_detail("step", kind=timeline.HIDDEN)
        # Ids the entries keep for machines (their sentence names the link or agreement).
        for key in ("link", "agreement", "promise", "reported_payment", "callback"):
            timeline.register_detail(key, kind=timeline.HIDDEN)
        timeline.register_detail("paid", _("Pagado"), timeline.MONEY)
        timeline.register_detail("cliente_api", _("Cliente de la API"))
        timeline.register_detail("url", _("Enlace"))
        for provider in services.GATEWAYS:
            webhooks.register_processor(provider, services.process_gateway_event)
        # Every message written updates its customer's conversation, in its transaction.
        customer_messages.register_message_listener(conversation_services.on_messages)
        # The events settings answer payment events with their templates.
        event_settings.connect()
        # A message still in the outbox goes out only while its event or flow is on.
        customer_messages.register_still_wanted(event_settings.ORIGIN, event_settings.still_wanted)
        customer_messages.register_still_wanted(flows.ORIGIN, flows.still_wanted)
        # The workers keep the event settings (the check above, at every delivery); the
        # screen that edits them never reads them that way, so it must still tell them.
        small_tables.watch(EventSetting)
        webhooks.register_processor(sms.NAME, channels.process_twilio_event)
        webhooks.register_processor(whatsapp.NAME, channels.process_whatsapp_event)

        # The settings history page (crm.config_history) shows these models' changes.
        from crm.config_history import selectors as config_history

        config_history.register_setting_kind(
            "eventos", _("Eventos"), "collections_app.eventsetting"
        )
        config_history.register_setting_kind(
            "plantillas", _("Plantillas de mensajes"), "collections_app.messagetemplate"
        )
        config_history.register_setting_kind("segmentos", _("Segmentos"), "collections_app.segment")
        config_history.register_setting_kind("flujos", _("Flujos"), "collections_app.flow")
        config_history.register_setting_kind(
            "convenios", _("Reglas de convenio"), "collections_app.agreementrule"
        )
