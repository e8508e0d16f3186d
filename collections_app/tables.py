"""The payments to verify and the promises to pay as files: the columns their CSV/XLSX
export writes (lib.lists.export_table).

The screens draw their rows with their own templates (collections_app/partials/
reported_results.html, promise_results.html); these tables only name the file's columns
and cells. Nothing here sorts: the file keeps the list's order (selectors.reported_list,
selectors.promise_list).
"""

from datetime import datetime

import django_tables2 as tables
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from collections_app.models import PaymentPromise, ReportedPayment
from lib import people


class CustomerColumns(tables.Table):
    """The debtor's columns a collections file starts with (recovery's campaigns too)."""

    customer = tables.Column(verbose_name=_("Cliente"))
    document_type = tables.Column(
        verbose_name=_("Tipo de documento"), accessor="customer__document_type"
    )
    document = tables.Column(verbose_name=_("Documento"), accessor="customer__document_number")

    def value_customer(self, record) -> str:
        return record.customer.full_name


class ReportedExportTable(CustomerColumns):
    receivable_code = tables.Column(verbose_name=_("Código de pago"))
    amount = tables.Column(verbose_name=_("Monto"))
    currency = tables.Column(verbose_name=_("Moneda"))
    paid_on = tables.Column(verbose_name=_("Fecha de pago"))
    method = tables.Column(verbose_name=_("Medio"))
    reference = tables.Column(verbose_name=_("N.º de operación"))
    status = tables.Column(verbose_name=_("Estado"))
    origin = tables.Column(verbose_name=_("Origen"))
    created_at = tables.Column(verbose_name=_("Informado"))
    reviewed_by = tables.Column(verbose_name=_("Revisado por"))
    reviewed_at = tables.Column(verbose_name=_("Revisado"))
    reject_reason = tables.Column(verbose_name=_("Motivo del rechazo"))
    # A verified report whose payment was annulled since stays «Verificado» (the screens
    # say «Pago anulado» beside it): when and why, from selectors.with_payment_annulment.
    payment_annulled = tables.Column(verbose_name=_("Pago anulado"), accessor="payment_annulled_at")

    class Meta:
        model = ReportedPayment
        fields = ()
        orderable = False

    def value_reviewed_by(self, record: ReportedPayment) -> str:
        return people.display_name(record.reviewed_by)

    def value_payment_annulled(self, record: ReportedPayment, value: datetime) -> str:
        day = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        reason = getattr(record, "payment_annul_reason", "")
        return f"{day} · {reason}" if reason else day


class PromiseExportTable(CustomerColumns):
    receivable_code = tables.Column(verbose_name=_("Código de pago"))
    amount = tables.Column(verbose_name=_("Monto"))
    currency = tables.Column(verbose_name=_("Moneda"))
    promised_on = tables.Column(verbose_name=_("Fecha comprometida"))
    status = tables.Column(verbose_name=_("Estado"))
    paid_amount = tables.Column(verbose_name=_("Pagado"))
    origin = tables.Column(verbose_name=_("Origen"))
    created_by = tables.Column(verbose_name=_("Registrado por"))
    created_at = tables.Column(verbose_name=_("Registrado"))
    resolved_at = tables.Column(verbose_name=_("Resuelto"))
    notes = tables.Column(verbose_name=_("Observaciones"))

    class Meta:
        model = PaymentPromise
        fields = ()
        orderable = False

    def value_created_by(self, record: PaymentPromise) -> str:
        return people.display_name(record.created_by)
