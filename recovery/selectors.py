"""Reads of the agents' screens of written-off campaigns: the list and its totals, one
campaign with its payments and portal activity, and the access helpers every view and the
API go through."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.http import Http404
from django.shortcuts import get_object_or_404

from collections_app import selectors as collection_selectors
from collections_app.models import PaymentPromise
from credits.models import Loan
from crm.models import Customer, Interaction
from lib import money, search
from recovery.models import Campaign, CampaignPayment, Visit

VIEW_CAMPAIGN = "recovery.view_campaign"
VIEW_PAYMENT = "recovery.view_campaignpayment"
VIEW_VISIT = "recovery.view_visit"
# A campaign is a customer's: whoever sees one sees the customer (crm.view_customer).
VIEW_CUSTOMER = "crm.view_customer"
# How many visits, and timeline entries about the campaign, its page lists.
RECENT_VISITS = 20
RECENT_ENTRIES = 60
# The campaign ids the funnel's filter suggests.
SUGGESTED_CODES = 200

BALANCE = ExpressionWrapper(
    F("amount") - F("paid_amount"), output_field=DecimalField(**money.MONEY)
)


def may_see(user: AbstractBaseUser, permission: str = VIEW_CAMPAIGN) -> bool:
    """Say whether `user` may see campaign records of the type `permission` names."""
    if not user.is_authenticated:
        return False
    if not user.has_perm(VIEW_CUSTOMER):
        return False
    return user.has_perm(permission)


# --- Access helpers ----------------------------------------------------------------------


def campaign_for(user: AbstractBaseUser, pk: int) -> Campaign:
    """Return the campaign `pk` if `user` may see it, else 404."""
    if not may_see(user):
        raise Http404
    return get_object_or_404(
        Campaign.objects.select_related("customer", "created_by", "import_batch"), pk=pk
    )


def payment_for(user: AbstractBaseUser, campaign: Campaign, pk: int) -> CampaignPayment:
    """Return the campaign's payment `pk` if `user` may see payments, else 404."""
    if not may_see(user, VIEW_PAYMENT):
        raise Http404
    return get_object_or_404(
        CampaignPayment.objects.select_related("campaign", "recorded_by", "annulled_by"),
        pk=pk,
        campaign=campaign,
    )


# --- The list ----------------------------------------------------------------------------


def campaign_list(
    *,
    q: str = "",
    status: int | None = None,
    code: str = "",
    currency: str = "",
    ends_from: date | None = None,
    ends_until: date | None = None,
    debt_min: Decimal | None = None,
    debt_max: Decimal | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    balance_min: Decimal | None = None,
    balance_max: Decimal | None = None,
) -> QuerySet[Campaign]:
    """Return the campaigns that meet the filters, newest first, with their customer and
    balance (`balance_due`).

    An amount bound is in one currency (S/ 1,000 is not US$ 1,000, as a segment's balance):
    with one given, only the campaigns in `currency` are kept, in soles when none is chosen.
    """
    campaigns = Campaign.objects.annotate(balance_due=BALANCE)
    bounds = (debt_min, debt_max, amount_min, amount_max, balance_min, balance_max)
    if not currency and any(bound is not None for bound in bounds):
        currency = money.Currency.PEN
    if currency:
        campaigns = campaigns.filter(currency=currency)
    if status is not None:
        campaigns = campaigns.filter(status=status)
    if code:
        campaigns = campaigns.filter(code__iexact=code.strip())
    if ends_from is not None:
        campaigns = campaigns.filter(ends_on__gte=ends_from)
    if ends_until is not None:
        campaigns = campaigns.filter(ends_on__lte=ends_until)
    for field, low, high in (
        ("debt_amount", debt_min, debt_max),
        ("amount", amount_min, amount_max),
        ("balance_due", balance_min, balance_max),
    ):
        if low is not None:
            campaigns = campaigns.filter(**{f"{field}__gte": low})
        if high is not None:
            campaigns = campaigns.filter(**{f"{field}__lte": high})
    campaigns = _searched(campaigns, q)
    return campaigns.select_related("customer").order_by("-created_at", "-pk")


def _searched(campaigns: QuerySet[Campaign], text: str) -> QuerySet[Campaign]:
    """Keep the campaigns whose customer matches every term typed (document, name), or
    whose campaign id or payment code is what was typed."""
    text = (text or "").strip()
    condition = search.matches_all(text)
    if not condition:
        return campaigns
    found = Q(customer__in=Customer.objects.filter(condition).values("pk"))
    found |= Q(code__iexact=text) | Q(payment_code__iexact=text)
    return campaigns.filter(found)


@dataclass(frozen=True)
class Totals:
    """What the filtered campaigns add up to in one currency."""

    currency: str
    count: int
    debt: Decimal
    amount: Decimal
    paid: Decimal
    balance: Decimal


def campaign_totals(campaigns: QuerySet[Campaign]) -> list[Totals]:
    """Return the filtered campaigns' count and sums per currency, in one query."""
    rows = (
        campaigns.order_by()
        .values("currency")
        .annotate(
            n=Count("pk"),
            debt=Sum("debt_amount"),
            total=Sum("amount"),
            paid=Sum("paid_amount"),
            due=Sum("balance_due"),
        )
        .order_by("currency")
    )
    return [
        Totals(
            currency=row["currency"],
            count=row["n"],
            debt=money.cents(row["debt"]),
            amount=money.cents(row["total"]),
            paid=money.cents(row["paid"]),
            balance=money.cents(row["due"]),
        )
        for row in rows
    ]


# --- One campaign ------------------------------------------------------------------------


def campaign_payments(campaign: Campaign) -> list[CampaignPayment]:
    """Return every payment of the campaign, newest first (a campaign has a handful)."""
    return list(
        CampaignPayment.objects.filter(campaign=campaign)
        .select_related("recorded_by", "annulled_by")
        .order_by("-received_on", "-pk")
    )


@dataclass
class VisitActivity:
    """One visit to the portal and the timeline entries it left."""

    visit: Visit
    entries: list[Interaction]


@dataclass
class Activity:
    """A campaign's portal visits, each with its entries, and the campaign's own entries."""

    visits: list[VisitActivity]
    history: list[Interaction]


def campaign_activity(campaign: Campaign) -> Activity:
    """Return the campaign's latest portal visits with their timeline entries, and the
    other timeline entries about the campaign (made, paid, finished), in two queries."""
    visits = list(
        Visit.objects.filter(campaign=campaign).order_by("-started_at", "-pk")[:RECENT_VISITS]
    )
    by_visit = {visit.pk: VisitActivity(visit=visit, entries=[]) for visit in visits}
    about = Q(payload__recovery_campaign=campaign.pk)
    if by_visit:
        about |= Q(payload__recovery_visit__in=list(by_visit))
    entries = (
        Interaction.objects.filter(about, customer_id=campaign.customer_id)
        .select_related("actor")
        .order_by("-occurred_at", "-pk")[:RECENT_ENTRIES]
    )
    history: list[Interaction] = []
    for entry in entries:
        visit_id = (entry.payload or {}).get("recovery_visit")
        if visit_id in by_visit:
            by_visit[visit_id].entries.append(entry)
        else:
            history.append(entry)
    return Activity(visits=list(by_visit.values()), history=history)


# --- The funnel --------------------------------------------------------------------------


def campaign_codes() -> list[str]:
    """Return the latest campaign ids (the funnel's filter suggests them)."""
    codes = (
        Campaign.objects.order_by("code")
        .values_list("code", flat=True)
        .distinct()[:SUGGESTED_CODES]
    )
    return list(codes)


# --- The loans campaigns cover -----------------------------------------------------------


def covering(today: date) -> Q:
    """Campaigns that settle their loans instead of them: a paid one, and an active one not
    ended by `today`. A finished (expired) one covers nothing: the loan is owed again."""
    current = Q(status=Campaign.Status.ACTIVE) & (Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    return Q(status=Campaign.Status.PAID) | current


def covered_loans(customer_id: int, today: date) -> set[int]:
    """Return the ids of the customer's written-off loans an active or paid campaign covers:
    those it was made for (`Campaign.loans`: the one its payment code names, or, with a
    blank code, the customer's written-off loans then). A loan written off after the
    campaign was made is not one of them. One query."""
    covers = Campaign.objects.filter(covering(today), loans=OuterRef("pk"))
    return set(
        Loan.objects.filter(customer_id=customer_id, status=Loan.Status.WRITTEN_OFF)
        .filter(Exists(covers))
        .values_list("pk", flat=True)
    )


def campaign_covering(loan: Loan, today: date) -> Campaign | None:
    """Return the campaign that covers the written-off loan (the active one before a paid
    one, then the latest paid), or None."""
    if loan.status != Loan.Status.WRITTEN_OFF:
        return None
    return (
        Campaign.objects.filter(covering(today), loans=loan)
        .order_by("status", "-paid_at", "-pk")
        .first()
    )


def new_campaign_currency(
    *, payment_code: str = "", document_type: str = "", document_number: str = "", chosen: str = ""
) -> str:
    """Return the currency a new campaign would have, for its form's figures: the loan's its
    payment code names; with a blank code, that of the customer's written-off loans (when
    they are in one); the one chosen; soles for a customer with none. "" when it cannot be
    told yet (the service decides, and refuses what does not match)."""
    if payment_code:
        found = Loan.objects.filter(payment_code=payment_code).values_list("currency", flat=True)
        return found.first() or chosen
    customer = None
    if document_type and document_number:
        customer = (
            Customer.objects.filter(document_type=document_type, document_number=document_number)
            .resolved()
            .values_list("pk", flat=True)
            .first()
        )
    if customer is None:
        return chosen
    currencies = set(
        Loan.objects.filter(customer_id=customer, status=Loan.Status.WRITTEN_OFF)
        .values_list("currency", flat=True)
        .distinct()
    )
    if len(currencies) == 1:
        return currencies.pop()
    if currencies:
        return chosen
    return chosen or money.Currency.PEN


def promises_awaiting_verdict(today: date) -> Q:
    """The promises past their day that the nightly (collections_app.services.
    resolve_promises, 00:30; later after an outage) has not judged yet: still pending, but
    not in course any more (`collection_selectors.in_course`, the one definition the
    collections screens use)."""
    return Q(status=PaymentPromise.Status.PENDING) & ~collection_selectors.in_course(today)
