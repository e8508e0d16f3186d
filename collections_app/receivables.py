"""What can be owed and paid: the registry of receivable kinds, and the loan, the first one.

Every payment event (a link, a payment to verify, a promise, an annulment) names a
receivable by kind and id. A kind reads its debts and applies or annuls money through its
own app's services; this app only calls the interface, so the recovery app registers its
written-off campaigns here from its `AppConfig.ready` without this app importing it.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Case, CharField, DateTimeField, OuterRef, Q, Subquery, Sum, When
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import (
    ZERO,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    Portfolio,
    ReportedPayment,
)
from credits import selectors as credit_selectors
from credits.models import Component, LedgerEntry, Loan, Payment
from credits.services import delinquency, ledger
from credits.services import payments as payment_services
from lib.registry import Registry

LOAN = "loan"


@dataclass(frozen=True)
class DebtLine:
    """One part of a debt the debtor can pay on its own: a loan's installment."""

    number: int
    due_date: date
    amount: Decimal  # what is still unpaid on it
    is_overdue: bool


@dataclass(frozen=True)
class Debt:
    """What a receivable owes today, as the bot, the portal and the agents show it."""

    kind: str
    id: int
    customer_id: int
    code: str  # the payment code the debtor knows it by
    label: str  # "Préstamo vehicular 1234567890"
    currency: str
    portfolio: str
    total: Decimal  # what settles it today: the most any payment or link may be
    overdue: Decimal  # unpaid on what fell due before today
    late_interest: Decimal  # of `overdue`, accrued late interest (agreements discount it)
    days_past_due: int
    next_due_date: date | None
    next_due_amount: Decimal
    lines: tuple[DebtLine, ...]
    # The credit balance `total` is less by: the debtor's money the receivable already holds.
    credit: Decimal = ZERO
    # The last day `total` settles it (a later installment's interest falls due the day
    # after), or None when it holds until paid (save the late interest of what is overdue).
    total_until: date | None = None
    # When the offer `total` is ends for this debtor (a written-off campaign's discount: the
    # end of the countdown the /recovery/ portal showed them, else of its end date), or None
    # when nothing ends it. No link made before outlives it (services.link_expiry); after
    # it the debtor's own channels (the /recovery/ portal, the bot) make no new link, and
    # the agents are told (one may still make it: the «contáctanos» path).
    offer_ends_at: datetime | None = None

    @property
    def has_debt(self) -> bool:
        return self.total > 0

    @property
    def offer_has_ended(self) -> bool:
        """Say whether the offer `total` is ended for the debtor (`offer_ends_at` went by)."""
        return self.offer_ends_at is not None and self.offer_ends_at <= timezone.now()

    def line(self, number: int) -> DebtLine | None:
        return next((line for line in self.lines if line.number == number), None)


@dataclass(frozen=True)
class ExternalPayment:
    """A payment recorded under a provider's id (`external_id`), standing or annulled."""

    id: int
    external_id: str
    amount: Decimal
    is_applied: bool


@dataclass(frozen=True)
class TakenBack:
    """A payment annulled because its provider gave the money back (`take_back_payment`)."""

    receivable_id: int
    # Payments after it annulled and applied again after it, old id -> new id.
    reapplied: dict[int, int]


# The sources of the payments a gateway reported, as every kind names them: all they are is
# in their row (no receipt, nobody who recorded them), so they can be annulled and applied
# again as they were (take_back_payment).
GATEWAY_SOURCES = ("mercadopago", "clear")


def again_external_id(external_id: str, payment_id: int) -> str:
    """The external id of a provider payment applied again: still under its own id."""
    return f"{external_id}:again:{payment_id}"


def again_reason(payment_id: int, reason: str) -> str:
    """Why a later payment was annulled before it was applied again (take_back_payment)."""
    return _("anulado para aplicarlo otra vez después de anular el pago #%(id)s (%(reason)s)") % {
        "id": payment_id,
        "reason": reason,
    }


def under_external_id(external_id: str) -> Q:
    """Filter the payments recorded under `external_id`, or under it followed by ":" and
    more: the same provider payment recorded again (what a partial refund left of it)."""
    return Q(external_id=external_id) | Q(external_id__startswith=f"{external_id}:")


class ReceivableKind(Protocol):
    """How the payment-event life cycle reads and pays one kind of receivable."""

    name: str

    def open_debts(self, customer_id: int, today: date) -> list[Debt]:
        """Return the customer's receivables of this kind that owe something today."""

    def debt(self, receivable_id: int, today: date) -> Debt | None:
        """Return one receivable's debt today (also when it owes nothing), or None."""

    def hold(self, receivable_id: int) -> bool:
        """Keep the receivable from being deleted until the transaction ends (a link,
        promise, agreement or report is about to name it); False when it is gone."""

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
        """Apply money received; return the id of the payment it became. Raise
        ValidationError when the receivable refuses it."""

    def annul_payment(self, *, payment_id: int, actor: AbstractBaseUser | None, reason: str) -> int:
        """Reverse a payment exactly; return the receivable's id."""

    def take_back_payment(self, *, payment_id: int, reason: str) -> TakenBack:
        """Annul a provider's payment its provider gave back (a refund, a chargeback), also
        when other provider payments were applied after it: those are annulled first and
        applied again after, as they were. Raise ValidationError when it cannot be."""

    def payment_is_applied(self, payment_id: int) -> bool:
        """Say whether the payment stands (neither annulled nor unknown)."""

    def annulled_payments(
        self, payment_ids: Sequence[int]
    ) -> dict[int, tuple[datetime | None, AbstractBaseUser | None, str]]:
        """Return, of these payments, the annulled ones: when, by whom and why; one query."""

    def annulment_of(self, payment_id: OuterRef) -> tuple[Subquery, Subquery]:
        """Return subqueries of when and why the payment `payment_id` points at was
        annulled (null while it stands), for a list that reads them in its own query."""

    def overpaid(self, payment_id: int) -> Decimal:
        """Return how much of the payment was more than was owed (kept for the debtor)."""

    def external_payments(self, receivable_id: int, external_id: str) -> list[ExternalPayment]:
        """Return the receivable's payments recorded under `external_id`, or under it
        followed by ":" and more (the same provider payment recorded again), oldest first.
        Among the receivable's own: a prefix match over every payment reads them all."""

    def paid_between(self, receivable_id: int, start: date, end: date) -> Decimal:
        """Return what standing payments received from `start` to `end` (inclusive) add up to."""

    def grant_discount(
        self,
        *,
        receivable_id: int,
        amount: Decimal,
        actor: AbstractBaseUser | None,
        reason: str,
        summary: str = "",
    ) -> Decimal:
        """Forgive up to `amount` of late interest; return what was forgiven. `summary` is
        the timeline's text for it, instead of the usual one."""

    def late_interest_charged(
        self, receivable_id: int, *, since: datetime, until: datetime
    ) -> Decimal:
        """Return the late interest charged on it between two moments, less any taken back
        or waived between them (zero for a kind that charges none)."""

    def charge_late_interest(self, receivable_id: int, day: date) -> None:
        """Charge the late interest up to `day` that no nightly charged yet, as a payment
        received that day charges it first (nothing for a kind that charges none)."""

    def restore_discount(
        self, *, receivable_id: int, marker: str, actor: AbstractBaseUser | None, summary: str
    ) -> Decimal:
        """Owe again what discounts whose reason names `marker` forgave (their payment was
        refunded); return how much. A second call restores nothing more."""


_kinds: Registry[ReceivableKind] = Registry("A receivable kind")


def register(kind: ReceivableKind) -> None:
    _kinds.register(kind.name, kind)


def kind(name: str) -> ReceivableKind:
    """Return the registered kind; a name nobody registered is a ValidationError."""
    found = _kinds.get(name)
    if found is None:
        raise ValidationError(_("Tipo de deuda desconocido: %(kind)s.") % {"kind": name})
    return found


def annulment_columns(kind_field: str, payment_field: str) -> tuple[Case, Case]:
    """Return when and why the payment a row names (its kind in `kind_field`, its id in
    `payment_field`) was annulled, null while it stands: each kind's own subqueries, so a
    list of rows of every kind reads them in its one query."""
    names = _kinds.names()
    at = [
        When(**{kind_field: name}, then=kind(name).annulment_of(OuterRef(payment_field))[0])
        for name in names
    ]
    why = [
        When(**{kind_field: name}, then=kind(name).annulment_of(OuterRef(payment_field))[1])
        for name in names
    ]
    return (
        Case(*at, default=None, output_field=DateTimeField()),
        Case(*why, default=None, output_field=CharField()),
    )


def open_debts(customer_id: int, today: date, *, besides: str = "") -> list[Debt]:
    """Return every receivable of the customer that owes something today, of every kind
    (but `besides`, a kind the caller reads itself)."""
    debts: list[Debt] = []
    for name in _kinds.names():
        if name != besides:
            debts.extend(kind(name).open_debts(customer_id, today))
    return debts


# --- Loans another receivable settles ------------------------------------------------------


@dataclass(frozen=True)
class Covering:
    """What settles a written-off loan instead of it (recovery: a campaign), as said."""

    by: str  # for a sentence: "la campaña de cartera castigada CAST-2026-06"
    refusal: str  # why no new link, promise or agreement is made on the loan, what instead


@dataclass(frozen=True)
class LoanCover:
    """How a receivable kind settles some of a customer's written-off loans instead of them
    (recovery: an active or paid campaign). The debtor is asked for that receivable, not for
    the loan, whose own ledger stays as it is."""

    # (customer_id, today) -> ids of the customer's written-off loans it covers.
    loans: Callable[[int, date], set[int]]
    # (written-off loan, today) -> what covers the loan, or None: the same loans as `loans`.
    covering: Callable[[Loan, date], Covering | None]
    # (loan, payment) -> money for a loan it covers was recorded without being applied (a
    # link withdrawn when the cover began, paid anyway): tell whom it concerns.
    money_kept: Callable[[Loan, Payment], None]


_covers: Registry[LoanCover] = Registry("A loan cover")


def register_cover(name: str, cover: LoanCover) -> None:
    """Let the kind `name` say which of a customer's written-off loans it settles instead of
    them: `open_debts` and the portal's statement leave those loans out, no new offer is
    made on them, and money still paid for one is recorded without paying it."""
    _covers.register(name, cover)


def unregister_cover(name: str) -> None:
    """Forget `name`'s cover (for tests)."""
    _covers.unregister(name)


def uncovered(loans: Sequence[Loan], customer_id: int, today: date) -> list[Loan]:
    """Return the customer's `loans` but the written-off ones another receivable settles.

    Only a written-off loan can be covered, so the registered covers are asked (a query
    each) only when one of the loans is written off: most debtors have none."""
    if not any(loan.status == Loan.Status.WRITTEN_OFF for loan in loans):
        return list(loans)
    covered: set[int] = set()
    for name in _covers.names():
        cover = _covers.get(name)
        if cover is not None:
            covered |= cover.loans(customer_id, today)
    return [
        loan for loan in loans if loan.pk not in covered or loan.status != Loan.Status.WRITTEN_OFF
    ]


def _cover_of(loan: Loan, today: date) -> tuple[LoanCover, Covering] | None:
    """Return the cover that settles `loan` instead of it today, and what it says, or None
    (a loan not written off: no query)."""
    if loan.status != Loan.Status.WRITTEN_OFF:
        return None
    for name in _covers.names():
        cover = _covers.get(name)
        found = cover.covering(loan, today) if cover is not None else None
        if found is not None:
            return cover, found
    return None


def refuse_covered_loan(loan_id: int, today: date) -> None:
    """Refuse a new offer (a link, a promise, an agreement, a payment to verify) on a
    written-off loan another receivable settles: the debtor is offered that one instead,
    and money paid for the loan would not pay it."""
    loan = Loan.objects.filter(pk=loan_id).only("customer_id", "payment_code", "status").first()
    found = _cover_of(loan, today) if loan is not None else None
    if found is not None:
        raise ValidationError(found[1].refusal, code="covered_loan")


# --- Loans ---------------------------------------------------------------------------------

# What a payment to verify was made with, as a loan payment's source.
_SOURCES = {
    "transfer": Payment.Source.TRANSFER,
    "deposit": Payment.Source.DEPOSIT,
    "cash": Payment.Source.CASH,
    "mercadopago": Payment.Source.MERCADOPAGO,
    "clear": Payment.Source.CLEAR,
}


# The loan's columns a debt reads (LoanReceivable._debt), for the reads of many loans: a
# loan row has some fifty, and reading them all was a fifth of the portal's statement.
LOAN_DEBT_FIELDS = (
    "customer_id",
    "payment_code",
    "currency",
    "status",
    "credit_balance",
    "days_past_due",
    "product__name",
)


class LoanReceivable:
    """A disbursed loan that is still owed (active or written off)."""

    name = LOAN

    def open_debts(self, customer_id: int, today: date) -> list[Debt]:
        loans = list(
            Loan.objects.filter(customer_id=customer_id, status__in=Loan.LIVE)
            .select_related("product")
            .only(*LOAN_DEBT_FIELDS)
            .order_by("first_due_date", "pk")
        )
        # A written-off loan that a campaign settles is owed as that campaign (its own
        # debt, of its kind), or no more once the campaign is paid: never as well.
        loans = uncovered(loans, customer_id, today)
        return [debt for debt in self.debts_of(loans, today) if debt.has_debt]

    def hold(self, receivable_id: int) -> bool:
        # A disbursed loan is never deleted (its payments protect it).
        return True

    def debt(self, receivable_id: int, today: date) -> Debt | None:
        loan = Loan.objects.select_related("product").filter(pk=receivable_id).first()
        if loan is None or loan.status not in Loan.DISBURSED:
            return None
        return self.debts_of([loan], today)[0]

    def debts_of(
        self,
        loans: Sequence[Loan],
        today: date,
        figures: dict[int, list[credit_selectors.Figures]] | None = None,
    ) -> list[Debt]:
        """Return the loans' debts (with their product), their installments read in one
        query, or from `figures` (credits.selectors.installment_figures) read already."""
        if figures is None:
            figures = credit_selectors.installment_figures(
                [loan.pk for loan in loans], open_only=True
            )
        return [
            self._debt(loan, credit_selectors.open_balance(figures[loan.pk], today), today)
            for loan in loans
        ]

    def _debt(self, loan: Loan, balance: credit_selectors.OpenBalance, today: date) -> Debt:
        live = loan.is_live
        # Less the credit balance an active loan holds: paid, it settles the loan.
        total = credit_selectors.settles_with_credit(loan, balance.to_settle) if live else ZERO
        return Debt(
            kind=LOAN,
            id=loan.pk,
            customer_id=loan.customer_id,
            code=loan.payment_code,
            label=f"{loan.product.name} {loan.payment_code}",
            currency=loan.currency,
            portfolio=Portfolio.WRITTEN_OFF
            if loan.status == Loan.Status.WRITTEN_OFF
            else Portfolio.CURRENT,
            total=total,
            credit=balance.to_settle - total if live else ZERO,
            overdue=balance.overdue,
            late_interest=balance.overdue_late_interest,
            # From the schedule, as the loan's page: the nightly `Loan.days_past_due` is a
            # day behind for an installment that fell due since (0 days, no agreements).
            days_past_due=max(
                ((today - r.due_date).days for r in balance.open_rows if r.due_date < today),
                default=0,
            ),
            next_due_date=balance.next_due_date,
            next_due_amount=balance.next_due_amount,
            total_until=balance.to_settle_until if live else None,
            lines=tuple(
                DebtLine(
                    number=row.number,
                    due_date=row.due_date,
                    amount=row.pending,
                    is_overdue=row.due_date < today,
                )
                for row in balance.open_rows
            )
            if live
            else (),
        )

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
        loan = Loan.objects.get(pk=receivable_id)
        # A loan another receivable settles now (a written-off campaign) is not paid: its
        # debtor is asked for that one, which a payment of the loan would not pay.
        covered = _cover_of(loan, timezone.localdate())
        unapplied = ""
        if covered is not None:
            cover, covering = covered
            if not accept_overpayment:
                # Someone is recording it (a payment to verify): not on this loan.
                raise ValidationError(
                    _("No se aplican pagos al crédito %(loan)s: lo cubre %(by)s.")
                    % {"loan": loan.payment_code, "by": covering.by},
                    code="covered_loan",
                )
            # Already taken (a gateway's checkout withdrawn when the cover began, paid
            # anyway): recorded whole as credit balance, to give back or apply by hand.
            unapplied = _("el crédito %(loan)s lo cubre %(by)s") % {
                "loan": loan.payment_code,
                "by": covering.by,
            }
        payment = payment_services.apply_payment(
            loan=loan,
            amount=amount,
            received_on=received_on,
            source=_SOURCES.get(source, Payment.Source.OTHER),
            actor=actor,
            reference=reference[:80],
            external_id=external_id,
            accept_overpayment=accept_overpayment,
            receipt=receipt,
            # Money beyond the installments due and in course prepays principal: a debtor
            # who pays the total means to settle the loan, not to leave a credit balance.
            overpayment=Payment.Overpayment.SHORTEN_TERM,
            unapplied=unapplied,
        )
        if covered is not None and payment.overpaid == payment.amount:
            # Kept whole. A repeat (the same external id) returns the first payment: the
            # cover tells of each payment once (recovery's e-mail has a dedupe key).
            cover.money_kept(loan, payment)
        return payment.pk

    def annul_payment(self, *, payment_id: int, actor: AbstractBaseUser | None, reason: str) -> int:
        payment = Payment.objects.filter(pk=payment_id).first()
        if payment is None:
            raise ValidationError(_("El pago no existe."))
        payment_services.annul_payment(payment=payment, actor=actor, reason=reason)
        return payment.loan_id

    def take_back_payment(self, *, payment_id: int, reason: str) -> TakenBack:
        payment = Payment.objects.filter(pk=payment_id).first()
        if payment is None:
            raise ValidationError(_("El pago no existe."))
        loan = Loan.objects.select_for_update().get(pk=payment.loan_id)
        # A loan's payment is annulled only when none applied after it covers installments
        # (credits.services.payments.annul_payment): those go first, newest first.
        later = list(
            Payment.objects.filter(
                loan=loan,
                status=Payment.Status.APPLIED,
                pk__gt=payment.pk,
                allocations__isnull=False,
            )
            .distinct()
            .order_by("-pk")
        )
        # The credit balance spent after it (the nightly) is annulled too, giving the credit
        # back, and spent again at the end as the nightly would now.
        spends = {p.pk for p in later if p.source == Payment.Source.CREDIT_BALANCE}
        if any(
            p.pk not in spends and (p.source not in GATEWAY_SOURCES or not p.external_id)
            for p in later
        ):
            # Someone recorded one by hand (a receipt, a reported payment): only they can
            # record it again, so the loan's own refusal says what to do.
            later = []
        for younger in later:
            payment_services.annul_payment(
                payment=younger, actor=None, reason=again_reason(payment.pk, reason)
            )
        payment_services.annul_payment(payment=payment, actor=None, reason=reason)
        reapplied = {}
        for younger in reversed(later):
            if younger.pk in spends:
                continue
            applied = payment_services.apply_payment(
                loan=loan,
                amount=younger.amount,
                received_on=younger.received_on,
                source=younger.source,
                actor=None,
                reference=younger.reference,
                overpayment=younger.overpayment,
                # It was taken as it came: applied again the same way, over the debt or not.
                accept_overpayment=True,
                # The same provider payment: its id, and the one it was applied under before.
                external_id=again_external_id(younger.external_id, younger.pk),
                # The payment's entry was written when it came: this one is bookkeeping.
                is_bookkeeping=True,
            )
            reapplied[younger.pk] = applied.pk
        if any(p.pk in spends for p in later):
            payment_services.spend_credit_if_due(loan)
        return TakenBack(receivable_id=loan.pk, reapplied=reapplied)

    def payment_is_applied(self, payment_id: int) -> bool:
        return Payment.objects.filter(pk=payment_id, status=Payment.Status.APPLIED).exists()

    def annulled_payments(
        self, payment_ids: Sequence[int]
    ) -> dict[int, tuple[datetime | None, AbstractBaseUser | None, str]]:
        found = Payment.objects.filter(pk__in=list(payment_ids), status=Payment.Status.ANNULLED)
        return {
            p.pk: (p.annulled_at, p.annulled_by, p.annul_reason)
            for p in found.select_related("annulled_by")
        }

    def annulment_of(self, payment_id: OuterRef) -> tuple[Subquery, Subquery]:
        annulled = Payment.objects.filter(pk=payment_id, status=Payment.Status.ANNULLED)
        return (
            Subquery(annulled.values("annulled_at")[:1]),
            Subquery(annulled.values("annul_reason")[:1]),
        )

    def overpaid(self, payment_id: int) -> Decimal:
        found = Payment.objects.filter(pk=payment_id).values_list("overpaid", flat=True).first()
        return found or ZERO

    def external_payments(self, receivable_id: int, external_id: str) -> list[ExternalPayment]:
        rows = (
            Payment.objects.filter(under_external_id(external_id), loan_id=receivable_id)
            .order_by("pk")
            .values_list("pk", "external_id", "amount", "status")
        )
        return [
            ExternalPayment(pk, found, amount, status == Payment.Status.APPLIED)
            for pk, found, amount, status in rows
        ]

    def paid_between(self, receivable_id: int, start: date, end: date) -> Decimal:
        # Money received: spending a credit balance is money counted when it came in.
        total = (
            Payment.objects.received()
            .filter(
                loan_id=receivable_id,
                status=Payment.Status.APPLIED,
                received_on__range=(start, end),
            )
            .aggregate(total=Sum("amount"))["total"]
        )
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
        loan = Loan.objects.get(pk=receivable_id)
        return delinquency.waive_late_interest(
            loan=loan, amount=amount, actor=actor, reason=reason, summary=summary
        )

    def restore_discount(
        self, *, receivable_id: int, marker: str, actor: AbstractBaseUser | None, summary: str
    ) -> Decimal:
        return delinquency.restore_waived_late_interest(
            loan=Loan.objects.get(pk=receivable_id), marker=marker, actor=actor, summary=summary
        )

    def charge_late_interest(self, receivable_id: int, day: date) -> None:
        loan = Loan.objects.filter(pk=receivable_id).first()
        if loan is not None and loan.is_live:
            with transaction.atomic():
                delinquency.accrue_late_interest(loan=ledger.locked(loan), today=day)

    def late_interest_charged(
        self, receivable_id: int, *, since: datetime, until: datetime
    ) -> Decimal:
        # The ledger's late-interest entries on installments: the nightly's charges, and
        # what payments took back and charged again, and waivers, with their signs.
        total = LedgerEntry.objects.filter(
            loan_id=receivable_id,
            kind=LedgerEntry.Kind.LATE_INTEREST,
            component=Component.LATE_INTEREST,
            installment__isnull=False,
            created_at__gt=since,
            created_at__lt=until,
        ).aggregate(total=Sum("owed"))["total"]
        return total or ZERO


def open_events_refusal(loan: Loan) -> str:
    """Say why the loan's disbursement may not be annulled (credits' annulment check): a
    payment link, a payment to verify, a promise or an agreement still open on it; ""
    when none is."""
    ref = {"receivable_kind": LOAN, "receivable_id": loan.pk}
    for rows, what in (
        (
            PaymentLink.objects.filter(
                **ref, status__in=[PaymentLink.Status.CREATING, PaymentLink.Status.ACTIVE]
            ),
            _("un link de pago abierto"),
        ),
        (
            ReportedPayment.objects.filter(**ref, status=ReportedPayment.Status.PENDING),
            _("un pago a verificar"),
        ),
        (
            PaymentPromise.objects.filter(**ref, status=PaymentPromise.Status.PENDING),
            _("un compromiso de pago vigente"),
        ),
        (
            PaymentAgreement.objects.filter(
                **ref,
                status__in=[PaymentAgreement.Status.PENDING, PaymentAgreement.Status.ACTIVE],
            ),
            _("un convenio de pago en curso"),
        ),
    ):
        if rows.exists():
            return _(
                "El crédito %(code)s tiene %(what)s: anúlelo en «Cobranzas» antes de anular su "
                "desembolso."
            ) % {"code": loan.payment_code, "what": what}
    return ""


def events_holding_imported(codes: Mapping[int, str]) -> dict[int, str]:
    """Say which of the loans `codes` names collections has events on (credits' undo check
    of a loans import): a link, a payment to verify, a promise or an agreement, open or
    not, names its loan by id; the loan deleted, they would name nothing."""
    held: dict[int, str] = {}
    for model, what in (
        (PaymentLink, _("links de pago en «Cobranzas»")),
        (ReportedPayment, _("pagos a verificar en «Cobranzas»")),
        (PaymentPromise, _("compromisos de pago en «Cobranzas»")),
        (PaymentAgreement, _("convenios de pago en «Cobranzas»")),
    ):
        found = model.objects.filter(receivable_kind=LOAN, receivable_id__in=list(codes))
        for loan_id in found.values_list("receivable_id", flat=True).distinct():
            held.setdefault(loan_id, what)
    return held
