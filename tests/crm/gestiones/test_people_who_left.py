"""People who can no longer work gestiones: deactivated, or moved to a role without
follow-ups. They get no new gestión and no alert; the supervisors are told whom to empty."""

import datetime

import pytest
from django.contrib.auth.models import Group

from crm.gestiones import services
from crm.gestiones.campaigns import selectors as campaign_selectors
from crm.gestiones.models import Campaign, Notification, StateAgent
from crm.gestiones.notifications import services as notification_services
from crm.gestiones.workload import selectors as workload_selectors
from crm.gestiones.workload import services as workload_services
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
LATE = NOW + datetime.timedelta(days=1, minutes=1)


def move_to_call_center(user) -> None:
    """Still active, but now a call-center agent: no permission to work gestiones."""
    user.groups.set([Group.objects.get(name="Agente call center")])


def emails_to(address: str) -> list[OutboxMessage]:
    return [
        m for m in OutboxMessage.objects.filter(destination="email") if m.payload["to"] == address
    ]


# --- Distribution -------------------------------------------------------------------


def test_an_agent_moved_to_another_role_gets_no_new_gestion(
    make_gestion, credit_type, asesor, asesor2
):
    move_to_call_center(asesor)

    given = {make_gestion(customer=CustomerFactory()).agent for _ in range(4)}

    assert given == {asesor2}
    assert not Notification.objects.filter(recipient=asesor).exists()
    assert workload_services.state_pool(asesor2.gestiones.first().gestion_type.initial_state()) == [
        asesor2
    ]


def test_a_pool_where_nobody_may_work_leaves_it_unassigned_and_tells_the_supervisors(
    make_gestion, asesor, asesor2, supervisor
):
    move_to_call_center(asesor)
    move_to_call_center(asesor2)

    gestion = make_gestion()

    assert gestion.agent is None
    told = Notification.objects.get(recipient=supervisor, gestion=gestion)
    assert told.kind == Notification.Kind.INFO
    assert told.message.endswith(
        "no tiene gestor: el estado «Creado» no tiene gestores que puedan trabajarla."
    )
    assert not Notification.objects.filter(recipient__in=[asesor, asesor2]).exists()


def test_a_pool_of_inactive_agents_still_says_it_has_no_active_agents(
    make_gestion, asesor, asesor2, supervisor
):
    for user in (asesor, asesor2):
        user.is_active = False
        user.save()

    gestion = make_gestion()

    assert gestion.agent is None
    told = Notification.objects.get(recipient=supervisor, gestion=gestion)
    assert told.message.endswith("el estado «Creado» no tiene gestores activos.")


def test_a_moved_gestion_leaves_an_agent_who_lost_the_role(
    make_gestion, credit_type, asesor, asesor2
):
    gestion = make_gestion(agent=asesor)
    move_to_call_center(asesor)
    study = credit_type.states.get(name="Pre estudio")
    assert StateAgent.objects.filter(state=study, agent=asesor, is_active=True).exists()

    services.move_to_state(gestion=gestion, state=study, actor=None, notes="Pasa a estudio")

    gestion.refresh_from_db()
    assert gestion.agent == asesor2


def test_a_campaigns_agents_are_only_those_who_may_work_gestiones(asesor, asesor2):
    campaign = Campaign.objects.create(name="Feria", slug="feria", kind=Campaign.Kind.OUTBOUND)
    campaign.agents.set([asesor, asesor2])
    move_to_call_center(asesor)

    assert campaign_selectors.campaign_agents(campaign) == [asesor2]

    move_to_call_center(asesor2)
    # Nobody left: the initial state's agents take the campaign's gestiones.
    assert campaign_selectors.campaign_agents(campaign) is None


def test_pick_agent_skips_a_pool_member_without_the_role(asesor, asesor2):
    move_to_call_center(asesor)

    assert workload_services.pick_agent([asesor, asesor2]) == asesor2
    assert workload_services.pick_agent([asesor]) is None


# --- Notifications ------------------------------------------------------------------


@pytest.mark.parametrize("gone", ["inactive", "call_center"])
def test_notify_leaves_out_who_can_no_longer_work_gestiones(make_gestion, asesor, supervisor, gone):
    gestion = make_gestion(agent=asesor, now=NOW)
    asesor.email = "andrea@example.com"
    supervisor.email = "sofia@example.com"
    if gone == "inactive":
        asesor.is_active = False
    else:
        move_to_call_center(asesor)
    asesor.save()
    supervisor.save()

    made = notification_services.notify(
        recipients=[asesor, supervisor],
        gestion=gestion,
        kind=Notification.Kind.LATE,
        message="La gestión está atrasada.",
    )

    assert [n.recipient for n in made] == [supervisor]
    assert not Notification.objects.filter(recipient=asesor, kind=Notification.Kind.LATE).exists()
    assert emails_to("andrea@example.com") == []
    assert len(emails_to("sofia@example.com")) == 1


def test_a_late_gestion_of_a_deactivated_agent_tells_the_supervisors_whom_to_empty(
    make_gestion, asesor, supervisor, settings
):
    settings.SITE_URL = "https://cartera.example"
    gestion = make_gestion(agent=asesor, now=NOW)
    asesor.email = "andrea@example.com"
    asesor.is_active = False
    asesor.save()
    supervisor.email = "sofia@example.com"
    supervisor.save()

    assert notification_services.alert_due_gestiones(now=LATE)["late"] == 1

    late = Notification.objects.filter(gestion=gestion, kind=Notification.Kind.LATE)
    assert [n.recipient for n in late] == [supervisor]
    assert late.get().message.endswith(
        "Su gestor Andrea Quispe ya no está activo: reasígnela en Carga de trabajo."
    )
    assert emails_to("andrea@example.com") == []
    (mail,) = emails_to("sofia@example.com")
    assert "Su gestor Andrea Quispe ya no está activo" in mail.payload["body"]
    assert (
        f"Carga de trabajo: https://cartera.example/gestiones/carga/?gestor={asesor.pk}#reassign"
        in mail.payload["body"]
    )
    assert f"https://cartera.example/gestiones/{gestion.pk}/" in mail.payload["body"]


def test_a_late_gestion_of_an_agent_without_the_role_says_so(make_gestion, asesor, supervisor):
    gestion = make_gestion(agent=asesor, now=NOW)
    move_to_call_center(asesor)

    notification_services.alert_due_gestiones(now=LATE)

    late = Notification.objects.filter(gestion=gestion, kind=Notification.Kind.LATE)
    assert [n.recipient for n in late] == [supervisor]
    assert late.get().message.endswith(
        "Su gestor Andrea Quispe ya no tiene el rol para trabajar gestiones: reasígnela en "
        "Carga de trabajo."
    )


def test_a_late_gestion_of_a_working_agent_is_the_ordinary_alert(make_gestion, asesor, supervisor):
    gestion = make_gestion(agent=asesor, now=NOW)

    notification_services.alert_due_gestiones(now=LATE)

    late = Notification.objects.filter(gestion=gestion, kind=Notification.Kind.LATE)
    assert {n.recipient for n in late} == {asesor, supervisor}
    assert all("Carga de trabajo" not in n.message for n in late)


# --- Carga de trabajo -----------------------------------------------------------------


def test_the_workload_marks_who_can_no_longer_work_their_gestiones(
    make_gestion, asesor, asesor2, client, supervisor
):
    make_gestion(agent=asesor, customer=CustomerFactory())
    make_gestion(agent=asesor2, customer=CustomerFactory())
    asesor.is_active = False
    asesor.save()
    move_to_call_center(asesor2)

    rows = {r.agent_id: r for r in workload_selectors.workload_by_agent()}
    assert rows[asesor.pk].note == "(inactivo)"
    assert rows[asesor2.pk].note == "(sin rol de asesor)"
    assert rows[supervisor.pk].note == ""

    client.force_login(supervisor)
    page = client.get("/gestiones/carga/", {"gestor": asesor.pk})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Andrea Quispe</a> <span" in html and "(inactivo)" in html
    assert "(sin rol de asesor)" in html
    # The alert's link lands here: the filter shows whose gestiones are listed.
    assert f'<option value="{asesor.pk}" selected>Andrea Quispe (inactivo)</option>' in html


def test_a_late_gestion_without_agent_points_the_supervisors_to_the_unassigned(
    make_gestion, supervisor
):
    StateAgent.objects.all().delete()
    gestion = make_gestion(now=NOW)
    supervisor.email = "sofia@example.com"
    supervisor.save()

    notification_services.alert_due_gestiones(now=LATE)

    late = Notification.objects.get(gestion=gestion, kind=Notification.Kind.LATE)
    assert late.message.endswith("No tiene gestor: asígnela en Carga de trabajo.")
    (mail,) = emails_to("sofia@example.com")
    assert "/gestiones/carga/?gestor=none#reassign" in mail.payload["body"]
