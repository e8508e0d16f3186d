"""Load the collections demo: agreement rules, and payment links, payments to verify,
promises, agreements and call-back requests in every state.

Run it after `seed_credits`: it works on that command's late loans, as its users.
Idempotent: once any payment event exists it adds nothing, so `make run` calls it on
every start.

Every change goes through `collections_app.services`, as the bot, the portal and the
agents would make it. A promise can only be made for today or later, so the promises
(and agreement installments) whose day has passed are made for today and then moved back
a few days, before the daily task judges them: the one liberty this demo takes.
"""

import contextlib
import io
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from collections_app import receivables, services
from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)
from credits.models import Loan
from integrations import fakes, payment_gateways
from integrations.errors import TemporaryProviderError

RULES = [
    # name, max installments, down payment %, late-interest discount %, min days past due
    ("Convenio corto", 3, Decimal("20.00"), Decimal("50.00"), 1),
    ("Convenio largo", 6, Decimal("30.00"), Decimal("25.00"), 60),
]
# A one-page PDF: what a debtor's bank receipt usually is.
RECEIPT_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


class Command(BaseCommand):
    help = "Carga la demostración de cobranzas (después de seed_credits)."

    def handle(self, *args, **options):
        for name, most, down, discount, days in RULES:
            AgreementRule.objects.get_or_create(
                name=name,
                defaults={
                    "max_installments": most,
                    "min_down_payment_percent": down,
                    "late_interest_discount_percent": discount,
                    "min_days_past_due": days,
                },
            )
        if (
            PaymentLink.objects.exists()
            or ReportedPayment.objects.exists()
            or PaymentPromise.objects.exists()
        ):
            self.stdout.write(
                self.style.SUCCESS(
                    "La demostración de cobranzas ya estaba cargada; no se agregó nada."
                )
            )
            return
        self.agent = get_user_model().objects.filter(username="cobranzas").first()
        if self.agent is None:
            raise CommandError("Falta el usuario «cobranzas»: ejecute antes `manage.py seed_demo`.")
        self.today = timezone.localdate()
        loans = list(
            Loan.objects.filter(status=Loan.Status.ACTIVE, days_past_due__gt=0)
            .select_related("customer")
            .order_by("-days_past_due", "pk")[:40]
        )
        if not loans:
            raise CommandError("Faltan créditos atrasados: ejecute antes `manage.py seed_credits`.")
        # Each event takes a loan of its own while there are late loans, then shares them.
        self.late = loans
        self.taken = 0
        has_gateway = "mercadopago" in payment_gateways.configured_names()
        if has_gateway:
            self.seed_links()
            self.seed_agreements()
        self.seed_reported_payments()
        self.seed_promises()
        self.seed_callbacks()
        self.stdout.write(
            self.style.SUCCESS(
                "Cobranzas de demostración listas: "
                f"{PaymentLink.objects.count()} links, "
                f"{ReportedPayment.objects.count()} pagos a verificar, "
                f"{PaymentPromise.objects.count()} compromisos, "
                f"{PaymentAgreement.objects.count()} convenios, "
                f"{CallbackRequest.objects.count()} pedidos de llamada."
            )
        )
        if not has_gateway:
            self.stdout.write(
                "Sin pasarela de pago configurada: no se crearon links ni convenios "
                "(PAYMENT_GATEWAYS_FAKE=True o MERCADOPAGO_ACCESS_TOKEN)."
            )

    def next_loan(self) -> Loan:
        loan = self.late[self.taken % len(self.late)]
        self.taken += 1
        return loan

    def link(self, loan: Loan, **kwargs) -> PaymentLink:
        kwargs.setdefault("concept", PaymentLink.Concept.INSTALLMENT)
        kwargs.setdefault("origin", Origin.BOT)
        if kwargs["concept"] == PaymentLink.Concept.INSTALLMENT:
            debt = receivables.kind("loan").debt(loan.pk, self.today)
            kwargs.setdefault("installment_number", debt.lines[0].number)
        return services.create_payment_link(
            customer=loan.customer,
            receivable_kind="loan",
            receivable_id=loan.pk,
            provider=kwargs.pop("provider", "mercadopago"),
            actor=None,
            payer_email=loan.customer.email,
            **kwargs,
        )

    def pay_link(self, link: PaymentLink, number: str) -> None:
        services.apply_gateway_payment(
            provider=link.provider,
            found=payment_gateways.GatewayPayment(
                provider_payment_id=number,
                reference=link.reference,
                status=payment_gateways.APPROVED,
                amount=link.amount,
                currency=link.currency,
                paid_on=self.today,
                raw={},
            ),
        )

    def seed_links(self) -> None:
        # First, so that expiring it leaves the later ones active.
        expired = self.link(self.next_loan(), provider="clear")
        # Gone unpaid until it expired yesterday: its expiry is in the past, as the list says.
        ended = timezone.now() - timedelta(days=1)
        PaymentLink.objects.filter(pk=expired.pk).update(
            created_at=ended - (expired.expires_at - expired.created_at), expires_at=ended
        )
        services.expire_links()
        self.link(self.next_loan())  # active, from the bot
        paid = self.link(self.next_loan(), origin=Origin.PORTAL)
        self.pay_link(paid, "90000000001")
        gateway = payment_gateways.gateway("mercadopago")
        if isinstance(gateway, fakes.FakeGateway):
            # What the agents see when the gateway is down: a failed link, with its error.
            gateway.errors.append(TemporaryProviderError("MercadoPago respondió HTTP 503."))
            with contextlib.suppress(ValidationError):
                self.link(self.next_loan(), origin=Origin.AGENT)
        cancelled = self.link(self.next_loan(), origin=Origin.AGENT)
        services.cancel_payment_link(
            link=cancelled, actor=self.agent, reason="El cliente pagará en ventanilla."
        )

    def seed_agreements(self) -> None:
        kind = receivables.kind("loan")
        states = ("pending", "active", "completed", "broken", "cancelled")
        for made, state in enumerate(states, start=1):
            for loan in self.late:
                if PaymentAgreement.objects.filter(
                    receivable_kind="loan", receivable_id=loan.pk
                ).exists():
                    continue
                options = services.agreement_options(kind.debt(loan.pk, self.today))
                if options:
                    break
            else:
                return
            option = options[0] if state == "completed" else options[-1]
            agreement, link = services.create_agreement(
                customer=loan.customer,
                receivable_kind="loan",
                receivable_id=loan.pk,
                option_key=option.key,
                provider="mercadopago",
                origin=Origin.BOT,
                actor=None,
            )
            if state == "cancelled":
                services.cancel_agreement(
                    agreement=agreement, actor=self.agent, reason="El cliente prefirió pagar todo."
                )
            elif state in ("active", "completed", "broken"):
                self.pay_link(link, f"9100000000{made}")
            if state == "broken":
                first = agreement.promises.order_by("promised_on").first()
                self.move_back(first, days=first.promised_on - self.today + timedelta(days=3))
        services.resolve_promises(today=self.today)

    def seed_reported_payments(self) -> None:
        for state in ("pending", "pending", "approved", "rejected"):
            loan = self.next_loan()
            debt = receivables.kind("loan").debt(loan.pk, self.today)
            report = services.report_payment(
                customer=loan.customer,
                receivable_kind="loan",
                receivable_id=loan.pk,
                amount=min(debt.lines[0].amount, debt.total),
                paid_on=self.today - timedelta(days=1),
                method=ReportedPayment.Method.TRANSFER,
                reference=f"OP-{loan.pk:06d}",
                receipt=SimpleUploadedFile(
                    "comprobante.pdf", io.BytesIO(RECEIPT_PDF).read(), "application/pdf"
                ),
                origin=Origin.PORTAL,
                actor=None,
                contact_email=loan.customer.email,
            )
            if state == "approved":
                services.approve_reported_payment(report=report, actor=self.agent)
            elif state == "rejected":
                services.reject_reported_payment(
                    report=report,
                    actor=self.agent,
                    reason="El comprobante no muestra la cuenta de destino.",
                )

    def seed_promises(self) -> None:
        for state in ("pending", "kept", "broken", "cancelled"):
            loan = self.next_loan()
            debt = receivables.kind("loan").debt(loan.pk, self.today)
            amount = min(debt.lines[0].amount, debt.total)
            promise = services.promise_payment(
                customer=loan.customer,
                receivable_kind="loan",
                receivable_id=loan.pk,
                amount=amount,
                promised_on=self.today + timedelta(days=3 if state == "pending" else 0),
                origin=Origin.AGENT if state == "cancelled" else Origin.BOT,
                actor=self.agent if state == "cancelled" else None,
            )
            if state == "cancelled":
                services.cancel_promise(
                    promise=promise, actor=self.agent, reason="Se registró por error."
                )
            elif state in ("kept", "broken"):
                self.move_back(promise, days=timedelta(days=2))
                if state == "kept":
                    kind = receivables.kind("loan")
                    kind.apply_payment(
                        receivable_id=loan.pk,
                        amount=amount,
                        received_on=self.today - timedelta(days=2),
                        source="cash",
                        actor=self.agent,
                        reference="Caja",
                    )
        services.resolve_promises(today=self.today)

    def move_back(self, promise: PaymentPromise, *, days: timedelta) -> None:
        """Date a promise made today as made `days` earlier, for its day to have passed."""
        PaymentPromise.objects.filter(pk=promise.pk).update(
            promised_on=promise.promised_on - days, created_at=promise.created_at - days
        )

    def seed_callbacks(self) -> None:
        called = set()
        for n, state in enumerate(("open", "open", "done", "cancelled")):
            loan = self.next_loan()
            # One open request per number: a debtor met again is asked to call another one.
            phone = str(loan.customer.phone) if loan.customer_id not in called else ""
            called.add(loan.customer_id)
            callback = services.request_callback(
                customer=loan.customer,
                phone=phone or f"98765432{n}",
                preferred_time="Mañana, de 9 a 12",
                origin=Origin.BOT if state != "done" else Origin.PORTAL,
                actor=None,
            )
            if state != "open":
                services.close_callback(
                    callback=callback,
                    actor=self.agent,
                    status=CallbackRequest.Status.DONE
                    if state == "done"
                    else CallbackRequest.Status.CANCELLED,
                    outcome="Se comprometió a pagar el viernes."
                    if state == "done"
                    else "Número equivocado.",
                )
