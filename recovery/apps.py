from django.apps import AppConfig
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# How many of a customer's campaigns the identity guard names; "…" says there are more.
NAMED_CAMPAIGNS = 3


def campaigns_protect_identity(customer) -> str:
    """Return why a customer with written-off campaigns keeps their identity ("" without).

    Registered in `crm.identity`: a campaign's payments name the customer, and /recovery/
    finds the debtor's offer by document; a document changed lightly lost the offer.
    """
    from crm import identity
    from recovery.models import Campaign

    codes = list(
        Campaign.objects.filter(customer_id=customer.pk)
        .order_by("created_at", "pk")
        .values_list("code", flat=True)[: NAMED_CAMPAIGNS + 1]
    )
    if not codes:
        return ""
    return gettext("tiene campañas de cartera castigada (%(codes)s)") % {
        "codes": identity.named(codes, NAMED_CAMPAIGNS)
    }


class RecoveryConfig(AppConfig):
    """Recovery of the written-off portfolio: campaigns, their import and payments, and the
    /recovery portal. It builds on collections_app by registering into its registries."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "recovery"
    verbose_name = _("Recuperación")

    def ready(self) -> None:
        from collections_app import receivables as collection_receivables
        from collections_app import signals as collection_signals
        from collections_app.portal import redirects as portal_redirects
        from collections_app.portal import session as portal_session
        from collections_app.strategies.segments import CASTIGADA_TAG
        from credits import imports as credit_imports
        from credits import views as credit_views
        from crm import identity, timeline
        from crm import services as crm_services
        from crm.imports import registry as import_registry
        from recovery import imports, merge_handlers, receivables, variables
        from recovery.portal import services as portal_services
        from recovery.portal import session as recovery_session
        from recovery.portal import views as portal_views

        collection_receivables.register(receivables.CampaignReceivable())
        identity.register_guard("recovery.campaigns", campaigns_protect_identity)
        # Two customers with an active campaign each are not merged (crm.merge).
        merge_handlers.register()
        # An active or paid campaign settles its written-off loan: the debtor is asked for
        # the campaign (or for nothing), no new offer is made on the loan, money still paid
        # for it is kept as credit (the team told), and the loan's page says which covers it.
        collection_receivables.register_cover(
            receivables.CAMPAIGN,
            collection_receivables.LoanCover(
                loans=receivables.covered_loans,
                covering=receivables.covering,
                money_kept=receivables.money_kept,
            ),
        )
        credit_views.register_loan_note(receivables.CAMPAIGN, receivables.loan_note)
        # A loans import is not undone while a campaign names one of its loans.
        credit_imports.register_undo_check("recovery", receivables.campaigns_holding_imported)
        crm_services.MANAGED_TAGS.register(
            CASTIGADA_TAG, _("la pone y la quita su campaña de cartera castigada")
        )
        import_registry.register(imports.CampaignImporter())
        variables.register()
        timeline.register_detail("recovery_campaign", kind=timeline.HIDDEN)
        timeline.register_detail("recovery_payment", kind=timeline.HIDDEN)
        timeline.register_detail("recovery_visit", kind=timeline.HIDDEN)
        timeline.register_detail("recovery_step", kind=timeline.HIDDEN)
        # The /recovery portal: debtors with an active campaign are sent there from the
        # customer portal, and a campaign's portal link paid moves its visit to "paid".
        portal_redirects.register(portal_views.from_customer_portal)
        portal_redirects.register_link_page(portal_views.link_page)
        portal_session.register_sign_out(recovery_session.sign_out)
        collection_signals.payment_event.connect(
            portal_services.on_payment_event, dispatch_uid="recovery.portal.paid"
        )

        # The settings history page (crm.config_history) shows these models' changes.
        from crm.config_history import selectors as config_history

        config_history.register_setting_kind(
            "recuperacion", _("Portal de recuperación"), "recovery.recoverysettings"
        )
