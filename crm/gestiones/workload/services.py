"""Who works each gestión: distribution by least open work and round robin, and
reassignment by a supervisor."""

import datetime
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import services as crm_services
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import (
    FollowUp,
    Gestion,
    GestionState,
    Notification,
    Outcome,
    StateAgent,
)
from crm.gestiones.notifications import services as notification_services
from crm.models import Interaction
from lib import people

User = get_user_model()


@transaction.atomic
def reassign_gestion(
    *,
    gestion: Gestion,
    agent: AbstractBaseUser,
    actor: AbstractBaseUser,
    reason: str = "",
    now: datetime.datetime | None = None,
) -> Gestion:
    """Give an open gestión to another agent (a supervisor's manual reassignment)."""
    now = now or timezone.now()
    gestion = gestion_selectors.locked_gestion(
        gestion, "state", "gestion_type", "customer", "agent"
    )
    if not gestion.is_open:
        raise ValidationError(_("Una gestión cerrada no se reasigna."))
    if not agent.is_active:
        raise ValidationError({"agent": _("El gestor elegido está inactivo.")})
    # The forms offer only `gestion_selectors.agents()`; any other caller is held to it
    # too: someone moved to another role would get a gestión they cannot work.
    if not gestion_selectors.may_work_gestiones(agent):
        raise ValidationError(
            {
                "agent": _("%(agent)s no puede trabajar gestiones: no tiene el rol.")
                % {"agent": people.display_name(agent)}
            }
        )
    if gestion.agent_id == agent.pk:
        raise ValidationError({"agent": _("La gestión ya está a cargo de ese gestor.")})
    assign(gestion, agent=agent, actor=actor, now=now, reason=reason)
    return gestion


@transaction.atomic
def reassign_many(
    *,
    gestiones: Iterable[Gestion],
    agent: AbstractBaseUser,
    actor: AbstractBaseUser,
    reason: str = "",
) -> int:
    """Reassign several open gestiones to one agent; return how many moved."""
    moved = 0
    for gestion in gestiones:
        if gestion.is_open and gestion.agent_id != agent.pk:
            reassign_gestion(gestion=gestion, agent=agent, actor=actor, reason=reason)
            moved += 1
    return moved


def pick_agent(
    pool: Iterable[AbstractBaseUser], *, exclude: AbstractBaseUser | None = None
) -> AbstractBaseUser | None:
    """Return who of `pool` gets the next gestión: least open work, then round robin.

    Round robin on ties: among the least loaded, the one whose latest assignment is oldest
    (never assigned first), then the lowest id. The pool's user rows are locked for the
    transaction so two gestiones distributed at once see each other's assignment.
    """
    ids = sorted({u.pk for u in pool if u.is_active and (exclude is None or u.pk != exclude.pk)})
    if not ids:
        return None
    # Only who may work gestiones (active, with follow-ups): someone moved to another role
    # would get a gestión they cannot open. `agents()` is DISTINCT, which PostgreSQL
    # refuses with FOR UPDATE, so it is a subquery here.
    candidates: QuerySet = (
        User.objects.filter(pk__in=ids)
        .filter(pk__in=gestion_selectors.agents().values("pk"))
        .order_by("pk")
    )
    list(candidates.select_for_update())
    ranked = candidates.annotate(
        open_work=Count("gestiones", filter=Q(gestiones__outcome=Outcome.OPEN)),
        last_assigned=Max("gestiones__assigned_at"),
    ).order_by("open_work", F("last_assigned").asc(nulls_first=True), "pk")
    return ranked.first()


def state_pool(state: GestionState) -> list[AbstractBaseUser]:
    """Return the agents who receive the gestiones of `state`: active in the state, and
    active users who may work gestiones (`gestion_selectors.agents`)."""
    return [
        sa.agent
        for sa in StateAgent.objects.filter(
            state=state,
            is_active=True,
            agent__in=gestion_selectors.agents().values("pk"),
        ).select_related("agent")
    ]


def distribute(
    gestion: Gestion,
    *,
    candidates: Iterable[AbstractBaseUser] | None,
    actor: AbstractBaseUser | None,
    now: datetime.datetime,
) -> None:
    """Give a new gestión to the pool's least loaded agent, or tell the supervisors nobody can."""
    pool = list(candidates) if candidates is not None else state_pool(gestion.state)
    agent = pick_agent(pool)
    if agent is None:
        _notify_supervisors_unassigned(gestion, now=now)
        return
    assign(gestion, agent=agent, actor=actor, now=now, automatic=True)


def redistribute_if_needed(
    gestion: Gestion, *, actor: AbstractBaseUser | None, now: datetime.datetime
) -> None:
    """Hand a moved gestión to the new state's agents, unless its agent is one of them."""
    pool = state_pool(gestion.state)
    if not pool or any(a.pk == gestion.agent_id for a in pool):
        return
    agent = pick_agent(pool)
    if agent is not None:
        assign(gestion, agent=agent, actor=actor, now=now, automatic=True)


def assign(
    gestion: Gestion,
    *,
    agent: AbstractBaseUser,
    actor: AbstractBaseUser | None,
    now: datetime.datetime,
    automatic: bool = False,
    reason: str = "",
) -> None:
    """Make `agent` the gestión's agent: a follow-up, a timeline entry and their notification;
    the previous agent's unread assignment notification of it is marked read."""
    previous = gestion.agent
    gestion.agent = agent
    gestion.assigned_at = now
    Gestion.objects.filter(pk=gestion.pk).update(agent=agent, assigned_at=now, updated_at=now)
    if previous is not None and previous.pk != agent.pk:
        # Their «Se le asignó…» led to a gestión no longer theirs (a 404 once out of sight).
        notification_services.mark_assignment_read(gestion=gestion, recipient=previous, now=now)
    name = people.display_name(agent)
    if previous is None:
        notes = _("Asignada a %(agent)s") % {"agent": name}
    else:
        notes = _("Reasignada de %(old)s a %(new)s") % {
            "old": people.display_name(previous),
            "new": name,
        }
    if automatic:
        notes += _(" (distribución automática)")
    if reason:
        notes += f": {reason.strip()}"
    FollowUp.objects.create(
        gestion=gestion,
        kind=FollowUp.Kind.ASSIGNMENT,
        from_state=gestion.state,
        state=gestion.state,
        notes=notes,
        agent=agent,
        actor=people.signed_in(actor),
        created_at=now,
    )
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Gestión #%(id)s: %(notes)s") % {"id": gestion.pk, "notes": notes},
        payload={"gestion": gestion.pk, "gestor": name},
        actor=actor,
        occurred_at=now,
    )
    if actor is None or actor.pk != agent.pk:
        notification_services.notify(
            recipients=[agent],
            gestion=gestion,
            kind=Notification.Kind.ASSIGNED,
            message=_("Se le asignó la gestión #%(id)s (%(type)s) de %(customer)s.")
            % {
                "id": gestion.pk,
                "type": gestion.gestion_type.name,
                "customer": gestion.customer.full_name,
            },
            now=now,
        )


def _notify_supervisors_unassigned(gestion: Gestion, *, now: datetime.datetime) -> None:
    notification_services.notify(
        recipients=gestion_selectors.supervisors_of(gestion),
        gestion=gestion,
        kind=Notification.Kind.INFO,
        message=_("La gestión #%(id)s (%(type)s) no tiene gestor: %(why)s.")
        % {
            "id": gestion.pk,
            "type": gestion.gestion_type.name,
            "why": gestion_selectors.why_unassigned(gestion.state),
        },
        now=now,
    )
