"""Life-cycle events (*ciclo de vida*): predefined contacts at set points of a loan's life.

An event of a loan product (thanks for the formalization, a service call, a renewal
offer) falls on a day counted from the loan's disbursement or back from its last
installment's due date. Beat runs `run_lifecycle_events` daily; a `LifecycleRun`, unique
per event and loan, records what was done, so a second sweep on the same day (or a sweep
that catches up after a missed day) never repeats an event for a loan.

Catching up is bounded, so that creating an event does not blast every old loan:

- *days after disbursement*: the event's day must fall within the last `CATCH_UP_DAYS`
  days (today included). A sweep that did not run for a week still catches up; a loan
  disbursed two years ago does not get a "thank you" when the event is created today.
- *days before the last due date*: the event's day must have come and the loan must not
  have matured yet (last due date today or later); after maturity a renewal offer is
  pointless, so the window closes by itself.

Only live loans (`Loan.Status.ACTIVE`) get events.
"""

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import Installment, Loan
from crm.gestiones import campaigns, services
from crm.gestiones.models import LifecycleEvent, LifecycleRun

logger = logging.getLogger(__name__)

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
            problem = campaigns.gestion_type_problem(event.gestion_type)
            if problem:
                logger.warning("Life-cycle event %s skipped: %s", event.pk, problem)
                counts["errors"] += 1
                continue
        counts["events"] += 1
        loan_ids = list(due_loans(event, today=today).values_list("pk", flat=True))
        for loan in Loan.objects.filter(pk__in=loan_ids).select_related("customer", "product"):
            try:
                run = run_event(event=event, loan=loan, now=now)
            except ValidationError as exc:
                logger.warning(
                    "Life-cycle event %s failed for loan %s: %s", event.pk, loan.pk, exc.messages
                )
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
    if event.gestion_type_id:
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
        run.is_message_sent = services.send_customer_email(
            customer=customer,
            subject=services.fill(event.message_subject or event.name, values),
            body=services.fill(event.message_body, values),
            payload={_("ciclo de vida"): event.name, _("crédito"): loan.payment_code},
            now=now,
        )
    run.save(update_fields=["gestion", "is_message_sent"])
    return run


def _start_of(day: datetime.date) -> datetime.datetime:
    """Return the first instant of `day` in the local time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
