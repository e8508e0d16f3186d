"""Written-off campaigns as receivables of the payment-event life cycle (collections_app).

Registered from `RecoveryConfig.ready`: links, payments to verify, promises and annulments
then work for a campaign as for a loan, with the campaign's fields, and their events come
in the *Cartera castigada* section of the events settings (`Debt.portfolio`).

A campaign active or paid also covers its written-off loan (`covered_loans`): the debtor
is asked for the campaign, or for nothing once it is paid, never for the loan as well. The
loan's ledger is left as it is; its page says which campaign covers it (`loan_note`), no
new offer is made on it (`covering`), and money still paid through a link withdrawn from
it is kept as its credit balance, the collections team told (`money_kept`).
"""

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import OuterRef, Subquery, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app import receivables
from collections_app import services as collection_services
from collections_app.models import Portfolio
from collections_app.receivables import Debt, ExternalPayment, TakenBack, under_external_id
from credits.models import Loan, Payment
from recovery import selectors, services
from recovery.models import RECEIVABLE_KIND, ZERO, Campaign, CampaignPayment
from recovery.offers import offer_ends_at

CAMPAIGN = RECEIVABLE_KIND


def campaign_debt(campaign: Campaign) -> Debt:
    """The campaign as the bot, the portal and the agents see a debt: its balance, all due."""
    balance = campaign.balance if campaign.is_active else ZERO
    return Debt(
        kind=CAMPAIGN,
        id=campaign.pk,
        customer_id=campaign.customer_id,
        code=campaign.code,
        label=_("Campaña de cartera castigada %(code)s") % {"code": campaign.code},
        currency=campaign.currency,
        portfolio=Portfolio.WRITTEN_OFF,
        total=balance,
        overdue=balance,
        late_interest=ZERO,
        days_past_due=0,
        # No installments: the whole balance settles it, until the end date (a link for
        # it ends by then too: collections_app.services.link_expiry).
        next_due_date=None,
        next_due_amount=ZERO,
        lines=(),
        total_until=campaign.ends_on,
        offer_ends_at=offer_ends_at(campaign) if campaign.is_active else None,
    )


def covered_loans(customer_id: int, today: date) -> set[int]:
    """The customer's written-off loans their campaigns settle instead (a loan cover)."""
    return selectors.covered_loans(customer_id, today)


def covering(loan: Loan, today: date) -> receivables.Covering | None:
    """Say which campaign covers the written-off loan, and why nothing new is offered on it
    (a link, a promise, an agreement): the campaign is, or nothing once it is paid."""
    campaign = selectors.campaign_covering(loan, today)
    if campaign is None:
        return None
    by = _("la campaña de cartera castigada %(code)s") % {"code": campaign.code}
    if campaign.is_active:
        refusal = _("Este crédito lo cubre %(by)s: ofrezca la campaña.") % {"by": by}
    else:
        refusal = _("Este crédito lo cubre %(by)s, ya pagada: no se cobra más.") % {"by": by}
    return receivables.Covering(by=by, refusal=refusal)


def money_kept(loan: Loan, payment: Payment) -> None:
    """E-mail the collections team (as for money after a campaign's finish) that money came
    for a loan a campaign covers, through a link withdrawn when the campaign began, and was
    recorded as the loan's credit balance, waiting to be refunded or applied by hand."""
    campaign = selectors.campaign_covering(loan, timezone.localdate())
    facts = {
        **services.payment_facts(loan.customer, payment, loan.currency),
        "loan": loan.payment_code,
        "code": campaign.code if campaign is not None else "-",
        "url": settings.SITE_URL + reverse("credits:loan_detail", args=[loan.pk]),
    }
    services.email_collections_team(
        subject=_("Pago a un crédito cubierto por una campaña: %(name)s, %(amount)s") % facts,
        body=_(
            "%(name)s (%(doc)s) pagó %(amount)s el %(day)s por %(source)s, operación "
            "«%(ref)s», al crédito %(loan)s, que cubre la campaña de cartera castigada "
            "%(code)s. El pago quedó registrado sin aplicarse al crédito, como saldo a "
            "favor: devuélvalo o aplíquelo a mano.\n\nVea el crédito en %(url)s"
        )
        % facts,
        dedupe=f"covered-loan-payment-{payment.pk}",
    )


def loan_note(loan: Loan, today: date) -> str:
    """Say on the loan's page which campaign covers it, so staff know why its debtor is not
    asked for it; "" when none does."""
    campaign = selectors.campaign_covering(loan, today)
    if campaign is None:
        return ""
    return _("Cubierto por la campaña de cartera castigada %(code)s (%(state)s)") % {
        "code": campaign.code,
        "state": _("activa") if campaign.is_active else _("pagada"),
    }


class CampaignReceivable:
    """An active written-off campaign: its balance settles it, its payments are its own."""

    name = CAMPAIGN

    def open_debts(self, customer_id: int, today: date) -> list[Debt]:
        campaigns = list(
            Campaign.objects.filter(customer_id=customer_id, status=Campaign.Status.ACTIVE)
        )
        # One query when nothing ended; an ended one is finished now (kept current on read).
        if any(c.has_ended(today) for c in campaigns):
            services.finish_ended(today=today)
            campaigns = [c for c in campaigns if not c.has_ended(today)]
        return [campaign_debt(c) for c in campaigns if c.balance > 0]

    def hold(self, receivable_id: int) -> bool:
        # Undoing its upload takes the campaigns FOR UPDATE (imports.CampaignImporter
        # .lock_for_undo): this waits for it, or it waits for this and then counts what
        # this wrote among what the undo waits for.
        return (
            Campaign.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk=receivable_id)
            .values_list("pk", flat=True)
            .first()
            is not None
        )

    def debt(self, receivable_id: int, today: date) -> Debt | None:
        campaign = Campaign.objects.filter(pk=receivable_id).first()
        if campaign is None:
            return None
        if campaign.is_active and campaign.has_ended(today):
            services.finish_ended(today=today)
            campaign.refresh_from_db()
        return campaign_debt(campaign)

    def apply_payment(
        self,
        *,
        receivable_id: int,
        amount: Decimal,
        received_on: date,
        source: str,
        actor: AbstractBaseUser | None,
        reference: str,
        external_id: str | None = None,
        accept_overpayment: bool = False,
        receipt: UploadedFile | None = None,
    ) -> int:
        payment = services.apply_payment(
            campaign_id=receivable_id,
            amount=amount,
            received_on=received_on,
            source=source,
            actor=actor,
            reference=reference,
            external_id=external_id,
            accept_overpayment=accept_overpayment,
            receipt=receipt,
        )
        # Under the campaign's lock, as a loan's payment does (credits' payment hook).
        collection_services.withdraw_outgrown_links(
            receivable_kind=CAMPAIGN,
            receivable_id=receivable_id,
            cause=collection_services.paid_cause(payment.campaign.currency, amount),
        )
        return payment.pk

    def annul_payment(self, *, payment_id: int, actor: AbstractBaseUser | None, reason: str) -> int:
        return services.annul_payment(payment_id=payment_id, actor=actor, reason=reason).campaign_id

    def take_back_payment(self, *, payment_id: int, reason: str) -> TakenBack:
        payment = CampaignPayment.objects.filter(pk=payment_id).first()
        if payment is None:
            raise ValidationError(_("El pago no existe."))
        # Gateway money that came after it and found the campaign paid is kept as overpaid:
        # applied again once this one is annulled, it pays what this one no longer does.
        later = list(
            CampaignPayment.objects.filter(
                campaign_id=payment.campaign_id,
                status=CampaignPayment.Status.APPLIED,
                pk__gt=payment.pk,
                overpaid__gt=0,
                source__in=receivables.GATEWAY_SOURCES,
                external_id__isnull=False,
            ).order_by("-pk")
        )
        for younger in later:
            services.annul_payment(
                payment_id=younger.pk,
                actor=None,
                reason=receivables.again_reason(payment.pk, reason),
            )
        services.annul_payment(payment_id=payment.pk, actor=None, reason=reason)
        reapplied = {}
        for younger in reversed(later):
            applied = services.apply_payment(
                campaign_id=payment.campaign_id,
                amount=younger.amount,
                received_on=younger.received_on,
                source=younger.source,
                actor=None,
                reference=younger.reference,
                external_id=receivables.again_external_id(younger.external_id, younger.pk),
                accept_overpayment=True,
            )
            reapplied[younger.pk] = applied.pk
        return TakenBack(receivable_id=payment.campaign_id, reapplied=reapplied)

    def payment_is_applied(self, payment_id: int) -> bool:
        return CampaignPayment.objects.filter(
            pk=payment_id, status=CampaignPayment.Status.APPLIED
        ).exists()

    def annulled_payments(
        self, payment_ids: Sequence[int]
    ) -> dict[int, tuple[datetime | None, AbstractBaseUser | None, str]]:
        found = CampaignPayment.objects.filter(
            pk__in=list(payment_ids), status=CampaignPayment.Status.ANNULLED
        ).select_related("annulled_by")
        return {p.pk: (p.annulled_at, p.annulled_by, p.annul_reason) for p in found}

    def annulment_of(self, payment_id: OuterRef) -> tuple[Subquery, Subquery]:
        annulled = CampaignPayment.objects.filter(
            pk=payment_id, status=CampaignPayment.Status.ANNULLED
        )
        return (
            Subquery(annulled.values("annulled_at")[:1]),
            Subquery(annulled.values("annul_reason")[:1]),
        )

    def overpaid(self, payment_id: int) -> Decimal:
        found = (
            CampaignPayment.objects.filter(pk=payment_id).values_list("overpaid", flat=True).first()
        )
        return found or ZERO

    def external_payments(self, receivable_id: int, external_id: str) -> list[ExternalPayment]:
        rows = (
            CampaignPayment.objects.filter(
                under_external_id(external_id), campaign_id=receivable_id
            )
            .order_by("pk")
            .values_list("pk", "external_id", "amount", "status")
        )
        return [
            ExternalPayment(pk, found, amount, status == CampaignPayment.Status.APPLIED)
            for pk, found, amount, status in rows
        ]

    def paid_between(self, receivable_id: int, start: date, end: date) -> Decimal:
        total = CampaignPayment.objects.filter(
            campaign_id=receivable_id,
            status=CampaignPayment.Status.APPLIED,
            received_on__range=(start, end),
        ).aggregate(total=Sum("amount"))["total"]
        return total or ZERO

    def grant_discount(
        self,
        *,
        receivable_id: int,
        amount: Decimal,
        actor: AbstractBaseUser | None,
        reason: str,
        summary: str = "",
    ) -> Decimal:
        # The campaign is the discount already; agreements are not offered on it.
        raise ValidationError(_("Una campaña de cartera castigada no admite otro descuento."))

    def late_interest_charged(
        self, receivable_id: int, *, since: datetime, until: datetime
    ) -> Decimal:
        return ZERO  # a campaign's amount is fixed: it charges no late interest

    def charge_late_interest(self, receivable_id: int, day: date) -> None:
        return None  # a campaign's amount is fixed: it charges no late interest

    def restore_discount(
        self, *, receivable_id: int, marker: str, actor: AbstractBaseUser | None, summary: str
    ) -> Decimal:
        return ZERO  # it grants none (grant_discount refuses)


def campaigns_holding_imported(codes: Mapping[int, str]) -> dict[int, str]:
    """Say which of the loans `codes` names a written-off campaign covers, in any status
    (credits' undo check of a loans import): by its payment code, or among the loans a
    blank-code campaign was made for (`Campaign.loans`). Deleted, the loan would leave the
    campaign naming a code that no longer exists, or covering less than its debt was
    worked out on."""
    by_code = {code: pk for pk, code in codes.items()}
    named = Campaign.objects.filter(payment_code__in=list(by_code)).values_list(
        "payment_code", flat=True
    )
    covered = Campaign.loans.through.objects.filter(loan_id__in=list(codes)).values_list(
        "loan_id", flat=True
    )
    holding = {by_code[code] for code in named} | set(covered)
    return dict.fromkeys(holding, _("una campaña de cartera castigada"))
