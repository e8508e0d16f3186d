"""The inbox: who may open it, its filters (the portfolio first, Vigente by default), its
pages, and its 30-second refresh."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app.conversations import services
from collections_app.models import Conversation, ConversationLabel
from crm import messages
from tests.collections_app.conftest import TODAY
from tests.collections_app.conversations.conftest import (
    conversation_of,
    hours_ago,
    inbound,
    noon,
    outbound,
    write_off,
)
from tests.factories import CustomerFactory, UserFactory

INBOX = "collections_app:conversation_list"
HTMX = {"HX-Request": "true"}
RESULTS = "collections_app/conversations/partials/conversation_results.html"


def listed(client, **params) -> list[int]:
    """Return the customers whose conversations the inbox lists, in order."""
    response = client.get(reverse(INBOX), params)
    assert response.status_code == 200
    return [conversation.customer_id for conversation in response.context["page"].object_list]


@pytest.fixture
def marta(db):
    """A debtor of the written-off portfolio (tagged by the recovery app)."""
    customer = CustomerFactory(first_name="Marta", last_name="Salas", document_number="40111222")
    write_off(customer)
    return customer


# --- Who may open it ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["asesor", "outsider"])
def test_people_without_the_conversations_permission_are_refused(client, request, who, rosa):
    inbound(rosa, "Hola")
    client.force_login(request.getfixturevalue(who))

    assert client.get(reverse(INBOX)).status_code == 403
    assert (
        client.get(reverse("collections_app:conversation_detail", args=[rosa.pk])).status_code
        == 403
    )


@pytest.mark.parametrize("who", ["cobranzas", "supervisor"])
def test_collections_agents_and_supervisors_open_the_inbox(client, request, who, rosa):
    inbound(rosa, "Hola")
    client.force_login(request.getfixturevalue(who))

    assert listed(client) == [rosa.pk]


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse(INBOX))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- The portfolio filter: Vigente by default ---------------------------------------------


def test_the_inbox_shows_the_current_portfolio_by_default(agent_client, rosa, marta):
    inbound(rosa, "Hola")
    inbound(marta, "Quiero la oferta")

    response = agent_client.get(reverse(INBOX))

    assert [c.customer_id for c in response.context["page"].object_list] == [rosa.pk]
    assertContains(
        response,
        '<input type="radio" class="btn-check" name="portfolio" id="portfolio-vigente" '
        'value="vigente" autocomplete="off" checked>',
        html=True,
    )


def test_the_portfolio_is_the_first_filter(agent_client, rosa):
    inbound(rosa, "Hola")

    content = agent_client.get(reverse(INBOX)).content.decode()

    form = content[content.index('id="conversation-filters"') :]
    assert form.index('name="portfolio"') < form.index('name="channel"') < form.index('name="q"')
    assert "Tipo de cartera" in form[: form.index('name="portfolio"')]


def test_todo_shows_both_portfolios(agent_client, rosa, marta):
    inbound(rosa, "Hola", at=hours_ago(2))
    inbound(marta, "Quiero la oferta", at=hours_ago(1))

    assert listed(agent_client, portfolio="todo") == [marta.pk, rosa.pk]


def test_castigada_shows_only_the_written_off_portfolio(agent_client, rosa, marta):
    inbound(rosa, "Hola")
    inbound(marta, "Quiero la oferta")

    assert listed(agent_client, portfolio="castigada") == [marta.pk]


def test_a_written_off_customer_carries_the_castigada_icon(agent_client, rosa, marta):
    inbound(rosa, "Hola")
    inbound(marta, "Quiero la oferta")

    response = agent_client.get(reverse(INBOX), {"portfolio": "todo"})

    rows = response.content.decode()
    marta_row = rows[rows.index(f'id="conversation-{marta.pk}"') :]
    assert 'title="Cartera castigada"' in marta_row[: marta_row.index("</a>")]
    rosa_row = rows[rows.index(f'id="conversation-{rosa.pk}"') :]
    assert "Cartera castigada" not in rosa_row[: rosa_row.index("</a>")]


def test_an_unknown_portfolio_is_a_form_error_not_a_failure(agent_client, rosa):
    inbound(rosa, "Hola")

    response = agent_client.get(reverse(INBOX), {"portfolio": "otra"})

    assert response.status_code == 200
    assertContains(response, "Elija Todo, Vigente o Castigada.")
    assert list(response.context["page"].object_list) == []


# --- The other filters -------------------------------------------------------------------


def test_the_newest_conversation_comes_first(agent_client, rosa):
    other = CustomerFactory()
    inbound(rosa, "Antes", at=hours_ago(3))
    inbound(other, "Después", at=hours_ago(1))

    assert listed(agent_client) == [other.pk, rosa.pk]


def test_the_channel_filter_is_the_last_messages_channel(agent_client, rosa):
    other = CustomerFactory()
    inbound(rosa, "Por WhatsApp", at=hours_ago(2))
    inbound(other, "Por SMS", channel=messages.SMS, at=hours_ago(1))

    assert listed(agent_client, channel="whatsapp") == [rosa.pk]
    assert listed(agent_client, channel="sms") == [other.pk]
    assert listed(agent_client, channel="email") == []


def test_the_agent_filter_mine_unassigned_and_one_agent(agent_client, rosa, cobranzas, supervisor):
    mine, theirs = CustomerFactory(), CustomerFactory()
    for customer in (rosa, mine, theirs):
        inbound(customer, "Hola")
    services.assign(conversation_of(mine), cobranzas, cobranzas)
    services.assign(conversation_of(theirs), supervisor, cobranzas)

    assert listed(agent_client, agent="mias") == [mine.pk]
    assert listed(agent_client, agent="sin-asignar") == [rosa.pk]
    assert listed(agent_client, agent=str(supervisor.pk)) == [theirs.pk]


def test_an_agent_who_takes_no_conversations_is_not_a_filter(agent_client, rosa, asesor):
    inbound(rosa, "Hola")

    response = agent_client.get(reverse(INBOX), {"agent": str(asesor.pk)})

    assert response.status_code == 200
    assert response.context["form"].errors["agent"]


def test_the_label_filter(agent_client, rosa, cobranzas):
    claim = ConversationLabel.objects.create(name="Reclamo")
    other = CustomerFactory()
    inbound(rosa, "Hola")
    inbound(other, "Hola")
    services.set_labels(conversation_of(rosa), [claim], cobranzas)

    assert listed(agent_client, label=str(claim.pk)) == [rosa.pk]


def test_the_unread_filter(agent_client, rosa, cobranzas):
    read = CustomerFactory()
    inbound(rosa, "Hola")
    inbound(read, "Hola")
    services.mark_read(conversation_of(read), cobranzas)

    assert listed(agent_client, unread="1") == [rosa.pk]


def test_the_date_range_is_the_last_messages_day(agent_client, rosa):
    old = CustomerFactory()
    inbound(old, "Hace una semana", at=noon(TODAY - timedelta(days=7)))
    inbound(rosa, "Hoy")

    last_week = (TODAY - timedelta(days=7)).isoformat()
    assert listed(agent_client, since=TODAY.isoformat()) == [rosa.pk]
    assert listed(agent_client, since=last_week, until=last_week) == [old.pk]


def test_a_date_out_of_range_is_a_form_error(agent_client, rosa):
    inbound(rosa, "Hola")

    response = agent_client.get(reverse(INBOX), {"since": "1900-01-01"})

    assert response.status_code == 200
    assert response.context["form"].errors["since"]


def test_the_search_finds_the_customer_by_name_document_or_phone(agent_client, rosa):
    other = CustomerFactory(first_name="Pedro")
    inbound(rosa, "Hola")
    inbound(other, "Hola")

    assert listed(agent_client, q="huaman") == [rosa.pk]
    assert listed(agent_client, q="45678912") == [rosa.pk]
    assert listed(agent_client, q="987 654 321") == [rosa.pk]


def test_a_search_too_long_is_a_form_error(agent_client):
    response = agent_client.get(reverse(INBOX), {"q": "x" * 101})

    assert response.status_code == 200
    assert response.context["form"].errors["q"]


def test_the_rows_show_unread_count_agent_labels_and_preview(agent_client, rosa, cobranzas):
    claim = ConversationLabel.objects.create(name="Reclamo", color="danger")
    inbound(rosa, "Hola")
    inbound(rosa, "Quiero pagar mi cuota")
    services.assign(conversation_of(rosa), cobranzas, cobranzas)
    services.set_labels(conversation_of(rosa), [claim], cobranzas)

    response = agent_client.get(reverse(INBOX))

    assertContains(response, "Quiero pagar mi cuota")
    assertContains(response, '<span class="badge text-bg-danger">Reclamo</span>', html=True)
    assertContains(response, "data-unread>2</span>")


# --- Pages, queries, the refresh ---------------------------------------------------------


def _page_queries(client, customers: int) -> int:
    Conversation.objects.all().delete()
    for n in range(customers):
        customer = CustomerFactory()
        inbound(customer, f"Hola {n}")
        if n % 3 == 0:
            write_off(customer)
    label = ConversationLabel.objects.get_or_create(name="Reclamo")[0]
    for conversation in Conversation.objects.all():
        conversation.labels.add(label)
    client.get(reverse(INBOX))  # warm the choices' cache, as any page view after the first
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(INBOX), {"portfolio": "todo"})
    assert len(response.context["page"].object_list) == customers
    return len(captured.captured_queries)


def test_a_page_of_the_inbox_costs_the_same_queries_for_2_rows_as_for_25(agent_client):
    assert _page_queries(agent_client, 2) == _page_queries(agent_client, 25)


def test_the_inbox_pages_by_25(agent_client):
    for n in range(27):
        inbound(CustomerFactory(), f"Hola {n}", at=hours_ago(n + 1))

    first = agent_client.get(reverse(INBOX))
    second = agent_client.get(reverse(INBOX), {"page": "2"})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 2
    assertContains(first, "27 conversaciones")


def test_a_filter_change_answers_the_results_and_keeps_the_url(agent_client, rosa):
    inbound(rosa, "Hola")

    response = agent_client.get(reverse(INBOX), {"channel": "whatsapp"}, headers=HTMX)

    assertTemplateUsed(response, RESULTS)
    assertNotContains(response, "<html")
    assert response["HX-Push-Url"].endswith("channel=whatsapp")


class _Roots(HTMLParser):
    """Count the top-level elements of a fragment and every id in it."""

    VOID = {"input", "br", "img", "hr", "meta", "link"}

    def __init__(self):
        super().__init__()
        self.depth, self.roots, self.ids = 0, [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth == 0:
            self.roots.append((tag, attrs.get("id")))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag not in self.VOID:
            self.depth -= 1


def test_the_poll_answers_one_element_that_replaces_itself_without_a_history_entry(
    agent_client, rosa
):
    inbound(rosa, "Hola")
    poll = {**HTMX, "HX-Trigger": "conversation-results"}

    answers = [
        agent_client.get(reverse(INBOX), {"unread": "1"}, headers=poll) for _refresh in range(3)
    ]

    for response in answers:
        assertTemplateUsed(response, RESULTS)
        assert "HX-Push-Url" not in response
        parsed = _Roots()
        parsed.feed(response.content.decode())
        assert parsed.roots == [("div", "conversation-results")]
        assert parsed.depth == 0  # every element closed
        assert len(parsed.ids) == len(set(parsed.ids))
    assert answers[0].content == answers[2].content
    content = answers[0].content.decode()
    assert 'hx-trigger="every 30s"' in content
    assert 'hx-swap="outerHTML"' in content
    assert 'hx-get="/cobranzas/conversaciones/?unread=1"' in content


def test_the_page_shows_the_results_and_the_alerts_once(agent_client, rosa):
    inbound(rosa, "Hola")

    content = agent_client.get(reverse(INBOX)).content.decode()

    assert content.count('id="conversation-results"') == 1
    assert content.count('id="conversation-alerts-slot"') == 1


def test_an_agent_who_leaves_is_no_longer_offered_in_the_filter(agent_client, rosa):
    inbound(rosa, "Hola")
    gone = UserFactory(username="gone", first_name="Gonzalo", role="Cobranzas")
    agent_client.get(reverse(INBOX))

    gone.is_active = False
    gone.save()
    response = agent_client.get(reverse(INBOX))

    assert str(gone.pk) not in dict(response.context["form"].fields["agent"].choices)


def test_outbound_rows_show_they_were_ours(agent_client, rosa):
    outbound(rosa, "Le recordamos su cuota.")

    assertContains(agent_client.get(reverse(INBOX)), 'aria-label="Saliente"')
