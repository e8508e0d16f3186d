"""Marketing campaigns: the outbound segment and its launch, the inbound form, effectiveness.

Outbound: a segment of customers (branches, channels, tags, products, city) each gets a
`CampaignTarget`, and a gestión and/or an e-mail. Launching runs in a Celery task, one
transaction per batch of customers, so a segment of 100,000 never holds one long
transaction in the web request; the campaign page polls `launch_progress` meanwhile.

Inbound: a public form (`/campana/<slug>/`) registers or finds the customer and opens a
gestión for the campaign's agents (`register_inbound`).
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crm import services as crm_services
from crm import validators
from crm.gestiones import services
from crm.gestiones.models import (
    Campaign,
    CampaignTarget,
    FollowUp,
    Gestion,
    GestionType,
    Outcome,
)
from crm.models import Branch, Channel, Customer, Interaction, Product, Tag
from lib import money, queue

User = get_user_model()

# Customers reached per transaction: small enough that a batch commits in a second or two
# and other writers are not kept waiting, large enough that a big segment is not slowed
# down by per-transaction overhead.
LAUNCH_BATCH_SIZE = 200
# How long the "launch running" flag may outlive a worker that died mid-launch.
LAUNCH_FLAG_SECONDS = 6 * 60 * 60
NO_EMAIL = "sin correo"

# Fields `save_campaign` takes from a form, plain and many-to-many.
CAMPAIGN_FIELDS = (
    "name",
    "slug",
    "kind",
    "status",
    "description",
    "channel",
    "gestion_type",
    "message_subject",
    "message_body",
    "segment_city",
    "starts_on",
    "ends_on",
)
CAMPAIGN_M2M_FIELDS = (
    "segment_branches",
    "segment_channels",
    "segment_tags",
    "segment_products",
    "agents",
)


# --- Selectors -------------------------------------------------------------------------


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

    @property
    def percent(self) -> int:
        if not self.segment_size:
            return 100 if not self.is_running else 0
        return min(100, self.targets * 100 // self.segment_size)


def launch_progress(campaign: Campaign) -> LaunchProgress:
    """Return the launch's progress; `is_running` while its task has customers to reach."""
    return LaunchProgress(
        targets=campaign.targets.count(),
        segment_size=segment(campaign).count() if campaign.kind == Campaign.Kind.OUTBOUND else 0,
        is_running=bool(cache.get(_running_key(campaign.pk))),
    )


# --- Effectiveness ---------------------------------------------------------------------


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


# --- Writes: configuration -------------------------------------------------------------


@transaction.atomic
def save_campaign(
    *, data: Mapping[str, Any], actor: AbstractBaseUser, campaign: Campaign | None = None
) -> Campaign:
    """Create a campaign, or change `campaign`, from a form's cleaned data."""
    if campaign is None:
        campaign = Campaign()
    elif "kind" in data and data["kind"] != campaign.kind and campaign.targets.exists():
        raise ValidationError({"kind": _("Una campaña con destinatarios no cambia de tipo.")})
    for field in CAMPAIGN_FIELDS:
        if field in data:
            setattr(campaign, field, data[field] if data[field] is not None else _blank(field))
    campaign.segment_city = (campaign.segment_city or "").strip()
    if not campaign.slug:
        campaign.slug = _free_slug(campaign.name, exclude=campaign.pk)
    _check_rules(campaign)
    campaign.full_clean()
    campaign.save()
    for field in CAMPAIGN_M2M_FIELDS:
        if field in data:
            getattr(campaign, field).set(data[field])
    return campaign


def _blank(field: str) -> Any:
    """Return what a cleared optional field stores: "" for text, None for the rest."""
    text = {"slug", "description", "message_subject", "message_body", "segment_city"}
    return "" if field in text else None


def _free_slug(name: str, *, exclude: int | None) -> str:
    base = slugify(name)[:50] or "campana"
    slug, n = base, 2
    taken = Campaign.objects.exclude(pk=exclude)
    while taken.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_rules(campaign: Campaign) -> None:
    errors: dict[str, list[str]] = {}
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        errors.setdefault("ends_on", []).append(_("La fecha de fin es anterior a la de inicio."))
    if campaign.kind == Campaign.Kind.INBOUND and not campaign.gestion_type_id:
        errors.setdefault("gestion_type", []).append(
            _("Una campaña entrante necesita el tipo de gestión que abre cada registro.")
        )
    if campaign.kind == Campaign.Kind.OUTBOUND and not (
        campaign.gestion_type_id or (campaign.message_body or "").strip()
    ):
        errors.setdefault("gestion_type", []).append(
            _("Indique un tipo de gestión a crear, un mensaje o ambos.")
        )
    if campaign.gestion_type_id:
        problem = gestion_type_problem(campaign.gestion_type)
        if problem:
            errors.setdefault("gestion_type", []).append(problem)
    if errors:
        raise ValidationError(errors)


def gestion_type_problem(gestion_type: GestionType) -> str:
    """Return why a campaign or event cannot open gestiones of this type ("" if it can)."""
    if not gestion_type.is_active:
        return _("El tipo de gestión «%(t)s» está inactivo.") % {"t": gestion_type}
    if gestion_type.initial_state() is None:
        return _("El tipo de gestión «%(t)s» no tiene estado inicial.") % {"t": gestion_type}
    return ""


# --- Writes: outbound launch -----------------------------------------------------------


@transaction.atomic
def launch_campaign(
    *, campaign: Campaign, actor: AbstractBaseUser, now: datetime.datetime | None = None
) -> Campaign:
    """Activate an outbound campaign and reach, in the background, its segment's customers.

    Launching again reaches only the customers who joined the segment since: a customer
    is a campaign's target once (`CampaignTarget` is unique per campaign and customer).
    """
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.kind != Campaign.Kind.OUTBOUND:
        raise ValidationError(_("Solo se lanzan campañas salientes."))
    if campaign.status == Campaign.Status.FINISHED:
        raise ValidationError(_("La campaña está finalizada; no se puede lanzar."))
    if cache.get(_running_key(campaign.pk)):
        raise ValidationError(_("El lanzamiento anterior de esta campaña sigue en curso."))
    _check_rules(campaign)
    campaign.status = Campaign.Status.ACTIVE
    campaign.launched_at = now
    campaign.launched_by = actor if actor is not None and actor.is_authenticated else None
    campaign.save(update_fields=["status", "launched_at", "launched_by"])
    actor_id = campaign.launched_by_id

    def start() -> None:
        cache.set(_running_key(campaign.pk), True, LAUNCH_FLAG_SECONDS)
        queue.send_now(
            "gestiones.launch_campaign", {"campaign_id": campaign.pk, "actor_id": actor_id}
        )

    transaction.on_commit(start)
    return campaign


def reach_segment(
    *, campaign_id: int, actor_id: int | None = None, batch_size: int = LAUNCH_BATCH_SIZE
) -> int:
    """Reach the pending customers of an active outbound campaign, one transaction per batch.

    Each batch locks the campaign row, so two launches running at once take turns and
    never target a customer twice. Return how many customers were reached.
    """
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    reached = 0
    try:
        while True:
            with transaction.atomic():
                # of=self: PostgreSQL refuses FOR UPDATE on the nullable side of a join.
                campaign = (
                    Campaign.objects.select_for_update(of=("self",))
                    .select_related("gestion_type", "channel")
                    .get(pk=campaign_id)
                )
                if campaign.status != Campaign.Status.ACTIVE:
                    break  # finished meanwhile: stop where it is
                batch = list(
                    pending_customers(campaign).select_related("branch", "channel")[:batch_size]
                )
                if not batch:
                    break
                candidates = campaign_agents(campaign)
                for customer in batch:
                    _reach(campaign, customer, actor=actor, candidates=candidates)
                reached += len(batch)
    finally:
        cache.delete(_running_key(campaign_id))
    return reached


def campaign_agents(campaign: Campaign) -> list[AbstractBaseUser] | None:
    """Return the campaign's active agents, or None to use the initial state's agents."""
    return list(campaign.agents.filter(is_active=True)) or None


def _reach(
    campaign: Campaign,
    customer: Customer,
    *,
    actor: AbstractBaseUser | None,
    candidates: list[AbstractBaseUser] | None,
) -> CampaignTarget:
    now = timezone.now()
    target = CampaignTarget.objects.create(campaign=campaign, customer=customer, created_at=now)
    try:
        # A customer the service refuses must not stop the rest of the batch.
        with transaction.atomic():
            if campaign.gestion_type_id:
                target.gestion = services.create_gestion(
                    customer=customer,
                    gestion_type=campaign.gestion_type,
                    actor=actor,
                    candidates=candidates,
                    channel=campaign.channel,
                    campaign=campaign,
                    subject=_("Campaña %(name)s") % {"name": campaign.name},
                    require_data=False,
                    now=now,
                )
            if (campaign.message_body or "").strip():
                _send_message(target, actor=actor, now=now)
    except ValidationError as exc:
        target.gestion = None
        target.message_status = CampaignTarget.MessageStatus.FAILED
        target.message_error = "; ".join(exc.messages)[:300]
        target.sent_at = None
    target.save()
    return target


def _send_message(
    target: CampaignTarget, *, actor: AbstractBaseUser | None, now: datetime.datetime
) -> None:
    campaign, customer = target.campaign, target.customer
    values = {
        "nombre": customer.first_name,
        "cliente": customer.full_name,
        "campana": campaign.name,
    }
    sent = services.send_customer_email(
        customer=customer,
        subject=services.fill(campaign.message_subject or campaign.name, values),
        body=services.fill(campaign.message_body, values),
        actor=actor,
        payload={"campaña": campaign.name},
        now=now,
    )
    if sent:
        target.message_status = CampaignTarget.MessageStatus.SENT
        target.sent_at = now
    else:
        target.message_status = CampaignTarget.MessageStatus.SKIPPED
        target.message_error = NO_EMAIL


def _running_key(campaign_id: int) -> str:
    return f"gestiones:campaign-launch:{campaign_id}"


# --- Writes: inbound registration ------------------------------------------------------


@transaction.atomic
def register_inbound(
    *, campaign: Campaign, data: Mapping[str, Any], now: datetime.datetime | None = None
) -> Gestion:
    """Register a person from an inbound campaign's form and open the campaign's gestión.

    The person is found by document or registered with the campaign's channel; an
    existing customer only gets the phone or e-mail it lacked (the form is public: typed
    data never replaces what a customer already has, it goes on the timeline instead).
    A customer who already has an open gestión of the campaign keeps that one.
    """
    now = now or timezone.now()
    if not is_open_for_inbound(campaign, today=timezone.localdate(now)):
        raise ValidationError(
            _("La campaña «%(name)s» no recibe registros.") % {"name": campaign.name}
        )
    if campaign.gestion_type is None:
        raise ValidationError(_("La campaña no tiene tipo de gestión configurado."))
    problem = gestion_type_problem(campaign.gestion_type)
    if problem:
        raise ValidationError(problem)
    customer = _inbound_customer(campaign, data)
    message = (data.get("message") or "").strip()
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.NOTE,
        channel=campaign.channel,
        direction=Interaction.Direction.INBOUND,
        summary=_("Registro en la campaña «%(name)s»") % {"name": campaign.name},
        payload={
            _("campaña"): campaign.name,
            _("nombre indicado"): f"{data['first_name']} {data.get('last_name', '')}".strip(),
            _("correo indicado"): data.get("email") or "—",
            _("celular indicado"): str(data.get("phone") or "—"),
            _("mensaje"): message or "—",
            _("autoriza que lo contacten"): _("sí"),
        },
        occurred_at=now,
    )
    gestion = (
        Gestion.objects.filter(campaign=campaign, customer=customer, outcome=Outcome.OPEN)
        .order_by("-created_at")
        .first()
    )
    if gestion is None:
        subject = _("Campaña %(name)s") % {"name": campaign.name}
        gestion = services.create_gestion(
            customer=customer,
            gestion_type=campaign.gestion_type,
            candidates=campaign_agents(campaign),
            channel=campaign.channel,
            campaign=campaign,
            subject=subject,
            require_data=False,
            now=now,
        )
        if message:
            FollowUp.objects.filter(gestion=gestion, kind=FollowUp.Kind.CREATED).update(
                notes=f"{subject}\n\n{message}"
            )
    CampaignTarget.objects.get_or_create(
        campaign=campaign, customer=customer, defaults={"gestion": gestion, "created_at": now}
    )
    return gestion


def _inbound_customer(campaign: Campaign, data: Mapping[str, Any]) -> Customer:
    document_type = data["document_type"]
    number = validators.normalize_document_number(data["document_number"])

    def existing() -> Customer | None:
        return Customer.objects.filter(document_type=document_type, document_number=number).first()

    customer = existing()
    if customer is None:
        fields = {
            "document_type": document_type,
            "document_number": number,
            "first_name": data["first_name"],
            "last_name": data.get("last_name", ""),
            "phone": data.get("phone") or "",
            "email": data.get("email") or "",
            "channel": campaign.channel,
        }
        try:
            return crm_services.create_customer(actor=None, data=fields)
        except ValidationError:
            # The same person sent the form twice at once: the other request created them.
            customer = existing()
            if customer is None:
                raise
    missing = {f: data[f] for f in ("phone", "email") if data.get(f) and not getattr(customer, f)}
    if missing:
        customer = crm_services.update_customer(customer=customer, actor=None, data=missing)
    return customer
