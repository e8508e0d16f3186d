"""The queue and a lead's call page cost a fixed number of queries, however many rows.

Each test measures a page with 10 rows, grows the data to 1,000 (bulk_create, so the test
stays quick), measures again and compares the two counts: a query per row (N+1) shows up
as a difference, whatever the page's fixed cost is today.
"""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.models import CallRecord, Lead, LossReason
from tests.callcenter.conftest import PIPELINE, QUEUE_STATUS, make_lead
from tests.factories import CustomerFactory, UserFactory

QUEUE = reverse("callcenter:queue")
HTMX = {"HX-Request": "true"}


def _queries(client, url, **kwargs) -> list[str]:
    """Return the SQL one request runs, after a first request has warmed the session."""
    client.get(url, **kwargs)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def _add_leads(count: int, *, start: int, agents) -> None:
    """Create `count` queued leads: new, not answering, to call back; free, held, expired."""
    now = timezone.now()
    states = [Lead.State.NEW, Lead.State.NO_ANSWER, Lead.State.CALLBACK]
    leads = []
    for i in range(start, start + count):
        lead = Lead(
            kommo_id=40000000 + i,
            name=f"Lead {i}",
            contact_name=f"Cliente {i:05d}",
            phone=f"+5199{i:07d}",
            document_number=f"{30000000 + i:08d}",
            source=["Facebook", "Web", ""][i % 3],
            pipeline_id=PIPELINE,
            status_id=QUEUE_STATUS,
            in_queue=True,
            state=states[i % 3],
            attempts=i % 4,
            queued_at=now - timedelta(hours=i),
            due_at=now - timedelta(minutes=i),
            callback_at=now + timedelta(hours=1) if i % 3 == 2 else None,
            taken_by=agents[i % 3] if i % 5 == 0 else None,
            # Every other hold has expired: the row says whose it was.
            taken_at=(now - timedelta(minutes=1 if i % 10 == 0 else 600)) if i % 5 == 0 else None,
        )
        lead.search_text = lead.build_search_text()
        leads.append(lead)
    Lead.objects.bulk_create(leads)


def test_the_queue_costs_the_same_queries_for_10_or_1000_leads(
    client, supervisor, agente, agente2, queue_config
):
    agents = [agente, agente2, UserFactory(first_name="Ana", last_name="Paz")]
    make_lead(contact_name="Mía", taken_by=supervisor, taken_at=timezone.now())
    _add_leads(10, start=0, agents=agents)
    client.force_login(supervisor)
    urls = [QUEUE, f"{QUEUE}?sort=-attempts&page=1", f"{QUEUE}?q=cliente&agent=free"]
    few = {url: _queries(client, url) for url in urls}
    poll = _queries(client, QUEUE, headers=HTMX)

    _add_leads(990, start=10, agents=agents)

    for url in urls:
        assert len(_queries(client, url)) == len(few[url]), url
    assert len(_queries(client, QUEUE, headers=HTMX)) == len(poll)


def test_the_queue_refresh_does_not_look_up_the_agents_own_lead(client, agente, queue_config):
    make_lead(contact_name="Mía", taken_by=agente, taken_at=timezone.now())
    client.force_login(agente)

    page = client.get(QUEUE).content.decode()
    refresh = _queries(client, QUEUE, headers=HTMX)

    assert "Continuar con Mía" in page
    # The settings row comes from the process's copy (read by the page, not again by the
    # refresh), and the refresh never asks for the lead the agent holds (only the page's
    # heading shows it).
    assert sum('FROM "callcenter_queuesettings"' in sql for sql in refresh) == 0
    assert not any('"callcenter_lead"."taken_at" DESC' in sql for sql in refresh)


def test_the_queue_rows_say_who_holds_each_lead_and_what_it_waits_for(
    client, supervisor, agente, agente2, queue_config
):
    now = timezone.now()
    make_lead(contact_name="Libre Nueva", due_at=now - timedelta(hours=3))
    make_lead(
        contact_name="Tomada Ahora",
        state=Lead.State.NO_ANSWER,
        taken_by=agente2,
        taken_at=now,
    )
    make_lead(
        contact_name="Reserva Vencida",
        state=Lead.State.CALLBACK,
        callback_at=now,
        taken_by=agente2,
        taken_at=now - timedelta(days=1),
    )
    client.force_login(supervisor)

    page = client.get(QUEUE).content.decode()
    page = page[page.index('id="queue-table"') :]  # the rows, not the filters

    assert "3\xa0horas" in page  # timesince keeps a number with its unit
    assert "No contesta" in page and "Volver a llamar" in page and "Nuevo" in page
    assert "Libre (reserva de Luis Ramos vencida)" in page
    assert page.count("Luis Ramos") == 3  # the held row, twice (phone and wide), the expired
    assert page.count(">Liberar</button>") == 2  # a supervisor releases any taken lead
    client.force_login(agente)
    page = client.get(QUEUE).content.decode()
    assert page.count('name="take"') == 2  # the free and the expired, not the held one


def _add_calls(lead: Lead, count: int, *, agents, reasons) -> None:
    now = timezone.now()
    outcomes = [
        CallRecord.Outcome.NO_ANSWER,
        CallRecord.Outcome.CALLBACK,
        CallRecord.Outcome.NOT_INTERESTED,
    ]
    CallRecord.objects.bulk_create(
        CallRecord(
            lead=lead,
            agent=agents[i % 3],
            outcome=outcomes[i % 3],
            callback_at=now if i % 3 == 1 else None,
            loss_reason=reasons[i % 2] if i % 3 == 2 else None,
            notes=f"Llamada {i}",
            created_at=now - timedelta(minutes=i),
        )
        for i in range(count)
    )


def test_a_leads_call_page_costs_the_same_queries_for_10_or_1000_calls(
    client, agente, agente2, queue_config
):
    customer = CustomerFactory()
    lead = make_lead(taken_by=agente, taken_at=timezone.now(), customer=customer)
    other = make_lead(customer=customer, in_queue=False, state=Lead.State.SOLD)
    agents = [agente, agente2, UserFactory(first_name="Ana", last_name="Paz")]
    reasons = [LossReason.objects.create(name=f"Motivo {i}") for i in range(2)]
    _add_calls(lead, 5, agents=agents, reasons=reasons)
    _add_calls(other, 5, agents=agents, reasons=reasons)
    client.force_login(agente)
    few = _queries(client, lead.get_absolute_url())

    _add_calls(lead, 495, agents=agents, reasons=reasons)
    _add_calls(other, 495, agents=agents, reasons=reasons)

    assert len(_queries(client, lead.get_absolute_url())) == len(few)
