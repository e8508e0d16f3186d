"""Reads of the collections agents' screens: the four work lists, a customer's events, and
the one access helper per record type that every view goes through."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from collections_app import receivables
from collections_app.models import (
    WITHDRAWABLE_LINK,
    AgreementRule,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)
from credits.models import Loan, Payment
from crm import selectors as crm_selectors
from crm.models import Customer, Interaction
from lib import search, small_tables

# What every collections screen needs besides the record type's own permission: the
# customers it is about (crm.view_customer).
VIEW_CUSTOMER = "crm.view_customer"
# The permission of the collections area as a whole (the menu, a customer's page).
VIEW_COLLECTIONS = "collections_app.view_reportedpayment"
# How many of each kind of event a customer's page lists.
RECENT = 20
# How many of a customer's standing loan payments the annulment form offers.
ANNULLABLE = 50
# A search of at least this many digits also looks for the phone a call-back asks for.
PHONE_DIGITS = 6


def may_work(user: AbstractBaseUser, permission: str) -> bool:
    """Return whether `user` may see collections records of the type `permission` names."""
    if not user.is_authenticated:
        return False
    if not user.has_perm(VIEW_CUSTOMER):
        return False
    return user.has_perm(permission)


# --- Access helpers ----------------------------------------------------------------------


def customer_for(user: AbstractBaseUser, pk: int) -> Customer:
    """Return the customer `pk` for their collections page if `user` may work it, else 404."""
    if not may_work(user, VIEW_COLLECTIONS):
        raise Http404
    return get_object_or_404(crm_selectors.customers_visible_to(user), pk=pk)


def reported_for(user: AbstractBaseUser, pk: int) -> ReportedPayment:
    """Return the payment to verify `pk` if `user` may see it, else 404."""
    if not may_work(user, "collections_app.view_reportedpayment"):
        raise Http404
    return get_object_or_404(
        ReportedPayment.objects.select_related("customer", "created_by", "reviewed_by"), pk=pk
    )


def promise_for(user: AbstractBaseUser, pk: int) -> PaymentPromise:
    """Return the promise to pay `pk` if `user` may see it, else 404."""
    if not may_work(user, "collections_app.view_paymentpromise"):
        raise Http404
    return get_object_or_404(PaymentPromise.objects.select_related("customer", "created_by"), pk=pk)


def link_for(user: AbstractBaseUser, pk: int) -> PaymentLink:
    """Return the payment link `pk` if `user` may see it, else 404."""
    if not may_work(user, "collections_app.view_paymentlink"):
        raise Http404
    return get_object_or_404(PaymentLink.objects.select_related("customer", "agreement"), pk=pk)


def agreement_for(user: AbstractBaseUser, pk: int) -> PaymentAgreement:
    """Return the payment agreement `pk` if `user` may see it, else 404."""
    if not may_work(user, "collections_app.view_paymentagreement"):
        raise Http404
    return get_object_or_404(PaymentAgreement.objects.select_related("customer", "rule"), pk=pk)


def callback_for(user: AbstractBaseUser, pk: int) -> CallbackRequest:
    """Return the call-back request `pk` if `user` may see it, else 404."""
    if not may_work(user, "collections_app.view_callbackrequest"):
        raise Http404
    return get_object_or_404(CallbackRequest.objects.select_related("customer", "closed_by"), pk=pk)


# --- The work lists ----------------------------------------------------------------------


def _searched(
    queryset: QuerySet, text: str, *, exact: tuple[str, ...] = (), also: Q | None = None
) -> QuerySet:
    """Keep the rows whose customer matches every term (document, name, phone, e-mail), or
    whose `exact` field (a payment code, a reference) is what was typed, or that meet `also`."""
    text = (text or "").strip()
    condition = search.matches_all(text)
    if not condition:
        return queryset
    # A code first, by its index (Upper(code)), as the loans list does: an OR of the code
    # with the customers' subquery kept PostgreSQL from probing the customer_id index, so it
    # walked the whole list testing every row against both (70 ms a query at 100,000
    # promises). A code typed filters by the code; anything else, by the customers alone.
    customers = Customer.objects.filter(condition).values("pk")
    coded = [field for field in exact if _is_in(queryset.model, field, text)]
    if coded:
        # A code is rarely also in a customer's text: those customers, a few, by id.
        named = list(customers.order_by().values_list("pk", flat=True)[: search.FEW_MATCHES + 1])
        if len(named) > search.FEW_MATCHES:
            found = Q(customer__in=customers)
        else:  # none at all, usually: the code alone
            found = Q(customer_id__in=named) if named else Q()
        for field in coded:
            found |= Q(**{f"{field}__iexact": text})
    else:
        found = Q(customer__in=customers)
    if also is not None:
        found |= also
    return queryset.filter(found)


def _is_in(model, field: str, text: str) -> bool:
    """Return whether `text` could be a code (one word with a digit: every payment code and
    link reference has one) and some row of `model` has it in `field`, case aside."""
    if any(ch.isspace() for ch in text) or not any(ch.isdigit() for ch in text):
        return False
    return model._default_manager.filter(**{f"{field}__iexact": text}).exists()


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _created_between(queryset: QuerySet, since: date | None, until: date | None) -> QuerySet:
    # Bounds as instants rather than `created_at__date`, so the index on created_at serves.
    if since is not None:
        queryset = queryset.filter(created_at__gte=_day_start(since))
    if until is not None:
        queryset = queryset.filter(created_at__lt=_day_start(until + timedelta(days=1)))
    return queryset


def reported_list(
    *,
    q: str = "",
    status: str = "",
    method: str = "",
    origin: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[ReportedPayment]:
    """Return the payments to verify: pending ones first, oldest first (the queue), then
    the reviewed ones, newest first."""
    reports = ReportedPayment.objects.all()
    if status:
        reports = reports.filter(status=status)
    if method:
        reports = reports.filter(method=method)
    if origin:
        reports = reports.filter(origin=origin)
    reports = _created_between(reports, since, until)
    reports = _searched(reports, q, exact=("receivable_code",))
    pending = Q(status=ReportedPayment.Status.PENDING)
    return reports.select_related("customer", "reviewed_by").order_by(
        Case(When(pending, then=Value(0)), default=Value(1), output_field=IntegerField()),
        # Pending: oldest first; the others have no value here and fall to the next key.
        Case(When(pending, then=F("created_at"))).asc(nulls_last=True),
        "-created_at",
        "-pk",
    )


# The promise list's tabs.
DUE_TODAY = "hoy"
BROKEN = "incumplidos"
IN_COURSE = "vigentes"


def promise_list(*, q: str = "", view: str = "", origin: str = "") -> QuerySet[PaymentPromise]:
    """Return the promises of a tab (`view`): due today, broken, in course, or all; the
    soonest day first (for broken ones, the latest broken first)."""
    promises = _promises(q=q, origin=origin)
    today = timezone.localdate()
    if view == DUE_TODAY:
        return promises.filter(status=PaymentPromise.Status.PENDING, promised_on=today).order_by(
            "created_at", "pk"
        )
    if view == BROKEN:
        return promises.filter(status=PaymentPromise.Status.BROKEN).order_by("-promised_on", "-pk")
    if view == IN_COURSE:
        return promises.filter(in_course(today)).order_by("promised_on", "pk")
    return promises.order_by("-promised_on", "-pk")


def in_course(today: date) -> Q:
    """The promises in course: pending, and their day not past. One past its day waits for
    the nightly's verdict (resolve_promises, 00:30; later after an outage): it is not in
    course any more, whatever it still says."""
    return Q(status=PaymentPromise.Status.PENDING, promised_on__gte=today)


def promise_counts(*, q: str = "", origin: str = "") -> dict[str, int]:
    """Return how many promises each tab holds, in one query."""
    today = timezone.localdate()
    pending = Q(status=PaymentPromise.Status.PENDING)
    return _promises(q=q, origin=origin).aggregate(
        **{
            DUE_TODAY: Count("pk", filter=pending & Q(promised_on=today)),
            BROKEN: Count("pk", filter=Q(status=PaymentPromise.Status.BROKEN)),
            IN_COURSE: Count("pk", filter=in_course(today)),
            "todos": Count("pk"),
        }
    )


def _promises(*, q: str, origin: str) -> QuerySet[PaymentPromise]:
    promises = PaymentPromise.objects.select_related("customer", "created_by")
    if origin:
        promises = promises.filter(origin=origin)
    return _searched(promises, q, exact=("receivable_code",))


# What the link list's status filter means beyond the stored status: a link past its
# expiry is expired already, though the hourly job has not yet marked it.
LINK_OPEN = "active"
LINK_EXPIRED = "expired"


def link_list(
    *, q: str = "", status: str = "", provider: str = "", origin: str = ""
) -> QuerySet[PaymentLink]:
    """Return the payment links, newest first."""
    links = PaymentLink.objects.all()
    now = timezone.now()
    if status == LINK_OPEN:
        links = links.filter(status=PaymentLink.Status.ACTIVE, expires_at__gt=now)
    elif status == LINK_EXPIRED:
        links = links.filter(
            Q(status=PaymentLink.Status.EXPIRED)
            | Q(status=PaymentLink.Status.ACTIVE, expires_at__lte=now)
        )
    elif status:
        links = links.filter(status=status)
    if provider:
        links = links.filter(provider=provider)
    if origin:
        links = links.filter(origin=origin)
    links = _searched(links, q, exact=("receivable_code", "reference"))
    return links.select_related("customer", "created_by").order_by("-created_at", "-pk")


def callback_list(*, q: str = "", status: str = "", origin: str = "") -> QuerySet[CallbackRequest]:
    """Return the call-back requests: open ones first, the earliest asked first; then the
    closed ones, the latest closed first."""
    callbacks = CallbackRequest.objects.all()
    if status:
        callbacks = callbacks.filter(status=status)
    if origin:
        callbacks = callbacks.filter(origin=origin)
    digits = "".join(ch for ch in (q or "") if ch.isdigit())
    # A phone typed: the number they asked to be called at, too.
    phone = Q(phone__contains=digits) if len(digits) >= PHONE_DIGITS else None
    callbacks = _searched(callbacks, q, also=phone)
    is_open = Q(status=CallbackRequest.Status.OPEN)
    return callbacks.select_related("customer", "closed_by").order_by(
        Case(When(is_open, then=Value(0)), default=Value(1), output_field=IntegerField()),
        Case(When(is_open, then=F("created_at"))).asc(nulls_last=True),
        F("closed_at").desc(nulls_last=True),
        "-pk",
    )


# How a reopened payment to verify's timeline entry is marked (services.reopen_reported_payment).
REOPENED = "reopened"


def report_was_reopened(report: ReportedPayment) -> bool:
    """Return whether `report` was rejected once and put back in the queue: the debtor
    heard of that rejection, and is not told of another one."""
    return Interaction.objects.filter(
        customer_id=report.customer_id,
        payload__reported_payment=report.pk,
        payload__status=REOPENED,
    ).exists()


def same_payment_reported(report: ReportedPayment) -> ReportedPayment | None:
    """Return another report of `report`'s debt, waiting or verified, of the same payment:
    the same receipt file, or the same amount, day and operation number (or both without
    one). Reopened beside it, `report` could have the same money applied twice."""
    same = Q(amount=report.amount, paid_on=report.paid_on, reference=report.reference)
    if report.receipt_sha256:
        same |= Q(receipt_sha256=report.receipt_sha256)
    return (
        ReportedPayment.objects.filter(
            same,
            receivable_kind=report.receivable_kind,
            receivable_id=report.receivable_id,
            status__in=[ReportedPayment.Status.PENDING, ReportedPayment.Status.APPROVED],
        )
        .exclude(pk=report.pk)
        .order_by("-created_at", "-pk")
        .first()
    )


def pending_report_count(cap: int) -> int:
    """Return how many payments wait to be verified, counting at most `cap` + 1."""
    return ReportedPayment.objects.filter(status=ReportedPayment.Status.PENDING)[: cap + 1].count()


# --- One customer ------------------------------------------------------------------------


def customer_links(customer: Customer) -> list[PaymentLink]:
    return list(
        PaymentLink.objects.filter(customer=customer)
        .select_related("created_by")
        .order_by("-created_at", "-pk")[:RECENT]
    )


def customer_reports(customer: Customer) -> list[ReportedPayment]:
    reports = list(
        ReportedPayment.objects.filter(customer=customer)
        .select_related("reviewed_by")
        .order_by("-created_at", "-pk")[:RECENT]
    )
    attach_payment_annulments(reports)
    return reports


@dataclass(frozen=True)
class Annulment:
    """The annulment of the payment a verified report became: when, by whom and why, as far
    as its receivable's kind tells (a loan's payment tells all three)."""

    at: datetime | None = None
    by: AbstractBaseUser | None = None
    reason: str = ""


def attach_payment_annulments(reports: Iterable[ReportedPayment]) -> None:
    """Set `payment_annulment` on each report: an Annulment when the payment its approval
    applied was annulled since (from the loan's page, the customer's collections page, a
    refund), else None. The report stays «Verificado»: what was verified was the money's
    arrival; the payment's status is read here, where it is shown.

    One query per kind of receivable among the verified reports (none without any), through
    the kind's own `annulled_payments`.
    """
    reports = list(reports)
    by_kind: dict[str, list[ReportedPayment]] = defaultdict(list)
    for report in reports:
        report.payment_annulment = None
        if report.status == ReportedPayment.Status.APPROVED and report.payment_id is not None:
            by_kind[report.receivable_kind].append(report)
    for name, verified in by_kind.items():
        try:
            kind = receivables.kind(name)
        except ValidationError:  # a kind no longer registered: nothing to tell
            continue
        annulled = kind.annulled_payments([report.payment_id for report in verified])
        for report in verified:
            if report.payment_id in annulled:
                at, by, reason = annulled[report.payment_id]
                report.payment_annulment = Annulment(at=at, by=by, reason=reason)


def with_payment_annulment(reports: QuerySet[ReportedPayment]) -> QuerySet[ReportedPayment]:
    """Annotate each report with `payment_annulled_at` and `payment_annul_reason`: when and
    why the payment its approval applied was annulled since, null while it stands (as
    attach_payment_annulments tells the screens), in the list's own query: a file of
    every row reads it without a query per row, through each kind's own subqueries."""
    at, why = receivables.annulment_columns("receivable_kind", "payment_id")
    verified = Q(status=ReportedPayment.Status.APPROVED, payment_id__isnull=False)
    return reports.annotate(
        payment_annulled_at=Case(When(verified, then=at)),
        payment_annul_reason=Case(When(verified, then=why)),
    )


def customer_promises(customer: Customer) -> list[PaymentPromise]:
    return list(
        PaymentPromise.objects.filter(customer=customer)
        .select_related("created_by")
        .order_by("-created_at", "-pk")[:RECENT]
    )


def customer_agreements(customer: Customer) -> list[PaymentAgreement]:
    return list(
        PaymentAgreement.objects.filter(customer=customer)
        .select_related("rule")
        .order_by("-created_at", "-pk")[:RECENT]
    )


def withdrawable_links(agreement: PaymentAgreement) -> list[PaymentLink]:
    """Return the agreement's links that withdrawing it withdraws too (cancel_agreement)."""
    return list(agreement.links.filter(status__in=WITHDRAWABLE_LINK).order_by("pk"))


def customer_callbacks(customer: Customer) -> list[CallbackRequest]:
    return list(
        CallbackRequest.objects.filter(customer=customer)
        .select_related("closed_by")
        .order_by("-created_at", "-pk")[:RECENT]
    )


def annullable_payments(customer: Customer) -> list[Payment]:
    """Return the customer's standing loan payments, newest first: what may be annulled."""
    return list(
        Payment.objects.filter(loan__customer=customer, status=Payment.Status.APPLIED)
        .select_related("loan")
        .order_by("-received_on", "-pk")[:ANNULLABLE]
    )


def annulled_payment(customer: Customer, pk: int) -> Payment | None:
    """Return the customer's loan payment `pk` if it was annulled (the same annulment sent
    twice names the first); None otherwise."""
    return (
        Payment.objects.filter(pk=pk, loan__customer=customer, status=Payment.Status.ANNULLED)
        .select_related("annulled_by")
        .first()
    )


def credit_balances(customer_id: int) -> list[Loan]:
    """Return the customer's loans holding a credit balance (money paid beyond the debt,
    waiting to be refunded or applied by hand), whatever their state: a loan paid twice
    over owes nothing, so no list of debts shows it. Oldest loan first."""
    return list(
        Loan.objects.filter(customer_id=customer_id, credit_balance__gt=0)
        .only("pk", "payment_code", "currency", "credit_balance", "status")
        .order_by("pk")
    )


def active_agreement_rules() -> list[AgreementRule]:
    """Return the rules agreements are offered by, in order, from this process's copy of
    their small table (lib.small_tables: a cache read, not a query, on every page)."""
    (rules,) = small_tables.rows(AgreementRule)
    return sorted((r for r in rules.values() if r.is_active), key=lambda r: (r.name, r.pk))


# Where the debtor starts a payment themselves: the links made there are theirs to pay now.
STARTED_BY_DEBTOR = (Origin.PORTAL, Origin.BOT)


def payments_under_way(customer: Customer) -> dict[tuple[str, int], list[PaymentLink]]:
    """Return the customer's links the debtor started (portal, bot) that can still be paid,
    by debt (kind, id), newest first: one query for all their debts.

    A debtor whose gateway page never came back cannot tell whether they paid; the portals
    say a payment is under way, so a second gateway is not paid by mistake.
    """
    links = (
        PaymentLink.objects.filter(
            customer=customer,
            origin__in=STARTED_BY_DEBTOR,
            status=PaymentLink.Status.ACTIVE,
            expires_at__gt=timezone.now(),
        )
        .exclude(url="")
        .order_by("-created_at", "-pk")
    )
    by_debt: dict[tuple[str, int], list[PaymentLink]] = {}
    for link in links:
        by_debt.setdefault((link.receivable_kind, link.receivable_id), []).append(link)
    return by_debt


def agreement_in_course(*, receivable_kind: str, receivable_id: int) -> PaymentAgreement | None:
    """The receivable's agreement in course (waiting for its down payment, or active), if
    any: there is at most one (coll_agreement_one_open)."""
    return PaymentAgreement.objects.filter(
        receivable_kind=receivable_kind,
        receivable_id=receivable_id,
        status__in=[PaymentAgreement.Status.PENDING, PaymentAgreement.Status.ACTIVE],
    ).first()


def agreement_just_taken(
    customer: Customer,
    *,
    receivable_kind: str,
    receivable_id: int,
    option_key: str,
    provider: str,
    origin: str,
    within: timedelta | None = None,
) -> PaymentLink | None:
    """Return the open down-payment link of the agreement taken from `origin` (within the
    last `within`, if given) with this same option and gateway, if it still waits for its
    down payment: the same request sent twice, whose second is refused ("already one in
    progress") while the first went on to pay. `link.agreement` is the agreement."""
    rule_id, installments = (int(part) for part in option_key.split("-"))
    taken = PaymentAgreement.objects.filter(
        customer=customer,
        receivable_kind=receivable_kind,
        receivable_id=receivable_id,
        origin=origin,
        status=PaymentAgreement.Status.PENDING,
        rule_id=rule_id,
        installments=installments,
    )
    if within is not None:
        taken = taken.filter(created_at__gte=timezone.now() - within)
    agreement = taken.order_by("-created_at", "-pk").first()
    if agreement is None:
        return None
    links = agreement.links.filter(provider=provider).order_by("-created_at", "-pk")
    return next((link for link in links if link.is_open), None)
