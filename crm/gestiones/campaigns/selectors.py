"""Reads of campaigns and life-cycle events: lists, segments, launch progress, effectiveness."""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import Installment, Loan
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import (
    Campaign,
    CampaignTarget,
    Gestion,
    GestionType,
    LifecycleEvent,
    LifecycleRun,
    Outcome,
)
from crm.gestiones.models.campaigns import MAX_OFFSET_DAYS
from crm.models import Branch, Channel, Customer, Product, Tag
from lib import money, people, repeats

# A launch with no batch committed for this long has lost its worker (a batch of
# LAUNCH_BATCH_SIZE customers commits in a second or two): it may be launched again, and
# beat's sweep (services.resume_stale_launches, every 5 minutes) sends it again.
LAUNCH_STALE = datetime.timedelta(minutes=5)

# A campaign form sent again this soon with a name just taken, or its launch pressed again
# this soon by who launched it, is the same form sent twice.
CREATE_REPEAT_WINDOW = datetime.timedelta(minutes=1)


def campaign_list() -> QuerySet[Campaign]:
    """Return the campaigns with what the list shows: channel, type and counts."""
    return Campaign.objects.select_related("channel", "gestion_type").annotate(
        target_count=Count("targets", distinct=True),
        gestion_count=Count("gestiones", distinct=True),
    )


def campaign_for(user: AbstractBaseUser, pk: int) -> Campaign:
    """Return the campaign `pk` for a user allowed to see campaigns (the view checks that)."""
    return get_object_or_404(
        Campaign.objects.select_related("channel", "gestion_type", "launched_by"), pk=pk
    )


def just_created(name: str) -> Campaign | None:
    """Return the campaign named `name` created a moment ago, if any: the new-campaign form
    sent twice (a double click, the back button and send), whose second finds the name
    taken by the first."""
    name = repeats.sent_name(name)
    if name is None:
        return None
    return repeats.made_within(Campaign.objects.filter(name=name), CREATE_REPEAT_WINDOW)


def just_launched(pk: int, user: AbstractBaseUser) -> bool:
    """Return whether `user` launched campaign `pk` a moment ago: the launch button pressed
    twice, whose second is refused while the first runs."""
    return (
        repeats.made_within(
            Campaign.objects.filter(pk=pk, launched_by=people.signed_in(user)),
            CREATE_REPEAT_WINDOW,
            field="launched_at",
        )
        is not None
    )


def public_campaign_for(slug: str, *, today: datetime.date | None = None) -> Campaign:
    """Return the inbound campaign open today at `slug`; raise Http404 otherwise."""
    campaign = get_object_or_404(Campaign, slug=slug, kind=Campaign.Kind.INBOUND)
    if not is_open_for_inbound(campaign, today=today or timezone.localdate()):
        raise Http404("campaign closed")
    return campaign


def is_open_for_inbound(campaign: Campaign, *, today: datetime.date) -> bool:
    """Return whether the inbound form of `campaign` takes registrations on `today`."""
    return (
        campaign.kind == Campaign.Kind.INBOUND
        and campaign.status == Campaign.Status.ACTIVE
        and (campaign.starts_on is None or campaign.starts_on <= today)
        and (campaign.ends_on is None or today <= campaign.ends_on)
    )


def usable_gestion_types() -> QuerySet[GestionType]:
    """Return the types a campaign may open: active and with an initial state.

    Their required fields stay empty until the agent completes them on the gestión page.
    """
    return GestionType.objects.filter(is_active=True, states__is_initial=True).distinct()


def customers_matching(
    *,
    branches: Iterable[Branch] = (),
    channels: Iterable[Channel] = (),
    tags: Iterable[Tag] = (),
    products: Iterable[Product] = (),
    city: str = "",
) -> QuerySet[Customer]:
    """Return the customers matching every filter given; an empty filter matches everyone.

    Within a filter any value matches (branch A or B); the many-valued filters (tags,
    products) go through subqueries, so a customer appears once however many match.
    """
    customers = Customer.objects.all()
    branches, channels, tags, products = (list(x) for x in (branches, channels, tags, products))
    if branches:
        customers = customers.filter(branch__in=branches)
    if channels:
        customers = customers.filter(channel__in=channels)
    if tags:
        tagged = Customer.tags.through.objects.filter(tag__in=tags).values("customer_id")
        customers = customers.filter(pk__in=tagged)
    if products:
        with_product = Gestion.objects.filter(products__in=products).values("customer_id")
        customers = customers.filter(pk__in=with_product)
    city = (city or "").strip()
    if city:
        customers = customers.filter(city__iexact=city)
    return customers


def segment_counts(customers: QuerySet[Customer]) -> tuple[int, int]:
    """Return how many customers there are, and how many asked not to be contacted."""
    counts = customers.aggregate(
        total=Count("pk"), opted_out=Count("pk", filter=Q(has_opted_out=True))
    )
    return counts["total"], counts["opted_out"]


def segment(campaign: Campaign) -> QuerySet[Customer]:
    """Return the customers an outbound campaign is for."""
    return customers_matching(
        branches=campaign.segment_branches.all(),
        channels=campaign.segment_channels.all(),
        tags=campaign.segment_tags.all(),
        products=campaign.segment_products.all(),
        city=campaign.segment_city,
    )


def pending_customers(campaign: Campaign) -> QuerySet[Customer]:
    """Return the segment's customers the campaign has not reached yet, oldest first."""
    reached = CampaignTarget.objects.filter(campaign=campaign).values("customer_id")
    return segment(campaign).exclude(pk__in=reached).order_by("pk")


@dataclass(frozen=True)
class LaunchProgress:
    """How far an outbound launch got: customers reached out of the segment's size."""

    targets: int
    segment_size: int
    is_running: bool
    # The segment's customers who asked not to be contacted: reached with nothing.
    opted_out: int = 0
    # Its worker died before the end: the sweep sends it again within minutes.
    is_interrupted: bool = False
    # It stopped on the same customers every time it was sent again: the sweep gave up.
    given_up_at: datetime.datetime | None = None

    @property
    def percent(self) -> int:
        if not self.segment_size:
            return 100 if not self.is_running else 0
        return min(100, self.targets * 100 // self.segment_size)

    @property
    def is_unfinished(self) -> bool:
        """Whether the launch has customers left to reach (running or interrupted)."""
        return self.is_running or self.is_interrupted

    @property
    def state(self) -> str:
        """ "running", "interrupted", or "" when no launch has customers left to reach."""
        if self.is_running:
            return "running"
        return "interrupted" if self.is_interrupted else ""


def is_launching(campaign: Campaign, *, now: datetime.datetime | None = None) -> bool:
    """Return whether a launch of `campaign` is reaching its customers now (a batch
    committed less than LAUNCH_STALE ago)."""
    heartbeat = campaign.launch_heartbeat_at
    return heartbeat is not None and heartbeat >= (now or timezone.now()) - LAUNCH_STALE


def is_launch_interrupted(campaign: Campaign, *, now: datetime.datetime | None = None) -> bool:
    """Return whether a launch of `campaign` lost its worker with customers left to reach."""
    heartbeat = campaign.launch_heartbeat_at
    return heartbeat is not None and heartbeat < (now or timezone.now()) - LAUNCH_STALE


def stale_launches(*, now: datetime.datetime | None = None) -> QuerySet[Campaign]:
    """Return the campaigns whose launch lost its worker, oldest progress first."""
    cutoff = (now or timezone.now()) - LAUNCH_STALE
    return Campaign.objects.filter(launch_heartbeat_at__lt=cutoff).order_by(
        "launch_heartbeat_at", "pk"
    )


def launch_progress(campaign: Campaign) -> LaunchProgress:
    """Return the launch's progress: `is_running` while its task reaches customers,
    `is_interrupted` once its worker died with customers left."""
    size, opted_out = (
        segment_counts(segment(campaign)) if campaign.kind == Campaign.Kind.OUTBOUND else (0, 0)
    )
    now = timezone.now()
    return LaunchProgress(
        targets=campaign.targets.count(),
        segment_size=size,
        is_running=is_launching(campaign, now=now),
        opted_out=opted_out,
        is_interrupted=is_launch_interrupted(campaign, now=now),
        given_up_at=campaign.launch_given_up_at if campaign.launch_heartbeat_at is None else None,
    )


@dataclass(frozen=True)
class StateRow:
    name: str
    color: str
    outcome: str
    count: int
    percent: Decimal


@dataclass(frozen=True)
class AgentRow:
    name: str
    count: int
    success: int
    rejected: int
    open: int
    effectiveness: Decimal


@dataclass(frozen=True)
class ChannelRow:
    name: str
    count: int
    success: int
    percent: Decimal
    effectiveness: Decimal


@dataclass(frozen=True)
class Effectiveness:
    """A campaign's results: its gestiones by state, agent and channel, and its messages."""

    total: int
    success: int
    rejected: int
    open: int
    by_state: list[StateRow]
    by_agent: list[AgentRow]
    by_channel: list[ChannelRow]
    messages: dict[str, int]

    @property
    def effectiveness(self) -> Decimal:
        return percent(self.success, self.total)


def percent(part: int, total: int) -> Decimal:
    """Return part / total as a percentage with one decimal, rounded half up (0 if no total)."""
    return money.percent(part, total, places=1) or Decimal("0.0")


def effectiveness(campaign: Campaign) -> Effectiveness:
    """Return the campaign's effectiveness: a gestión is effective when its state succeeded.

    An agent's or channel's effectiveness is its successful gestiones over all of its
    gestiones in the campaign, open ones included.
    """
    gestiones = Gestion.objects.filter(campaign=campaign)
    outcomes = {
        "success": Count("id", filter=Q(outcome=Outcome.SUCCESS)),
        "rejected": Count("id", filter=Q(outcome=Outcome.REJECTED)),
        "open": Count("id", filter=Q(outcome=Outcome.OPEN)),
    }
    totals = gestiones.aggregate(total=Count("id"), **outcomes)
    total = totals["total"]
    states = (
        gestiones.values("state__name", "state__color", "state__outcome", "state__order")
        .annotate(n=Count("id"))
        .order_by("state__order", "state__name")
    )
    agents = (
        gestiones.values("agent_id", "agent__first_name", "agent__last_name", "agent__username")
        .annotate(n=Count("id"), **outcomes)
        .order_by("-n", "agent__username")
    )
    channels = gestiones.values("channel__name").annotate(n=Count("id"), **outcomes).order_by("-n")
    messages = dict.fromkeys(CampaignTarget.MessageStatus.values, 0)
    for row in campaign.targets.values("message_status").annotate(n=Count("id")):
        messages[row["message_status"]] = row["n"]
    return Effectiveness(
        total=total,
        success=totals["success"],
        rejected=totals["rejected"],
        open=totals["open"],
        by_state=[
            StateRow(
                name=r["state__name"],
                color=r["state__color"],
                outcome=r["state__outcome"],
                count=r["n"],
                percent=percent(r["n"], total),
            )
            for r in states
        ],
        by_agent=[
            AgentRow(
                name=_agent_name(r),
                count=r["n"],
                success=r["success"],
                rejected=r["rejected"],
                open=r["open"],
                effectiveness=percent(r["success"], r["n"]),
            )
            for r in agents
        ],
        by_channel=[
            ChannelRow(
                name=r["channel__name"] or _("Sin canal"),
                count=r["n"],
                success=r["success"],
                percent=percent(r["n"], total),
                effectiveness=percent(r["success"], r["n"]),
            )
            for r in channels
        ],
        messages=messages,
    )


def _agent_name(row: Mapping[str, Any]) -> str:
    if row["agent_id"] is None:
        return _("Sin asignar")
    name = f"{row['agent__first_name'] or ''} {row['agent__last_name'] or ''}".strip()
    return name or row["agent__username"]


def gestion_type_problem(gestion_type: GestionType) -> str:
    """Return why a campaign or event cannot open gestiones of this type ("" if it can)."""
    if not gestion_type.is_active:
        return _("El tipo de gestión «%(t)s» está inactivo.") % {"t": gestion_type}
    if gestion_type.initial_state() is None:
        return _("El tipo de gestión «%(t)s» no tiene estado inicial.") % {"t": gestion_type}
    return ""


def campaign_agents(campaign: Campaign) -> list[AbstractBaseUser] | None:
    """Return the campaign's agents who may work gestiones (active, with follow-ups), or
    None to use the initial state's agents."""
    return list(campaign.agents.filter(pk__in=gestion_selectors.agents().values("pk"))) or None


# How far back a "days after disbursement" event still catches up (see the module doc).
CATCH_UP_DAYS = 30


def lifecycle_events() -> QuerySet[LifecycleEvent]:
    """Return every event with its product, type, and how many times and when it last ran."""
    return LifecycleEvent.objects.select_related("loan_product", "gestion_type").annotate(
        run_count=Count("runs"), last_run_at=Max("runs__ran_at")
    )


def due_loans(event: LifecycleEvent, *, today: datetime.date) -> QuerySet[Loan]:
    """Return the live loans of the event's product whose event day has come and that the
    event has not been done for yet."""
    done = LifecycleRun.objects.filter(event=event).values("loan_id")
    loans = Loan.objects.filter(
        product_id=event.loan_product_id, status=Loan.Status.ACTIVE
    ).exclude(pk__in=done)
    if event.offset_days > MAX_OFFSET_DAYS:
        # Saved before the bound (admin refuses it now): no day to compute, nothing due.
        return loans.none()
    offset = datetime.timedelta(days=event.offset_days)
    if event.anchor == LifecycleEvent.Anchor.DISBURSED:
        # Event day = local disbursement date + offset, within [today − CATCH_UP_DAYS, today];
        # compared on disbursed_at itself so the database can use a range.
        first = today - datetime.timedelta(days=CATCH_UP_DAYS) - offset
        last = today - offset
        return loans.filter(
            disbursed_at__gte=_start_of(first),
            disbursed_at__lt=_start_of(last + datetime.timedelta(days=1)),
        )
    maturity = Max(
        "installments__due_date",
        filter=Q(installments__kind=Installment.Kind.REGULAR, installments__is_superseded=False),
    )
    # Event day = maturity − offset ≤ today, and not matured yet: today ≤ maturity.
    return loans.annotate(maturity=maturity).filter(
        maturity__gte=today, maturity__lte=today + offset
    )


def _start_of(day: datetime.date) -> datetime.datetime:
    """Return the first instant of `day` in the local time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
