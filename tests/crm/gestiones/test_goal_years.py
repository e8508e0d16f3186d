"""A goal's year: one range (2000 to next year) and one message, wherever it is typed.

The form said «Elija un año hasta 2027.» for 2030 and Django's «mayor o igual a 2000» for
1999, while the list's filter and the progress page took any year up to 2100.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones.goals import forms as goal_forms
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import Goal
from tests.crm.gestiones.test_goals import form_data, goal_data, state

MESSAGE = "Elija un año entre 2000 y 2027."


@pytest.fixture
def june_2026(time_machine):
    time_machine.move_to(datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("America/Lima")), tick=False)


@pytest.fixture
def consumo(credit_type):
    return credit_type.product


@pytest.mark.parametrize("year", ["1999", "2028", "2030", "2100"])
def test_the_goal_form_refuses_a_year_out_of_range_with_the_one_message(
    client, supervisor, asesor, consumo, credit_type, june_2026, year
):
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:goal_create"),
        form_data(asesor, consumo, state(credit_type, "Desembolsado"), year=year),
    )

    assert response.status_code == 200
    assert response.context["form"].errors["year"] == [MESSAGE]
    assert not Goal.objects.exists()


@pytest.mark.parametrize("year", ["2000", "2020", "2026", "2027"])
def test_the_goal_form_takes_a_past_year_and_next_year(
    client, supervisor, asesor, consumo, credit_type, june_2026, year
):
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:goal_create"),
        form_data(asesor, consumo, state(credit_type, "Desembolsado"), year=year),
    )

    assert response.status_code == 302
    assert Goal.objects.get().year == int(year)


@pytest.mark.parametrize("year", ["1999", "2030", "2100"])
def test_the_list_filter_and_the_progress_page_say_the_same(
    client, supervisor, asesor, consumo, credit_type, june_2026, year
):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, year=2026))
    client.force_login(supervisor)

    listing = client.get(reverse("gestiones:goal_list"), {"year": year})
    progress = client.get(reverse("gestiones:goal_progress"), {"year": year, "month": "5"})

    assert listing.context["filter"].form.errors["year"] == [MESSAGE]
    assert progress.context["form"].errors["year"] == [MESSAGE]
    assertContains(progress, f"Año: {MESSAGE}")
    # The page falls back on the current month, as it says.
    assert progress.context["period"]["year"] == 2026


def test_the_list_filter_and_the_progress_page_take_next_year(
    client, supervisor, asesor, consumo, credit_type, june_2026
):
    goal = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, year=2027))
    client.force_login(supervisor)

    listing = client.get(reverse("gestiones:goal_list"), {"year": "2027"})
    progress = client.get(reverse("gestiones:goal_progress"), {"year": "2027", "month": "5"})

    assertContains(listing, f'id="goal-{goal.pk}"')
    assertNotContains(progress, "Se muestra el mes actual.")
    assert [row.goal for row in progress.context["rows"]] == [goal]


def test_the_service_and_the_fields_share_one_bound(asesor, consumo, credit_type, june_2026):
    with pytest.raises(ValidationError) as refused:
        goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, year=1999))

    assert refused.value.message_dict["year"] == [MESSAGE]
    assert goal_services.year_problem(2000) is None
    assert goal_services.year_problem(2028) == MESSAGE
    field = goal_forms.YearField()
    with pytest.raises(ValidationError) as typed:
        field.clean("2028")
    assert typed.value.messages == [MESSAGE]
    assert field.clean("2027") == 2027
    assert Goal._meta.get_field("year").validators[0].limit_value == (goal_services.FIRST_GOAL_YEAR)


@pytest.mark.parametrize("year", ["1999", "2100"])
def test_admin_says_the_same_year_message(admin_client, year):
    """Admin's goal form takes the screens' year field: not «mayor o igual a 2000»."""
    response = admin_client.post("/admin/gestiones/goal/add/", {"year": year, "month": "1"})

    errors = response.context["adminform"].form.errors["year"]
    assert errors == [f"Elija un año entre 2000 y {timezone.localdate().year + 1}."]
