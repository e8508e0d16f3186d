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
        from credits.calculator import forms as calculator_forms
        from credits.calculator import services as calculator_services
        from credits.services import loans as loan_services
        from crm import messages, timeline
        from crm.gestiones import merge_handlers, rule_references, services
        from crm.gestiones.applications import approval
        from crm.gestiones.applications import selectors as application_selectors
        from crm.gestiones.applications import services as application_services
        from crm.gestiones.campaigns import services as campaign_services

        # A discarded lead's reason: its timeline sentence says it already.
        timeline.register_detail(application_selectors.DISCARD_REASON, kind=timeline.HIDDEN)
        # A merge of two customers keeps one target per campaign (crm.merge).
        merge_handlers.register()
        # A tag, branch, channel or product a campaign's segment names is not deleted.
        rule_references.register()
        messages.register_outcome_handler(
            campaign_services.TARGET_MESSAGE, campaign_services.record_message_outcome
        )
        # Credit applications: the calculator's "Quiero un crédito" leads, and the loan's
        # disbursement closing its gestión, without credits importing this app.
        calculator_services.register_credit_lead_receiver(
            application_services.receive_calculator_lead
        )
        loan_services.register_disbursement_hook(
            "gestiones.applications", application_services.loan_disbursed
        )
        services.register_state_rule(
            "applications",
            services.StateRule(check=approval.check_move, entered=approval.enter_state),
        )
        campaign_services.register_inbound_handler(
            "applications",
            campaign_services.InboundHandler(
                applies=application_services.is_credit_campaign,
                form_class=calculator_forms.CreditLeadForm,
                receive=application_services.receive_campaign_form,
            ),
        )
