"""A state's outcome and what it does on entry do not change under the gestiones in it."""

import pytest
from django import forms
from django.urls import reverse

from crm.gestiones.models import Gestion, GestionState, Outcome


def state_form(state: GestionState, **changes) -> dict:
    """Return the state's admin form as the page sends it, with `changes`."""
    data = {
        "gestion_type": state.gestion_type_id,
        "name": state.name,
        "order": str(state.order),
        "outcome": state.outcome,
        "duration_days": str(state.duration_days),
        "duration_hours": str(state.duration_hours),
        "duration_minutes": str(state.duration_minutes),
        "color": state.color,
        "state_agents-TOTAL_FORMS": "0",
        "state_agents-INITIAL_FORMS": "0",
    }
    for flag in ("is_initial", "is_approval", "is_disbursement"):
        if getattr(state, flag):
            data[flag] = "on"
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def page_data(response) -> dict:
    """Return what an admin change page posts back untouched: its form and inlines."""
    pages_forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        pages_forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in pages_forms:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value
    return data


@pytest.fixture
def condicionado(credit_type) -> GestionState:
    return GestionState.objects.get(gestion_type=credit_type, name="Condicionado")


def put_in(state: GestionState, *gestiones: Gestion) -> None:
    Gestion.objects.filter(pk__in=[g.pk for g in gestiones]).update(
        state=state, outcome=state.outcome
    )


def test_an_open_state_with_gestiones_does_not_become_a_rejecting_one(
    admin_client, condicionado, make_gestion
):
    put_in(condicionado, make_gestion(), make_gestion())
    url = reverse("admin:gestiones_gestionstate_change", args=[condicionado.pk])

    response = admin_client.post(url, state_form(condicionado, outcome=Outcome.REJECTED))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["outcome"] == [
        "No se puede cambiar «resultado» mientras haya gestiones en «Condicionado»: hay 2, "
        "que tomaron lo que el estado era al entrar y no cambiarían con él. Mueva esas 2 "
        "gestiones a otro estado con un seguimiento, o cree un estado nuevo."
    ]
    condicionado.refresh_from_db()
    assert condicionado.outcome == Outcome.OPEN


def test_an_empty_state_changes_its_outcome(admin_client, condicionado):
    url = reverse("admin:gestiones_gestionstate_change", args=[condicionado.pk])

    response = admin_client.post(url, state_form(condicionado, outcome=Outcome.REJECTED))

    assert response.status_code == 302
    condicionado.refresh_from_db()
    assert condicionado.outcome == Outcome.REJECTED


def test_a_closing_state_with_closed_gestiones_does_not_become_an_open_one(
    admin_client, credit_type, make_gestion
):
    desistido = GestionState.objects.get(gestion_type=credit_type, name="Desistido")
    put_in(desistido, make_gestion())
    url = reverse("admin:gestiones_gestionstate_change", args=[desistido.pk])

    response = admin_client.post(url, state_form(desistido, outcome=Outcome.OPEN))

    assert response.context["adminform"].form.errors["outcome"] == [
        "No se puede cambiar «resultado» mientras haya gestiones en «Desistido»: hay 1, que "
        "tomó lo que el estado era al entrar y no cambiaría con él. Esa gestión está cerrada "
        "y no se mueve: cree un estado nuevo y úselo en la tabla de seguimiento."
    ]
    desistido.refresh_from_db()
    assert desistido.outcome == Outcome.CLOSED


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("Aprobado análisis", "is_approval"),
        ("En estudio", "is_approval"),
        ("Desembolsado", "is_disbursement"),
    ],
)
def test_what_a_state_does_on_entry_does_not_change_under_its_gestiones(
    admin_client, credit_type, make_gestion, name, flag
):
    state = GestionState.objects.get(gestion_type=credit_type, name=name)
    before = getattr(state, flag)
    label = GestionState._meta.get_field(flag).verbose_name
    put_in(state, make_gestion())
    url = reverse("admin:gestiones_gestionstate_change", args=[state.pk])

    response = admin_client.post(url, state_form(state, **{flag: not before}))

    errors = response.context["adminform"].form.errors[flag]
    assert errors[0].startswith(
        f"No se puede cambiar «{label}» mientras haya gestiones en «{name}»: hay 1,"
    )
    state.refresh_from_db()
    assert getattr(state, flag) == before


def test_a_state_with_gestiones_does_not_move_to_another_process(
    admin_client, condicionado, service_type, make_gestion
):
    put_in(condicionado, make_gestion())
    url = reverse("admin:gestiones_gestionstate_change", args=[condicionado.pk])

    response = admin_client.post(url, state_form(condicionado, gestion_type=service_type.pk))

    assert "gestion_type" in response.context["adminform"].form.errors
    condicionado.refresh_from_db()
    assert condicionado.gestion_type_id != service_type.pk


def test_an_empty_state_the_follow_up_table_names_does_not_move_to_another_process(
    admin_client, condicionado, service_type
):
    # No gestión in it, but its process's actions are allowed in it or lead to it.
    assert not condicionado.gestiones.exists()
    url = reverse("admin:gestiones_gestionstate_change", args=[condicionado.pk])

    response = admin_client.post(url, state_form(condicionado, gestion_type=service_type.pk))

    assert "la tabla de seguimiento de su tipo la usa" in str(
        response.context["adminform"].form.errors["gestion_type"]
    )
    condicionado.refresh_from_db()
    assert condicionado.gestion_type_id != service_type.pk


def test_the_process_page_refuses_it_on_the_states_row(
    admin_client, credit_type, condicionado, make_gestion
):
    put_in(condicionado, make_gestion())
    url = reverse("admin:gestiones_gestiontype_change", args=[credit_type.pk])
    data = page_data(admin_client.get(url))
    row = next(k for k, v in data.items() if k.endswith("-name") and v == "Condicionado")
    data[row.replace("-name", "-outcome")] = Outcome.REJECTED

    response = admin_client.post(url, data)

    assert response.status_code == 200
    states = next(
        f for f in response.context["inline_admin_formsets"] if f.formset.model is GestionState
    )
    assert any(
        e.get("outcome", [""])[0].startswith("No se puede cambiar «resultado»")
        for e in states.formset.errors
    )
    condicionado.refresh_from_db()
    assert condicionado.outcome == Outcome.OPEN
