"""Flows: the messages a segment's debtors get on days around their installments' due dates.

Beat calls `run_flows` every morning (RUN_AT): each step of each active flow picks the
unpaid installments due `day_offset` days from today (−3: due in three days; +5: five days
late) of the segment's loans, and sends its template once to each of those debtors, about
their earliest such loan. A step's run on a day is one FlowRun (unique per step and day), so
a second call the same day sends nothing more.

A worker can die mid-run (OOM, SIGKILL, a deploy): its run stays "running" and the steps
after it get no run. Every 15 minutes beat calls `resume_runs`, which takes up today's runs
without progress for STALE_RUN, runs the steps of flows active since before RUN_AT that have
no run today, and closes as failed, saying why, the stale runs it may not take up (a past
day's, a switched-off flow's, one that died MAX_ATTEMPTS times). A run taken up goes on after
its cursor (`last_customer_id`, moved by each chunk's own transaction), so nobody is selected,
counted or skipped twice; a chunk commits only for the run's current attempt, so a worker
thought dead that wakes up rolls its chunk back instead of sending it a second time.

The selection is read through one server-side cursor in customer order and sent in chunks
of CHUNK customers: a chunk is rendered in one batch (templating.render_for), queued with
one call to crm.messages.send_customer_messages (a few bulk statements and one Celery task)
and counted on its run, in one transaction. Memory, queries and broker traffic grow with
the chunk, never with the segment.

A flow's messages may wait in the outbox (a day without messages, a retry): a flow switched
off or deleted meanwhile no longer sends them (`still_wanted`, asked by crm.messages at
delivery).

Also the reads and writes behind the flow screens (flow_views): the list and its last run
figures, a flow's runs, saving a flow with its steps, activating and deleting it.
"""

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from collections_app.models import (
    Flow,
    FlowReminder,
    FlowRun,
    FlowStep,
    MessageTemplate,
    Portfolio,
)
from collections_app.receivables import LOAN
from collections_app.strategies import segments, templating
from collections_app.strategies.variables import DATE_FORMAT, Recipient
from credits.models import Installment, Loan
from crm import deletions, messages
from crm.models import Customer, MessagePolicy
from lib import audit, bulk, queue, repeats, search

logger = logging.getLogger(__name__)

# What Message.origin says of a flow step's messages (origin_id: the step), for the
# effectiveness figures.
ORIGIN = "collections.flow_step"
# Customers per chunk: one render batch, one bulk send (one Celery task), one commit.
# crm.messages takes at most 1000 a call.
CHUNK = 1000
# A run still "running" with no chunk committed for this long belongs to a worker that
# died: a chunk of 1,000 renders, queues and commits in seconds (the bench sends 100,000
# messages in well under a minute). Taking up a live one by mistake costs nothing twice:
# its next chunk finds the attempt changed and rolls back.
STALE_RUN = timedelta(minutes=5)
# The attempts after which the sweep stops taking a run up and closes it as failed: a chunk
# that kills its worker every time must not kill one every 15 minutes all day.
MAX_ATTEMPTS = 3
# The local time beat's "collections-run-flows" starts the day's runs (config/settings.py).
RUN_AT = time(9, 0)
# The Celery task "Ejecutar hoy" sends (collections_app.strategies.tasks).
RUN_FLOW_TASK = "collections_app.run_flow"
# What rendering and sending read of a customer (names and document for the variables, the
# addresses and consent for crm.messages). Whole rows cost the bench's 100,000 customers
# about 3 s more: a second phone parsed and the search text loaded for nothing. A field
# read that is not here costs a query per customer: the chunk-queries test would fail.
CUSTOMER_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "document_type",
    "document_number",
    "phone",
    "email",
    "has_opted_out",
)
# What the step's timeline entries say they came from.
FLOW_PAYLOAD = "flujo"
STEP_PAYLOAD = "paso"


# --- The runner -----------------------------------------------------------------------------


def run_flows(today: date | None = None) -> list[FlowRun]:
    """Run every step of every active flow for `today` (the local day by default).

    The reminders' claims of days before yesterday go first: only today's are read (and
    yesterday's while a late run finishes), and the table would grow by a row a message.
    """
    today = today or timezone.localdate()
    FlowReminder.objects.filter(sent_on__lt=today - timedelta(days=1)).delete()
    if is_quiet_day(today):
        logger.info("Flows not run on %s: a day without messages", today)
        return []
    steps = (
        FlowStep.objects.filter(flow__is_active=True)
        .select_related("flow__segment", "template")
        .order_by("flow__name", "flow_id", "day_offset", "pk")
    )
    return [run_step(step, today) for step in steps]


def run_flow(flow: Flow, today: date | None = None) -> list[FlowRun]:
    """Run the steps of one active flow for `today` (what "Ejecutar hoy" asks for), and
    then mark its request for today answered (`request_run`)."""
    today = today or timezone.localdate()
    runs = []
    if flow.is_active and not is_quiet_day(today):
        steps = flow.steps.select_related("flow__segment", "template").order_by("day_offset", "pk")
        runs = [run_step(step, today) for step in steps]
    _answered([flow.pk], today)
    return runs


def _answered(flow_ids: Iterable[int], today: date) -> None:
    """Clear the "Ejecutar hoy" requests for `today` of these flows: each step went through
    `run_step` since (a worker that dies first leaves the request for the sweep)."""
    Flow.objects.filter(pk__in=list(flow_ids), run_requested_on=today).update(run_requested_on=None)


def run_step(step: FlowStep, today: date, *, chunk_size: int = CHUNK) -> FlowRun:
    """Send a step's template to the debtors whose installment is due on its day; once a day.

    Return the day's run: a new one, one taken up again (failed, or left running by a dead
    worker), or, when that day's run is done or still going, that run untouched.
    Call it outside a transaction: each chunk commits on its own.
    """
    run, created = FlowRun.objects.get_or_create(
        step=step, run_on=today, defaults={"heartbeat_at": timezone.now()}
    )
    if not created and not _take_up(run):
        return run
    try:
        _refuse_unsendable([step])
    except ValidationError as exc:
        # A flow switched on before its template was switched off could not be saved so
        # today: the run sends nothing and says why (run again once the step is mended).
        return _finish(run, FlowRun.Status.FAILED, " ".join(exc.messages))
    try:
        # Customers are taken in id order and each chunk moves the cursor in the transaction
        # that sends it, so everyone up to it had their turn (a fresh run starts at 0).
        for chunk in _chunks(selection(step, today, after=run.last_customer_id), chunk_size):
            _send_chunk(run, step, chunk, today)
    except RunTakenOver:
        logger.warning("Flow run %s was taken up by another worker; this one stops", run.pk)
        run.refresh_from_db()
        return run
    except Exception as exc:
        logger.exception("Flow step %s failed on %s", step.pk, today)
        return _finish(run, FlowRun.Status.FAILED, f"{type(exc).__name__}: {exc}")
    return _finish(run, FlowRun.Status.DONE, "")


class RunTakenOver(Exception):
    """The run was taken up by another worker, or closed, since this one claimed it."""


def _finish(run: FlowRun, status: str, error: str) -> FlowRun:
    """Close a run this worker still holds with its status and what went wrong, if anything;
    return it as stored."""
    FlowRun.objects.filter(pk=run.pk, status=FlowRun.Status.RUNNING, attempt=run.attempt).update(
        status=status, error=error[:2000], finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def stale(now: datetime) -> Q:
    """Match the runs with no progress for STALE_RUN (status apart): no chunk committed
    since, nor a start or take-up (rows from before the heartbeat have only a start)."""
    cutoff = now - STALE_RUN
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


def _take_up(run: FlowRun) -> bool:
    """Claim a failed run, or one a dead worker left running; return whether this call won
    (`run` then holds the claimed row: its new attempt and its cursor)."""
    now = timezone.now()
    if run.status == FlowRun.Status.FAILED:
        claimed = FlowRun.objects.filter(pk=run.pk, status=FlowRun.Status.FAILED)
    elif run.status == FlowRun.Status.RUNNING:
        claimed = FlowRun.objects.filter(stale(now), pk=run.pk, status=FlowRun.Status.RUNNING)
    else:
        return False
    # A conditional update: of two workers taking it up at once, only one changes the row.
    won = claimed.update(
        status=FlowRun.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        error="",
        attempt=F("attempt") + 1,
    )
    if won:
        run.refresh_from_db()
    return bool(won)


# --- The sweep: what dead workers left behind -----------------------------------------------

PAST_DAY_ERROR = gettext_lazy(
    "La ejecución se interrumpió (el proceso en segundo plano se detuvo) y su día ya pasó: "
    "no se reanudará. Los clientes que faltaban no recibieron este paso ese día."
)
INACTIVE_ERROR = gettext_lazy(
    "La ejecución se interrumpió (el proceso en segundo plano se detuvo) y el flujo ya está "
    "desactivado: no se reanudará."
)
ATTEMPTS_ERROR = gettext_lazy(
    "La ejecución se intentó %(n)s veces sin terminar y no se reanuda sola. Use «Ejecutar "
    "hoy» para seguir desde el último cliente procesado."
)
QUIET_DAY_ERROR = gettext_lazy(
    "La ejecución se interrumpió y hoy es un día sin mensajes (política de mensajes): no se "
    "reanudará."
)
QUIET_DAY_REFUSAL = gettext_lazy(
    "Hoy es un día sin mensajes (política de mensajes, en Eventos): los flujos no se ejecutan."
)


def resume_runs(now: datetime | None = None) -> list[FlowRun]:
    """Take up what dead workers left of today's runs (beat, every 15 minutes).

    Close as failed, saying why, the stale runs that may not go on (a past day's, a
    switched-off flow's, one tried MAX_ATTEMPTS times); take up today's other stale runs;
    once RUN_AT has passed, run the steps of flows active and unchanged since before it
    that have no run today (a flow switched on or edited later waits for tomorrow or
    "Ejecutar hoy", as its screen says). It also does, at any hour, what an "Ejecutar hoy"
    asked for today and not yet done (its task lost by the broker, or its worker dead:
    `request_run`): the flow's steps with no run today, or with a failed one tried fewer
    than MAX_ATTEMPTS times. Two sweeps at once do nothing twice: each run is claimed by a
    conditional update, and a day's run is unique per step.
    Return the runs it went through (as `run_step` returns them).
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    stalled = FlowRun.objects.filter(stale(now), status=FlowRun.Status.RUNNING)
    closed = {"status": FlowRun.Status.FAILED, "finished_at": now}
    stalled.filter(run_on__lt=today).update(error=str(PAST_DAY_ERROR), **closed)
    stalled.filter(attempt__gte=MAX_ATTEMPTS).update(
        error=str(ATTEMPTS_ERROR) % {"n": MAX_ATTEMPTS}, **closed
    )
    stalled.filter(step__flow__is_active=False).update(error=str(INACTIVE_ERROR), **closed)
    if is_quiet_day(today):
        # Nothing is run on a day without messages (`is_quiet_day`); a stale run of today
        # waits for no one: closed, saying so.
        stalled.filter(run_on=today).update(error=str(QUIET_DAY_ERROR), **closed)
        Flow.objects.filter(run_requested_on=today).update(run_requested_on=None)
        return []
    due = Q(pk__in=stalled.filter(run_on=today).values("step_id"))
    run_start = timezone.make_aware(datetime.combine(today, RUN_AT))
    ran_today = FlowRun.objects.filter(step=OuterRef("pk"), run_on=today)
    if now >= run_start:
        due |= Q(~Exists(ran_today), flow__updated_at__lt=run_start)
    # "Ejecutar hoy" asked for and not answered: run_step as its task would, but a failed
    # run only below MAX_ATTEMPTS (one that kills its worker is not taken up for ever).
    retry = ran_today.filter(status=FlowRun.Status.FAILED, attempt__lt=MAX_ATTEMPTS)
    due |= Q(~Exists(ran_today) | Exists(retry), flow__run_requested_on=today)
    requested = list(Flow.objects.filter(run_requested_on=today).values_list("pk", flat=True))
    steps = list(
        FlowStep.objects.filter(due, flow__is_active=True)
        .select_related("flow__segment", "template")
        .order_by("flow__name", "flow_id", "day_offset", "pk")
    )
    runs = [run_step(step, today) for step in steps]
    _answered(requested, today)
    return runs


def is_quiet_day(today: date) -> bool:
    """Whether `today` is a day without messages (the message policy's weekdays and
    holidays): flows do not run on it. Its steps are not sent later: the debtors they
    would have reached get the next steps on their days (a held «hoy vence» sent the next
    morning, to someone who may have paid since, told them something no longer true)."""
    return MessagePolicy.current().is_quiet_day(today)


def due_on(step: FlowStep, today: date) -> date:
    """Return the due date a step looks for today: −3 → in three days, +5 → five days ago."""
    return today - timedelta(days=step.day_offset)


def selection(step: FlowStep, today: date, *, after: int = 0) -> QuerySet:
    """Return (customer id, loan id) of the open installments a step messages today, in
    customer order: unpaid, regular, live, due on the step's day, of the segment's loans."""
    return (
        Installment.objects.filter(
            due_date=due_on(step, today),
            paid_on__isnull=True,
            is_superseded=False,
            kind=Installment.Kind.REGULAR,
            loan__in=segments.loans(step.flow.segment, today).values("pk"),
            loan__customer_id__gt=after,
        )
        .order_by("loan__customer_id", "loan_id")
        .values_list("loan__customer_id", "loan_id")
    )


def _chunks(rows: QuerySet, size: int) -> Iterator[list[tuple[int, int]]]:
    """Yield (customer id, loan id) in lists of `size` customers, each customer once with
    their earliest loan, read through a server-side cursor."""
    chunk: list[tuple[int, int]] = []
    previous = None
    for customer_id, loan_id in rows.iterator(chunk_size=size):
        if customer_id == previous:
            continue  # a later loan, or a second installment due that day: one message
        previous = customer_id
        chunk.append((customer_id, loan_id))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def flow_recipient(customer: Customer, loan_id: int, due: date) -> Recipient:
    """Return whom a step's message is for and about what: the customer's loan whose
    installment falls due on `due`, so {fecha_vencimiento} and {cuota} speak of that one
    (what the template preview shows too, `preview_recipient`)."""
    return Recipient(customer=customer, receivable_kind=LOAN, receivable_id=loan_id, due_date=due)


def preview_recipient(customer: Customer, today: date) -> Recipient:
    """Return the recipient a flow would message `customer` as, for a template's preview:
    about the open installment of their live loans due nearest today (the latest overdue
    one, else the next to fall due), the earliest loan first, as a step picks it. Without
    any, the customer's live loans taken together (what the message would say of nothing).
    """
    open_rows = Installment.objects.filter(
        loan__customer=customer,
        loan__status=Loan.Status.ACTIVE,
        paid_on__isnull=True,
        is_superseded=False,
        kind=Installment.Kind.REGULAR,
    )
    found = (
        open_rows.filter(due_date__lte=today).order_by("-due_date", "loan_id").first()
        or open_rows.filter(due_date__gt=today).order_by("due_date", "loan_id").first()
    )
    if found is None:
        return Recipient(customer=customer)
    return flow_recipient(customer, found.loan_id, found.due_date)


def preview_note(recipient: Recipient) -> str:
    """Say which installment the preview speaks of when the customer has several live
    loans ("" otherwise): a flow sends one message per loan's installment."""
    if not recipient.receivable_id:
        return ""
    live = Loan.objects.filter(customer=recipient.customer, status=Loan.Status.ACTIVE)
    count = live.count()
    if count < 2:
        return ""
    code = live.filter(pk=recipient.receivable_id).values_list("payment_code", flat=True).first()
    return _(
        "El cliente tiene %(count)s créditos vigentes y un flujo le envía un mensaje por "
        "cuota: esta vista usa la cuota del crédito %(code)s que vence el %(due)s."
    ) % {
        "count": count,
        "code": code or "",
        "due": recipient.due_date.strftime(DATE_FORMAT) if recipient.due_date else "",
    }


def _send_chunk(
    run: FlowRun, step: FlowStep, chunk: Sequence[tuple[int, int]], today: date
) -> None:
    """Render, queue and count one chunk's messages, in one transaction; skip the customers
    another step already reminded today of the same installment (FlowReminder)."""
    template = step.template
    customers = {
        customer.pk: customer
        for customer in messages.with_stored_phones(Customer.objects.only(*CUSTOMER_FIELDS)).filter(
            pk__in=bulk.ids_in([customer_id for customer_id, _loan in chunk])
        )
    }
    due = due_on(step, today)
    recipients = [
        flow_recipient(customers[customer_id], loan_id, due)
        for customer_id, loan_id in chunk
        if customer_id in customers
    ]
    payload = {FLOW_PAYLOAD: step.flow.name, STEP_PAYLOAD: offset_label(step.day_offset)}
    outgoing = [
        (
            recipient,
            messages.Outgoing(
                customer=recipient.customer,
                # SMS and WhatsApp have no subject: the timeline names the template instead.
                subject=rendered.subject or template.name,
                body=rendered.body,
                whatsapp_template=rendered.whatsapp,
                payload=payload,
            ),
        )
        for recipient, rendered in zip(
            recipients, templating.render_for(template, recipients, today), strict=True
        )
    ]
    with transaction.atomic():
        # First the run's row, locked till the commit: only the attempt that holds it sends
        # (a worker thought dead and taken over finds another attempt and stops).
        held = FlowRun.objects.filter(
            pk=run.pk, status=FlowRun.Status.RUNNING, attempt=run.attempt
        ).update(last_customer_id=chunk[-1][0], heartbeat_at=timezone.now())
        if not held:
            raise RunTakenOver
        repeated = _claim_reminders(run, [recipient for recipient, _out in outgoing], due, today)
        sending = [(r, out) for r, out in outgoing if r.customer.pk not in repeated]
        sendings = messages.send_customer_messages(
            [out for _r, out in sending],
            channel=template.channel,
            origin=(ORIGIN, step.pk),
            capped=True,
            # What it says (due today, N days late, the amount overdue) is true today only.
            valid_through=today,
        )
        # A customer this step did not reach (opted out, no address, capped) may still get
        # another flow's message (another channel): the claim goes.
        unsent = [
            r.customer.pk for (r, _out), s in zip(sending, sendings, strict=True) if not s.is_queued
        ]
        if unsent:
            FlowReminder.objects.filter(
                run=run.pk, sent_on=today, customer_id__in=bulk.ids_in(unsent)
            ).delete()
        counts = count_sendings(sendings)
        changes = {name: F(name) + value for name, value in counts.items()}
        if repeated:
            changes["skipped_repeated"] = F("skipped_repeated") + len(repeated)
            changes["repeated_by"] = _with_names(run, repeated.values())
        FlowRun.objects.filter(pk=run.pk).update(selected=F("selected") + len(chunk), **changes)


def _claim_reminders(
    run: FlowRun, recipients: Sequence[Recipient], due: date, today: date
) -> dict[int, str]:
    """Claim today's reminder of each recipient's installment for `run`; return the
    customers another run claimed first (customer id → that run's flow name).

    Set-based (two statements for the chunk): the rows go in ignoring conflicts, then the
    chunk's rows not this run's are the ones someone else holds. A run at the same time
    waits on the unique constraint until the other commits, and then finds its row.
    """
    if not recipients:
        return {}
    bulk.add_rows_ignoring(
        FlowReminder,
        {"run_id": run.pk, "due_date": due, "sent_on": today},
        {
            "customer_id": [r.customer.pk for r in recipients],
            "loan_id": [r.receivable_id for r in recipients],
        },
    )
    wanted = {(r.customer.pk, r.receivable_id) for r in recipients}
    held = (
        FlowReminder.objects.filter(
            sent_on=today,
            due_date=due,
            customer_id__in=bulk.ids_in(sorted({customer for customer, _loan in wanted})),
        )
        .exclude(run=run.pk)
        .values_list("customer_id", "loan_id", "run__step__flow__name")
    )
    return {customer: name for customer, loan, name in held if (customer, loan) in wanted}


def _with_names(run: FlowRun, names: Iterable[str]) -> str:
    """Return the run's `repeated_by` with these flows' names added: "«A», «B»"."""
    stored = FlowRun.objects.filter(pk=run.pk).values_list("repeated_by", flat=True).first() or ""
    known = [name[1:-1] for name in stored.split(", ") if name] if stored else []
    merged = sorted(set(known) | set(names))
    text = ", ".join(f"«{name}»" for name in merged)
    return text[:500]


def count_sendings(sendings: Iterable[messages.Sending]) -> dict[str, int]:
    """Return what a chunk's sendings add to its run's counters."""
    counts = dict.fromkeys(
        ("queued", "held", "skipped_opted_out", "skipped_no_address", "skipped_capped"), 0
    )
    field = {
        messages.SendStatus.QUEUED: "queued",
        messages.SendStatus.OPTED_OUT: "skipped_opted_out",
        messages.SendStatus.NO_ADDRESS: "skipped_no_address",
        # Merged into another record during the run: it has no address of its own now.
        messages.SendStatus.MERGED: "skipped_no_address",
        messages.SendStatus.CAPPED: "skipped_capped",
    }
    for sending in sendings:
        counts[field[sending.status]] += 1
        if sending.is_queued and sending.held_until is not None:
            counts["held"] += 1
    return counts


def offset_label(day_offset: int) -> str:
    """Write a step's day as the screens do: "−3", "0", "+5" (a true minus sign)."""
    if day_offset < 0:
        return f"\u2212{-day_offset}"
    return f"+{day_offset}" if day_offset else "0"


# --- Messages waiting in the outbox ---------------------------------------------------------


def still_wanted(step_id: int) -> str:
    """Say why a message the step queued must not go out now ("" when it may): its flow was
    switched off or deleted while it waited (the crm.messages delivery check of ORIGIN).

    One lookup by pk: `set_active` switches a flow with an update, which no process's copy
    of the table (lib.small_tables) would hear of.
    """
    flow = FlowStep.objects.filter(pk=step_id).values_list("flow__is_active", "flow__name").first()
    if flow is None:
        return _(
            "El flujo que envió este mensaje se eliminó después de ponerlo en cola: no se envió."
        )
    is_active, name = flow
    if is_active:
        return ""
    return _(
        "El flujo «%(name)s» se desactivó después de poner el mensaje en cola: no se envió."
    ) % {"name": name}


# --- Reads of the flow screens --------------------------------------------------------------

VIEW_FLOW = "collections_app.view_flow"


def flow_for(user: AbstractBaseUser, pk: int) -> Flow:
    """Return the flow `pk` if `user` may see flows, else 404."""
    if not user.is_authenticated or not user.has_perm(VIEW_FLOW):
        raise Http404
    return get_object_or_404(
        Flow.objects.select_related("segment", "created_by").prefetch_related(_steps()), pk=pk
    )


def just_created(user: AbstractBaseUser, name: str) -> Flow | None:
    """Return the flow named `name` that `user` created a moment ago, if any: the form sent
    twice (a double click, the back button and send) finds its name taken by it."""
    name = repeats.sent_name(name)
    if name is None:
        return None
    return repeats.made_within(
        Flow.objects.filter(name=name, created_by=user), segments.CREATE_REPEAT_WINDOW
    )


def _steps() -> Prefetch:
    return Prefetch(
        "steps", queryset=FlowStep.objects.select_related("template").order_by("day_offset", "pk")
    )


def flow_list(*, q: str = "", status: str = "") -> QuerySet[Flow]:
    """Return the flows by name, with their segment and steps (two queries for any page)."""
    flows = Flow.objects.select_related("segment").prefetch_related(_steps())
    if status == "active":
        flows = flows.filter(is_active=True)
    elif status == "inactive":
        flows = flows.filter(is_active=False)
    flows = search.in_small_table(flows, q, "name", "description", "segment__name")
    return flows.order_by("name", "pk")


@dataclass(frozen=True)
class RunFigures:
    """A flow's runs on one day, its steps taken together."""

    run_on: date
    selected: int
    queued: int
    held: int
    skipped: int
    has_failed: bool
    is_running: bool


def last_runs(flow_ids: Iterable[int]) -> dict[int, RunFigures]:
    """Return each flow's figures on the last day it ran (one query for any page)."""
    latest = (
        FlowRun.objects.filter(step__flow_id=OuterRef("step__flow_id"))
        .order_by("-run_on")
        .values("run_on")[:1]
    )
    rows = (
        FlowRun.objects.filter(step__flow_id__in=list(flow_ids), run_on=Subquery(latest))
        .values("step__flow_id", "run_on")
        .annotate(
            total_selected=Sum("selected"),
            total_queued=Sum("queued"),
            total_held=Sum("held"),
            total_skipped=Sum(
                F("skipped_opted_out")
                + F("skipped_no_address")
                + F("skipped_capped")
                + F("skipped_repeated")
            ),
            # 1 when some step failed (or is still running) that day: Max over a 0/1 flag.
            failed=Max(_flag(FlowRun.Status.FAILED)),
            running=Max(_flag(FlowRun.Status.RUNNING)),
        )
        .order_by()
    )
    return {
        row["step__flow_id"]: RunFigures(
            run_on=row["run_on"],
            selected=row["total_selected"] or 0,
            queued=row["total_queued"] or 0,
            held=row["total_held"] or 0,
            skipped=row["total_skipped"] or 0,
            has_failed=bool(row["failed"]),
            is_running=bool(row["running"]),
        )
        for row in rows
    }


def _flag(status: str) -> Case:
    return Case(When(status=status, then=Value(1)), default=Value(0), output_field=IntegerField())


# What `flow_runs` says of a run left "running" by a dead worker (`stall`).
STALL_RESUMES = "resumes"
STALL_CLOSES = "closes"


def flow_runs(flow: Flow, *, now: datetime | None = None) -> QuerySet[FlowRun]:
    """Return a flow's runs, the latest day first, each with its step and template, and
    `stall`: "" for a run making progress or over, else what the sweep will do with it."""
    now = now or timezone.now()
    stalled = Q(stale(now), status=FlowRun.Status.RUNNING)
    resumes = Q(
        run_on=timezone.localdate(now), attempt__lt=MAX_ATTEMPTS, step__flow__is_active=True
    )
    return (
        FlowRun.objects.filter(step__flow=flow)
        .select_related("step__template")
        .annotate(
            stall=Case(
                When(stalled & resumes, then=Value(STALL_RESUMES)),
                When(stalled, then=Value(STALL_CLOSES)),
                default=Value(""),
                output_field=CharField(),
            )
        )
        .order_by("-run_on", "step__day_offset", "-pk")
    )


def step_templates(current: Iterable[int] = ()) -> QuerySet[MessageTemplate]:
    """Return the templates a step may use: the current portfolio's active ones (flows never
    reach written-off debtors), and those its steps use already."""
    return MessageTemplate.objects.filter(
        Q(portfolio=Portfolio.CURRENT, is_active=True) | Q(pk__in=list(current))
    ).order_by("name", "pk")


# --- Writes of the flow screens -------------------------------------------------------------


# A day no real step has (the calendar is −15…+180), where kept steps wait while saved.
FLOW_PARKED = -1_000_000


@dataclass(frozen=True)
class StepData:
    """A step as the editor sends it: `step` is the existing row, None for a new one."""

    step: FlowStep | None
    day_offset: int
    template: MessageTemplate


@transaction.atomic
def save_flow(
    *,
    flow: Flow | None,
    name: str,
    description: str,
    segment,
    steps: Sequence[StepData],
    removed: Sequence[FlowStep],
    actor: AbstractBaseUser | None,
) -> Flow:
    """Create or change a flow and its steps together.

    A step that already ran keeps its row (its runs and figures stay with it) and cannot be
    removed, and one whose runs picked debtors keeps its day and template; an active flow
    keeps at least one step.
    """
    if not steps:
        raise ValidationError(_("Agregue al menos un paso al flujo."))
    days = [(data.day_offset, data.template.pk) for data in steps]
    if len(set(days)) != len(days):
        raise ValidationError(_("Hay dos pasos iguales (mismo día y misma plantilla)."))
    _refuse_event_variables(steps)
    _refuse_moving_steps_that_ran(steps)
    ran = set(
        FlowRun.objects.filter(step__in=[step.pk for step in removed]).values_list(
            "step_id", flat=True
        )
    )
    if ran:
        labels = ", ".join(offset_label(step.day_offset) for step in removed if step.pk in ran)
        raise ValidationError(
            _(
                "No se puede quitar el paso del día %(days)s: ya se ejecutó y su historial se "
                "perdería. Desactive el flujo y cree otro si necesita cambiarlo."
            )
            % {"days": labels}
        )
    if flow is not None and flow.is_active:
        _refuse_unsendable(steps)
    # From the database: the editor's form may have changed the instance already.
    stored = Flow.objects.filter(pk=flow.pk).select_related("segment").first() if flow else None
    before = audit_snapshot(stored)
    if flow is None:
        flow = Flow(created_by=actor if actor and actor.is_authenticated else None)
    flow.name = name
    flow.description = description
    flow.segment = segment
    try:
        with transaction.atomic():
            flow.save()
    except IntegrityError as exc:
        # The same form sent twice at once: both passed the form's check of the name (this
        # function checks none), the other saved first. Refused as the form refuses it.
        raise ValidationError({"name": _("Ya existe un flujo con este nombre.")}) from exc
    FlowStep.objects.filter(pk__in=[step.pk for step in removed], flow=flow).delete()
    # Kept steps first moved out of the way: swapping two steps' days must not trip the
    # unique (flow, day, template) constraint halfway.
    kept = [data for data in steps if data.step is not None]
    for data in kept:
        data.step.day_offset = FLOW_PARKED - data.step.pk
        data.step.save(update_fields=["day_offset"])
    for data in kept:
        data.step.day_offset = data.day_offset
        data.step.template = data.template
        data.step.save(update_fields=["day_offset", "template"])
    FlowStep.objects.bulk_create(
        FlowStep(flow=flow, day_offset=data.day_offset, template=data.template)
        for data in steps
        if data.step is None
    )
    if stored is None:
        audit.log_addition(actor=actor, obj=flow, after=audit_snapshot(flow))
    else:
        audit.log_change(actor=actor, obj=flow, before=before, after=audit_snapshot(flow))
    logger.info("Flow %s saved by %s", flow.pk, getattr(actor, "pk", None))
    return flow


# What the settings history says of a flow, with its steps as one line.
FLOW_FIELDS = ("name", "description", "segment", "is_active")
STEPS_LABEL = gettext_lazy("pasos")


def audit_snapshot(flow: Flow | None) -> audit.Snapshot:
    """The flow as the settings history shows it: its steps as «día: plantilla» in order."""
    if flow is None:
        return {}
    steps = flow.steps.select_related("template").order_by("day_offset", "template__name")
    return audit.snapshot(
        flow,
        FLOW_FIELDS,
        values={
            str(STEPS_LABEL): [
                f"{offset_label(step.day_offset)}: {step.template.name}" for step in steps
            ]
        },
    )


def _refuse_moving_steps_that_ran(steps: Sequence[StepData]) -> None:
    """Refuse a new day or template for a step whose runs picked debtors: its messages and
    figures would then read as another step's (sent at −3, counted under «día −1»). A step
    whose runs found nobody may still move."""
    kept = [data.step.pk for data in steps if data.step is not None]
    ran = FlowRun.objects.filter(step__in=kept, selected__gt=0).values("step_id")
    # As stored: the editor's form has already set its new values on `data.step`.
    stored = {
        pk: (day, template_id)
        for pk, day, template_id in FlowStep.objects.filter(pk__in=ran).values_list(
            "pk", "day_offset", "template_id"
        )
    }
    moved = sorted(
        stored[data.step.pk][0]
        for data in steps
        if data.step is not None
        and data.step.pk in stored
        and (data.day_offset, data.template.pk) != stored[data.step.pk]
    )
    if moved:
        raise ValidationError(
            _(
                "El paso del día %(days)s ya se ejecutó: su día y su plantilla no cambian, para "
                "que su historial siga siendo suyo. Agregue un paso nuevo con el día o la "
                "plantilla que necesita."
            )
            % {"days": ", ".join(offset_label(day) for day in moved)}
        )


def _refuse_event_variables(steps: Iterable[FlowStep | StepData]) -> None:
    """Refuse steps whose template says event variables ({monto_pago}…): only an event's
    message fills them, a flow would send them blank."""
    problems = dict.fromkeys(
        problem
        for step in steps
        if (problem := templating.flow_event_variables_problem(step.template))
    )
    if problems:
        raise ValidationError(list(problems))


def _refuse_unsendable(steps: Iterable[FlowStep | StepData]) -> None:
    """Refuse steps an active flow may not send: a switched-off template (the screen keeps
    offering one a step has), one of the written-off portfolio, or one that says event
    variables (saved before they were refused)."""
    steps = list(steps)
    _refuse_event_variables(steps)
    unsendable = sorted(
        {
            step.template.name
            for step in steps
            if not step.template.is_active or step.template.portfolio != Portfolio.CURRENT
        }
    )
    if unsendable:
        raise ValidationError(
            ngettext(
                "Un flujo activo envía solo plantillas activas de cartera vigente, y la "
                "plantilla %(templates)s no lo es: actívela o elija otra en sus pasos.",
                "Un flujo activo envía solo plantillas activas de cartera vigente, y las "
                "plantillas %(templates)s no lo son: actívelas o elija otras en sus pasos.",
                len(unsendable),
            )
            % {"templates": ", ".join(f"«{name}»" for name in unsendable)}
        )


@transaction.atomic
def set_active(*, flow: Flow, is_active: bool, actor: AbstractBaseUser | None) -> Flow:
    """Turn a flow on (it runs from the next morning, or now from "Ejecutar hoy") or off."""
    if is_active and not flow.steps.exists():
        raise ValidationError(_("Agregue al menos un paso antes de activar el flujo."))
    if is_active:
        _refuse_unsendable(flow.steps.select_related("template"))
    was_active = Flow.objects.filter(pk=flow.pk).values_list("is_active", flat=True).first()
    Flow.objects.filter(pk=flow.pk).update(is_active=is_active, updated_at=timezone.now())
    flow.is_active = is_active
    label = str(Flow._meta.get_field("is_active").verbose_name)
    audit.log_change(
        actor=actor,
        obj=flow,
        before={label: audit.shown(was_active)},
        after={label: audit.shown(is_active)},
    )
    logger.info(
        "Flow %s %s by %s", flow.pk, "on" if is_active else "off", getattr(actor, "pk", None)
    )
    return flow


# Its code in the deletions audit (crm.deletions), registered in CollectionsAppConfig.ready.
DELETION_KIND = "flow"


def deletion_details(flow: Flow) -> list[tuple[str, str]]:
    """Return what a deleted flow was, as (label, text) pairs: its segment, whether it was
    on, its steps and how much run history went with it, for the deletions audit."""
    details = [(_("Descripción"), flow.description)] if flow.description else []
    details += [
        (_("Segmento"), flow.segment.name),
        (_("Estado"), _("Activo") if flow.is_active else _("Inactivo")),
    ]
    steps = flow.steps.select_related("template").order_by("day_offset", "pk")
    details += [
        (
            _("Paso, día %(day)s") % {"day": offset_label(step.day_offset)},
            f"{step.template.name} ({step.template.get_channel_display()})",
        )
        for step in steps
    ]
    runs = FlowRun.objects.filter(step__flow=flow).count()
    details.append(
        (
            _("Historial eliminado"),
            ngettext("%(n)s ejecución", "%(n)s ejecuciones", runs) % {"n": runs},
        )
    )
    return details


@transaction.atomic
def delete_flow(*, flow: Flow, actor: AbstractBaseUser | None) -> None:
    """Delete a flow with its steps and their run history, and record who did it in the
    deletions audit; the messages sent stay."""
    flow = Flow.objects.select_for_update().filter(pk=flow.pk).first()
    if flow is None:
        return  # deleted a moment ago by someone else, who has the record
    deletions.record_deletion(
        kind=DELETION_KIND,
        object_id=flow.pk,
        name=flow.name,
        details=deletion_details(flow),
        actor=actor,
    )
    audit.log_deletion(actor=actor, obj=flow, before=audit_snapshot(flow))
    flow.delete()


@transaction.atomic
def request_run(*, flow: Flow, today: date | None = None) -> None:
    """Queue today's run of an active flow in Celery, after the commit (nothing sent here).

    The request is kept on the flow (`run_requested_on`) until the run has gone through
    every step: if the broker loses the task (a Redis restart at the commit) or its worker
    dies, beat's sweep (`resume_runs`, every 15 minutes) runs it.
    """
    if not flow.is_active:
        raise ValidationError(_("Active el flujo antes de ejecutarlo."))
    today = today or timezone.localdate()
    if is_quiet_day(today):
        raise ValidationError(QUIET_DAY_REFUSAL)
    # An update, not save(): the flow's updated_at (what the sweep reads) stays as it was.
    Flow.objects.filter(pk=flow.pk).update(run_requested_on=today)
    flow.run_requested_on = today
    queue.enqueue(RUN_FLOW_TASK, flow_id=flow.pk)
