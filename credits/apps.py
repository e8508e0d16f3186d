from django.apps import AppConfig
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# How many of a customer's loans the identity guard names; "…" says there are more.
NAMED_LOANS = 3


def loans_protect_identity(customer) -> str:
    """Return why a customer with loans keeps their identity ("" without loans).

    Registered in `crm.identity`: a loan's contract and payments name the customer.
    """
    from credits.models import Loan
    from crm import identity

    loans = (
        Loan.objects.filter(customer_id=customer.pk)
        .order_by("created_at", "pk")
        .values_list("payment_code", "pk")[: NAMED_LOANS + 1]
    )
    codes = [code or f"#{pk}" for code, pk in loans]
    if not codes:
        return ""
    return gettext("tiene créditos (%(codes)s)") % {"codes": identity.named(codes, NAMED_LOANS)}


class CreditsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "credits"
    verbose_name = _("Créditos")

    def ready(self) -> None:
        from credits import customer_reassignment, imports
        from credits.services import contracts, products
        from crm import deletions, identity, timeline
        from crm.reassign import services as reassign_services
        from integrations import webhooks

        webhooks.register_processor("docuseal", contracts.process_docuseal_event)
        identity.register_guard("credits.loans", loans_protect_identity)
        deletions.register_deletion_kind(products.DELETION_KIND, _("Producto de crédito"))
        imports.register()
        reassign_services.register_hook(
            "credits.open_loans",
            label=customer_reassignment.LABEL,
            permission=customer_reassignment.PERMISSION,
            move=customer_reassignment.move_open_loans,
        )
        # An imported loan's entry says its payments in its sentence; how its schedule was
        # made is on the loan's page ("Payments 4 · Schedule engine" was shown).
        timeline.register_detail("payments", kind=timeline.HIDDEN)
        timeline.register_detail("schedule", kind=timeline.HIDDEN)

        # The settings history page (crm.config_history) shows these models' changes.
        from crm.config_history import selectors as config_history

        config_history.register_setting_kind(
            "productos", _("Productos de crédito"), "credits.loanproduct"
        )
