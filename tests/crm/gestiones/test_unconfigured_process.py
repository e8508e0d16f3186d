"""A process set up halfway in admin: the follow-up and the new gestión say what is
missing and where an administrator adds it."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from crm.gestiones import examples, services
from crm.gestiones.models import Action, FollowUp, StateAgent


@pytest.fixture
def bare_type(db, supervisor):
    """The service process with nobody working its states (state agents are set apart)."""
    return examples.build_process(examples.SERVICE_REQUEST, supervisors=[supervisor])


def test_an_action_without_results_says_which_and_where_they_are_added(
    client, asesor, customer, service_type
):
    gestion = services.create_gestion(
        customer=customer, gestion_type=service_type, agent=asesor, data={"categoria": "Otro"}
    )
    call = Action.objects.create(gestion_type=service_type, name="Llamar al cliente")
    call.from_states.add(gestion.state)
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]), {"action": call.pk, "result": ""}
    )

    text = response.content.decode()
    assert "La acción «Llamar al cliente» no tiene resultados configurados" in text
    assert "Administración → Gestiones → Acciones" in text
    assert "Este campo es obligatorio" not in text
    assert not FollowUp.objects.filter(action=call).exists()


def test_choosing_an_action_without_results_says_so_before_sending(
    client, asesor, customer, service_type
):
    gestion = services.create_gestion(
        customer=customer, gestion_type=service_type, agent=asesor, data={"categoria": "Otro"}
    )
    call = Action.objects.create(gestion_type=service_type, name="Llamar al cliente")
    call.from_states.add(gestion.state)
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": call.pk, "reload": "1"},
        headers={"HX-Request": "true"},
    )

    assert "La acción «Llamar al cliente» no tiene resultados configurados" in (
        response.content.decode()
    )


def test_a_gestion_opened_with_nobody_in_its_state_says_it_has_no_agent_and_why(
    client, asesor, customer, bare_type
):
    assert not StateAgent.objects.filter(state=bare_type.initial_state()).exists()
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:create", args=[customer.pk]),
        {
            "gestion_type": bare_type.pk,
            "currency": bare_type.default_currency,
            "dyn_categoria": "Otro",
        },
    )

    assert response.status_code == 302
    told = [str(m) for m in get_messages(response.wsgi_request)]
    state = bare_type.initial_state().name
    assert any(
        "quedó sin gestor" in m
        and f"el estado «{state}» no tiene gestores activos" in m
        and "Administración → Gestiones → Estados" in m
        for m in told
    ), told


def test_a_gestion_given_to_an_agent_just_says_it_opened(client, asesor, customer, service_type):
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:create", args=[customer.pk]),
        {
            "gestion_type": service_type.pk,
            "currency": service_type.default_currency,
            "dyn_categoria": "Otro",
        },
    )

    told = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(m.endswith("abierta.") for m in told), told
    assert not any("sin gestor" in m for m in told), told
