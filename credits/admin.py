"""Admin: products and investors are configured here; the ledger is read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from credits.investors import services as investor_services
from credits.models import (
    Distribution,
    Installment,
    Investor,
    LedgerEntry,
    Liquidation,
    Loan,
    LoanContract,
    LoanContractSigner,
    LoanProduct,
    Participation,
    Payment,
    PaymentAllocation,
    WriteOffBatch,
)
from credits.models.loans import APPROVAL_TARGET_MAX_HOURS, APPROVAL_TARGET_MIN_HOURS
from credits.services import contracts as contract_services
from credits.services import delinquency
from credits.services import payments as payment_services
from credits.services import products as product_services
from crm import admin as crm_admin
from crm import display, references
from lib import admin_widgets, audit, people
from lib import fields as lib_fields
from lib.jsonsafe import BoundedDecoder
from lib.stale import KeepsOthersChangesAdmin

# Numbers typed as people type them, in a text input (lib.fields).
NUMBER_FIELDS = lib_fields.admin_number_fields()


class ReadOnlyAdmin(admin_widgets.ReadOnlyAdmin):
    """Rows written only by `credits.services`: visible, never edited by hand."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


def approval_hours_too_few() -> str:
    return ngettext(
        "Debe ser al menos %(n)s hora.", "Debe ser al menos %(n)s horas.", APPROVAL_TARGET_MIN_HOURS
    ) % {"n": display.whole(APPROVAL_TARGET_MIN_HOURS)}


def approval_hours_too_many() -> str:
    return _("Debe ser como máximo %(n)s horas (un año).") % {
        "n": display.whole(APPROVAL_TARGET_MAX_HOURS)
    }


class LoanProductAdminForm(forms.ModelForm):
    """A product's settings; its currency stays once loans or applications were made in it:
    an application has no currency of its own (it shows and is approved in the product's),
    and a loan's schedule was computed in it."""

    class Meta:
        model = LoanProduct
        fields = "__all__"  # noqa: DJ007 (what the admin showed before: every setting)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hours = self.fields.get("approval_target_hours")
        if hours is not None:
            # One sentence per bound, whichever check answers: the field's own 0 said «mayor
            # o igual a 0» for -5, and the model's 1 «mayor o igual a 1» for 0.
            hours.error_messages["min_value"] = approval_hours_too_few()
            hours.error_messages["max_value"] = approval_hours_too_many()

    def clean_currency(self):
        currency = self.cleaned_data["currency"]
        product = self.instance
        if product.pk is None:
            return currency
        before = LoanProduct.objects.filter(pk=product.pk).values_list("currency", flat=True)
        before = before.first()
        if before is None or before == currency:
            return currency
        loans = Loan.objects.filter(product=product).count()
        # Credit applications (gestiones) point at the product; counted by the reverse
        # relation, as this app never imports gestiones.
        applications = product.applications.count()
        if loans or applications:
            raise ValidationError(
                _(
                    "No se puede cambiar la moneda: el producto tiene %(loans)s y %(apps)s en "
                    "%(currency)s, que pasarían a mostrarse y aprobarse en la nueva. Cree un "
                    "producto en la otra moneda y desactive este."
                )
                % {
                    "loans": ngettext("%(n)s crédito", "%(n)s créditos", loans)
                    % {"n": display.whole(loans)},
                    "apps": ngettext(
                        "%(n)s solicitud de crédito", "%(n)s solicitudes de crédito", applications
                    )
                    % {"n": display.whole(applications)},
                    "currency": before,
                },
                code="currency_in_use",
            )
        return currency


@admin.register(LoanProduct)
class LoanProductAdmin(
    audit.AuditedAdminMixin, KeepsOthersChangesAdmin, crm_admin.NamedByRulesAdmin
):
    form = LoanProductAdminForm
    # The allocation order is typed as JSON.
    formfield_overrides = {
        **NUMBER_FIELDS,
        models.JSONField: {
            "decoder": BoundedDecoder,
            "error_messages": {
                "invalid": _(
                    "Escriba una lista JSON, por ejemplo "
                    '["late_interest", "fee", "interest", "principal"], o déjela vacía.'
                )
            },
        },
    }
    # Percentages, which have no thousands: "12,5" and "12.125" are decimals. Not fee_value,
    # which is an amount for a fixed fee: there "1.500" is asked again, never read as 1.5.
    rate_fields = (
        "annual_rate",
        "min_rate",
        "max_rate",
        "late_annual_rate",
        "platform_fee_percent",
    )
    list_display = (
        "name",
        "currency",
        "annual_rate",
        "min_rate",
        "max_rate",
        "method",
        "frequency",
        "min_term",
        "max_term",
        "min_amount",
        "max_amount",
        "late_annual_rate",
        "platform_fee_percent",
        "is_active",
    )
    list_filter = ("is_active", "method", "frequency", "currency")
    search_fields = ("name",)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.rate_fields:
            kwargs["grouped"] = False
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        before = LoanProduct.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        if before is not None:
            self._warn_live_terms(request, before, obj)

    def _warn_live_terms(self, request, before: LoanProduct, product: LoanProduct) -> None:
        """Say how many loans already disbursed a change to a term read at each payment
        reaches: every other term is copied onto the loan when it is made, so a new method
        or frequency reaches the open applications, when approved, and not the loans."""
        live = Loan.objects.filter(product=product, status__in=Loan.LIVE)
        changed = [
            str(LoanProduct._meta.get_field(name).verbose_name)
            for name in ("method", "frequency")
            if getattr(before, name) != getattr(product, name)
        ]
        if changed:
            # Not yet made into a loan, in a gestión still open (gestiones' Outcome.OPEN).
            waiting = product.applications.filter(
                loan__isnull=True, gestion__outcome="open"
            ).count()
            loans = Loan.objects.filter(product=product).count()
            if waiting or loans:
                text = _("Nuevo %(terms)s: se aplica a los créditos nuevos de este producto.") % {
                    "terms": " y ".join(changed)
                }
                if waiting:
                    text += " " + ngettext(
                        "También a %(n)s solicitud de crédito abierta, cuando se apruebe.",
                        "También a las %(n)s solicitudes de crédito abiertas, cuando se aprueben.",
                        waiting,
                    ) % {"n": display.whole(waiting)}
                if loans:
                    text += " " + ngettext(
                        "%(n)s crédito ya hecho conserva el anterior.",
                        "Los %(n)s créditos ya hechos conservan el anterior.",
                        loans,
                    ) % {"n": display.whole(loans)}
                self.message_user(request, text, messages.WARNING)
        if before.get_allocation_order() != product.get_allocation_order():
            count = live.count()
            if count:
                text = ngettext(
                    "El nuevo orden de imputación se aplica también a %(n)s crédito de este "
                    "producto con cuotas por cobrar, desde su próximo pago.",
                    "El nuevo orden de imputación se aplica también a los %(n)s créditos de "
                    "este producto con cuotas por cobrar, desde su próximo pago.",
                    count,
                ) % {"n": display.whole(count)}
                self.message_user(request, text, messages.WARNING)
        if before.platform_fee_percent != product.platform_fee_percent:
            count = live.filter(participations__isnull=False).distinct().count()
            if count:
                text = ngettext(
                    "La nueva comisión de la plataforma se aplica también a %(n)s crédito de "
                    "este producto con inversionistas y cuotas por cobrar: a lo que estos "
                    "reciban desde su próximo pago y a lo que ven por cobrar.",
                    "La nueva comisión de la plataforma se aplica también a los %(n)s créditos "
                    "de este producto con inversionistas y cuotas por cobrar: a lo que estos "
                    "reciban desde su próximo pago y a lo que ven por cobrar.",
                    count,
                ) % {"n": display.whole(count)}
                self.message_user(request, text, messages.WARNING)

    # Deleted through the service, so the deletions audit says who deleted it and what
    # went with it (its life-cycle events); a refusal is then the page's only message.
    # A collections segment naming it (crm.references) refuses it too: without it, the
    # segment would reach the loans of every product.
    def delete_service(self, obj, actor) -> None:
        product = LoanProduct.objects.select_for_update().filter(pk=obj.pk).first()
        if product is None:
            return  # deleted a moment ago by someone else, who has the record
        references.refuse_if_named([product])
        product_services.delete_loan_product(product=product, actor=actor)


# How many installments a loan's admin page shows; all of them are one link away, in the
# installments' list, which pages them (listing 360 made a 1 MB page).
INSTALLMENTS_SHOWN = 20
INSTALLMENT_COLUMNS = (
    "number",
    "kind",
    "due_date",
    "principal_due",
    "interest_due",
    "fee_due",
    "late_interest_due",
    "principal_paid",
    "interest_paid",
    "fee_paid",
    "late_interest_paid",
    "paid_on",
    "is_superseded",
)


@admin.register(Installment)
class InstallmentAdmin(ReadOnlyAdmin):
    """Every installment, superseded ones too; a loan's page links here filtered to it."""

    list_display = ("__str__", *INSTALLMENT_COLUMNS[1:])
    list_filter = ("kind", "is_superseded")
    search_fields = ("loan__payment_code",)
    # Each row's name (Installment.__str__) reads its loan.
    list_select_related = ("loan",)
    ordering = ("loan_id", "number", "id")
    show_full_result_count = False


@admin.register(Loan)
class LoanAdmin(ReadOnlyAdmin):
    list_display = (
        "payment_code",
        "customer",
        "product",
        "principal",
        "status",
        "days_past_due",
        "bucket",
        "advisor_name",
        "branch",
    )
    list_filter = ("status", "bucket", "product", "branch")
    search_fields = ("payment_code", "customer__document_number", "customer__search_text")
    list_select_related = ("customer", "product", "advisor", "branch")
    actions = ["refresh_delinquency"]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # For whoever may see installments, as the inline this replaces was.
        if obj is not None and self.admin_site.get_model_admin(Installment).has_view_permission(
            request
        ):
            return (*fields, "installment_window")
        return fields

    @admin.display(description=_("cuotas"))
    def installment_window(self, loan: Loan) -> str:
        """Show 20 installments from the oldest still open, and link to all of them.

        The oldest open installment is where the loan's arrears start and the next one is
        what it owes next: what an admin checks here. A loan with nothing open shows its last
        20, where it ended.
        """
        total = loan.installments.count()
        if not total:
            return _("Sin cuotas.")
        live = loan.installments.filter(is_superseded=False)
        first_open = (
            live.filter(paid_on__isnull=True)
            .order_by("number")
            .values_list("number", flat=True)
            .first()
        )
        if first_open is None:
            rows = list(live.order_by("-number")[:INSTALLMENTS_SHOWN])[::-1]
            caption = _("Todas están pagadas: estas son las últimas %(shown)s.")
        else:
            rows = list(live.filter(number__gte=first_open).order_by("number")[:INSTALLMENTS_SHOWN])
            caption = _("Las %(shown)s desde la primera pendiente, la n.º %(number)s.")
        # Said only when the table leaves some out.
        caption = "" if len(rows) == total else caption % {"shown": len(rows), "number": first_open}
        link = ngettext("Ver la cuota", "Ver las %(count)s cuotas", total) % {
            "count": display.whole(total)
        }
        return admin_widgets.some_rows(
            Installment,
            rows,
            INSTALLMENT_COLUMNS,
            empty=self.get_empty_value_display(),
            caption=caption,
            changelist="admin:credits_installment_changelist",
            query={"loan__id__exact": loan.pk},
            link=link,
        )

    @admin.display(description=_("asesor"), ordering="advisor__first_name")
    def advisor_name(self, loan: Loan) -> str:
        return people.display_name(loan.advisor)

    @admin.action(description=_("Recalcular mora y tramos de toda la cartera"))
    def refresh_delinquency(self, request, queryset):
        payment_services.apply_due_credit_balances()
        changed = delinquency.update_delinquency()
        self.message_user(request, _("Créditos actualizados: %(n)s") % {"n": changed})


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("loan", "amount", "received_on", "source", "reference", "status")
    list_filter = ("status", "source")
    search_fields = ("loan__payment_code", "reference", "external_id")
    list_select_related = ("loan__customer",)
    date_hierarchy = "received_on"
    # Files are private: the receipt is linked through the view that checks who asks.
    exclude = ("receipt",)
    readonly_fields = ("receipt_link",)

    @admin.display(description=_("comprobante"))
    def receipt_link(self, payment: Payment) -> str:
        if not payment.receipt:
            return "—"
        url = reverse("credits:payment_receipt", args=[payment.loan_id, payment.pk])
        return format_html('<a href="{}">{}</a>', url, _("Ver comprobante"))


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(ReadOnlyAdmin):
    list_display = ("payment", "installment", "component", "amount")
    list_select_related = ("payment__loan__customer", "installment__loan__customer")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "loan",
        "kind",
        "component",
        "owed",
        "paid",
        "actor_name",
        "reason",
    )
    list_filter = ("kind", "component")
    search_fields = ("loan__payment_code", "reason")
    list_select_related = ("loan__customer", "actor")
    date_hierarchy = "created_at"

    @admin.display(description=_("usuario"))
    def actor_name(self, entry: LedgerEntry) -> str:
        return people.display_name(entry.actor)


class InvestorAdminForm(forms.ModelForm):
    """The admin's investor form, held to the screens' checks (document per type, CCI)."""

    class Meta:
        model = Investor
        fields = investor_services.INVESTOR_FIELDS

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            investor_services.validate_investor(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(Investor)
class InvestorAdmin(admin.ModelAdmin):
    form = InvestorAdminForm
    list_display = ("name", "kind", "document_number", "email", "bank_name", "is_active")
    list_filter = ("kind", "is_active", "currency")
    search_fields = ("name", "document_number", "email")

    def save_model(self, request, obj, form, change):
        # The list's search reads it, as the screens' services keep it.
        obj.search_text = obj.build_search_text()
        super().save_model(request, obj, form, change)


@admin.register(Participation)
class ParticipationAdmin(ReadOnlyAdmin):
    list_display = ("investor", "loan", "amount", "share", "created_at")
    search_fields = ("investor__name", "loan__payment_code")
    list_select_related = ("investor", "loan__customer")


@admin.register(Distribution)
class DistributionAdmin(ReadOnlyAdmin):
    list_display = (
        "value_date",
        "investor",
        "payment",
        "principal",
        "interest",
        "platform_fee",
        "net",
        "liquidation",
    )
    list_filter = ("investor",)
    list_select_related = ("investor", "payment__loan__customer", "liquidation__investor")


@admin.register(Liquidation)
class LiquidationAdmin(ReadOnlyAdmin):
    list_display = ("investor", "period_start", "period_end", "net_amount", "status", "paid_at")
    list_filter = ("status", "investor")
    list_select_related = ("investor",)


@admin.register(WriteOffBatch)
class WriteOffBatchAdmin(ReadOnlyAdmin):
    """Castigos en lote (read-only: /creditos/castigos/ makes and shows them)."""

    list_display = (
        "id",
        "created_at",
        "created_by",
        "currency",
        "status",
        "loan_count",
        "written_off_count",
        "skipped_count",
        "total_written_off",
    )
    list_filter = ("status", "currency")
    list_select_related = ("created_by",)


class LoanContractSignerInline(admin.TabularInline):
    """Who signs the contract, in signing order, and whether they did (read-only)."""

    model = LoanContractSigner
    extra = 0
    fields = ("kind", "role", "name", "email", "submitter_id", "status", "completed_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LoanContract)
class LoanContractAdmin(ReadOnlyAdmin):
    inlines = [LoanContractSignerInline]
    list_display = ("loan", "status", "submission_id", "signer_email", "sent_at", "completed_at")
    list_filter = ("status",)
    search_fields = ("loan__payment_code", "signer_email", "submission_id")
    list_select_related = ("loan__customer",)
    actions = ["resend"]
    # Files are private: the signed PDF is linked through the view that checks who asks.
    exclude = ("signed_file",)
    readonly_fields = ("signed_file_link",)

    @admin.display(description=_("contrato firmado"))
    def signed_file_link(self, contract: LoanContract) -> str:
        if not contract.signed_file:
            return "—"
        url = reverse("credits:contract_file", args=[contract.loan_id, contract.pk])
        return format_html('<a href="{}">{}</a>', url, _("Ver contrato firmado"))

    @admin.action(description=_("Reenviar a firma"))
    def resend(self, request, queryset):
        for contract in queryset.select_related("loan"):
            try:
                contract_services.resend_contract(loan=contract.loan, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{contract}: {exc.messages[0]}", messages.ERROR)
