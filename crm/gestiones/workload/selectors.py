"""The workload tables: open gestiones on time and late, and steps attended, per state
and per agent."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import (
    FollowUp,
    Gestion,
    GestionState,
    GestionType,
    Outcome,
)
from lib import people

User = get_user_model()


@dataclass
class WorkloadRow:
    label: str
    active: int
    on_time: int
    late: int
    attended: int
    agent_id: int | None = None
    state_id: int | None = None
    # Why the person can no longer work their gestiones: «(inactivo)», «(sin rol de asesor)».
    note: str = ""


def workload_by_state(
    *, gestion_type: GestionType | None = None, since: datetime.datetime | None = None
) -> list[WorkloadRow]:
    """Return the seed's workload table per type and state: active, on time, late, attended.

    Attended: follow-ups that moved a gestión out of the state (since `since`, if given).
    """
    now = timezone.now()
    states = GestionState.objects.select_related("gestion_type").order_by(
        "gestion_type__name", "order", "id"
    )
    if gestion_type is not None:
        states = states.filter(gestion_type=gestion_type)
    active = _open_counts("state", now)
    moved_out = FollowUp.objects.filter(from_state__isnull=False).exclude(state=F("from_state"))
    if since is not None:
        moved_out = moved_out.filter(created_at__gte=since)
    attended = dict(
        moved_out.values("from_state").annotate(n=Count("id")).values_list("from_state", "n")
    )
    rows = []
    for state in states:
        if state.is_closing:
            continue
        a = active.get(state.pk, {"n": 0, "late": 0})
        rows.append(
            WorkloadRow(
                label=f"{state.gestion_type.name}, {state.name}",
                active=a["n"],
                on_time=a["n"] - a["late"],
                late=a["late"],
                attended=attended.get(state.pk, 0),
                state_id=state.pk,
            )
        )
    return rows


def workload_by_agent(
    *, gestion_type: GestionType | None = None, since: datetime.datetime | None = None
) -> list[WorkloadRow]:
    """Return the workload per agent: open gestiones, on time, late, and attended steps.

    Attended: follow-ups the agent recorded that changed a gestión's state.
    """
    now = timezone.now()
    active = _open_counts("agent", now, gestion_type=gestion_type)
    moved = FollowUp.objects.filter(kind=FollowUp.Kind.STEP, actor__isnull=False).exclude(
        state=F("from_state")
    )
    if gestion_type is not None:
        moved = moved.filter(gestion__gestion_type=gestion_type)
    if since is not None:
        moved = moved.filter(created_at__gte=since)
    attended = dict(moved.values("actor").annotate(n=Count("id")).values_list("actor", "n"))
    working = set(gestion_selectors.agents().order_by().values_list("pk", flat=True))
    users = User.objects.filter(
        Q(pk__in=list(active)) | Q(pk__in=list(attended)) | Q(pk__in=working)
    )
    rows = []
    for person in users:
        a = active.get(person.pk, {"n": 0, "late": 0})
        rows.append(
            WorkloadRow(
                label=people.display_name(person),
                active=a["n"],
                on_time=a["n"] - a["late"],
                late=a["late"],
                attended=attended.get(person.pk, 0),
                agent_id=person.pk,
                note=_no_longer_works(person, working),
            )
        )
    rows.sort(key=lambda r: (-r.active, r.label))
    return rows


def _no_longer_works(person: AbstractBaseUser, working: set[int]) -> str:
    """Mark who can no longer work gestiones, so a supervisor sees whose to reassign."""
    if not person.is_active:
        return _("(inactivo)")
    if person.pk not in working:
        return _("(sin rol de asesor)")
    return ""


def _open_counts(
    key: str, now: datetime.datetime, *, gestion_type: GestionType | None = None
) -> dict[int, dict[str, int]]:
    rows = Gestion.objects.filter(outcome=Outcome.OPEN)
    if gestion_type is not None:
        rows = rows.filter(gestion_type=gestion_type)
    return {
        row[key]: row
        for row in rows.values(key).annotate(
            n=Count("id"), late=Count("id", filter=Q(is_time_controlled=True, due_at__lt=now))
        )
        if row[key] is not None
    }


def unassigned_count() -> int:
    return Gestion.objects.filter(outcome=Outcome.OPEN, agent__isnull=True).count()


# A bulk reassignment sent again this soon by the same supervisor is the same form twice.
REASSIGN_REPEAT_WINDOW = datetime.timedelta(minutes=1)


def reassigned_a_moment_ago(
    gestiones: Iterable[Gestion], *, agent: AbstractBaseUser, actor: AbstractBaseUser
) -> int:
    """Return how many of `gestiones` `actor` handed to `agent` a moment ago (they are
    still `agent`'s): a reassignment sent twice finds its first send's work."""
    since = timezone.now() - REASSIGN_REPEAT_WINDOW
    return (
        Gestion.objects.filter(pk__in=[gestion.pk for gestion in gestiones], agent=agent)
        .filter(
            follow_ups__kind=FollowUp.Kind.ASSIGNMENT,
            follow_ups__actor=people.signed_in(actor),
            follow_ups__created_at__gte=since,
        )
        .distinct()
        .count()
    )
