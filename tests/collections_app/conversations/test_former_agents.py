"""Conversations held by someone who may no longer be given one (deactivated, or without
the role): the inbox finds them, the conversation page says who holds them, saving its
form unchanged does not unassign them, and they are reassigned at once from the inbox."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.conversations import services
from crm.models import Interaction
from tests.collections_app.conversations.conftest import conversation_of, inbound
from tests.factories import CustomerFactory, UserFactory

INBOX = "collections_app:conversation_list"
REASSIGN = "collections_app:conversation_reassign"


@pytest.fixture
def carlos(db):
    return UserFactory(
        username="carlos", first_name="Carlos", last_name="Mendoza", role="Cobranzas"
    )


def held_by(agent, *customers) -> None:
    """Give each customer's conversation (one inbound message) to `agent`."""
    for customer in customers:
        inbound(customer, "Hola")
        services.assign(conversation_of(customer), agent, agent)


def deactivate(person) -> None:
    person.is_active = False
    person.save()


def listed(client, **params) -> list[int]:
    response = client.get(reverse(INBOX), params)
    assert response.status_code == 200
    assert not response.context["form"].errors
    return sorted(c.customer_id for c in response.context["page"].object_list)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- The inbox's filter ------------------------------------------------------------------


def test_a_deactivated_agent_who_holds_conversations_is_a_filter_marked_inactive(
    agent_client, rosa, carlos
):
    other = CustomerFactory()
    held_by(carlos, rosa)
    inbound(other, "Hola")
    deactivate(carlos)

    response = agent_client.get(reverse(INBOX), {"agent": str(carlos.pk)})

    assert not response.context["form"].errors
    assert [c.customer_id for c in response.context["page"].object_list] == [rosa.pk]
    assertContains(response, f'<option value="{carlos.pk}" selected>Carlos Mendoza (inactivo)')


def test_held_by_someone_inactive_lists_the_conversations_of_every_former_agent(
    agent_client, rosa, carlos, cobranzas
):
    left_the_role = UserFactory(username="ana", role="Cobranzas")
    theirs, active, unassigned = CustomerFactory(), CustomerFactory(), CustomerFactory()
    held_by(carlos, rosa)
    held_by(left_the_role, theirs)
    held_by(cobranzas, active)
    inbound(unassigned, "Hola")
    deactivate(carlos)
    left_the_role.groups.remove(Group.objects.get(name="Cobranzas"))

    assert listed(agent_client, agent="ya-no-atiende") == sorted([rosa.pk, theirs.pk])
    choices = dict(agent_client.get(reverse(INBOX)).context["form"].fields["agent"].choices)
    assert dict(choices["Ya no atienden conversaciones"])[left_the_role.pk].endswith("(sin el rol)")


def test_the_rows_mark_the_agent_who_is_gone(agent_client, rosa, carlos):
    held_by(carlos, rosa)
    deactivate(carlos)

    response = agent_client.get(reverse(INBOX))

    assertContains(response, "Carlos Mendoza (inactivo)")


def _inbox_queries(client) -> int:
    client.get(reverse(INBOX))  # warm the choices' cache, as any page view after the first
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse(INBOX))
    return len(captured.captured_queries)


def test_former_agents_in_the_filter_cost_the_inbox_no_query(agent_client, rosa, carlos):
    held_by(carlos, rosa)
    before = _inbox_queries(agent_client)

    deactivate(carlos)

    assert _inbox_queries(agent_client) == before


# --- The conversation page ---------------------------------------------------------------


def test_the_page_marks_the_holder_inactive_and_shows_them_chosen_but_disabled(
    agent_client, rosa, carlos
):
    held_by(carlos, rosa)
    deactivate(carlos)

    response = agent_client.get(reverse("collections_app:conversation_detail", args=[rosa.pk]))

    content = response.content.decode()
    assigned = re.search(r'id="assigned-to">(.*?)</p>', content, re.S).group(1)
    assert "Carlos Mendoza (inactivo)" in assigned
    assert re.search(
        rf'<option value="{carlos.pk}" selected disabled>Carlos Mendoza \(inactivo\)</option>',
        content,
    )


def test_saving_the_form_unchanged_keeps_the_inactive_holder_and_says_so(
    agent_client, rosa, carlos
):
    held_by(carlos, rosa)
    deactivate(carlos)

    # What a browser posts with the disabled option chosen: no "agent" at all.
    response = agent_client.post(
        reverse("collections_app:conversation_assign", args=[rosa.pk]), {}, follow=True
    )

    assert conversation_of(rosa).assigned_to == carlos
    assert messages_of(response) == [
        "No se cambió nada: la conversación sigue a cargo de Carlos Mendoza (inactivo). "
        "Elija a quién asignarla, o «Sin asignar»."
    ]


def test_choosing_sin_asignar_still_unassigns(agent_client, rosa, carlos):
    held_by(carlos, rosa)
    deactivate(carlos)

    agent_client.post(reverse("collections_app:conversation_assign", args=[rosa.pk]), {"agent": ""})

    assert conversation_of(rosa).assigned_to is None


# --- Reassigning them at once ------------------------------------------------------------


def test_the_inbox_filtered_by_one_person_offers_to_reassign_what_it_shows(
    agent_client, rosa, carlos
):
    held_by(carlos, rosa, CustomerFactory())
    deactivate(carlos)

    by_carlos = agent_client.get(reverse(INBOX), {"agent": str(carlos.pk)})
    unfiltered = agent_client.get(reverse(INBOX))

    assertContains(by_carlos, "Reasignar estas 2 conversaciones a…")
    assertContains(by_carlos, f"{reverse(REASSIGN)}?")
    assertNotContains(unfiltered, 'id="conversation-reassign"')


def test_the_confirmation_says_how_many_and_whose(agent_client, rosa, carlos):
    held_by(carlos, rosa, CustomerFactory())
    deactivate(carlos)

    response = agent_client.get(reverse(REASSIGN), {"agent": str(carlos.pk)})

    assert response.status_code == 200
    assertContains(response, "muestra 2 conversaciones a cargo de Carlos Mendoza (inactivo)")
    assert conversation_of(rosa).assigned_to == carlos  # nothing moves before the POST


def test_reassigning_moves_each_conversation_with_its_timeline_entry(
    agent_client, rosa, carlos, supervisor
):
    other, not_his = CustomerFactory(), CustomerFactory()
    held_by(carlos, rosa, other)
    inbound(not_his, "Hola")
    deactivate(carlos)
    supervisor.first_name, supervisor.last_name = "Sofía", "Ramos"
    supervisor.save()

    response = agent_client.post(
        f"{reverse(REASSIGN)}?agent={carlos.pk}&portfolio=todo",
        {"agent": supervisor.pk, "expected": 2},
        follow=True,
    )

    assert conversation_of(rosa).assigned_to == supervisor
    assert conversation_of(other).assigned_to == supervisor
    assert conversation_of(not_his).assigned_to is None
    entries = Interaction.objects.filter(summary="Conversación asignada a Sofía Ramos")
    assert sorted(entries.values_list("customer_id", flat=True)) == sorted([rosa.pk, other.pk])
    assert messages_of(response) == [
        "2 conversaciones de Carlos Mendoza (inactivo) reasignadas a Sofía Ramos."
    ]
    assert response.redirect_chain[-1][0] == (f"{reverse(INBOX)}?agent={carlos.pk}&portfolio=todo")


def test_the_message_says_when_fewer_moved_than_the_page_showed(
    agent_client, rosa, carlos, supervisor
):
    held_by(carlos, rosa)
    deactivate(carlos)

    response = agent_client.post(
        f"{reverse(REASSIGN)}?agent={carlos.pk}",
        {"agent": supervisor.pk, "expected": 3},
        follow=True,
    )

    assert messages_of(response)[0].endswith(
        "La página mostraba 3: la lista cambió mientras tanto."
    )


def test_someone_who_takes_no_conversations_cannot_receive_them(agent_client, rosa, carlos, asesor):
    held_by(carlos, rosa)
    deactivate(carlos)

    response = agent_client.post(
        f"{reverse(REASSIGN)}?agent={carlos.pk}", {"agent": asesor.pk, "expected": 1}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["agent"]
    assert conversation_of(rosa).assigned_to == carlos


def test_people_without_the_change_permission_cannot_reassign(client, rosa, carlos, asesor):
    held_by(carlos, rosa)
    client.force_login(asesor)

    response = client.post(f"{reverse(REASSIGN)}?agent={carlos.pk}", {"agent": carlos.pk})

    assert response.status_code == 403


def test_reassigning_needs_the_inbox_filtered_by_one_person(agent_client, rosa, supervisor):
    inbound(rosa, "Hola")

    response = agent_client.post(
        f"{reverse(REASSIGN)}?agent=sin-asignar", {"agent": supervisor.pk}, follow=True
    )

    assert conversation_of(rosa).assigned_to is None
    assert messages_of(response) == [
        "Filtre la bandeja por una persona para reasignar sus conversaciones."
    ]
