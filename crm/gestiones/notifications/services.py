"""In-app notifications, e-mailed to those with an address: assignments, and gestiones
about to be late or late (swept every 5 minutes).

Staff e-mails are not customer messages: they go through the outbox's plain `email`
destination (integrations.email), where a failure shows in admin."""

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import (
    Gestion,
    Notification,
    Outcome,
)
from integrations import email, housekeeping
from lib import bulk, people

# Read notifications are deleted this many days after they were read; unread ones stay.
NOTIFICATIONS_KEEP_DAYS = 90


def notify(
    *,
    recipients: Iterable[AbstractBaseUser],
    gestion: Gestion | None,
    kind: str,
    message: str,
    now: datetime.datetime | None = None,
    extra_link: tuple[str, str] | None = None,
) -> list[Notification]:
    """Leave an in-app notification for each recipient and e-mail those with an address.

    Only people who may still work gestiones (`gestion_selectors.agents`: active, with
    follow-ups) are told: a former employee's mailbox gets no customer names. `extra_link`
    (label, site path) is added to the e-mail under the gestión's link.
    """
    now = now or timezone.now()
    unique = {u.pk: u for u in recipients if u is not None}
    working = set(
        gestion_selectors.agents()
        .order_by()
        .filter(pk__in=list(unique))
        .values_list("pk", flat=True)
    )
    unique = {pk: u for pk, u in unique.items() if pk in working}
    made = Notification.objects.bulk_create(
        [
            Notification(
                recipient=u, gestion=gestion, kind=kind, message=message[:300], created_at=now
            )
            for u in unique.values()
        ]
    )
    addresses = [u.email for u in unique.values() if u.email]
    if addresses:
        site = settings.SITE_URL.rstrip("/")
        links = [site + gestion.get_absolute_url()] if gestion else []
        if extra_link:
            links.append(f"{extra_link[0]}: {site}{extra_link[1]}")
        body = message + ("\n\n" + "\n".join(links) if links else "")
        subject = _("[Cartera] %(kind)s") % {"kind": Notification.Kind(kind).label}
        # One e-mail each: a refused address fails alone (visible in the outbox admin),
        # and nobody sees the others' addresses.
        for address in addresses:
            email.enqueue(to=address, subject=subject, body=body)
    return made


def alert_due_gestiones(
    *, now: datetime.datetime | None = None, batch: int = 500
) -> dict[str, int]:
    """Alert agents and supervisors about open timed gestiones about to be late, and late.

    Each alert goes once per due date: a conditional update stamps the gestión first, so a
    sweep running twice (or two workers) alerts once.
    """
    now = now or timezone.now()
    counts = {"due_soon": 0, "late": 0}
    open_timed = Gestion.objects.filter(outcome=Outcome.OPEN, is_time_controlled=True)
    late = open_timed.filter(due_at__lt=now, late_alerted_at__isnull=True)
    for gestion in _in_batches(late, batch):
        with transaction.atomic():
            stamped = Gestion.objects.filter(pk=gestion.pk, late_alerted_at__isnull=True).update(
                late_alerted_at=now
            )
            if stamped:
                _alert(gestion, Notification.Kind.LATE, now=now)
                counts["late"] += 1
    # "About to be late": within each type's warning window of the due date.
    soon = open_timed.filter(
        due_at__gte=now, warned_at__isnull=True, late_alerted_at__isnull=True
    ).filter(due_at__lte=now + datetime.timedelta(days=7))
    for gestion in _in_batches(soon, batch):
        window = datetime.timedelta(minutes=gestion.gestion_type.warn_before_minutes)
        if gestion.due_at > now + window:
            continue
        with transaction.atomic():
            stamped = Gestion.objects.filter(pk=gestion.pk, warned_at__isnull=True).update(
                warned_at=now
            )
            if stamped:
                _alert(gestion, Notification.Kind.DUE_SOON, now=now)
                counts["due_soon"] += 1
    return counts


def _in_batches(queryset: QuerySet[Gestion], size: int):
    queryset = queryset.select_related("gestion_type", "state", "customer", "agent")
    for page in bulk.pages_by_pk(queryset, size):
        yield from page


def _alert(gestion: Gestion, kind: str, *, now: datetime.datetime) -> None:
    due = timezone.localtime(gestion.due_at).strftime("%d/%m/%Y %H:%M")
    values = {
        "id": gestion.pk,
        "type": gestion.gestion_type.name,
        "state": gestion.state.name,
        "customer": gestion.customer.full_name,
        "due": due,
    }
    if kind == Notification.Kind.LATE:
        message = (
            _("Gestión #%(id)s atrasada: %(type)s, «%(state)s», %(customer)s; venció el %(due)s.")
            % values
        )
    else:
        message = (
            _("Gestión #%(id)s por vencer: %(type)s, «%(state)s», %(customer)s; vence el %(due)s.")
            % values
        )
    supervisors = gestion_selectors.supervisors_of(gestion)
    gone = _agent_gone(gestion)
    if gone is None:
        notify(
            recipients=[gestion.agent, *supervisors],
            gestion=gestion,
            kind=kind,
            message=message,
            now=now,
        )
        return
    # Nobody works it: the supervisors are told whom to take it from, and where.
    notify(
        recipients=supervisors,
        gestion=gestion,
        kind=kind,
        message=f"{message} {gone}",
        now=now,
        extra_link=(_("Carga de trabajo"), _workload_path(gestion)),
    )


def _agent_gone(gestion: Gestion) -> str | None:
    """Say why nobody works `gestion` (no agent, inactive, or without the role to work
    gestiones), or None when its agent may work it."""
    agent = gestion.agent
    if agent is None:
        return _("No tiene gestor: asígnela en Carga de trabajo.")
    name = people.display_name(agent)
    if not agent.is_active:
        return _("Su gestor %(agent)s ya no está activo: reasígnela en Carga de trabajo.") % {
            "agent": name
        }
    if not gestion_selectors.may_work_gestiones(agent):
        return _(
            "Su gestor %(agent)s ya no tiene el rol para trabajar gestiones: reasígnela en "
            "Carga de trabajo."
        ) % {"agent": name}
    return None


def _workload_path(gestion: Gestion) -> str:
    """The workload page's reassignment list, filtered by the gestión's agent (or by the
    gestiones without one)."""
    who = gestion.agent_id if gestion.agent_id is not None else "none"
    return reverse("gestiones:workload") + f"?gestor={who}#reassign"


@transaction.atomic
def mark_notifications_read(*, user: AbstractBaseUser, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications (all, or those in `ids`) as read."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


def mark_assignment_read(
    *, gestion: Gestion, recipient: AbstractBaseUser, now: datetime.datetime | None = None
) -> int:
    """Mark `recipient`'s unread «Se le asignó la gestión…» of `gestion` as read: it was
    given to someone else, so it no longer asks anything of them. Return how many."""
    return Notification.objects.filter(
        recipient=recipient,
        gestion=gestion,
        kind=Notification.Kind.ASSIGNED,
        read_at__isnull=True,
    ).update(read_at=now or timezone.now())


def delete_old_notifications(
    *,
    now: datetime.datetime | None = None,
    batch: int = housekeeping.BATCH,
    max_rows: int = housekeeping.MAX_ROWS,
) -> int:
    """Delete the notifications read more than NOTIFICATIONS_KEEP_DAYS ago, in pk ranges of
    `batch`, at most `max_rows`; return how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=NOTIFICATIONS_KEEP_DAYS)
    return housekeeping.delete_in_batches(
        Notification.objects.filter(read_at__lt=cutoff), batch=batch, max_rows=max_rows
    )
