"""What the portal shows a customer: their statement, and a payment link's state.

Everything is read for the customer in the session and nobody else: a debt another
customer owes is never in a statement, and a form can name only the debts listed here.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from collections_app import receivables
from collections_app import selectors as collection_selectors
from collections_app import services as collection_services
from collections_app.models import (
    ZERO,
    AgreementRule,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)
from collections_app.receivables import Debt
from collections_app.signals import Event
from collections_app.strategies import events as event_settings
from collections_app.strategies import templating
from credits import selectors as credit_selectors
from credits.models import Loan
from crm.models import Customer, Interaction
from integrations import payment_gateways
from lib import repeats

# A promise or an agreement the visitor made this recently, asked for again with the same
# choice, is the same form sent twice (a double click, the back button and send).
REPEAT_WINDOW = timedelta(minutes=1)
# A payment the debtor reported stays on their statement while it waits and this long after
# it was reported or reviewed, with its verdict: a rejection told only by a message (held
# overnight by the quiet hours) is on the statement at once.
REPORTS_SHOWN_FOR = timedelta(days=30)
# At most this many, the newest first: the page stays short whatever was sent.
REPORTS_SHOWN = 20


@dataclass(frozen=True)
class Row:
    """One installment as the debtor reads it."""

    number: int
    due_date: date
    amount: Decimal  # what it asked for
    paid: Decimal
    pending: Decimal
    state: str  # "paid", "overdue" or "upcoming"
    paid_on: date | None = None

    @property
    def is_paid(self) -> bool:
        return self.state == "paid"

    @property
    def is_overdue(self) -> bool:
        return self.state == "overdue"


@dataclass(frozen=True)
class Account:
    """One receivable of the customer: what it owes today (if anything) and its installments."""

    kind: str
    id: int
    code: str
    label: str
    currency: str
    rows: tuple[Row, ...]
    debt: Debt | None  # None when nothing is owed
    least: Decimal = ZERO  # what a custom-amount link may ask for, at least ...
    most: Decimal = ZERO  # ... and at most
    options: tuple[collection_services.AgreementOption, ...] = ()

    @property
    def key(self) -> str:
        """The debt as the portal's forms name it."""
        return f"{self.kind}:{self.id}"

    @property
    def anchor(self) -> str:
        """The account in the page's element ids ("loan-12")."""
        return f"{self.kind}-{self.id}"

    @property
    def owes(self) -> bool:
        return self.debt is not None and self.debt.has_debt

    @property
    def paid_rows(self) -> int:
        return sum(1 for row in self.rows if row.is_paid)

    @property
    def next_row(self) -> Row | None:
        """The first installment not paid yet: the one to pay next."""
        return next((row for row in self.rows if not row.is_paid), None)


@dataclass(frozen=True)
class Reported:
    """A payment the debtor reported, as their statement tells it."""

    report: ReportedPayment
    # The rejection's reason when the debtor is told it ("" otherwise): the agent writes it
    # for the debtor's message, which does not say it when the events settings' template
    # leaves out {motivo} (the review page warns «el cliente no lo verá»), and no message
    # goes for a report rejected again after it was reopened.
    reason: str = ""


@dataclass(frozen=True)
class Statement:
    customer: Customer
    accounts: list[Account]
    # What settles everything, and what is overdue, per currency.
    totals: dict[str, Decimal] = field(default_factory=dict)
    overdue: dict[str, Decimal] = field(default_factory=dict)
    # In course; an active one's payments still to make in `pending_promises`.
    agreements: list[PaymentAgreement] = field(default_factory=list)
    reported: list[Reported] = field(default_factory=list)
    promises: list[PaymentPromise] = field(default_factory=list)
    # Loans a written-off campaign settles (not accounts here): the debtor has debts, settled.
    covered: int = 0

    @property
    def open_accounts(self) -> list[Account]:
        return [account for account in self.accounts if account.owes]

    def account(self, key: str) -> Account | None:
        return next((a for a in self.accounts if a.key == key), None)


def statement(
    customer: Customer, today: date | None = None, *, others: list[Debt] | None = None
) -> Statement:
    """Return the customer's receivables: each loan disbursed (paid ones too) and any other
    debt registered, with their installments paid and pending, and what is in course.

    `others`: the customer's open debts besides loans, when the caller has read them
    (receivables.open_debts(…, besides=LOAN) on `today`)."""
    today = today or timezone.localdate()
    # Loans are read once, for their debts and their schedules; other kinds by the registry.
    if others is None:
        others = receivables.open_debts(customer.pk, today, besides=receivables.LOAN)
    rules = collection_selectors.active_agreement_rules()
    accounts, covered = _loan_accounts(customer, today, rules)
    accounts += [_other_account(debt, rules) for debt in others]
    totals: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for account in accounts:
        if account.owes:
            totals[account.currency] = totals.get(account.currency, ZERO) + account.debt.total
            overdue[account.currency] = overdue.get(account.currency, ZERO) + account.debt.overdue
    in_course = _in_course_kinds(customer, today)
    agreements = (
        list(
            PaymentAgreement.objects.filter(
                customer=customer,
                status__in=[PaymentAgreement.Status.PENDING, PaymentAgreement.Status.ACTIVE],
            )
            .prefetch_related(
                "links",
                # An active agreement's installments, each a promise: what is still to pay
                # and when (its own promises are not among the statement's `promises`).
                Prefetch(
                    "promises",
                    queryset=PaymentPromise.objects.filter(
                        collection_selectors.in_course(today)
                    ).order_by("promised_on", "pk"),
                    to_attr="pending_promises",
                ),
            )
            .order_by("-created_at", "-pk")
        )
        if "agreement" in in_course
        else []
    )
    # A debt with an agreement in course takes no other (create_agreement refuses it): its
    # options are not offered.
    busy = {(agreement.receivable_kind, agreement.receivable_id) for agreement in agreements}
    accounts = [
        Account(**{**account.__dict__, "options": ()})
        if account.options and (account.kind, account.id) in busy
        else account
        for account in accounts
    ]
    return Statement(
        customer=customer,
        accounts=accounts,
        covered=covered,
        totals=totals,
        overdue=overdue,
        agreements=agreements,
        reported=reported(customer) if "reported" in in_course else [],
        promises=list(
            PaymentPromise.objects.filter(
                collection_selectors.in_course(today), customer=customer, agreement__isnull=True
            ).order_by("promised_on", "pk")
        )
        if "promise" in in_course
        else [],
    )


def _reports_shown(now) -> Q:
    """The reports a statement lists: waiting, or reported or reviewed lately."""
    since = now - REPORTS_SHOWN_FOR
    return (
        Q(status=ReportedPayment.Status.PENDING)
        | Q(created_at__gte=since)
        | Q(reviewed_at__gte=since)
    )


def reported(customer: Customer) -> list[Reported]:
    """Return the payments the customer reported that their statement lists, the newest
    first: those waiting, and those reported or reviewed in the last REPORTS_SHOWN_FOR,
    each with the reason of its rejection when the debtor is told it."""
    reports = list(
        ReportedPayment.objects.filter(_reports_shown(timezone.now()), customer=customer)
        .order_by("-created_at", "-pk")
        .defer("receipt", "receipt_sha256", "contact_email")[:REPORTS_SHOWN]
    )
    rejected = [r for r in reports if r.status == ReportedPayment.Status.REJECTED]
    if not rejected:
        return [Reported(report=report) for report in reports]
    # Rejected again after a reopening: the debtor was not told this time.
    reopened = set(
        Interaction.objects.filter(
            customer=customer,
            payload__reported_payment__in=[r.pk for r in rejected],
            payload__status=collection_selectors.REOPENED,
        ).values_list("payload__reported_payment", flat=True)
    )
    says_reason: dict[str, bool] = {}
    for report in rejected:
        if report.portfolio not in says_reason:
            says_reason[report.portfolio] = rejection_says_reason(report.portfolio)
    return [
        Reported(
            report=report,
            reason=report.reject_reason
            if report.status == ReportedPayment.Status.REJECTED
            and report.pk not in reopened
            and says_reason[report.portfolio]
            else "",
        )
        for report in reports
    ]


def rejection_says_reason(portfolio: str) -> bool:
    """Say whether the debtor's message about a rejected report says its reason: the
    built-in e-mail does; the events settings' template only when it has {motivo}."""
    setting = event_settings.active_setting(portfolio, Event.REJECTED)
    if setting is None:
        return True
    template = setting.template
    return "motivo" in [
        *templating.placeholders(template.subject),
        *templating.placeholders(template.body),
    ]


def by_urgency(accounts: list[Account]) -> list[Account]:
    """Return the accounts with installments overdue first, then the others that owe, each
    by its next due date, then the paid ones."""

    def urgency(account: Account) -> tuple:
        rank = 2 if not account.owes else 0 if account.debt.overdue else 1
        upcoming = account.next_row
        return (rank, upcoming.due_date if upcoming else date.max, account.kind, account.id)

    return sorted(accounts, key=urgency)


def account(
    customer: Customer,
    kind: str,
    account_id: int,
    today: date | None = None,
    *,
    others: list[Debt] | None = None,
) -> Account | None:
    """Return one of the customer's accounts as their statement shows it, or None when the
    customer has no such account: another customer's is never read.

    `others`: as for statement()."""
    today = today or timezone.localdate()
    rules = collection_selectors.active_agreement_rules()
    if kind == receivables.LOAN:
        found, _covered = _loan_accounts(customer, today, rules, loan_id=account_id)
    else:
        if others is None:
            others = receivables.open_debts(customer.pk, today, besides=receivables.LOAN)
        found = [
            _other_account(debt, rules)
            for debt in others
            if debt.kind == kind and debt.id == account_id and debt.customer_id == customer.pk
        ]
    if not found:
        return None
    one = found[0]
    # As in statement(): a debt with an agreement in course is offered no other.
    if (
        one.options
        and PaymentAgreement.objects.filter(
            customer=customer,
            receivable_kind=one.kind,
            receivable_id=one.id,
            status__in=[PaymentAgreement.Status.PENDING, PaymentAgreement.Status.ACTIVE],
        ).exists()
    ):
        one = Account(**{**one.__dict__, "options": ()})
    return one


def _in_course_kinds(customer: Customer, today: date) -> set[str]:
    """Say which of the customer's agreements, payments to verify and promises are in
    course, in one plain query: most debtors have none, and three ORM queries to find out
    cost more than the rest of the statement's reads. A promise past its day is not in
    course, though the nightly has not judged it yet (collection_selectors.in_course). A
    payment reported is listed while it waits, and for REPORTS_SHOWN_FOR after it was
    reported or reviewed (`reported`)."""
    since = connection.ops.adapt_datetimefield_value(timezone.now() - REPORTS_SHOWN_FOR)
    tables = {
        name: connection.ops.quote_name(model._meta.db_table)
        for name, model in (
            ("agreement", PaymentAgreement),
            ("reported", ReportedPayment),
            ("promise", PaymentPromise),
        )
    }
    sql = (
        f"SELECT 'agreement' FROM {tables['agreement']} "  # noqa: S608 - our table names
        "WHERE customer_id = %s AND status IN (%s, %s) "
        f"UNION ALL SELECT 'reported' FROM {tables['reported']} "
        "WHERE customer_id = %s AND (status = %s OR created_at >= %s OR reviewed_at >= %s) "
        f"UNION ALL SELECT 'promise' FROM {tables['promise']} "
        "WHERE customer_id = %s AND status = %s AND promised_on >= %s AND agreement_id IS NULL"
    )
    params = [
        customer.pk,
        PaymentAgreement.Status.PENDING,
        PaymentAgreement.Status.ACTIVE,
        customer.pk,
        ReportedPayment.Status.PENDING,
        since,
        since,
        customer.pk,
        PaymentPromise.Status.PENDING,
        connection.ops.adapt_datefield_value(today),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _with_offers(account: Account, rules: list[AgreementRule]) -> Account:
    debt = account.debt
    if debt is None or not debt.has_debt:
        return account
    least, most = collection_services.link_bounds(debt)
    options = _best_per_count(collection_services.agreement_options(debt, rules=rules))
    return Account(**{**account.__dict__, "least": least, "most": most, "options": options})


def _best_per_count(
    options: list[collection_services.AgreementOption],
) -> tuple[collection_services.AgreementOption, ...]:
    """The debtor's best option for each number of payments (the least total, then the
    least down payment), in that order.

    Two active rules that both apply gave "1 pago", "2 pagos"… twice, with nothing on the
    page to tell them apart, the second set costing more.
    """
    best: dict[int, collection_services.AgreementOption] = {}
    for option in options:
        kept = best.get(option.installments)
        if kept is None or (option.total, option.down_payment) < (kept.total, kept.down_payment):
            best[option.installments] = option
    return tuple(best[count] for count in sorted(best))


def _loan_accounts(
    customer: Customer, today: date, rules: list[AgreementRule], *, loan_id: int | None = None
) -> tuple[list[Account], int]:
    """Return the customer's loan accounts (or only the one `loan_id`, if it is theirs), and
    how many loans a campaign settles instead."""
    loans = Loan.objects.filter(customer=customer, status__in=Loan.DISBURSED)
    if loan_id is not None:
        loans = loans.filter(pk=loan_id)
    loans = list(
        loans.select_related("product")
        # An account reads what its debt does.
        .only(*receivables.LOAN_DEBT_FIELDS)
        .order_by("first_due_date", "pk")
    )
    # A written-off loan that a campaign settles is not the debtor's to pay: the campaign
    # is listed instead while active (the portal sends its debtor to /recovery/ then), and
    # nothing once it is paid. Its schedule would only ask again for what the campaign
    # settled.
    disbursed = len(loans)
    loans = receivables.uncovered(loans, customer.pk, today)
    figures = credit_selectors.installment_figures([loan.pk for loan in loans])
    debts = receivables.LoanReceivable().debts_of(loans, today, figures)
    accounts = []
    for loan, debt in zip(loans, debts, strict=True):
        account = Account(
            kind="loan",
            id=loan.pk,
            code=loan.payment_code,
            label=f"{loan.product.name} {loan.payment_code}",
            currency=loan.currency,
            rows=tuple(
                Row(
                    number=f.number,
                    due_date=f.due_date,
                    amount=f.due,
                    paid=f.paid,
                    pending=f.pending,
                    state=f.state(today),
                    paid_on=f.paid_on,
                )
                for f in figures[loan.pk]
            ),
            debt=debt if debt.has_debt else None,
        )
        accounts.append(_with_offers(account, rules))
    return accounts, disbursed - len(loans)


def _other_account(debt: Debt, rules: list[AgreementRule]) -> Account:
    """A debt of a kind another app registered: only its open lines are known."""
    today = timezone.localdate()
    return _with_offers(
        Account(
            kind=debt.kind,
            id=debt.id,
            code=debt.code,
            label=debt.label,
            currency=debt.currency,
            rows=tuple(
                Row(
                    number=line.number,
                    due_date=line.due_date,
                    amount=line.amount,
                    paid=ZERO,
                    pending=line.amount,
                    state="overdue" if line.due_date < today else "upcoming",
                )
                for line in debt.lines
            ),
            debt=debt,
        ),
        rules,
    )


@dataclass(frozen=True)
class Gateway:
    name: str
    label: str


def gateways() -> list[Gateway]:
    """Return the payment gateways a debtor may pay through now (those configured)."""
    return [
        Gateway(name=name, label=gateway_label(name))
        for name in payment_gateways.configured_names()
        if name in collection_services.GATEWAYS
    ]


def gateway_label(name: str) -> str:
    """Return the name people read for a gateway ("MercadoPago"), credentials or not."""
    path = payment_gateways.GATEWAYS.get(name)
    return getattr(import_string(path), "label", name) if path else name


def link_for_reference(reference: str) -> PaymentLink | None:
    return PaymentLink.objects.filter(reference=reference).first()


def promise_just_made(
    customer: Customer,
    *,
    receivable_kind: str,
    receivable_id: int,
    amount: Decimal,
    promised_on: date,
) -> PaymentPromise | None:
    """Return the promise the visitor made a moment ago for this debt, amount and day, if
    it still waits: the same form sent twice, refused the second time as "already one"."""
    return repeats.made_within(
        PaymentPromise.objects.filter(
            customer=customer,
            receivable_kind=receivable_kind,
            receivable_id=receivable_id,
            origin=Origin.PORTAL,
            status=PaymentPromise.Status.PENDING,
            amount=amount,
            promised_on=promised_on,
        ),
        REPEAT_WINDOW,
    )


def is_being_created(link: PaymentLink) -> bool:
    """Whether the gateway may still give the link its URL: it is "creating" and within the
    time a request waits for that; later it is left behind and another link is made."""
    return (
        link.status == PaymentLink.Status.CREATING
        and timezone.now() < link.created_at + collection_services.LINK_CREATING_WAIT
    )
