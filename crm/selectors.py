"""Reads of the CRM: querysets with their joins done, and the one access helper per object."""

import json
import re
import unicodedata
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from itertools import islice

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, CharField, Count, F, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404
from django.utils import timezone

from crm.models import Appointment, Branch, Channel, Customer, Interaction, Tag
from lib import search, small_tables
from lib.rows import columns_where_in

TIMELINE_PAGE_SIZE = 20
# How many upcoming and how many past appointments the 360 page's card shows.
CUSTOMER_APPOINTMENTS = 5
# What the card writes of each (crm/partials/customer_appointment.html): a query of all
# the columns of both tables cost ~0.05 ms more to compile and read, twice a page.
APPOINTMENT_CARD_FIELDS = (
    "customer",
    "advisor",
    "title",
    "starts_at",
    "status",
    "location",
    "video_url",
    "cancellation_reason",
)


def customers_visible_to(user: AbstractBaseUser) -> QuerySet[Customer]:
    """Return the customers a staff user may see and work: all the current ones, given the
    permission. A record merged into another one (crm.merge) is in no picker and no page
    but its own 360 page, which sends to the kept one (`customer_or_merged_for`)."""
    return _all_visible_to(user).current()


def _all_visible_to(user: AbstractBaseUser) -> QuerySet[Customer]:
    if not user.is_authenticated:
        return Customer.objects.none()
    if not user.has_perm("crm.view_customer"):
        return Customer.objects.none()
    return Customer.objects.all()


def customer_for(user: AbstractBaseUser, pk: int) -> Customer:
    """Return the customer `pk` if `user` may see it, else 404 (a merged record too)."""
    return get_object_or_404(
        customers_visible_to(user)
        .select_related("branch", "channel", "advisor")
        .prefetch_related("tags"),
        pk=pk,
    )


def customer_or_merged_for(user: AbstractBaseUser, pk: int) -> Customer:
    """As `customer_for`, a record merged into another one included: for the customer's
    own pages, which send it to the record it was merged into."""
    return get_object_or_404(
        _all_visible_to(user)
        .select_related("branch", "channel", "advisor")
        .prefetch_related("tags"),
        pk=pk,
    )


def customer_page(user: AbstractBaseUser, pk: int) -> Customer:
    """Return the customer `pk` for its 360 page if `user` may see it, else 404; a merged
    record too (the page sends it to the kept one).

    As `customer_for`, without prefetching the tags: the page reads them where it writes
    them, in the same one query, and Django's prefetch machinery cost ~0.5 ms more than
    that query (measured on the bench).
    """
    customer = get_object_or_404(_all_visible_to(user), pk=pk)
    # Their names from the process's copies (lib.small_tables), not three joins (~0.5 ms).
    branches, channels, people = small_tables.rows(Branch, Channel, small_tables.people())
    small_tables.attach([customer], branch=branches, channel=channels, advisor=people)
    return customer


# What the list's page reads of the customer itself (crm.tables.CustomerTable.records);
# the names of its branch, channel and advisor come from lib.small_tables.
CUSTOMER_LIST_OWN_FIELDS = (
    "document_type",
    "document_number",
    "first_name",
    "last_name",
    "last_interaction_at",
    "branch_id",
    "channel_id",
    "advisor_id",
)
# What a row of the customer list's export reads (the page's fields and the joined
# names); the rest of the row stays in the database.
CUSTOMER_LIST_FIELDS = (
    "document_type",
    "document_number",
    "first_name",
    "last_name",
    "last_interaction_at",
    "branch__name",
    "channel__name",
    "advisor__username",
    "advisor__first_name",
    "advisor__last_name",
)


def customer_list(user: AbstractBaseUser) -> QuerySet[Customer]:
    """Return the customers for the list screen, with what each row shows already joined.

    The phone comes as the stored text (`phone_e164`): loading the field parses every
    number with the phonenumbers library (~50 µs each, twice a row), and the list only
    writes it, through the cached `phone_national` filter. A record merged into another
    one (crm.merge) is not listed: its rows are the kept record's now.
    """
    return (
        customers_visible_to(user)
        .select_related("branch", "channel", "advisor")
        .prefetch_related("tags")
        .only(*CUSTOMER_LIST_FIELDS)
        .annotate(phone_e164=Cast("phone", output_field=CharField()))
    )


def search_customers(queryset: QuerySet[Customer], text: str) -> QuerySet[Customer]:
    """Filter by document number, name, e-mail or phone: every term must match somewhere.

    Accents and case do not matter; a phone may be typed with its country code or without,
    with spaces or dashes. A record merged into another one (crm.merge) is never found.
    """
    queryset = queryset.filter(merged_into__isnull=True)
    condition = search.matches_all(text)
    if not condition:
        return queryset
    return search.narrowed(queryset, condition)


def timeline(
    customer: Customer,
    *,
    before: tuple[datetime, int] | None = None,
    kind: str = "",
    text: str = "",
    since: date | None = None,
    until: date | None = None,
    size: int = TIMELINE_PAGE_SIZE,
) -> tuple[list[Interaction], tuple[datetime, int] | None]:
    """Return one page of the customer's timeline, newest first, and the cursor of the next.

    Keyset pagination on (occurred_at, id) keeps every page as cheap as the first, however
    long the history. `since` and `until` keep the local days between them (both
    included); `text` keeps the entries whose every word it has, accents and case aside
    (see `_matching_ids`).
    """
    queryset = customer.interactions.order_by("-occurred_at", "-id")
    if kind:
        queryset = queryset.filter(kind=kind)
    # Days as a range of occurred_at, not a __date lookup: the (customer, -occurred_at,
    # -id) index reads only the range.
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=_local_midnight(since))
    if until is not None:
        queryset = queryset.filter(occurred_at__lt=_local_midnight(until + timedelta(days=1)))
    if before is not None:
        queryset = queryset.filter(_older_than(before))
    words = list(dict.fromkeys(search.normalize(text).split()))
    if words:
        ids, last_read = _matching_ids(queryset, words, size + 1)
        rows = list(queryset.filter(id__in=ids)) if ids else []
    else:
        rows, last_read = list(queryset[: size + 1]), None
    # Who and through which channel from the process's copies, not two joins.
    channels, people = small_tables.rows(Channel, small_tables.people())
    small_tables.attach(rows, channel=channels, actor=people)
    page, more = rows[:size], len(rows) > size
    cursor = (page[-1].occurred_at, page[-1].pk) if more and page else None
    # The search stopped reading before it found a page: the next one goes on from there.
    return page, cursor or last_read


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _older_than(cursor: tuple[datetime, int]) -> Q:
    at, pk = cursor
    return Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk)


# A timeline search folds the entries it reads in batches of this many (one pass each), and
# reads at most TIMELINE_SEARCH_READS of them per page: a search through 6,000 entries cost
# 30-75 ms on SQLite; a longer history gives the rest to «Cargar más», which goes on from there.
TIMELINE_SEARCH_BATCH = 500
TIMELINE_SEARCH_READS = 10_000


def _matching_ids(
    queryset: QuerySet[Interaction], words: list[str], wanted: int
) -> tuple[list[int], tuple[datetime, int] | None]:
    """Return the ids of the first `wanted` entries of `queryset` whose text or details
    hold every one of `words` (normalized), and, if it stopped reading before the end
    with fewer, the cursor of the last entry read.

    Interaction has no normalized column (as Customer.search_text is) for the database to
    search, so the entries are read in the timeline's order, along its index, in one
    query, and folded here the way lib.search.normalize folds every other search.
    """
    # The payload as its JSON text, decoded a batch at a time, and no occurred_at: a
    # value converted per row cost more than the fold (~5 µs a row on SQLite).
    rows = (
        queryset.annotate(payload_json=Cast("payload", TextField()))
        .values_list("id", "summary", "text", "payload_json")
        .iterator(chunk_size=TIMELINE_SEARCH_BATCH)
    )
    found: list[int] = []
    read = 0
    while batch := list(islice(rows, TIMELINE_SEARCH_BATCH)):
        payloads = json.loads("[" + ",".join(row[3] or "null" for row in batch) + "]")
        # `text` is the whole of a long entry, `summary` its beginning.
        texts = [
            " ".join([text or summary, *_values(payload)])
            for (_pk, summary, text, _json), payload in zip(batch, payloads, strict=True)
        ]
        for (pk, *_columns), haystack in zip(batch, _folded(texts), strict=True):
            if all(word in haystack for word in words):
                found.append(pk)
                if len(found) == wanted:
                    return found, None
        read += len(batch)
        if read >= TIMELINE_SEARCH_READS:
            last = batch[-1][0]
            return found, (Interaction.objects.values_list("occurred_at").get(pk=last)[0], last)
    return found, None


# What lib.search.normalize takes away from a letter once decomposed: its combining marks
# (the blocks of the Latin, Greek and Cyrillic scripts' accents).
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _folded(texts: list[str]) -> list[str]:
    """Return `texts` lower-cased and without accents, as lib.search.normalize writes them,
    in one pass over them all: calling it on each cost ~15 µs a text, 90 ms for 6,000
    entries. NFKD already writes full-width digits and letters in ASCII; digits of other
    scripts (Arabic-Indic), which lib.search also converts, stay as they are here (its
    regular expression was half the time of a pass)."""
    joined = "\x1f".join(texts)
    if joined.count("\x1f") != len(texts) - 1:  # a text holds the separator itself
        return [search.normalize(text) for text in texts]
    decomposed = unicodedata.normalize("NFKD", joined)
    return _COMBINING.sub("", decomposed).lower().split("\x1f")


def _values(payload) -> list[str]:
    """Return the texts of a payload's values, nested ones too (its keys are not shown)."""
    if isinstance(payload, dict):
        return [text for value in payload.values() for text in _values(value)]
    if isinstance(payload, list):
        return [text for value in payload for text in _values(value)]
    if payload is None or isinstance(payload, bool):
        return []
    return [str(payload)]


def customer_tags(customer: Customer) -> list[Tag]:
    """Return the customer's tags, by name."""
    return tags_of([customer.pk])[customer.pk]


def tags_of(customer_ids: list[int]) -> defaultdict[int, list[Tag]]:
    """Return each customer's tags by name: the (customer, tag) pairs in one query, the
    tags from the process's copy (lib.small_tables), not a join and a Tag per badge."""
    (tags,) = small_tables.rows(Tag)
    found = defaultdict(list)
    pairs = columns_where_in(Customer.tags.through, ("customer", "tag"), "customer", customer_ids)
    for customer_id, tag_id in pairs:
        # A tag added since the copy was read: one query for it.
        found[customer_id].append(tags.get(tag_id) or Tag.objects.get(pk=tag_id))
    for customer_tags_found in found.values():
        customer_tags_found.sort(key=lambda tag: tag.name)  # Tag's own order
    return found


def timeline_counts(customer: Customer) -> dict[str, int]:
    """Return how many events of each kind the customer's timeline holds (one query)."""
    # COUNT(*), not COUNT(id): the (customer, kind) index answers it without the rows.
    return dict(customer.interactions.values_list("kind").annotate(n=Count("*")).order_by())


def appointments_visible_to(user: AbstractBaseUser) -> QuerySet[Appointment]:
    """Return the appointments a staff user may see: all, or only the ones they attend."""
    if not user.is_authenticated:
        return Appointment.objects.none()
    if not user.has_perm("crm.view_appointment"):
        return Appointment.objects.none()
    if user.has_perm("crm.view_all_appointments"):
        return Appointment.objects.all()
    return Appointment.objects.filter(advisor=user)


def customer_appointments(
    customer: Customer, *, size: int = CUSTOMER_APPOINTMENTS
) -> tuple[list[Appointment], list[Appointment]]:
    """Return the customer's next appointments, soonest first, and the last ones (2 queries).

    Two plain queries cost less than one that numbers both sides with a window function:
    compiling that query takes longer than the second round trip (measured on the bench).
    """
    now = timezone.now()
    appointments = customer.appointments.only(*APPOINTMENT_CARD_FIELDS)
    upcoming = list(appointments.filter(starts_at__gte=now).order_by("starts_at", "id")[:size])
    recent = list(appointments.filter(starts_at__lt=now).order_by("-starts_at", "-id")[:size])
    # The advisors from the process's copy of the people (lib.small_tables), not a join.
    (people,) = small_tables.rows(small_tables.people())
    small_tables.attach([*upcoming, *recent], advisor=people)
    return upcoming, recent


def agenda(
    user: AbstractBaseUser,
    *,
    since: date,
    until: date,
    status: str = "",
    advisor: AbstractBaseUser | None = None,
    unassigned: bool = False,
    text: str = "",
) -> QuerySet[Appointment]:
    """Return the appointments `user` may see from `since` to `until` (local days), in order.

    `advisor` or `unassigned` narrow it to one advisor's, or to those Cal.com's organizer
    matched no user for; `text` matches the customer's or the attendee's name and e-mail.
    """
    start = timezone.make_aware(datetime.combine(since, time.min))
    end = timezone.make_aware(datetime.combine(until + timedelta(days=1), time.min))
    queryset = appointments_visible_to(user).filter(starts_at__gte=start, starts_at__lt=end)
    if status:
        queryset = queryset.filter(status=status)
    if advisor is not None:
        queryset = queryset.filter(advisor=advisor)
    elif unassigned:
        queryset = queryset.filter(advisor__isnull=True)
    for term in search.terms(text):
        queryset = queryset.filter(
            Q(customer__search_text__contains=term)
            | Q(attendee_name__icontains=term)
            | Q(attendee_email__icontains=term)
        )
    return queryset.select_related("customer", "advisor").order_by("starts_at", "id")


def customer_reached_at(*, email: str = "", phone: str = "") -> Customer | None:
    """Return the customer an e-mail or an E.164 phone belongs to (None when nobody's).

    The one rule for everything that arrives from an address (an SMS, a WhatsApp, an
    e-mail, a Cal.com booking): messages go to a customer's primary phone, so a customer
    whose primary phone it is comes before one who lists it only as their second phone (a
    relative's number); among equals, the latest one active. Give one of the two. An
    address of a record merged into another one (crm.merge) is the kept record's.
    """
    if email:
        match = Q(email__iexact=email)
        primary_first = Value(0)
    elif phone:
        match = Q(phone=phone) | Q(phone_secondary=phone)
        primary_first = Case(When(phone=phone, then=Value(0)), default=Value(1))
    else:
        return None
    # The never contacted last on every database (PostgreSQL put them first going down).
    latest = F("last_interaction_at").desc(nulls_last=True)
    return Customer.objects.filter(match).resolved().order_by(primary_first, latest, "-pk").first()
