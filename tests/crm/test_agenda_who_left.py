"""The agenda's advisor filter after an advisor leaves: their appointments are found.

It offered the active advisors only, so a supervisor could not pick a deactivated advisor
(or one moved to another role) to see the appointments they still hold and hand them over.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.template import Context, Template
from django.urls import reverse

from crm.forms import AgendaFilterForm
from tests.factories import AppointmentFactory, UserFactory

# Friday 27 November 2026, 9:00 in Lima; the appointments are the Monday after.
NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
def cast(db, asesor, time_machine):
    """Luis (deactivated) and María (moved to the call center) hold an appointment each;
    Pedro left holding none; Andrea (the asesor) is still an advisor."""
    time_machine.move_to(NOW, tick=False)
    luis = UserFactory(username="luis", first_name="Luis", last_name="Rojas", role="Asesor")
    maria = UserFactory(username="maria", first_name="María", last_name="Flores", role="Asesor")
    UserFactory(username="pedro", first_name="Pedro", last_name="Sin Citas", is_active=False)
    luis_appointment = AppointmentFactory(advisor=luis, starts_at=MONDAY)
    maria_appointment = AppointmentFactory(advisor=maria, starts_at=MONDAY + timedelta(hours=1))
    mine = AppointmentFactory(advisor=asesor, starts_at=MONDAY + timedelta(hours=2))
    luis.is_active = False
    luis.save()
    maria.groups.set([Group.objects.get(name="Agente call center")])
    return {
        "luis": luis,
        "maria": maria,
        "luis_appointment": luis_appointment,
        "maria_appointment": maria_appointment,
        "mine": mine,
    }


def agenda_ids(response) -> set[int]:
    return {a.pk for a in response.context["page"].object_list}


def test_the_advisor_filter_offers_who_left_with_appointments_under_their_own_group(
    supervisor, asesor, cast
):
    form = AgendaFilterForm({}, user=supervisor)

    choices = form.fields["advisor"].choices
    offered = [str(value) for value, _label in choices[2:] if not isinstance(_label, list)]
    group_name, group = choices[-1]
    assert str(asesor.pk) in offered
    assert str(cast["luis"].pk) not in offered
    assert str(group_name) == "Ya no atienden"
    assert [(value, str(label)) for value, label in group] == [
        (str(cast["luis"].pk), "Luis Rojas (inactivo)"),
        (str(cast["maria"].pk), "María Flores (sin rol de asesor)"),
    ]


def test_a_supervisor_sees_the_appointments_of_an_advisor_who_left(client, supervisor, cast):
    client.force_login(supervisor)

    luis = client.get(reverse("crm:agenda"), {"advisor": cast["luis"].pk})
    maria = client.get(reverse("crm:agenda"), {"advisor": cast["maria"].pk})

    assert not luis.context["form"].errors
    assert agenda_ids(luis) == {cast["luis_appointment"].pk}
    assert agenda_ids(maria) == {cast["maria_appointment"].pk}


def test_nobody_left_means_no_group(supervisor, asesor, db):
    form = AgendaFilterForm({}, user=supervisor)

    assert all(not isinstance(label, list) for _value, label in form.fields["advisor"].choices)


def test_the_group_renders_as_the_lists_render_theirs(supervisor, cast):
    """The agenda page's select, drawn as the list filters draw theirs (select_options)."""
    form = AgendaFilterForm({"advisor": str(cast["luis"].pk)}, user=supervisor)

    html = Template(
        "{% load list_filters %}<select>{% select_options form.advisor %}</select>"
    ).render(Context({"form": form}))

    assert '<optgroup label="Ya no atienden">' in html
    assert f'<option value="{cast["luis"].pk}" selected>Luis Rojas (inactivo)</option>' in html


def test_an_advisor_still_has_no_advisor_filter_and_sees_only_their_own(client, asesor, cast):
    client.force_login(asesor)

    response = client.get(reverse("crm:agenda"), {"advisor": cast["luis"].pk})

    assert "advisor" not in response.context["form"].fields
    assert agenda_ids(response) == {cast["mine"].pk}
