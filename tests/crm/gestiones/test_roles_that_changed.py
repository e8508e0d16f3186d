"""Roles that changed: a supervisor moved to another role supervises nothing from that
moment, and a goal of a person who left or lost the role can still be corrected."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import selectors
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import Goal, Notification
from crm.gestiones.notifications import services as notification_services
from integrations.models import OutboxMessage
from tests.crm.gestiones.test_goals import form_data, goal_data, state
from tests.factories import CustomerFactory, UserFactory

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
LATE = NOW + datetime.timedelta(days=1, minutes=1)


def demote(user, role: str = "Asesor"):
    """Move `user` to `role` and read them again, as their next request would."""
    user.groups.set([Group.objects.get(name=role)])
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def others_gestion(make_gestion, asesor):
    """A gestión of the credit type (supervised by `supervisor`) worked by `asesor`."""
    return make_gestion(agent=asesor, customer=CustomerFactory(), now=NOW)


# --- Supervision ----------------------------------------------------------------------


def test_a_supervisor_moved_to_advisor_no_longer_sees_nor_works_others_gestiones(
    others_gestion, supervisor, client
):
    assert selectors.works_on(supervisor, others_gestion)

    advisor = demote(supervisor)

    assert not selectors.visible_gestiones(advisor).filter(pk=others_gestion.pk).exists()
    assert not selectors.is_supervisor_of(advisor, others_gestion)
    assert not selectors.can_follow_up(advisor, others_gestion)
    client.force_login(advisor)
    assert client.get(reverse("gestiones:detail", args=[others_gestion.pk])).status_code == 404


def test_a_supervisor_moved_to_advisor_gets_no_alert_with_customers_names(
    others_gestion, asesor, supervisor
):
    supervisor.email = "sofia@example.com"
    supervisor.save()
    demote(supervisor)

    assert selectors.supervisors_of(others_gestion) == []
    assert notification_services.alert_due_gestiones(now=LATE)["late"] == 1

    late = Notification.objects.filter(gestion=others_gestion, kind=Notification.Kind.LATE)
    assert [n.recipient for n in late] == [asesor]
    assert not [
        m
        for m in OutboxMessage.objects.filter(destination="email")
        if m.payload["to"] == "sofia@example.com"
    ]


def test_the_types_supervisors_are_told_when_the_states_lost_the_role(others_gestion, supervisor):
    former = UserFactory(username="exsuper", role="Asesor")
    others_gestion.state.supervisors.add(former)

    assert selectors.supervisors_of(others_gestion) == [supervisor]


def test_a_role_given_the_reassignment_alone_sees_what_it_supervises(others_gestion):
    """A role without `view_all_gestiones` but with the supervising permission keeps seeing
    the gestiones of the types it is listed for."""
    lead = UserFactory(username="jefa", role="Asesor")
    lead.user_permissions.add(Permission.objects.get(codename="reassign_gestion"))
    others_gestion.gestion_type.supervisors.add(lead)
    lead = get_user_model().objects.get(pk=lead.pk)

    assert selectors.visible_gestiones(lead).filter(pk=others_gestion.pk).exists()
    assert selectors.is_supervisor_of(lead, others_gestion)


def test_admin_marks_the_supervisors_who_left_or_lost_the_role(
    admin_client, credit_type, supervisor
):
    former = UserFactory(username="exsuper", role="Asesor")
    gone = UserFactory(username="idos", role="Supervisor", is_active=False)
    credit_type.supervisors.add(former, gone)
    state_ = credit_type.initial_state()
    state_.supervisors.add(former)

    type_page = admin_client.get(
        reverse("admin:gestiones_gestiontype_change", args=[credit_type.pk])
    )
    state_page = admin_client.get(reverse("admin:gestiones_gestionstate_change", args=[state_.pk]))

    assertContains(
        type_page, f'<option value="{former.pk}" selected>exsuper (sin rol de supervisor)'
    )
    assertContains(type_page, f'<option value="{gone.pk}" selected>idos (inactivo)')
    assertContains(type_page, f'<option value="{supervisor.pk}" selected>supervisor</option>')
    assertContains(
        state_page, f'<option value="{former.pk}" selected>exsuper (sin rol de supervisor)'
    )


# --- Goals of people who left -----------------------------------------------------------


@pytest.fixture
def consumo(credit_type):
    return credit_type.product


@pytest.mark.parametrize("gone", ["inactive", "call_center"])
def test_a_goal_of_a_person_who_left_can_be_corrected(
    client, supervisor, asesor, consumo, credit_type, gone
):
    goal = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    if gone == "inactive":
        asesor.is_active = False
        asesor.save()
        mark = "(inactivo)"
    else:
        demote(asesor, "Agente call center")
        mark = "(sin rol)"
    client.force_login(supervisor)
    edit = reverse("gestiones:goal_update", args=[goal.pk])

    page = client.get(edit)
    saved = client.post(
        edit, form_data(asesor, consumo, state(credit_type, "Desembolsado"), target_local="7000")
    )
    listed = client.get(reverse("gestiones:goal_list"))

    assertContains(page, f'<option value="{asesor.pk}" selected>Andrea Quispe {mark}</option>')
    assert saved.status_code == 302
    goal.refresh_from_db()
    assert goal.target_local == Decimal("7000.00")
    assert goal.agent == asesor
    assertContains(listed, "Andrea Quispe <span")
    assertContains(listed, mark)


def test_another_goal_cannot_be_given_to_a_person_who_left(
    client, supervisor, asesor, asesor2, consumo, credit_type
):
    goal = goal_services.create_goal(data=goal_data(asesor2, consumo, credit_type))
    asesor.is_active = False
    asesor.save()
    client.force_login(supervisor)
    edit = reverse("gestiones:goal_update", args=[goal.pk])

    page = client.get(edit)
    refused = client.post(edit, form_data(asesor, consumo, state(credit_type, "Desembolsado")))

    assertNotContains(page, "Andrea Quispe")
    assertContains(refused, "Elija una opción")
    assert Goal.objects.get(pk=goal.pk).agent == asesor2


def test_the_goals_list_leaves_working_agents_unmarked(
    client, supervisor, asesor, consumo, credit_type
):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    client.force_login(supervisor)

    listed = client.get(reverse("gestiones:goal_list"))

    assertContains(listed, "<td>Andrea Quispe</td>")
    assertNotContains(listed, "(sin rol)")
