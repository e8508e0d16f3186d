"""Reads of the call center: the queue, a lead's page, the catalog."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.shortcuts import get_object_or_404

from callcenter.models import CallRecord, CatalogProduct, Lead, LossReason, Order, QueueSettings
from crm.models import Channel
from integrations.models import OutboxMessage
from lib import search, small_tables

AGENT_GROUP = "Agente call center"
SOURCES_CACHE_KEY = "callcenter:queue-sources"
# The channel leads that become customers come from (crm.Channel.code).
CALL_CENTER_CHANNEL = "call-center"
SOURCES_CACHE_SECONDS = 60
CATALOG_RESULTS = 20
LEAD_CALLS = 20
LEAD_ORDERS = 20


def queue_settings() -> QueueSettings:
    """Return the one settings row, created from the KOMMO_* environment on first read."""
    row = QueueSettings.objects.filter(pk=1).first()
    if row is not None:
        return row
    row, _created = QueueSettings.objects.get_or_create(
        pk=1,
        defaults={
            "pipeline_id": settings.KOMMO_QUEUE_PIPELINE_ID or None,
            "queue_status_id": settings.KOMMO_QUEUE_STATUS_ID or None,
            "sold_status_id": settings.KOMMO_SOLD_STATUS_ID or None,
        },
    )
    return row


def queue_page_settings() -> QueueSettings:
    """Return the settings row as the queue page reads it (its hold timeout), from the
    process's copy (lib.small_tables): the page refreshes every few seconds for every
    agent. Services read `queue_settings()`, the row itself."""
    (rows,) = small_tables.rows(QueueSettings)
    return rows.get(1) or queue_settings()


def queue(user: AbstractBaseUser, *, cutoff: datetime | None = None) -> QuerySet[Lead]:
    """Return the leads to call, oldest first, with who holds each one (`is_held`).

    `cutoff` is the hold cutoff (`QueueSettings.hold_cutoff()`) when the caller has read
    the settings already: the queue page asks every few seconds, and reads them once.
    """
    _require_view(user)
    if cutoff is None:
        cutoff = queue_settings().hold_cutoff()
    return (
        Lead.objects.filter(in_queue=True)
        .select_related("taken_by")
        .annotate(
            is_held=ExpressionWrapper(
                Q(taken_by__isnull=False, taken_at__gt=cutoff), output_field=BooleanField()
            )
        )
        .only(
            "pk",
            "kommo_id",
            "name",
            "contact_name",
            "phone",
            "document_number",
            "source",
            "state",
            "attempts",
            "queued_at",
            "due_at",
            "callback_at",
            "taken_at",
            "taken_by__id",
            "taken_by__username",
            "taken_by__first_name",
            "taken_by__last_name",
        )
        .order_by("due_at", "id")
    )


def search_leads(queryset: QuerySet[Lead], text: str) -> QuerySet[Lead]:
    """Filter by name, phone, document or e-mail: every term must match somewhere."""
    return queryset.filter(search.matches_all(text))


def queue_sources() -> list[str]:
    """Return the lead sources present in the queue, for the filter (cached a minute).

    DISTINCT reads the whole queue (~80 ms at 100,000 leads); the queue page asks on
    every refresh, and a new source may well wait a minute to appear in the filter.
    """
    return cache.get_or_set(SOURCES_CACHE_KEY, _queue_sources, SOURCES_CACHE_SECONDS)


def _queue_sources() -> list[str]:
    return list(
        Lead.objects.filter(in_queue=True)
        .exclude(source="")
        .values_list("source", flat=True)
        .distinct()
        .order_by("source")
    )


def agents() -> QuerySet:
    """Return the active call-center agents, for the filter."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=AGENT_GROUP)
        .order_by("first_name", "last_name", "username")
    )


def lead_held_by(user: AbstractBaseUser, *, cutoff: datetime | None = None) -> Lead | None:
    """Return the lead the user is working now (a hold not yet expired), if any.

    Only what a link to it shows (`display_name`, its URL); `cutoff` as for `queue`.
    """
    if cutoff is None:
        cutoff = queue_settings().hold_cutoff()
    return (
        Lead.objects.filter(taken_by=user, in_queue=True, taken_at__gt=cutoff)
        .only("pk", "kommo_id", "name", "contact_name")
        .order_by("-taken_at")
        .first()
    )


def out_of_queue(user: AbstractBaseUser, *, text: str = "", state: str = "") -> QuerySet[Lead]:
    """Return the leads that left the queue, the last changed first, for a supervisor who
    may put one back (callcenter.services.requeue)."""
    if not user.has_perm("callcenter.requeue_lead"):
        raise PermissionDenied
    leads = (
        Lead.objects.filter(in_queue=False)
        .only(
            "pk",
            "kommo_id",
            "name",
            "contact_name",
            "phone",
            "document_number",
            "state",
            "attempts",
            "updated_at",
        )
        .order_by("-updated_at", "-pk")
    )
    if state:
        leads = leads.filter(state=state)
    if text:
        leads = search_leads(leads, text)
    return leads


def lead_for(user: AbstractBaseUser, pk: int) -> Lead:
    """Return a lead the user may open (any lead, for whoever may see the queue)."""
    _require_view(user)
    return get_object_or_404(
        Lead.objects.select_related("customer", "suggested_customer", "taken_by"), pk=pk
    )


def lead_calls(lead: Lead, *, limit: int = LEAD_CALLS) -> list[CallRecord]:
    """Return the call center's history with this person, newest first: the lead's calls,
    and those of the customer's other leads once the customer is confirmed.

    Only the call center's own calls and orders: an agent sees what the call needs, not
    the customer's timeline (loans, payments, collections).
    """
    who = Q(lead_id=lead.pk)
    if lead.customer_id is not None:
        # The customer's leads as a subquery, not a join: joined, PostgreSQL guessed a
        # handful of calls and scanned the users once per call (~4 ms for 300 calls).
        who |= Q(lead__in=Lead.objects.filter(customer_id=lead.customer_id).values("pk"))
    # The page writes each order's number and total, not its lines: no prefetch of them;
    # and of each call only what the history writes.
    return list(
        CallRecord.objects.filter(who)
        .select_related("agent", "loss_reason", "order")
        .only(*CALL_HISTORY_FIELDS)
        .order_by("-created_at", "-id")[:limit]
    )


# What the lead page's history writes of a call (templates/callcenter/lead_detail.html).
CALL_HISTORY_FIELDS = (
    "outcome",
    "callback_at",
    "notes",
    "created_at",
    "agent__username",
    "agent__first_name",
    "agent__last_name",
    "loss_reason__name",
    "order__currency",
    "order__total",
    "order__status",
)


def kommo_update(call: CallRecord) -> OutboxMessage | None:
    """Return the Kommo update a call sent to the outbox, if its outcome has a stage."""
    return OutboxMessage.objects.filter(dedupe_key=call.kommo_dedupe_key).first()


@dataclass(frozen=True)
class KommoFailure:
    """A lead's last Kommo update, failed for good: Kommo still shows the lead as it was."""

    call: CallRecord
    message_id: int
    failed_at: datetime
    attempts: int
    error: str


def failed_kommo_update(lead: Lead) -> KommoFailure | None:
    """Return the lead's last Kommo update if it failed for good, with the call that sent it.

    Only the last one: an earlier failure followed by an update queued or sent is out of
    date (Kommo is, or will be, where the later call put the lead). A failed message that
    is retried and sent stops showing.
    """
    calls = {
        call.kommo_dedupe_key: call
        for call in CallRecord.objects.filter(lead_id=lead.pk).only("pk", "outcome", "created_at")
    }
    if not calls:
        return None
    last = (
        OutboxMessage.objects.filter(dedupe_key__in=list(calls))
        .only(
            "pk", "dedupe_key", "status", "attempts", "last_attempt_at", "created_at", "last_error"
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None or last.status != OutboxMessage.Status.FAILED:
        return None
    return KommoFailure(
        call=calls[last.dedupe_key],
        message_id=last.pk,
        failed_at=last.last_attempt_at or last.created_at,
        attempts=last.attempts,
        error=last.last_error,
    )


def lead_orders(lead: Lead, *, limit: int = LEAD_ORDERS) -> list[Order]:
    """Return the lead's orders, newest first, with their lines and who annulled each."""
    return list(
        Order.objects.filter(lead=lead)
        .select_related("annulled_by")
        .prefetch_related("lines")
        .order_by("-created_at", "-id")[:limit]
    )


def order_for(user: AbstractBaseUser, pk: int) -> Order:
    """Return an order the user may open: whoever may see the call center's orders.

    Whether they may annul it is `callcenter.services.orders.may_annul`.
    """
    if not user.has_perm("callcenter.view_order"):
        raise PermissionDenied
    return get_object_or_404(
        Order.objects.select_related("lead", "customer", "agent", "annulled_by"), pk=pk
    )


def catalog_search(text: str, *, limit: int = CATALOG_RESULTS) -> list[CatalogProduct]:
    """Return active products matching every term by name or SKU, in stock first."""
    queryset = CatalogProduct.objects.filter(search.matches_all(text), is_active=True)
    return list(queryset.order_by("-stock", "name", "id")[:limit])


def catalog_products(ids) -> dict[int, CatalogProduct]:
    return {p.pk: p for p in CatalogProduct.objects.filter(pk__in=list(ids))}


def loss_reasons() -> QuerySet[LossReason]:
    return LossReason.objects.filter(is_active=True)


def _require_view(user: AbstractBaseUser) -> None:
    if not user.has_perm("callcenter.view_lead"):
        raise PermissionDenied


def call_center_channel() -> Channel | None:
    """Return the CRM channel of the customers the call center brings in, if configured."""
    return Channel.objects.filter(code=CALL_CENTER_CHANNEL).first()
