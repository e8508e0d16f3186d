from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from crm import checks, messages, services  # noqa: F401 (checks registers)
        from integrations import outbox, webhooks

        # Cached permission sets are dropped on a change made by any process (a command, a
        # worker), not only one that served a page.
        from lib import auth

        auth.connect_signals()
        # The workers keep the message policy (crm.messages at delivery); the page that
        # edits it never reads it that way, so it must still tell them of a change.
        from crm.models import MessagePolicy
        from lib import small_tables

        small_tables.watch(MessagePolicy)
        # `in` on integer columns leaves out numbers no row can hold (lib/lookups.py).
        import lib.lookups  # noqa: F401

        webhooks.register_processor("calcom", services.process_calcom_event)
        from crm.imports import registry as imports
        from crm.imports.customers import CustomerImporter

        imports.register(CustomerImporter())
        # Lists of every app queue their large exports here (lib.exports).
        from crm.exports import services as exports
        from lib import exports as lib_exports

        lib_exports.register_queuer(exports.queue_export)
        outbox.register_sender(
            messages.DESTINATION,
            messages.deliver_customer_message,
            on_failure=messages.record_delivery_failure,
        )
