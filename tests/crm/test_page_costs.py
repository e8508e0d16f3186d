"""The customer list and the 360 page cost a fixed number of queries, however many rows.

Each test measures a page with 10 rows, grows the data to 1,000 (bulk_create, so the test
stays quick), measures again and compares the two counts: a query per row (N+1) shows up
as a difference, whatever the page's fixed cost is today.
"""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import selectors
from crm.models import Customer, Interaction
from lib import search, small_tables
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    ChannelFactory,
    CustomerFactory,
    TagFactory,
    UserFactory,
)

HTMX = {"HX-Request": "true"}
LIST = reverse("crm:customer_list")


def _queries(client, url, **kwargs) -> list[str]:
    """Return the SQL one request runs, after a first request has warmed the session."""
    client.get(url, **kwargs)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def _add_customers(count: int, *, start: int) -> None:
    """Create `count` customers spread over branches, channels, advisors and tags."""
    branches = [BranchFactory() for _ in range(3)]
    channels = [ChannelFactory() for _ in range(3)]
    advisors = [UserFactory(first_name="Asesor", last_name=str(i)) for i in range(3)]
    tags = [TagFactory(name=f"Etiqueta {i}") for i in range(3)]
    customers = Customer.objects.bulk_create(
        Customer(
            document_number=f"{20000000 + start + i:08d}",
            first_name="Cliente",
            last_name=f"Apellido {start + i:05d}",
            phone=f"+5199{start + i:07d}",
            phone_secondary=f"+5198{start + i:07d}" if i % 2 else "",
            branch=branches[i % 3],
            channel=channels[i % 3],
            advisor=advisors[i % 3] if i % 4 else None,
            search_text=f"cliente apellido {start + i:05d}",
            last_interaction_at=timezone.now() - timedelta(hours=i),
        )
        for i in range(count)
    )
    Customer.tags.through.objects.bulk_create(
        Customer.tags.through(customer_id=customer.pk, tag_id=tags[n % 3].pk)
        for i, customer in enumerate(customers)
        for n in range(i % 3)
    )


def test_the_customer_list_costs_the_same_queries_for_10_or_1000_customers(
    client, supervisor, monkeypatch
):
    # A search with more matches than this counts them (one query more than a search with
    # a few, whose count is the number of matches its probe sorted): both kinds are
    # measured, each with 10 and 1,000 rows.
    monkeypatch.setattr(search, "FEW_MATCHES", 5)
    client.force_login(supervisor)
    _add_customers(10, start=0)
    urls = [
        LIST,
        f"{LIST}?sort=-last_interaction_at&page=1",
        f"{LIST}?q=apellido",  # every customer
        f"{LIST}?q=apellido+0000",  # 00000–00009: a few, at 10 and at 1,000 rows
    ]
    few = {url: _queries(client, url) for url in urls}
    fragment = _queries(client, LIST, headers=HTMX)

    _add_customers(990, start=10)

    for url in urls:
        assert len(_queries(client, url)) == len(few[url]), url
    assert len(_queries(client, LIST, headers=HTMX)) == len(fragment)


def test_the_customer_export_costs_the_same_queries_for_10_or_1000_customers(client, supervisor):
    client.force_login(supervisor)
    _add_customers(10, start=0)
    few = _queries(client, f"{LIST}?export=csv")

    _add_customers(990, start=10)

    assert len(_queries(client, f"{LIST}?export=csv")) == len(few)


def test_the_list_writes_each_row_as_before(client, supervisor):
    vip = TagFactory(name="VIP")
    rosa = CustomerFactory(
        first_name="Rosa",
        last_name="Huamán",
        document_type=Customer.DocumentType.CE,
        document_number="001234567",
        phone="+51987654321",
        advisor=UserFactory(first_name="Andrea", last_name="Quispe"),
        last_interaction_at=timezone.make_aware(timezone.datetime(2026, 3, 4, 15, 30)),
    )
    rosa.tags.add(vip)
    client.force_login(supervisor)

    page = client.get(LIST).content.decode()

    assert "Carné de extranjería</span> 001234567" in page
    assert f'href="{rosa.get_absolute_url()}"' in page
    assert "987 654 321" in page
    assert rosa.branch.name in page and rosa.channel.name in page
    assert "Andrea Quispe" in page
    assert ">VIP</span>" in page
    assert "04/03/2026 15:30" in page


def test_the_list_keeps_its_sort_links_and_pages(client, supervisor):
    _add_customers(30, start=0)
    client.force_login(supervisor)

    page = client.get(LIST, {"page": 2, "sort": "-name"}).content.decode()

    # The heading sorts the other way and keeps the page; the page links keep the sort.
    assert '<th class="desc orderable" scope="col"><a href="?page=2&amp;sort=name">' in page
    assert 'href="?page=1&amp;sort=-name"' in page
    assert "Apellido 00000" in page and "Apellido 00029" not in page


def test_the_export_writes_the_phone_as_stored(client, supervisor):
    CustomerFactory(first_name="Rosa", phone="+51987654321")
    client.force_login(supervisor)

    response = client.get(LIST, {"export": "csv"})

    assert "+51987654321" in b"".join(response.streaming_content).decode()


def _add_events(customer: Customer, count: int, *, actors, channel) -> None:
    now = timezone.now()
    kinds = [Interaction.Kind.NOTE, Interaction.Kind.CALL, Interaction.Kind.PAYMENT]
    Interaction.objects.bulk_create(
        Interaction(
            customer=customer,
            kind=kinds[i % 3],
            direction=Interaction.Direction.OUTBOUND if i % 2 else Interaction.Direction.INTERNAL,
            channel=channel if i % 2 else None,
            actor=actors[i % 3] if i % 5 else None,
            summary=f"Evento {i}: pagó PEN 1234.50",
            payload={"monto": "1234.50", "moneda": "PEN", "loan": 7, "fecha": "2026-03-04"},
            occurred_at=now - timedelta(minutes=count - i),
        )
        for i in range(count)
    )


def test_the_360_page_costs_the_same_queries_for_10_or_1000_events(client, supervisor):
    customer = CustomerFactory()
    customer.tags.add(TagFactory(name="VIP"))
    actors = [UserFactory(first_name="Agente", last_name=str(i)) for i in range(3)]
    channel = ChannelFactory()
    AppointmentFactory(customer=customer, advisor=actors[0])
    AppointmentFactory(customer=customer, starts_at=timezone.now() + timedelta(days=1))
    _add_events(customer, 10, actors=actors, channel=channel)
    client.force_login(supervisor)
    url = customer.get_absolute_url()
    timeline = reverse("crm:customer_timeline", args=[customer.pk])
    few = _queries(client, url)
    few_timeline = _queries(client, f"{timeline}?kind=note", headers=HTMX)

    _add_events(customer, 990, actors=actors, channel=channel)

    assert len(_queries(client, url)) == len(few)
    assert len(_queries(client, f"{timeline}?kind=note", headers=HTMX)) == len(few_timeline)


def test_the_appointments_card_keeps_the_five_soonest_and_the_five_latest(
    db, django_assert_num_queries
):
    customer = CustomerFactory()
    now = timezone.now()
    # Seven ahead and seven behind, two of each side at the same time (ties go by id).
    for hours in (1, 2, 2, 3, 4, 5, 6):
        AppointmentFactory(customer=customer, starts_at=now + timedelta(hours=hours))
        AppointmentFactory(customer=customer, starts_at=now - timedelta(hours=hours))
    AppointmentFactory(starts_at=now + timedelta(minutes=30))  # someone else's
    appointments = customer.appointments.all()
    soonest = appointments.filter(starts_at__gte=now).order_by("starts_at", "id")[:5]
    latest = appointments.filter(starts_at__lt=now).order_by("-starts_at", "-id")[:5]

    small_tables.rows(small_tables.people())  # the advisors: the process's copy, read once

    with django_assert_num_queries(2):
        upcoming, recent = selectors.customer_appointments(customer)

    assert upcoming == list(soonest)
    assert recent == list(latest)
