from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecoveryConfig(AppConfig):
    """Recovery of the written-off portfolio: campaigns, their import and payments, and the
    /recovery portal. It builds on collections_app by registering into its registries."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "recovery"
    verbose_name = _("Recuperación")

    def ready(self) -> None:
        from collections_app import receivables as collection_receivables
        from crm import timeline
        from recovery import receivables, variables

        collection_receivables.register(receivables.CampaignReceivable())
        variables.register()
        timeline.register_detail("recovery_campaign", kind=timeline.HIDDEN)
        timeline.register_detail("recovery_payment", kind=timeline.HIDDEN)
        timeline.register_detail("recovery_visit", kind=timeline.HIDDEN)
        timeline.register_detail("recovery_step", kind=timeline.HIDDEN)
