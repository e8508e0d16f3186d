"""Load the recovery demo: the /recovery portal switched on, written-off campaigns in all
three states, and visits to the portal at every step of the funnel.

Run it after `seed_credits` and `seed_collections`: its debtors are the written-off and
the latest loans' customers, then customers without a loan. Idempotent: once any campaign
exists it adds nothing, so `make run` calls it on every start.

Every change goes through the services (`recovery.services`, the portal's, collections'),
as the agents, the import and the portal would make it. Two liberties: a campaign can
only be made with an end date still to come, so the finished-by-date ones are made and
then have their end date moved back before the daily task finishes them; and visits are
recorded directly through the portal's services, without a browser.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from collections_app import services as collection_services
from collections_app.models import (
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)
from collections_app.strategies.segments import CASTIGADA_TAG
from credits.models import Loan
from credits.services import loans as loan_services
from crm.models import Customer
from recovery import services
from recovery.models import Campaign, RecoverySettings, Visit
from recovery.portal import selectors as portal_selectors
from recovery.portal import services as portal_services

# A one-page PDF: what a debtor's bank receipt usually is.
RECEIPT_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
LEGAL = (
    "Oferta válida solo para el titular de la deuda y hasta la fecha indicada. El pago del "
    "monto de la campaña cancela la deuda castigada señalada. Consulte términos y "
    "condiciones en nuestras oficinas."
)
# (campaign id, discount type, discount value, days until its end or None)
CAMPAIGNS = [
    ("CAST-2026-DIC", "percent", Decimal("40"), 30),
    ("CAST-2026-DIC", "percent", Decimal("40"), 30),
    ("CAST-2026-DIC", "percent", Decimal("35"), 30),
    ("CAST-2026-DIC", "amount", Decimal("1500.00"), 45),
    ("RECUPERA-VIP", "percent", Decimal("50"), None),
    ("RECUPERA-VIP", "percent", Decimal("50"), 10),
    ("RECUPERA-VIP", "percent", Decimal("45"), 20),
    ("CAST-2026-NOV", "percent", Decimal("30"), 15),
    ("CAST-2026-NOV", "percent", Decimal("30"), 15),
    ("CAST-2026-NOV", "amount", Decimal("800.00"), 15),
    ("CAST-2026-OCT", "percent", Decimal("25"), 5),
    ("CAST-2026-OCT", "percent", Decimal("25"), 5),
]


class Command(BaseCommand):
    help = "Carga la demostración de cartera castigada (después de seed_collections)."

    def handle(self, *args, **options):
        # Demos seeded when seed_demo still handed out the tag: only an active campaign
        # keeps it (the service takes it off the others).
        services.untag_customers(
            Customer.objects.filter(tags__name=CASTIGADA_TAG).values_list("pk", flat=True)
        )
        portal = RecoverySettings.current()
        if Campaign.objects.exists():
            self.stdout.write(
                self.style.SUCCESS(
                    "La demostración de cartera castigada ya estaba cargada; no se agregó nada."
                )
            )
            return
        self.agent = get_user_model().objects.filter(username="cobranzas").first()
        if self.agent is None:
            raise CommandError("Falta el usuario «cobranzas»: ejecute antes `manage.py seed_demo`.")
        portal.is_active = True
        portal.countdown_enabled = True
        portal.countdown_hours = 48
        portal.legal_text = LEGAL
        portal.advisor_whatsapp = "51987000111"
        portal.save()
        self.today = timezone.localdate()
        debtors = self.debtors()
        if len(debtors) < len(CAMPAIGNS):
            raise CommandError("Faltan clientes: ejecute antes `manage.py seed_demo`.")
        campaigns = []
        for n, ((customer, loan), (code, kind, value, days)) in enumerate(
            zip(debtors, CAMPAIGNS, strict=False)
        ):
            if loan is not None and loan.status == Loan.Status.ACTIVE:
                # Written off in the lender's books first: a campaign settles a written-off
                # loan instead of it, never one still collected.
                loan = loan_services.write_off(
                    loan=loan, actor=self.agent, reason="Castigado para la campaña " + code
                )
            debt = self.debt_of(loan, n)
            campaigns.append(
                services.create_campaign(
                    customer=customer,
                    code=code,
                    debt_amount=debt,
                    discount_type=kind,
                    discount_value=value if kind == "percent" else self.amount_off(value, debt),
                    ends_on=self.today + timedelta(days=days) if days else None,
                    payment_code=loan.payment_code if loan else "",
                    actor=self.agent,
                )
            )
        self.seed_visits(campaigns[:7], portal)
        self.seed_paid(campaigns[7:10])
        self.seed_finished(campaigns[10:])
        counts = {
            label: Campaign.objects.filter(status=value).count()
            for value, label in Campaign.Status.choices
        }
        self.stdout.write(
            self.style.SUCCESS(
                "Cartera castigada de demostración lista: "
                + ", ".join(f"{n} {str(label).lower()}" for label, n in counts.items())
                + f"; {Visit.objects.count()} visitas al portal /recovery/ (activo)."
            )
        )

    def debtors(self) -> list[tuple[Customer, Loan | None]]:
        """The written-off loans' customers first, then the latest loans', then customers
        without a loan (their campaign names no payment code): one campaign each."""
        chosen: list[tuple[Customer, Loan | None]] = []
        seen: set[int] = set()
        ordered = list(
            Loan.objects.filter(status=Loan.Status.WRITTEN_OFF).select_related("customer")
        ) + list(
            # Written off for their campaign (`handle`): not those the collections demo shows
            # an open link, promise or agreement on (a cover withdraws them).
            Loan.objects.filter(status=Loan.Status.ACTIVE)
            .exclude(pk__in=self.loans_with_open_offers())
            .select_related("customer")
            .order_by("-days_past_due", "pk")[:60]
        )
        for loan in ordered:
            if loan.customer_id not in seen:
                seen.add(loan.customer_id)
                chosen.append((loan.customer, loan))
        for customer in Customer.objects.exclude(pk__in=seen).order_by("pk")[: len(CAMPAIGNS)]:
            chosen.append((customer, None))
        return chosen

    def loans_with_open_offers(self) -> set[int]:
        """The loans with a payment link, promise or agreement still open."""
        open_ones = [
            PaymentLink.objects.filter(
                status__in=(PaymentLink.Status.CREATING, PaymentLink.Status.ACTIVE)
            ),
            PaymentPromise.objects.filter(status=PaymentPromise.Status.PENDING),
            PaymentAgreement.objects.filter(
                status__in=(PaymentAgreement.Status.PENDING, PaymentAgreement.Status.ACTIVE)
            ),
        ]
        return {
            pk
            for rows in open_ones
            for pk in rows.filter(receivable_kind="loan").values_list("receivable_id", flat=True)
        }

    def amount_off(self, value: Decimal, debt: Decimal) -> Decimal:
        """An amount discount, at most 40 % of a small debt (the settings' maximum is 95 %)."""
        return min(value, (debt * 40 / 100).quantize(Decimal("0.01")))

    def debt_of(self, loan: Loan | None, n: int) -> Decimal:
        """What was written off: what the loan owes today (a campaign's debt is refused
        below half or above twice it), or a round figure for a customer's whole debt."""
        if loan is None:
            return Decimal("2500.00") + Decimal(350 * n)
        return services.loans_owed([loan.pk])[loan.pk]

    def seed_visits(self, campaigns: list[Campaign], portal: RecoverySettings) -> None:
        """One visit at each step: identified, offer, payment options, declined (twice:
        a reason, and the advisor's with a call-back), paid."""
        steps = [
            [],
            [portal_services.Step.OFFER],
            [portal_services.Step.OFFER, portal_services.Step.PAYMENT_OPTIONS],
            [portal_services.Step.OFFER, ("declined", "El descuento no es suficiente")],
            [portal_services.Step.OFFER, ("declined", portal_selectors.ADVISOR_REASON)],
            [portal_services.Step.OFFER, portal_services.Step.PAYMENT_OPTIONS, "paid"],
            [portal_services.Step.OFFER],
        ]
        for campaign, path in zip(campaigns, steps, strict=True):
            visit = portal_services.start_visit(customer=campaign.customer, campaign=campaign)
            for step in path:
                if step == portal_services.Step.OFFER:
                    portal_services.note_first_visit(campaign)
                    portal_services.reach(visit=visit, step=step)
                elif step == "paid":
                    self.pay_whole(campaign, source="mercadopago")
                    portal_services.reach(visit=visit, step=portal_services.Step.PAID)
                elif isinstance(step, tuple):
                    phone = str(campaign.customer.phone or "987654321")
                    portal_services.decline(
                        visit=visit, reason=step[1], phone=phone, preferred_time="Por la tarde"
                    )
                else:
                    portal_services.reach(visit=visit, step=step)
        # A partial payment on one still active: the offer shows its balance. A third of it
        # at most: the debt is what the demo's loan owes, which may be small.
        first = campaigns[0]
        first.refresh_from_db()
        services.apply_payment(
            campaign_id=first.pk,
            amount=min(Decimal("500.00"), (first.balance / 3).quantize(Decimal("0.01"))),
            received_on=self.today,
            source="cash",
            actor=self.agent,
            reference="Caja principal",
        )

    def pay_whole(self, campaign: Campaign, *, source: str) -> None:
        campaign.refresh_from_db()
        services.apply_payment(
            campaign_id=campaign.pk,
            amount=campaign.balance,
            received_on=self.today,
            source=source,
            actor=None,
            reference=f"DEMO-{campaign.pk}",
        )

    def seed_paid(self, campaigns: list[Campaign]) -> None:
        """Paid: one reported by the debtor and verified by an agent, the rest at the office."""
        first, *rest = campaigns
        report = collection_services.report_payment(
            customer=first.customer,
            receivable_kind="campaign",
            receivable_id=first.pk,
            amount=first.balance,
            paid_on=self.today - timedelta(days=1),
            method=ReportedPayment.Method.TRANSFER,
            receipt=SimpleUploadedFile("voucher.pdf", RECEIPT_PDF, content_type="application/pdf"),
            origin=Origin.PORTAL,
            actor=None,
            reference="OP-552301",
        )
        collection_services.approve_reported_payment(report=report, actor=self.agent)
        for campaign in rest:
            self.pay_whole(campaign, source="transfer")

    def seed_finished(self, campaigns: list[Campaign]) -> None:
        """Finished: one by its end date (moved back, then the daily task), one by hand."""
        by_date, by_hand = campaigns
        Campaign.objects.filter(pk=by_date.pk).update(ends_on=self.today - timedelta(days=3))
        services.finish_ended(today=self.today)
        services.finish_campaign(
            campaign=by_hand, actor=self.agent, reason="El cliente refinanció con otra entidad"
        )
