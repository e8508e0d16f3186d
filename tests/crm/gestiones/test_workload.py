import datetime
from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from crm.gestiones import services
from crm.gestiones.models import FollowUp, Gestion, Notification, StateAgent
from crm.gestiones.notifications import services as notification_services
from crm.gestiones.workload import selectors as workload_selectors
from crm.gestiones.workload import services as workload_services
from integrations.models import OutboxMessage
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, UserFactory

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


def test_new_gestiones_are_shared_evenly_in_round_robin(make_gestion, asesor, asesor2):
    gestiones = [make_gestion(customer=CustomerFactory()) for _ in range(6)]

    agents = [g.agent for g in gestiones]
    assert Counter(a.pk for a in agents) == {asesor.pk: 3, asesor2.pk: 3}
    # Round robin on ties: they alternate.
    assert all(agents[i] != agents[i + 1] for i in range(5))


def test_the_agent_with_least_open_work_gets_the_next_gestion(make_gestion, asesor, asesor2):
    for _ in range(3):
        make_gestion(customer=CustomerFactory(), agent=asesor)

    given = [make_gestion(customer=CustomerFactory()).agent for _ in range(3)]

    assert [a.pk for a in given] == [asesor2.pk] * 3


def test_closed_gestiones_do_not_count_as_open_work(make_gestion, asesor, asesor2):
    busy = [make_gestion(customer=CustomerFactory(), agent=asesor) for _ in range(2)]
    for gestion in busy:
        action, result = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)
    make_gestion(customer=CustomerFactory(), agent=asesor2)

    assert make_gestion(customer=CustomerFactory()).agent == asesor


def test_a_paused_or_inactive_agent_gets_nothing(make_gestion, credit_type, asesor, asesor2):
    StateAgent.objects.filter(agent=asesor2).update(is_active=False)

    assert {make_gestion(customer=CustomerFactory()).agent for _ in range(3)} == {asesor}

    asesor.is_active = False
    asesor.save()
    orphan = make_gestion(customer=CustomerFactory())
    assert orphan.agent is None


def test_a_gestion_without_agents_alerts_the_supervisors(make_gestion, supervisor):
    StateAgent.objects.all().delete()

    gestion = make_gestion()

    assert gestion.agent is None
    assert Notification.objects.filter(recipient=supervisor, gestion=gestion).exists()


def test_the_assigned_agent_is_notified(make_gestion, asesor, asesor2, supervisor):
    gestion = make_gestion(actor=supervisor)

    assert Notification.objects.filter(
        recipient=gestion.agent, kind=Notification.Kind.ASSIGNED, gestion=gestion
    ).exists()


def test_a_moved_gestion_goes_to_the_agents_of_its_new_state(
    make_gestion, credit_type, asesor, asesor2
):
    analyst = UserFactory(username="analista", role="Asesor")
    study = credit_type.states.get(name="Pre estudio")
    StateAgent.objects.filter(state=study).delete()
    StateAgent.objects.create(state=study, agent=analyst)
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")

    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    gestion.refresh_from_db()
    assert gestion.agent == analyst
    assert gestion.follow_ups.filter(kind=FollowUp.Kind.ASSIGNMENT).count() == 2


def test_a_moved_gestion_stays_with_an_agent_who_also_works_the_new_state(make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")

    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    gestion.refresh_from_db()
    assert gestion.agent == asesor


def test_a_supervisor_reassigns_a_gestion(make_gestion, asesor, asesor2, supervisor):
    gestion = make_gestion(agent=asesor)

    workload_services.reassign_gestion(
        gestion=gestion, agent=asesor2, actor=supervisor, reason="Vacaciones"
    )

    gestion.refresh_from_db()
    assert gestion.agent == asesor2
    note = gestion.follow_ups.filter(kind=FollowUp.Kind.ASSIGNMENT).first().notes
    assert note == "Reasignada de Andrea Quispe a Bruno Díaz: Vacaciones"
    assert Notification.objects.filter(recipient=asesor2, gestion=gestion).exists()


def test_reassigning_to_the_same_agent_or_a_closed_gestion_is_refused(
    make_gestion, asesor, supervisor
):
    gestion = make_gestion(agent=asesor)
    with pytest.raises(ValidationError):
        workload_services.reassign_gestion(gestion=gestion, agent=asesor, actor=supervisor)

    action, result = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)
    with pytest.raises(ValidationError):
        workload_services.reassign_gestion(gestion=gestion, agent=UserFactory(), actor=supervisor)


def test_the_workload_statistics_count_active_on_time_late_and_attended(
    make_gestion, credit_type, asesor, asesor2, time_machine
):
    time_machine.move_to(NOW)
    late = make_gestion(
        customer=CustomerFactory(), agent=asesor, now=NOW - datetime.timedelta(days=2)
    )
    make_gestion(customer=CustomerFactory(), agent=asesor, now=NOW)
    moved = make_gestion(customer=CustomerFactory(), agent=asesor2, now=NOW)
    action, result = step(moved, "Revisar documentos", "Documentos completos")
    services.record_follow_up(gestion=moved, actor=asesor2, action=action, result=result, now=NOW)

    by_state = {
        row.label: row for row in workload_selectors.workload_by_state(gestion_type=credit_type)
    }
    by_agent = {
        row.agent_id: row for row in workload_selectors.workload_by_agent(gestion_type=credit_type)
    }

    created = by_state["Solicitud de crédito, Creado"]
    assert (created.active, created.on_time, created.late, created.attended) == (2, 1, 1, 1)
    pre = by_state["Solicitud de crédito, Pre estudio"]
    assert (pre.active, pre.on_time, pre.late, pre.attended) == (1, 1, 0, 0)
    assert "Solicitud de crédito, Desembolsado" not in by_state
    assert (by_agent[asesor.pk].active, by_agent[asesor.pk].late) == (2, 1)
    assert (by_agent[asesor2.pk].active, by_agent[asesor2.pk].attended) == (1, 1)
    assert late.is_late(NOW)


def test_a_gestion_without_time_control_has_no_due_date(make_gestion):
    gestion = make_gestion(is_time_controlled=False)

    assert gestion.due_at is None
    assert not gestion.is_late()


def test_the_sweep_alerts_late_gestiones_once_to_agent_and_supervisor(
    make_gestion, asesor, supervisor, mailoutbox, django_capture_on_commit_callbacks
):
    asesor.email = "andrea@example.com"
    asesor.save()
    gestion = make_gestion(agent=asesor, now=NOW)  # due a day later

    with django_capture_on_commit_callbacks(execute=True):
        first = notification_services.alert_due_gestiones(
            now=NOW + datetime.timedelta(days=1, minutes=1)
        )
    second = notification_services.alert_due_gestiones(
        now=NOW + datetime.timedelta(days=1, minutes=6)
    )

    assert first["late"] == 1 and second["late"] == 0
    late = Notification.objects.filter(gestion=gestion, kind=Notification.Kind.LATE)
    assert {n.recipient for n in late} == {asesor, supervisor}
    assert "atrasada" in late.first().message
    assert any(m.to == ["andrea@example.com"] and "atrasada" in m.body for m in mailoutbox)


def test_a_notification_is_emailed_to_each_recipient_through_the_outbox(
    make_gestion, asesor, supervisor, mailoutbox, django_capture_on_commit_callbacks
):
    gestion = make_gestion(agent=asesor, now=NOW)
    asesor.email = "andrea@example.com"
    asesor.save()
    supervisor.email = "sofia@example.com"
    supervisor.save()

    with django_capture_on_commit_callbacks(execute=True):
        notification_services.notify(
            recipients=[asesor, supervisor],
            gestion=gestion,
            kind=Notification.Kind.LATE,
            message="La gestión está atrasada.",
        )
        assert mailoutbox == []

    assert sorted(m.to for m in mailoutbox) == [["andrea@example.com"], ["sofia@example.com"]]
    assert set(OutboxMessage.objects.values_list("destination", "status")) == {
        ("email", OutboxMessage.Status.SENT)
    }


def test_a_notification_email_the_server_refuses_stays_failed_in_the_outbox(
    make_gestion, asesor, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"
    gestion = make_gestion(agent=asesor, now=NOW)
    asesor.email = "andrea@example.com"
    asesor.save()

    with django_capture_on_commit_callbacks(execute=True):
        notification_services.notify(
            recipients=[asesor], gestion=gestion, kind=Notification.Kind.LATE, message="Atrasada."
        )

    message = OutboxMessage.objects.get(destination="email")
    assert message.status == OutboxMessage.Status.FAILED
    assert "andrea@example.com" in message.last_error
    assert Notification.objects.filter(recipient=asesor, gestion=gestion).exists()


def test_the_sweep_warns_before_the_due_date_within_the_types_window(make_gestion, asesor):
    gestion = make_gestion(agent=asesor, now=NOW)  # due NOW + 1 day, warned 120 min before

    too_early = notification_services.alert_due_gestiones(now=NOW + datetime.timedelta(hours=21))
    in_window = notification_services.alert_due_gestiones(
        now=NOW + datetime.timedelta(hours=22, minutes=30)
    )
    again = notification_services.alert_due_gestiones(now=NOW + datetime.timedelta(hours=23))

    assert (too_early["due_soon"], in_window["due_soon"], again["due_soon"]) == (0, 1, 0)
    assert (
        Notification.objects.filter(gestion=gestion, kind=Notification.Kind.DUE_SOON).count() == 2
    )


def test_a_new_state_brings_new_alerts(make_gestion, asesor):
    gestion = make_gestion(agent=asesor, now=NOW)
    notification_services.alert_due_gestiones(now=NOW + datetime.timedelta(days=2))
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    services.record_follow_up(
        gestion=gestion,
        actor=asesor,
        action=action,
        result=result,
        now=NOW + datetime.timedelta(days=2),
    )

    counts = notification_services.alert_due_gestiones(now=NOW + datetime.timedelta(days=5))

    assert counts["late"] == 1
    assert Notification.objects.filter(gestion=gestion, kind=Notification.Kind.LATE).count() == 4


def test_closed_gestiones_are_never_late(make_gestion, asesor):
    gestion = make_gestion(agent=asesor, now=NOW)
    action, result = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result, now=NOW)

    assert (
        notification_services.alert_due_gestiones(now=NOW + datetime.timedelta(days=9))["late"] == 0
    )
    assert not Gestion.objects.get(pk=gestion.pk).is_late(NOW + datetime.timedelta(days=9))


def test_bulk_reassignment_says_which_gestiones_did_not_change_hands(
    client, make_gestion, asesor, asesor2, supervisor
):
    mine = make_gestion(customer=CustomerFactory(), agent=asesor)
    theirs = make_gestion(customer=CustomerFactory(), agent=asesor2)
    client.force_login(supervisor)

    nothing = client.post(
        "/gestiones/carga/", {"gestiones": [theirs.pk], "agent": asesor2.pk}, follow=True
    )
    some = client.post(
        "/gestiones/carga/", {"gestiones": [mine.pk, theirs.pk], "agent": asesor2.pk}, follow=True
    )

    said = [str(m) for m in nothing.context["messages"]]
    assert said == [
        "No se reasignó ninguna gestión: las marcadas ya estaban a cargo de Bruno Díaz o se "
        "cerraron."
    ]
    said = [str(m) for m in some.context["messages"]]
    assert said == [
        "1 gestión reasignada a Bruno Díaz. 1 no cambió: ya estaba a su cargo o se cerró."
    ]
