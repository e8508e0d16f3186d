from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GestionesConfig(AppConfig):
    """Customer processes (gestiones) and what runs around them, inside the CRM.

    A Django app of its own in the `crm/` folder, with its own label (`gestiones`, so its
    tables, migrations and permissions keep their names): a gestión refers to loans (its
    accounts, life-cycle events per loan product, loan values in documents), so it sits
    above `credits`, which the customer core (`crm`) sits below and never imports.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "crm.gestiones"
    label = "gestiones"
    verbose_name = _("Gestiones")

    def ready(self) -> None:
        from crm import messages
        from crm.gestiones.campaigns import services as campaign_services

        messages.register_outcome_handler(
            campaign_services.TARGET_MESSAGE, campaign_services.record_message_outcome
        )
