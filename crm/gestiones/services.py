"""Writes of the gestiones app: open a gestión, follow it up, assign it, alert about it.

Every function is one transaction; each state change lands on the customer's timeline
(`crm.services.record_interaction`); messages to the customer go through
`crm.messages`, which queues them in the outbox and keeps the timeline true."""

import datetime
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import Loan
from crm import display
from crm import messages as crm_messages
from crm import services as crm_services
from crm.gestiones import dynamic, selectors
from crm.gestiones.models import (
    Action,
    ActionResult,
    Attachment,
    Campaign,
    FollowUp,
    FormField,
    Gestion,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
)
from crm.gestiones.surveys import services as survey_services
from crm.gestiones.workload import services as workload_services
from crm.models import Branch, Channel, Customer, Interaction, Product
from lib import people, repeats
from lib.money import Currency
from lib.registry import Registry

User = get_user_model()


@dataclass(frozen=True)
class StateRule:
    """What a topic of the app adds to a gestión's move between states.

    `check(gestion, to_state, amount_approved=)` raises ValidationError to refuse the step
    (a move, or an approved amount) before anything is written;
    `entered(gestion, state, actor=, amount_approved=, now=)` follows it up in the same
    transaction (and may still refuse it, rolling the step back). Credit applications
    register theirs (approval makes the draft loan) from the app's `ready`: that package
    opens gestiones through this module, so this module does not import it.
    """

    check: Callable[..., None]
    entered: Callable[..., object]


_state_rules: Registry[StateRule] = Registry("A state rule")


def register_state_rule(name: str, rule: StateRule) -> None:
    """Apply `rule` to every follow-up that moves a gestión to another state."""
    _state_rules.register(name, rule)


def _rules() -> list[StateRule]:
    return [rule for name in _state_rules.names() if (rule := _state_rules.get(name))]


# Largest attachment accepted on a follow-up.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# The kinds of file a gestión needs: scans and photos of documents, office documents, and
# plain text. Anything else (.html, .svg, .exe...) is refused: attachments are served as
# downloads today, and a page or script among them would be one step from running.
ATTACHMENT_EXTENSIONS = frozenset(
    {
        ".pdf",
        ".jpg",
        ".jpeg",
        ".png",
        ".webp",
        ".heic",
        ".docx",
        ".xlsx",
        ".odt",
        ".ods",
        ".txt",
        ".csv",
    }
)


# A gestión a person opens like one they opened this recently (same customer, type and
# subject) is the same form sent twice: a double click opened two.
REPEAT_WINDOW = datetime.timedelta(minutes=2)


@transaction.atomic
def open_gestion(
    *, customer: Customer, actor: AbstractBaseUser, **fields: Any
) -> tuple[Gestion, bool]:
    """Open a gestión from a person's form (`create_gestion`); return it and whether it is
    new. The customer's row is taken first, so the same form sent twice at once finds the
    gestión the first opened, and returns it instead of opening another."""
    crm_services.lock_current_customer(customer.pk)
    earlier = (
        Gestion.objects.filter(
            customer=customer,
            gestion_type=fields["gestion_type"],
            subject=(fields.get("subject") or "").strip()[:200],
            created_by=people.signed_in(actor),
            created_at__gte=timezone.now() - REPEAT_WINDOW,
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if earlier is not None:
        return earlier, False
    return create_gestion(customer=customer, actor=actor, **fields), True


# The largest amount a gestión asks for or approves, as the goals' targets: 1,500,000,000
# typed for 1,500,000 was taken and counted toward the advisor's goal.
MAX_AMOUNT = Decimal("100000000.00")


def too_large_amount() -> str:
    return _("El monto puede ser a lo sumo %(max)s: revise los ceros.") % {
        "max": display.amount(MAX_AMOUNT)
    }


def _if_active(place):
    """A branch or channel, or None once it is inactive."""
    return place if place is not None and place.is_active else None


@transaction.atomic
def create_gestion(
    *,
    customer: Customer,
    gestion_type: GestionType,
    actor: AbstractBaseUser | None = None,
    agent: AbstractBaseUser | None = None,
    candidates: Iterable[AbstractBaseUser] | None = None,
    branch: Branch | None = None,
    channel: Channel | None = None,
    campaign: Campaign | None = None,
    subject: str = "",
    amount_requested: Decimal | None = None,
    currency: str | None = None,
    products: Iterable[Product] = (),
    loans: Iterable[Loan] = (),
    data: Mapping[str, Any] | None = None,
    is_time_controlled: bool | None = None,
    require_data: bool = True,
    now: datetime.datetime | None = None,
) -> Gestion:
    """Open a gestión in its type's initial state and give it to an agent.

    The agent is `agent` when given; otherwise the distribution picks one among
    `candidates` (a campaign's agents) or the initial state's agents. With nobody to
    pick, the gestión waits unassigned for a supervisor. Campaigns and life-cycle events
    open gestiones with `require_data` off: the agent completes the required data later.
    """
    now = now or timezone.now()
    if not gestion_type.is_active:
        raise ValidationError(_("El tipo de gestión «%(t)s» está inactivo.") % {"t": gestion_type})
    state = gestion_type.initial_state()
    if state is None:
        raise ValidationError(
            _("El tipo de gestión «%(t)s» no tiene estado inicial configurado.")
            % {"t": gestion_type}
        )
    if amount_requested is not None and amount_requested < 0:
        raise ValidationError({"amount_requested": _("El monto solicitado no puede ser negativo.")})
    if amount_requested is not None and amount_requested > MAX_AMOUNT:
        raise ValidationError({"amount_requested": too_large_amount()})
    currency = currency or gestion_type.default_currency
    if currency not in Currency.values:
        raise ValidationError({"currency": _("Moneda desconocida: %(c)s.") % {"c": currency}})
    loans = list(loans)
    if any(loan.customer_id != customer.pk for loan in loans):
        raise ValidationError({"loans": _("Solo se pueden vincular créditos del mismo cliente.")})
    cleaned = dynamic.clean_data(
        data, _fields(gestion_type, FormField.Scope.GESTION), require=require_data
    )
    timed = gestion_type.is_time_controlled if is_time_controlled is None else is_time_controlled

    gestion = Gestion.objects.create(
        customer=customer,
        gestion_type=gestion_type,
        state=state,
        outcome=state.outcome,
        # The customer's, unless it closed: new work does not go to an inactive branch or
        # channel (the form leaves them empty and says why).
        branch=branch or _if_active(customer.branch),
        channel=channel or _if_active(customer.channel),
        campaign=campaign,
        subject=(subject or "").strip()[:200],
        is_time_controlled=timed,
        state_entered_at=now,
        due_at=due_at_for(state, entered_at=now, is_time_controlled=timed),
        amount_requested=amount_requested,
        currency=currency,
        survey=gestion_type.survey,
        data=cleaned,
        created_by=people.signed_in(actor),
        created_at=now,
    )
    products = list(products)
    if gestion_type.product_id and gestion_type.product not in products:
        products.append(gestion_type.product)
    gestion.products.set(products)
    gestion.loans.set(loans)
    FollowUp.objects.create(
        gestion=gestion,
        kind=FollowUp.Kind.CREATED,
        state=state,
        # No agent yet: the assignment right after names one.
        agent=None,
        actor=people.signed_in(actor),
        notes=gestion.subject,
        created_at=now,
    )
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=_("Gestión #%(id)s abierta: %(type)s (%(state)s)")
        % {"id": gestion.pk, "type": gestion_type.name, "state": state.name},
        channel=gestion.channel,
        payload={"gestion": gestion.pk, "tipo": gestion_type.name, "estado": state.name},
        actor=actor,
        occurred_at=now,
    )
    if agent is not None:
        workload_services.assign(gestion, agent=agent, actor=actor, now=now)
    else:
        workload_services.distribute(gestion, candidates=candidates, actor=actor, now=now)
    return gestion


@transaction.atomic
def update_gestion_data(
    *,
    gestion: Gestion,
    actor: AbstractBaseUser,
    data: Mapping[str, Any],
    now: datetime.datetime | None = None,
) -> Gestion:
    """Replace the gestión's dynamic-form data (every required value must be there)."""
    now = now or timezone.now()
    gestion = selectors.locked_gestion(gestion, "gestion_type", "customer")
    fields = _fields(gestion.gestion_type, FormField.Scope.GESTION)
    cleaned = dynamic.clean_data(data, fields)
    if cleaned == gestion.data:
        return gestion
    # By the form's labels, as the gestión page shows them: what changed, old → new.
    before = dict(dynamic.display_items(gestion.data, fields))
    after = dict(dynamic.display_items(cleaned, fields))
    changes = {
        label: f"{before.get(label, '—')} → {after.get(label, '—')}"
        for label in dict.fromkeys([*before, *after])
        if before.get(label) != after.get(label)
    }
    gestion.data = cleaned
    gestion.save(update_fields=["data", "updated_at"])
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=_("Gestión #%(id)s: datos actualizados") % {"id": gestion.pk},
        payload={"gestion": gestion.pk, **changes},
        actor=actor,
        occurred_at=now,
    )
    return gestion


def due_at_for(
    state: GestionState, *, entered_at: datetime.datetime, is_time_controlled: bool
) -> datetime.datetime | None:
    """Return when a gestión entering `state` at `entered_at` falls due (None: no limit)."""
    duration = state.duration
    if not is_time_controlled or duration is None or state.is_closing:
        return None
    return entered_at + duration


FOLLOW_UP_REPEAT_WINDOW = datetime.timedelta(minutes=1)


def just_recorded(gestion: Gestion, actor: AbstractBaseUser, notes: str) -> FollowUp | None:
    """The step `actor` recorded on `gestion` a moment ago with these notes, if any: the
    form sent again (a double click on a step that closed it) is that one, not a refusal."""
    return repeats.made_within(
        gestion.follow_ups.filter(
            kind=FollowUp.Kind.STEP, notes=(notes or "").strip(), actor=people.signed_in(actor)
        ),
        FOLLOW_UP_REPEAT_WINDOW,
    )


@transaction.atomic
def record_follow_up(
    *,
    gestion: Gestion,
    actor: AbstractBaseUser,
    action: Action,
    result: ActionResult,
    notes: str = "",
    data: Mapping[str, Any] | None = None,
    rejection_reason: RejectionReason | None = None,
    amount_approved: Decimal | None = None,
    files: Sequence[File] = (),
    now: datetime.datetime | None = None,
) -> FollowUp:
    """Record a step of the follow-up table on an open gestión and apply its transition.

    Refused when the gestión is closed, the action is not allowed in its current state or
    the result is not one of the action's. A rejected state needs a reason of the type; a
    successful one, every required field of the gestión's form filled.
    """
    now = now or timezone.now()
    # Lock the row: two agents recording at once must not both move it from the same state.
    gestion = selectors.locked_gestion(
        gestion, "state", "gestion_type", "customer", "channel", "agent"
    )
    if not gestion.is_open:
        raise ValidationError(
            _("La gestión #%(id)s está cerrada (%(state)s); no admite más seguimientos.")
            % {"id": gestion.pk, "state": gestion.state.name}
        )
    if action.gestion_type_id != gestion.gestion_type_id or not action.is_active:
        raise ValidationError({"action": _("La acción no pertenece a este tipo de gestión.")})
    if not action.from_states.filter(pk=gestion.state_id).exists():
        raise ValidationError(
            {
                "action": _("La acción «%(action)s» no está permitida en el estado «%(state)s».")
                % {"action": action.name, "state": gestion.state.name}
            }
        )
    if result.action_id != action.pk:
        raise ValidationError(
            {"result": _("El resultado «%(r)s» no corresponde a la acción.") % {"r": result.name}}
        )
    from_state = gestion.state
    to_state = result.to_state if result.changes_state else from_state
    if to_state == from_state:
        # Under the gestión's lock: the same step sent twice (a double click on a result
        # that moves nothing) is the one recorded a moment ago, its files too (compared by
        # name: two copies of each were filed). A moving step is refused the second time
        # anyway, its action no longer allowed in the new state.
        repeated = repeats.made_within(
            gestion.follow_ups.filter(
                kind=FollowUp.Kind.STEP,
                action=action,
                result=result,
                notes=(notes or "").strip(),
                actor=people.signed_in(actor),
            ),
            FOLLOW_UP_REPEAT_WINDOW,
            now=now,
        )
        if repeated is not None and sorted(
            repeated.attachments.values_list("name", flat=True)
        ) == sorted(_file_name(file)[:200] for file in files):
            return repeated
    _check_rejection_reason(gestion, to_state, rejection_reason)
    if amount_approved is not None and amount_approved < 0:
        raise ValidationError({"amount_approved": _("El monto aprobado no puede ser negativo.")})
    if amount_approved is not None and amount_approved > MAX_AMOUNT:
        raise ValidationError({"amount_approved": too_large_amount()})
    for rule in _rules():
        rule.check(gestion, to_state, amount_approved=amount_approved)
    _check_required_data(gestion, to_state, then=_("vuelva a registrar el seguimiento"))
    cleaned = dynamic.clean_data(data, _fields(gestion.gestion_type, FormField.Scope.FOLLOW_UP))
    _check_files(files)

    follow_up = FollowUp.objects.create(
        gestion=gestion,
        kind=FollowUp.Kind.STEP,
        action=action,
        result=result,
        from_state=from_state,
        state=to_state,
        rejection_reason=rejection_reason,
        notes=(notes or "").strip(),
        data=cleaned,
        agent_id=gestion.agent_id,
        actor=people.signed_in(actor),
        created_at=now,
    )
    _save_attachments(follow_up, files, actor=actor, now=now)

    gestion.last_follow_up_at = now
    changed = ["last_follow_up_at", "updated_at"]
    if amount_approved is not None:
        gestion.amount_approved = amount_approved
        changed.append("amount_approved")
    if to_state.pk != from_state.pk:
        _enter_state(gestion, to_state, now=now)
        changed += ["state", "outcome", "state_entered_at", "due_at", "warned_at"]
        changed += ["late_alerted_at", "closed_at"]
        if to_state.outcome == Outcome.REJECTED:
            gestion.rejection_reason = rejection_reason
            changed.append("rejection_reason")
    gestion.save(update_fields=changed)
    if to_state.pk != from_state.pk:
        # A credit application entering its approving state gets its draft loan (or the
        # whole step is refused, when the terms are outside the product's).
        for rule in _rules():
            rule.entered(gestion, to_state, actor=actor, amount_approved=amount_approved, now=now)

    summary = _("Gestión #%(id)s · %(action)s → %(result)s") % {
        "id": gestion.pk,
        "action": action.name,
        "result": result.name,
    }
    if to_state.pk != from_state.pk:
        summary += _(" · %(from)s → %(to)s") % {"from": from_state.name, "to": to_state.name}
    payload: dict[str, Any] = {
        "gestion": gestion.pk,
        "acción": action.name,
        "resultado": result.name,
        "estado": to_state.name,
    }
    if rejection_reason:
        payload["motivo"] = rejection_reason.name
    if follow_up.notes:
        payload["notas"] = follow_up.notes
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=summary,
        channel=gestion.channel,
        payload=payload,
        actor=actor,
        occurred_at=now,
    )
    if result.alerts_customer:
        follow_up.is_customer_alerted = _alert_customer(gestion, result, actor=actor, now=now)
        follow_up.save(update_fields=["is_customer_alerted"])
    if to_state.pk != from_state.pk:
        if to_state.is_closing:
            survey_services.invite(gestion=gestion, now=now)
        else:
            workload_services.redistribute_if_needed(gestion, actor=actor, now=now)
    return follow_up


@transaction.atomic
def move_to_state(
    *,
    gestion: Gestion,
    state: GestionState,
    actor: AbstractBaseUser | None,
    notes: str,
    now: datetime.datetime | None = None,
) -> FollowUp | None:
    """Move an open gestión to `state` for something that happened outside its follow-up
    table (its loan was disbursed); return the step, or None when there was nothing to move.
    """
    now = now or timezone.now()
    gestion = selectors.locked_gestion(
        gestion, "state", "gestion_type", "customer", "channel", "agent"
    )
    if not gestion.is_open or gestion.state_id == state.pk:
        return None
    if state.gestion_type_id != gestion.gestion_type_id:
        raise ValidationError(_("El estado no corresponde a este tipo de gestión."))
    from_state = gestion.state
    follow_up = _step_to_state(gestion, state, actor=actor, notes=notes, now=now)
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=_("Gestión #%(id)s · %(notes)s · %(from)s → %(to)s")
        % {"id": gestion.pk, "notes": follow_up.notes, "from": from_state.name, "to": state.name},
        channel=gestion.channel,
        payload={"gestion": gestion.pk, "estado": state.name},
        actor=actor,
        occurred_at=now,
    )
    if state.is_closing:
        survey_services.invite(gestion=gestion, now=now)
    else:
        workload_services.redistribute_if_needed(gestion, actor=actor, now=now)
    return follow_up


# The longest reason a state correction takes (the confirmation page carries it whole).
CORRECTION_REASON_CHARS = 500


def stale_correction(gestion: Gestion, shown: GestionState) -> str:
    """Say that the gestión left the state the correction was asked from."""
    return _(
        "La gestión #%(id)s cambió de estado mientras confirmaba: ahora está en «%(now)s», "
        "no en «%(shown)s». No se corrigió nada; revise la gestión y vuelva a intentarlo."
    ) % {"id": gestion.pk, "now": gestion.state.name, "shown": shown.name}


@transaction.atomic
def correct_state(
    *,
    gestion: Gestion,
    state: GestionState,
    shown_state: GestionState,
    actor: AbstractBaseUser,
    reason: str,
    rejection_reason: RejectionReason | None = None,
    now: datetime.datetime | None = None,
) -> FollowUp:
    """Move a gestión, open or closed, to another state of its type to undo a mistake (a
    wrong step, a wrong close), as a supervisor of gestiones, saying why.

    Refused when the gestión is no longer in `shown_state` (the state the person saw: the
    confirmation went stale), already in `state`, or its customer was merged. It enters
    `state` as a step does (`_enter_state`): its outcome, a due date from the state's time
    allowed, and a closed gestión reopens (closed_at cleared). A step with the reason is
    recorded, with a timeline entry. A correction fixes the record, it does not redo the
    step: the customer gets no message and no survey, and an application gets no new loan
    (an approval corrected back leaves a cancelled loan cancelled; saving the application
    then makes a new draft, `applications.services.update_application`). Closing, it does
    what a close does to a credit application: the loan still waiting is cancelled, no
    draft left to sign for a closed application.
    """
    now = now or timezone.now()
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Indique por qué se corrige el estado.")})
    if len(reason) > CORRECTION_REASON_CHARS:
        raise ValidationError(
            {"reason": _("Escriba como máximo %(n)s caracteres.") % {"n": CORRECTION_REASON_CHARS}}
        )
    if not selectors.may_correct_state(actor):
        raise PermissionDenied(_("Solo un supervisor de gestiones corrige el estado."))
    # The customer first, as a merge takes it: a merge that committed first is refused here,
    # and two of them never wait on each other's rows.
    crm_services.lock_current_customer(gestion.customer_id)
    gestion = selectors.locked_gestion(
        gestion, "state", "gestion_type", "customer", "channel", "agent"
    )
    if state.gestion_type_id != gestion.gestion_type_id:
        raise ValidationError({"state": _("El estado no corresponde a este tipo de gestión.")})
    if gestion.state_id != shown_state.pk:
        raise ValidationError(stale_correction(gestion, shown_state), code="stale")
    if gestion.state_id == state.pk:
        raise ValidationError(
            {
                "state": _("La gestión #%(id)s ya está en «%(state)s»: no hay nada que corregir.")
                % {"id": gestion.pk, "state": state.name}
            }
        )
    _check_rejection_reason(gestion, state, rejection_reason)
    for rule in _rules():
        rule.check(gestion, state, amount_approved=None)
    _check_required_data(gestion, state, then=_("vuelva a corregir el estado"))

    from_state = gestion.state
    was_closed = not gestion.is_open
    gestion.rejection_reason = rejection_reason
    follow_up = _step_to_state(
        gestion,
        state,
        actor=actor,
        notes=reason,
        now=now,
        rejection_reason=rejection_reason,
        also=["rejection_reason"],
    )
    if state.is_closing:
        # What a close does to a credit application (its waiting loan is cancelled); an
        # open state's rules (an approval's new loan) are the step's, not a correction's.
        for rule in _rules():
            rule.entered(gestion, state, actor=actor, amount_approved=None, now=now)
    values = {
        "id": gestion.pk,
        "who": people.display_name(actor),
        "from": from_state.name,
        "to": state.name,
        "reason": reason,
    }
    if was_closed and gestion.is_open:
        summary = _(
            "Gestión #%(id)s · Estado corregido por %(who)s: %(from)s → %(to)s (reabierta) · "
            "Motivo: %(reason)s"
        )
    else:
        summary = _(
            "Gestión #%(id)s · Estado corregido por %(who)s: %(from)s → %(to)s · Motivo: %(reason)s"
        )
    payload: dict[str, Any] = {
        "gestion": gestion.pk,
        "estado anterior": from_state.name,
        "estado": state.name,
        "motivo": reason,
    }
    if rejection_reason is not None:
        payload["motivo de rechazo"] = rejection_reason.name
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary % values,
        channel=gestion.channel,
        payload=payload,
        actor=actor,
        occurred_at=now,
    )
    if not state.is_closing:
        # Open again: in its agent's «Mi trabajo», or with the state's agents when its agent
        # is not among them (one who left, or another area's state).
        workload_services.redistribute_if_needed(gestion, actor=actor, now=now)
    return follow_up


def _step_to_state(
    gestion: Gestion,
    state: GestionState,
    *,
    actor: AbstractBaseUser | None,
    notes: str,
    now: datetime.datetime,
    rejection_reason: RejectionReason | None = None,
    also: Sequence[str] = (),
) -> FollowUp:
    """Record the step that moves a locked gestión to `state` outside its follow-up table
    (the history and the time-in-state figures read it) and enter the state; `also` names
    fields the caller changed on `gestion` that are saved with it."""
    follow_up = FollowUp.objects.create(
        gestion=gestion,
        kind=FollowUp.Kind.STEP,
        from_state=gestion.state,
        state=state,
        rejection_reason=rejection_reason,
        notes=notes.strip(),
        agent_id=gestion.agent_id,
        actor=people.signed_in(actor),
        created_at=now,
    )
    gestion.last_follow_up_at = now
    _enter_state(gestion, state, now=now)
    gestion.save(
        update_fields=[
            "last_follow_up_at",
            "updated_at",
            "state",
            "outcome",
            "state_entered_at",
            "due_at",
            "warned_at",
            "late_alerted_at",
            "closed_at",
            *also,
        ]
    )
    return follow_up


def _check_rejection_reason(
    gestion: Gestion, to_state: GestionState, rejection_reason: RejectionReason | None
) -> None:
    """Refuse a rejected state without a reason of the gestión's type, and a reason on any
    other state."""
    if to_state.outcome == Outcome.REJECTED:
        if rejection_reason is None:
            raise ValidationError({"rejection_reason": _("Indique el motivo de rechazo.")})
        if rejection_reason.gestion_type_id != gestion.gestion_type_id:
            raise ValidationError(
                {"rejection_reason": _("El motivo no corresponde a este tipo de gestión.")}
            )
    elif rejection_reason is not None:
        raise ValidationError(
            {"rejection_reason": _("Solo una gestión rechazada lleva motivo de rechazo.")}
        )


def _check_required_data(gestion: Gestion, to_state: GestionState, *, then: str) -> None:
    """Refuse a successful state to a gestión whose required data is still empty: a
    campaign or a life-cycle event opens gestiones with their data to complete."""
    if to_state.outcome != Outcome.SUCCESS:
        return
    missing = dynamic.missing_required(
        gestion.data, _fields(gestion.gestion_type, FormField.Scope.GESTION)
    )
    if missing:
        raise ValidationError(
            _(
                "La gestión #%(id)s no puede cerrarse como «%(state)s»: faltan datos "
                "obligatorios (%(fields)s). Complételos en «Datos de la gestión» y "
                "%(then)s."
            )
            % {
                "id": gestion.pk,
                "state": to_state.name,
                "fields": ", ".join(f.label for f in missing),
                "then": then,
            },
            code="missing_data",
        )


def _enter_state(gestion: Gestion, state: GestionState, *, now: datetime.datetime) -> None:
    gestion.state = state
    gestion.outcome = state.outcome
    gestion.state_entered_at = now
    gestion.due_at = due_at_for(
        state, entered_at=now, is_time_controlled=gestion.is_time_controlled
    )
    gestion.warned_at = None
    gestion.late_alerted_at = None
    gestion.closed_at = now if state.is_closing else None


@transaction.atomic
def add_files_follow_up(
    *,
    gestion: Gestion,
    actor: AbstractBaseUser | None,
    kind: str,
    notes: str,
    files: Sequence[File],
    now: datetime.datetime | None = None,
) -> FollowUp:
    """Record a follow-up that only adds files (a generated document, an upload).

    It keeps the state; a closed gestión accepts it too, since documents may come later.
    """
    now = now or timezone.now()
    if kind not in (FollowUp.Kind.DOCUMENT, FollowUp.Kind.STEP):
        raise ValidationError(_("Tipo de seguimiento no válido para adjuntos."))
    if not files:
        raise ValidationError(_("Adjunte al menos un archivo."))
    _check_files(files)
    follow_up = FollowUp.objects.create(
        gestion=gestion,
        kind=kind,
        from_state=gestion.state,
        state=gestion.state,
        notes=(notes or "").strip(),
        agent_id=gestion.agent_id,
        actor=people.signed_in(actor),
        created_at=now,
    )
    _save_attachments(follow_up, files, actor=actor, now=now)
    Gestion.objects.filter(pk=gestion.pk).update(last_follow_up_at=now, updated_at=now)
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=_("Gestión #%(id)s · %(notes)s") % {"id": gestion.pk, "notes": follow_up.notes}
        if follow_up.notes
        else _("Gestión #%(id)s · archivos adjuntos") % {"id": gestion.pk},
        payload={"gestion": gestion.pk, "archivos": ", ".join(_file_name(f) for f in files)},
        actor=actor,
        occurred_at=now,
    )
    return follow_up


def _check_files(files: Sequence[File]) -> None:
    for file in files:
        if os.path.splitext(_file_name(file))[1].lower() not in ATTACHMENT_EXTENSIONS:
            raise ValidationError(
                {
                    "files": _(
                        "«%(name)s» no es un tipo de archivo aceptado. Se aceptan PDF, "
                        "imágenes (JPG, PNG, WEBP, HEIC), documentos (DOCX, ODT), hojas de "
                        "cálculo (XLSX, ODS) y texto (TXT, CSV)."
                    )
                    % {"name": _file_name(file)}
                }
            )
        if file.size is not None and file.size > MAX_ATTACHMENT_BYTES:
            raise ValidationError(
                {
                    "files": _("«%(name)s» pesa más de %(mb)s MB.")
                    % {"name": _file_name(file), "mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)}
                }
            )


def _save_attachments(
    follow_up: FollowUp,
    files: Sequence[File],
    *,
    actor: AbstractBaseUser | None,
    now: datetime.datetime,
) -> None:
    for file in files:
        name = _file_name(file)
        attachment = Attachment(
            follow_up=follow_up,
            name=name[:200],
            uploaded_by=people.signed_in(actor),
            created_at=now,
        )
        attachment.file.save(name, file, save=False)
        attachment.save()


def _file_name(file: File) -> str:
    return (file.name or "archivo").replace("\\", "/").rsplit("/", 1)[-1]


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Replace {name} placeholders with `values`; unknown ones are left as they are.

    Not str.format: a template written in admin must not reach attributes ({x.__class__}).
    """
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def _alert_customer(
    gestion: Gestion, result: ActionResult, *, actor: AbstractBaseUser, now: datetime.datetime
) -> bool:
    values = {
        "cliente": gestion.customer.full_name,
        "gestion": gestion.pk,
        "tipo": gestion.gestion_type.name,
        "estado": gestion.state.name,
        "resultado": result.name,
    }
    template = result.customer_message or _(
        "Estimado(a) {cliente}: su gestión n.º {gestion} ({tipo}) avanzó: {resultado}. "
        "Estado actual: {estado}."
    )
    subject = _("Su gestión n.º %(id)s: %(state)s") % {
        "id": gestion.pk,
        "state": gestion.state.name,
    }
    sending = crm_messages.send_customer_message(
        customer=gestion.customer,
        channel=crm_messages.EMAIL,
        subject=subject,
        body=fill(template, values),
        actor=actor,
        payload={"gestion": gestion.pk},
        occurred_at=now,
    )
    # Not queued (no e-mail, or the customer asked not to be contacted): the message
    # service wrote on the timeline why.
    return sending.is_queued


def _fields(gestion_type: GestionType, scope: str) -> list[FormField]:
    return list(gestion_type.fields.filter(scope=scope))
