"""People by full name, numbers that are ids unlocalized, and filters that offer what exists."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import forms
from crm.gestiones.models import GestionState, Outcome, Survey, SurveyInvitation
from crm.gestiones.workload import forms as workload_forms
from tests.factories import UserFactory


@pytest.fixture
def named(db):
    """An agent whose username says nothing about who they are."""
    return UserFactory(username="u73021", first_name="Gabriela", last_name="Ríos", role="Asesor")


def labels(field) -> list[str]:
    return [str(label) for _value, label in field.choices]


def test_the_gestion_filters_offer_agents_by_full_name(rf, supervisor, named, credit_type):
    filters = forms.GestionFilter({}, request=rf.get("/"))

    offered = labels(filters.form.fields["agent"])

    assert "Gabriela Ríos" in offered
    assert "u73021" not in offered


def test_the_pickers_offer_agents_by_full_name(supervisor, named, customer, credit_type):
    opening = forms.GestionForm(customer=customer, user=supervisor)
    reassigning = workload_forms.ReassignForm()

    assert "Gabriela Ríos" in labels(opening.fields["agent"])
    assert "Gabriela Ríos" in labels(reassigning.fields["agent"])
    assert "u73021" not in labels(reassigning.fields["agent"])


def test_the_reassignment_message_names_the_agent(
    client, supervisor, named, make_gestion, asesor, credit_type
):
    for state in GestionState.objects.filter(gestion_type=credit_type, outcome=Outcome.OPEN):
        state.agents.add(named)
    gestion = make_gestion(agent=asesor)
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:reassign", args=[gestion.pk]), {"agent": named.pk, "reason": ""}
    )

    told = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"Gestión #{gestion.pk} reasignada a Gabriela Ríos." in told


def test_my_work_offers_only_the_states_a_gestion_is_worked_in(client, asesor, credit_type):
    client.force_login(asesor)

    response = client.get(reverse("gestiones:my_work"))

    offered = labels(response.context["filter"].form.fields["state"])
    assert "Solicitud de crédito · En estudio" in offered
    assert "Solicitud de crédito · Desembolsado" not in offered
    assert "Solicitud de crédito · Desistido" not in offered


def test_the_survey_page_writes_the_gestion_number_without_a_thousands_separator(
    client, make_gestion, asesor
):
    gestion = make_gestion(agent=asesor)
    gestion.pk = 3012  # the same gestión again under a number past a thousand
    gestion.save(force_insert=True)
    invitation = SurveyInvitation.objects.create(
        survey=Survey.objects.create(name="Satisfacción"), gestion=gestion
    )

    response = client.get(reverse("survey_answer", args=[invitation.token]))

    assertContains(response, "Sobre su gestión n.º 3012")
    assertNotContains(response, "3,012")


def test_a_gestion_list_writes_amounts_as_money(client, supervisor, make_gestion, asesor):
    make_gestion(agent=asesor, amount_requested=Decimal("12500.5"))
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:list"))

    assertContains(response, "S/ 12,500.50")
    assertNotContains(response, "PEN 12,500.50")


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("gestiones:list", {"q": "²"}),
        ("gestiones:my_work", {"q": "#²"}),
        ("gestiones:workload", {"gestor": "²"}),
        ("gestiones:workload", {"gestor": "9" * 40}),
        ("crm:agenda", {"since": "9999-12-31"}),
    ],
)
def test_odd_filters_answer_a_page_not_a_server_error(client, supervisor, name, query):
    client.force_login(supervisor)

    assert client.get(reverse(name), query).status_code == 200
