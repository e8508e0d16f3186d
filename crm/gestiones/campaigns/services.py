"""Marketing campaigns: the outbound segment and its launch, the inbound form, effectiveness.

Outbound: a segment of customers (branches, channels, tags, products, city) each gets a
`CampaignTarget`, and a gestión and/or an e-mail (queued; the target learns whether it
went out through `record_message_outcome`). A customer who asked not to be contacted
gets neither: the target says so, and so does the customer's timeline. Launching runs
in a Celery task, one transaction per batch of customers, so a segment of 100,000 never
holds one long transaction in the web request; the campaign page polls
`launch_progress` meanwhile. Each batch refreshes the campaign's `launch_heartbeat_at`
and the launch's end clears it: a launch whose worker died (OOM, SIGKILL, a deploy) goes
stale after LAUNCH_STALE, may be launched again at once, and beat's sweep
(`resume_stale_launches`) sends it again; either way it reaches only the customers left.

Inbound: a public form (`/campana/<slug>/`) registers or finds the customer and opens a
gestión for the campaign's agents (`register_inbound`)."""

import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from credits.models import Loan
from crm import deletions as deletion_services
from crm import messages as crm_messages
from crm import services as crm_services
from crm import validators
from crm.gestiones import services
from crm.gestiones.campaigns import selectors
from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.models import (
    Campaign,
    CampaignTarget,
    FollowUp,
    Gestion,
    LifecycleEvent,
    LifecycleRun,
    Outcome,
)
from crm.models import Customer, Interaction
from lib import people, queue, repeats

User = get_user_model()


# Customers reached per transaction: small enough that a batch commits in a second or two
# and other writers are not kept waiting, large enough that a big segment is not slowed
# down by per-transaction overhead.
LAUNCH_BATCH_SIZE = 200
# The Celery task that reaches a launched campaign's customers (crm.gestiones.tasks).
LAUNCH_TASK = "gestiones.launch_campaign"
# A campaign's dates: none before the app's first data, none more than ten years ahead
# (31/12/9999 was taken, and an inbound form starting then never opens).
EARLIEST_DAY = datetime.date(2000, 1, 1)
MAX_YEARS_AHEAD = 10
# Times beat's sweep sends a stalled launch again before it stops and asks a person.
MAX_LAUNCH_RESUMES = 3


NO_EMAIL = "sin correo"
# A customer record merged into another one (crm.merge) while the campaign went out.
MERGED = "registro fusionado"
# The origin name of campaign messages in crm.messages (see GestionesConfig.ready).
TARGET_MESSAGE = "gestiones.campaign_target"


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


@transaction.atomic
def save_campaign(
    *, data: Mapping[str, Any], actor: AbstractBaseUser, campaign: Campaign | None = None
) -> Campaign:
    """Create a campaign, or change `campaign`, from a form's cleaned data."""
    if campaign is None:
        campaign = Campaign()
    elif (
        "kind" in data
        # As stored: an edit form has already set its new values on `campaign`.
        and Campaign.objects.filter(pk=campaign.pk).exclude(kind=data["kind"]).exists()
        and campaign.targets.exists()
    ):
        raise ValidationError({"kind": _("Una campaña con destinatarios no cambia de tipo.")})
    for field in CAMPAIGN_FIELDS:
        if field in data:
            setattr(campaign, field, data[field] if data[field] is not None else _blank(field))
    campaign.segment_city = (campaign.segment_city or "").strip()
    if not campaign.slug:
        campaign.slug = _free_slug(campaign.name, exclude=campaign.pk)
    check_rules(campaign)
    campaign.full_clean()
    repeats.save_or_refuse(
        campaign, field="name", message=_("Ya existe una campaña con este nombre.")
    )
    for field in CAMPAIGN_M2M_FIELDS:
        if field in data:
            getattr(campaign, field).set(data[field])
    return campaign


def deletion_problem(campaign: Campaign) -> str:
    """Return why a campaign cannot be deleted ("" when it can): one that reached customers
    keeps its results."""
    reached = campaign.targets.count()
    gestiones = campaign.gestiones.count()
    if not (reached or gestiones):
        return ""
    return _(
        "La campaña «%(name)s» ya llegó a %(reached)s clientes y abrió %(gestiones)s "
        "gestiones; sus resultados se conservan: no se puede eliminar. Finalícela para "
        "que no siga."
    ) % {"name": campaign.name, "reached": reached, "gestiones": gestiones}


def deletion_details(campaign: Campaign) -> list[tuple[str, str]]:
    """Return what a campaign holds, as the deletion's confirmation and its record show it."""
    return [
        (_("Tipo"), campaign.get_kind_display()),
        (_("Estado"), campaign.get_status_display()),
        (_("Crea gestión de tipo"), str(campaign.gestion_type or "—")),
        (
            _("Mensaje"),
            (campaign.message_subject or campaign.name) if campaign.message_body else "—",
        ),
        (_("Dirección pública"), campaign.slug),
    ]


@transaction.atomic
def delete_campaign(*, campaign: Campaign, actor: AbstractBaseUser | None) -> None:
    """Delete a campaign that reached nobody, recording who did and what it was."""
    campaign = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if campaign is None:
        return  # deleted a moment ago by someone else, who has the record
    if selectors.is_launching(campaign):
        raise ValidationError(_("La campaña se está lanzando; no se puede eliminar."))
    problem = deletion_problem(campaign)
    if problem:
        raise ValidationError(problem)
    deletion_services.record_deletion(
        kind=deletion_kinds.CAMPAIGN,
        object_id=campaign.pk,
        name=campaign.name,
        details=deletion_details(campaign),
        actor=actor,
    )
    campaign.delete()


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


def latest_day(today: datetime.date) -> datetime.date:
    """Return the furthest date a campaign may start or end on: the same day, ten years on
    (29 February becomes the 28th)."""
    return today + relativedelta(years=MAX_YEARS_AHEAD)


def check_rules(campaign: Campaign) -> None:
    """Refuse a campaign the screens would refuse (dates, what its kind needs); admin's
    form runs it too."""
    errors: dict[str, list[str]] = {}
    last = latest_day(timezone.localdate())
    for field in ("starts_on", "ends_on"):
        day = getattr(campaign, field)
        if day is not None and not EARLIEST_DAY <= day <= last:
            errors.setdefault(field, []).append(
                _("Elija una fecha entre el %(first)s y el %(last)s.")
                % {"first": f"{EARLIEST_DAY:%d/%m/%Y}", "last": f"{last:%d/%m/%Y}"}
            )
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
        problem = selectors.gestion_type_problem(campaign.gestion_type)
        if problem:
            errors.setdefault("gestion_type", []).append(problem)
    if errors:
        raise ValidationError(errors)


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
    # A launch whose worker died (stale) may go again: it reaches only who is left.
    if selectors.is_launching(campaign):
        raise ValidationError(_("El lanzamiento anterior de esta campaña sigue en curso."))
    check_rules(campaign)
    campaign.status = Campaign.Status.ACTIVE
    campaign.launched_at = now
    campaign.launched_by = people.signed_in(actor)
    campaign.launch_heartbeat_at = timezone.now()
    campaign.launch_resumes = 0
    campaign.launch_given_up_at = None
    campaign.save(
        update_fields=[
            "status",
            "launched_at",
            "launched_by",
            "launch_heartbeat_at",
            "launch_resumes",
            "launch_given_up_at",
        ]
    )
    queue.enqueue(LAUNCH_TASK, campaign_id=campaign.pk, actor_id=campaign.launched_by_id)
    return campaign


def reach_segment(
    *, campaign_id: int, actor_id: int | None = None, batch_size: int = LAUNCH_BATCH_SIZE
) -> int:
    """Reach the pending customers of an active outbound campaign, one transaction per batch.

    Each batch locks the campaign row, so two launches running at once take turns and
    never target a customer twice; each refreshes the launch's heartbeat, and the one
    that finds nobody left (or the campaign no longer active) clears it. A worker that
    dies leaves the heartbeat to go stale: the sweep sends the launch again. Return how
    many customers were reached.
    """
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    reached = 0
    while True:
        with transaction.atomic():
            # of=self: PostgreSQL refuses FOR UPDATE on the nullable side of a join.
            campaign = (
                Campaign.objects.select_for_update(of=("self",))
                .select_related("gestion_type", "channel")
                .filter(pk=campaign_id)
                .first()
            )
            if campaign is None:
                break  # deleted since it was sent
            batch = []
            if campaign.status == Campaign.Status.ACTIVE:  # else finished meanwhile: stop
                batch = list(
                    selectors.pending_customers(campaign).select_related("branch", "channel")[
                        :batch_size
                    ]
                )
            candidates = selectors.campaign_agents(campaign) if batch else None
            for customer in batch:
                _reach(campaign, customer, actor=actor, candidates=candidates)
            Campaign.objects.filter(pk=campaign_id).update(
                launch_heartbeat_at=timezone.now() if batch else None, launch_resumes=0
            )
        if not batch:
            break
        reached += len(batch)
    return reached


def resume_stale_launches(*, now: datetime.datetime | None = None) -> int:
    """Send again the launches whose worker died (beat, every 5 minutes); return how many.

    Each is claimed by a conditional update of its heartbeat, so two sweeps at once send
    it once; the launch reaches only the customers left (a target is unique per customer).
    A launch sent again MAX_LAUNCH_RESUMES times with no batch committed since fails on
    the same customers each time (a fault, not a lost worker): it is stopped instead,
    and its page says so; launching it again by hand starts the count anew.
    """
    now = now or timezone.now()
    resumed = 0
    for campaign in selectors.stale_launches(now=now).only(
        "pk", "launched_by_id", "launch_resumes"
    ):
        claim = selectors.stale_launches(now=now).filter(
            pk=campaign.pk, launch_resumes=campaign.launch_resumes
        )
        if campaign.launch_resumes >= MAX_LAUNCH_RESUMES:
            if claim.update(launch_heartbeat_at=None, launch_given_up_at=now):
                logger.error(
                    "Campaign %s: its launch stopped %s times without progress; given up",
                    campaign.pk,
                    campaign.launch_resumes + 1,
                )
            continue
        if claim.update(launch_heartbeat_at=now, launch_resumes=campaign.launch_resumes + 1):
            logger.warning("Campaign %s: its launch lost its worker; sent again", campaign.pk)
            queue.enqueue(LAUNCH_TASK, campaign_id=campaign.pk, actor_id=campaign.launched_by_id)
            resumed += 1
    return resumed


def _reach(
    campaign: Campaign,
    customer: Customer,
    *,
    actor: AbstractBaseUser | None,
    candidates: list[AbstractBaseUser] | None,
) -> CampaignTarget:
    now = timezone.now()
    target = CampaignTarget.objects.create(campaign=campaign, customer=customer, created_at=now)
    if customer.has_opted_out:
        _skip_opted_out(target, actor=actor, now=now)
        target.save()
        return target
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


def _skip_opted_out(
    target: CampaignTarget, *, actor: AbstractBaseUser | None, now: datetime.datetime
) -> None:
    """Reach a customer who asked not to be contacted with nothing, and say so."""
    campaign = target.campaign
    target.message_status = CampaignTarget.MessageStatus.OPTED_OUT
    target.message_error = ""
    if campaign.gestion_type_id:
        crm_services.record_interaction(
            customer=target.customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_(
                "Campaña «%(name)s»: no se abrió la gestión porque el cliente pidió no ser "
                "contactado."
            )
            % {"name": campaign.name},
            payload={_("campaña"): campaign.name},
            actor=actor,
            occurred_at=now,
        )
    if (campaign.message_body or "").strip():
        # The message service refuses it and writes its own entry on the timeline.
        _send_message(target, actor=actor, now=now)


def _send_message(
    target: CampaignTarget, *, actor: AbstractBaseUser | None, now: datetime.datetime
) -> None:
    campaign, customer = target.campaign, target.customer
    values = {
        "nombre": customer.first_name,
        "cliente": customer.full_name,
        "campana": campaign.name,
    }
    sending = crm_messages.send_customer_message(
        customer=customer,
        channel=crm_messages.EMAIL,
        subject=services.fill(campaign.message_subject or campaign.name, values),
        body=services.fill(campaign.message_body, values),
        actor=actor,
        payload={"campaña": campaign.name},
        occurred_at=now,
        origin=(TARGET_MESSAGE, target.pk),
        # A message we push: it counts toward the customer's daily limit.
        capped=True,
    )
    if sending.is_queued:
        # Sent or failed later: record_message_outcome hears it from crm.messages.
        target.message_status = CampaignTarget.MessageStatus.QUEUED
    elif sending.is_opted_out:
        target.message_status = CampaignTarget.MessageStatus.OPTED_OUT
    elif sending.status == crm_messages.SendStatus.CAPPED:
        target.message_status = CampaignTarget.MessageStatus.CAPPED
    elif sending.status == crm_messages.SendStatus.MERGED:
        target.message_status = CampaignTarget.MessageStatus.SKIPPED
        target.message_error = MERGED
    else:
        target.message_status = CampaignTarget.MessageStatus.SKIPPED
        target.message_error = NO_EMAIL


def record_message_outcome(target_id: int, outcome: crm_messages.Outcome) -> None:
    """Note on a campaign target whether its message was sent or failed for good.

    A failed message retried and sent then counts as sent; a sent one the provider then
    reports undelivered (its status callback) counts as failed. One written to the log (no
    e-mail configured) counts as that, never as sent.
    """
    targets = CampaignTarget.objects.filter(pk=target_id)
    if outcome.status == crm_messages.DeliveryStatus.UNKNOWN:
        # The provider took it (2xx) but its answer could not be read: counted sent, as the
        # provider most likely has it, with why it is unconfirmed (never "failed", which
        # would have someone send it again).
        targets.filter(message_status=CampaignTarget.MessageStatus.QUEUED).update(
            message_status=CampaignTarget.MessageStatus.SENT,
            sent_at=outcome.at,
            message_error=outcome.error[:300],
        )
    elif outcome.is_sent:
        targets.filter(
            message_status__in=[
                CampaignTarget.MessageStatus.QUEUED,
                CampaignTarget.MessageStatus.FAILED,
            ]
        ).update(
            message_status=CampaignTarget.MessageStatus.LOGGED
            if outcome.logged
            else CampaignTarget.MessageStatus.SENT,
            sent_at=None if outcome.logged else outcome.at,
            message_error="",
        )
    else:
        targets.filter(
            message_status__in=[
                CampaignTarget.MessageStatus.QUEUED,
                CampaignTarget.MessageStatus.SENT,
            ]
        ).update(
            message_status=CampaignTarget.MessageStatus.FAILED, message_error=outcome.error[:300]
        )


@dataclass(frozen=True)
class InboundHandler:
    """Another part of gestiones that takes an inbound campaign's answers for its process.

    `applies` tells whether a campaign is its; its public form is `form_class`, and
    `receive(campaign, form)` takes a valid form (ValidationError for what it refuses).
    Registered from the app's `ready` (credit applications: a credit campaign's answers are
    credit leads), so this package never imports the one that handles them.
    """

    applies: Callable[[Campaign], bool]
    form_class: type
    receive: Callable[[Campaign, Any], Any]


_inbound_handlers: dict[str, InboundHandler] = {}


def register_inbound_handler(name: str, handler: InboundHandler) -> None:
    _inbound_handlers[name] = handler


def inbound_handler(campaign: Campaign) -> InboundHandler | None:
    """Return the handler of the campaign's answers, or None: `register_inbound` takes them."""
    return next((h for h in _inbound_handlers.values() if h.applies(campaign)), None)


# A registration like one of the last minutes, the same data typed, is the form sent twice.
INBOUND_REPEAT_WINDOW = datetime.timedelta(minutes=10)


@transaction.atomic
def register_inbound(
    *, campaign: Campaign, data: Mapping[str, Any], now: datetime.datetime | None = None
) -> Gestion:
    """Register a person from an inbound campaign's form and open the campaign's gestión.

    The person is found by document or registered with the campaign's channel. An
    existing customer keeps their data as it is, a phone or e-mail they lack included (the
    form is public: what was typed goes on the timeline, for an agent to confirm).
    A customer who already has an open gestión of the campaign keeps that one.
    """
    now = now or timezone.now()
    if not selectors.is_open_for_inbound(campaign, today=timezone.localdate(now)):
        raise ValidationError(
            _("La campaña «%(name)s» no recibe registros.") % {"name": campaign.name}
        )
    if campaign.gestion_type is None:
        raise ValidationError(_("La campaña no tiene tipo de gestión configurado."))
    problem = selectors.gestion_type_problem(campaign.gestion_type)
    if problem:
        raise ValidationError(problem)
    customer = _inbound_customer(campaign, data)
    message = (data.get("message") or "").strip()
    summary = _("Registro en la campaña «%(name)s»") % {"name": campaign.name}
    payload = {
        _("campaña"): campaign.name,
        _("nombre indicado"): f"{data['first_name']} {data.get('last_name', '')}".strip(),
        _("correo indicado"): data.get("email") or "—",
        _("celular indicado"): str(data.get("phone") or "—"),
        _("mensaje"): message or "—",
        _("autoriza que lo contacten"): _("sí"),
    }
    # The same form sent twice (a double click, the back button and send) is one entry.
    twin = repeats.made_within(
        Interaction.objects.filter(customer=customer, kind=Interaction.Kind.NOTE, summary=summary),
        INBOUND_REPEAT_WINDOW,
        now=now,
        field="occurred_at",
    )
    if twin is None or twin.payload != payload:
        crm_services.record_interaction(
            customer=customer,
            kind=Interaction.Kind.NOTE,
            channel=campaign.channel,
            direction=Interaction.Direction.INBOUND,
            summary=summary,
            payload=payload,
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
            candidates=selectors.campaign_agents(campaign),
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
        # A record merged into another answers as the kept one (crm.merge).
        found = Customer.objects.filter(document_type=document_type, document_number=number)
        return found.resolved().first()

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
    # Nothing typed in a public form is written on a customer who exists, not even a phone
    # or e-mail they lack: anyone may type anyone's document, and the portal sends its
    # access code to the address on file. What was typed is on the timeline entry and the
    # gestión for the agent to confirm.
    return customer


logger = logging.getLogger(__name__)


def run_lifecycle_events(
    *, today: datetime.date | None = None, now: datetime.datetime | None = None
) -> dict[str, int]:
    """Do every active event for the loans whose event day has come; return the counts.

    Each loan is its own transaction: one that fails is logged and retried the next day,
    and does not stop the others.
    """
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    counts = {"events": 0, "runs": 0, "gestiones": 0, "messages": 0, "errors": 0}
    events = LifecycleEvent.objects.filter(is_active=True).select_related(
        "gestion_type", "loan_product"
    )
    for event in events:
        if event.gestion_type_id:
            problem = selectors.gestion_type_problem(event.gestion_type)
            if problem:
                logger.warning("Life-cycle event %s skipped: %s", event.pk, problem)
                counts["errors"] += 1
                continue
        counts["events"] += 1
        loan_ids = list(selectors.due_loans(event, today=today).values_list("pk", flat=True))
        for loan in Loan.objects.filter(pk__in=loan_ids).select_related("customer", "product"):
            try:
                run = run_event(event=event, loan=loan, now=now)
            except ValidationError as exc:
                logger.warning(
                    "Life-cycle event %s failed for loan %s: %s", event.pk, loan.pk, exc.messages
                )
                counts["errors"] += 1
                continue
            except Exception:  # any other: this loan's transaction rolled back, not the rest
                logger.exception("Life-cycle event %s failed for loan %s", event.pk, loan.pk)
                counts["errors"] += 1
                continue
            if run is None:
                continue
            counts["runs"] += 1
            counts["gestiones"] += run.gestion_id is not None
            counts["messages"] += run.is_message_sent
    return counts


@transaction.atomic
def run_event(
    *, event: LifecycleEvent, loan: Loan, now: datetime.datetime | None = None
) -> LifecycleRun | None:
    """Do `event` for `loan` once: open its gestión and/or e-mail its message.

    A customer who asked not to be contacted gets neither; the timeline says so.

    Return None when it was already done (the unique run row says so, also when another
    worker did it a moment ago).
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            run = LifecycleRun.objects.create(event=event, loan=loan, ran_at=now)
    except IntegrityError:
        return None
    customer = loan.customer
    if event.gestion_type_id and customer.has_opted_out:
        crm_services.record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_(
                "«%(event)s» (crédito %(code)s): no se abrió la gestión porque el cliente pidió "
                "no ser contactado."
            )
            % {"event": event.name, "code": loan.payment_code},
            payload={_("ciclo de vida"): event.name, _("crédito"): loan.payment_code},
            occurred_at=now,
        )
    elif event.gestion_type_id:
        run.gestion = services.create_gestion(
            customer=customer,
            gestion_type=event.gestion_type,
            loans=[loan],
            subject=f"{event.name} · {loan.payment_code}",
            require_data=False,
            now=now,
        )
    if (event.message_body or "").strip():
        values = {
            "nombre": customer.first_name,
            "cliente": customer.full_name,
            "producto": loan.product.name,
            "credito": loan.payment_code,
        }
        sending = crm_messages.send_customer_message(
            customer=customer,
            channel=crm_messages.EMAIL,
            subject=services.fill(event.message_subject or event.name, values),
            body=services.fill(event.message_body, values),
            payload={_("ciclo de vida"): event.name, _("crédito"): loan.payment_code},
            occurred_at=now,
            # Sent by the lender's calendar, not asked for: it counts toward the customer's
            # daily limit, as campaigns and flows do.
            capped=True,
        )
        # Queued, in fact: whether it went out (or why it was skipped) is on the timeline.
        run.is_message_sent = sending.is_queued
    run.save(update_fields=["gestion", "is_message_sent"])
    return run
