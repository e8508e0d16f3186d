"""Collections in admin: the agreement rules are configured here; every payment event is
shown read-only, since its changes go through `collections_app.services` (the agents'
screens, the bot, the portal, the gateways)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    ConversationLabel,
    FlowRun,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    PortalCode,
    ReportedPayment,
)
from lib import audit, people
from lib import fields as lib_fields
from lib.admin_widgets import ReadOnlyAdmin

CUSTOMER_SEARCH = [
    "customer__document_number",
    "customer__first_name",
    "customer__last_name",
]


def _person_column(field: str, label: str):
    """Return an admin column showing a user field by full name, not username."""

    @admin.display(description=label)
    def column(obj: Any) -> str:
        return people.display_name(getattr(obj, field)) or "—"

    column.__name__ = f"{field}_name"
    return column


# Columns for the fields the models name in English only (no verbose_name of their own).
@admin.display(description=_("pago aplicado"))
def payment_column(obj: Any) -> str:
    return f"#{obj.payment_id}" if obj.payment_id else "—"


@admin.display(description=_("pago en la pasarela"))
def provider_payment_column(obj: PaymentLink) -> str:
    return obj.provider_payment_id or "—"


@admin.display(description=_("creado"), ordering="created_at")
def portal_created_column(obj: PortalCode) -> Any:
    return obj.created_at


@admin.display(description=_("vence"), ordering="expires_at")
def portal_expires_column(obj: PortalCode) -> Any:
    return obj.expires_at


@admin.display(description=_("intentos"))
def portal_attempts_column(obj: PortalCode) -> int:
    return obj.attempts


@admin.display(description=_("usado"))
def portal_used_column(obj: PortalCode) -> Any:
    return obj.used_at or "—"


@admin.display(description=_("plan"))
def plan_column(obj: Any) -> str:
    """The agreement's plan as a table (number 0 is the down payment), not raw JSON."""
    rows = []
    for item in obj.plan if isinstance(obj.plan, list) else []:
        if not isinstance(item, dict):
            continue
        number = item.get("number")
        due_on = parse_date(str(item.get("due_on", "")))
        rows.append(
            (
                _("Pie") if number == 0 else _("Cuota %(number)s") % {"number": number},
                date_format(due_on, "SHORT_DATE_FORMAT") if due_on else "—",
                item.get("amount", "—"),
            )
        )
    if not rows:
        return "—"
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("Cuota"),
        _("Vence"),
        _("Monto"),
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
    )


REF_FIELDS = [
    "customer",
    "receivable_kind",
    "receivable_id",
    "receivable_code",
    "portfolio",
    "origin",
    "created_by",
    "created_at",
]


@admin.register(PaymentLink)
class PaymentLinkAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "customer",
        "receivable_code",
        "amount",
        "currency",
        "concept",
        "provider",
        "status",
        "expires_at",
        "created_at",
    ]
    list_filter = ["status", "provider", "concept", "origin", "portfolio"]
    search_fields = ["reference", "receivable_code", "provider_id", *CUSTOMER_SEARCH]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    fields = [
        *REF_FIELDS,
        "reference",
        "concept",
        "installment_number",
        "agreement",
        "amount",
        "currency",
        "provider",
        "payer_email",
        "status",
        "expires_at",
        "url",
        "provider_id",
        "status_reason",
        provider_payment_column,
        payment_column,
        "paid_at",
    ]
    readonly_fields = fields


@admin.register(ReportedPayment)
class ReportedPaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "customer",
        "receivable_code",
        "amount",
        "paid_on",
        "method",
        "status",
        "origin",
        "created_at",
        _person_column("reviewed_by", _("revisado por")),
    ]
    list_filter = ["status", "method", "origin", "portfolio"]
    search_fields = ["receivable_code", "reference", *CUSTOMER_SEARCH]
    list_select_related = ["customer", "reviewed_by"]
    date_hierarchy = "created_at"
    # The receipt is seen on the agents' screen (its view checks who asks), not linked here.
    fields = [
        *REF_FIELDS,
        "amount",
        "paid_on",
        "method",
        "reference",
        "contact_email",
        "status",
        "reviewed_by",
        "reviewed_at",
        "reject_reason",
        payment_column,
    ]
    readonly_fields = fields


@admin.register(PaymentPromise)
class PaymentPromiseAdmin(ReadOnlyAdmin):
    list_display = [
        "customer",
        "receivable_code",
        "amount",
        "promised_on",
        "status",
        "paid_amount",
        "origin",
        "created_at",
    ]
    list_filter = ["status", "origin", "portfolio"]
    search_fields = ["receivable_code", *CUSTOMER_SEARCH]
    list_select_related = ["customer"]
    date_hierarchy = "promised_on"
    fields = [
        *REF_FIELDS,
        "amount",
        "promised_on",
        "status",
        "paid_amount",
        "resolved_at",
        "agreement",
        "notes",
    ]
    readonly_fields = fields


@admin.register(AgreementRule)
class AgreementRuleAdmin(audit.AuditedAdminMixin, admin.ModelAdmin):
    """Where administrators set how payment agreements may be offered."""

    list_display = [
        "name",
        "max_installments",
        "min_down_payment_percent",
        "late_interest_discount_percent",
        "min_days_past_due",
        "days_between_installments",
        "is_active",
    ]
    list_filter = ["is_active"]
    search_fields = ["name"]
    # Typed as people type them, in a text input (lib.fields): the percentages have no
    # thousands, so "12,5" is 12.5; "1.000" installments or days is refused, not read as 1.
    formfield_overrides = lib_fields.admin_number_fields(grouped=False)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Agreements keep the rule they were made by (PROTECT): deactivate it instead.
        return False


@admin.register(PaymentAgreement)
class PaymentAgreementAdmin(ReadOnlyAdmin):
    list_display = [
        "customer",
        "receivable_code",
        "rule",
        "installments",
        "debt_amount",
        "discount_amount",
        "down_payment",
        "status",
        "created_at",
    ]
    list_filter = ["status", "origin", "rule"]
    search_fields = ["receivable_code", *CUSTOMER_SEARCH]
    list_select_related = ["customer", "rule"]
    date_hierarchy = "created_at"
    fields = [
        *REF_FIELDS,
        "rule",
        "installments",
        "debt_amount",
        "discount_amount",
        "down_payment",
        "installment_amount",
        plan_column,
        "status",
        "activated_at",
        "resolved_at",
    ]
    readonly_fields = fields


@admin.register(CallbackRequest)
class CallbackRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "customer",
        "phone",
        "preferred_at",
        "preferred_time",
        "status",
        "origin",
        "created_at",
        _person_column("closed_by", _("cerrado por")),
    ]
    list_filter = ["status", "origin", "portfolio"]
    search_fields = ["phone", *CUSTOMER_SEARCH]
    list_select_related = ["customer", "closed_by"]
    date_hierarchy = "created_at"
    fields = [
        "customer",
        "phone",
        "preferred_at",
        "preferred_time",
        "origin",
        "portfolio",
        "status",
        "assigned_to",
        "outcome",
        "created_at",
        "closed_at",
        "closed_by",
    ]
    readonly_fields = fields


@admin.register(PortalCode)
class PortalCodeAdmin(ReadOnlyAdmin):
    """The portal's one-time codes: who got one, where, and whether it was used. The code's
    hash is never shown."""

    list_display = [
        "customer",
        "channel",
        "sent_to",
        portal_created_column,
        portal_expires_column,
        portal_attempts_column,
        portal_used_column,
    ]
    list_filter = ["channel"]
    search_fields = ["sent_to", *CUSTOMER_SEARCH]
    list_select_related = ["customer"]
    fields = [
        "customer",
        "channel",
        "sent_to",
        portal_created_column,
        portal_expires_column,
        portal_attempts_column,
        portal_used_column,
    ]
    readonly_fields = fields
    ordering = ["-created_at"]


@admin.register(ConversationLabel)
class ConversationLabelAdmin(admin.ModelAdmin):
    """The labels agents put on conversations."""

    list_display = ["name", "color"]
    search_fields = ["name"]


@admin.register(FlowRun)
class FlowRunAdmin(ReadOnlyAdmin):
    """What each flow step selected, queued and skipped each day (written by the runner)."""

    list_display = [
        "run_on",
        "step",
        "status",
        "selected",
        "queued",
        "held",
        "skipped_capped",
        "skipped_repeated",
    ]
    list_filter = ["status", "run_on"]
    list_select_related = ["step__flow", "step__template"]
    search_fields = ["step__flow__name"]
