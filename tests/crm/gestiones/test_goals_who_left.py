"""The goals of an agent who left: the list's filter and the progress page find them.

Both offered only the people who may hold goals now, so a supervisor could not pick a
deactivated agent (or one moved to another role) whose goals are still there, to see them
or their progress before correcting or deleting them.
"""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones.goals import services as goal_services
from tests.crm.gestiones.test_goals import goal_data
from tests.factories import UserFactory


@pytest.fixture
def consumo(credit_type):
    return credit_type.product


@pytest.fixture
def goals_of_two_who_left(asesor, asesor2, consumo, credit_type):
    """Andrea (asesor) deactivated and Bruno (asesor2) moved to the call center, each with a
    goal of May 2026; a third person who left has none."""
    andrea = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    bruno = goal_services.create_goal(data=goal_data(asesor2, consumo, credit_type))
    asesor.is_active = False
    asesor.save()
    asesor2.groups.set([Group.objects.get(name="Agente call center")])
    UserFactory(username="nadie", first_name="Nadia", last_name="Sin Metas", is_active=False)
    return {"andrea": andrea, "bruno": bruno}


def former_group(page: str) -> str:
    start = page.index('<optgroup label="Ya no atienden">')
    return page[start : page.index("</optgroup>", start)]


def test_the_goal_list_offers_the_agents_who_left_and_filters_by_them(
    client, supervisor, asesor, asesor2, goals_of_two_who_left
):
    client.force_login(supervisor)
    url = reverse("gestiones:goal_list")

    page = client.get(url).content.decode()
    andreas = client.get(url, {"agent": asesor.pk})

    group = former_group(page)
    assert f'<option value="{asesor.pk}">Andrea Quispe (inactivo)</option>' in group
    assert f'<option value="{asesor2.pk}">Bruno Díaz (sin rol)</option>' in group
    assert "Nadia" not in page
    assertContains(andreas, f'id="goal-{goals_of_two_who_left["andrea"].pk}"')
    assertNotContains(andreas, f'id="goal-{goals_of_two_who_left["bruno"].pk}"')


def test_the_progress_page_offers_the_agents_who_left_and_shows_their_goals(
    client, supervisor, asesor, asesor2, goals_of_two_who_left
):
    client.force_login(supervisor)
    url = reverse("gestiones:goal_progress")

    response = client.get(url, {"year": "2026", "month": "5", "agent": asesor2.pk})

    page = response.content.decode()
    group = former_group(page)
    assert f'<option value="{asesor.pk}">Andrea Quispe (inactivo)</option>' in group
    assert f'<option value="{asesor2.pk}" selected>Bruno Díaz (sin rol)</option>' in group
    assert "Nadia" not in page
    assert not response.context["form"].errors
    assert [row.goal for row in response.context["rows"]] == [goals_of_two_who_left["bruno"]]


def test_the_agents_who_hold_goals_come_first_without_a_group(
    client, supervisor, asesor, consumo, credit_type
):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    client.force_login(supervisor)

    listing = client.get(reverse("gestiones:goal_list"))
    progress = client.get(reverse("gestiones:goal_progress"))

    for response in (listing, progress):
        assertContains(response, f'<option value="{asesor.pk}">Andrea Quispe</option>')
        assertNotContains(response, "Ya no atienden")


def test_an_agent_still_sees_only_their_own_goals_without_an_agent_filter(
    client, asesor, asesor2, consumo, credit_type
):
    goal_services.create_goal(data=goal_data(asesor2, consumo, credit_type))
    asesor2.is_active = False
    asesor2.save()
    client.force_login(asesor)

    listing = client.get(reverse("gestiones:goal_list"))
    progress = client.get(reverse("gestiones:goal_progress"), {"agent": asesor2.pk})

    assertNotContains(listing, "Bruno Díaz")
    assert "agent" not in progress.context["form"].fields
    assert progress.context["rows"] == []
