import datetime

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.gestiones import services
from crm.gestiones.models import Gestion, Notification
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, UserFactory

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


def test_my_work_lists_the_agents_open_gestiones_late_first(
    client, make_gestion, asesor, time_machine
):
    time_machine.move_to(NOW)
    fresh = make_gestion(customer=CustomerFactory(), agent=asesor, now=NOW)
    late = make_gestion(
        customer=CustomerFactory(), agent=asesor, now=NOW - datetime.timedelta(days=3)
    )
    untimed = make_gestion(customer=CustomerFactory(), agent=asesor, is_time_controlled=False)
    make_gestion(customer=CustomerFactory(last_name="Ajeno"), agent=UserFactory(role="Asesor"))
    client.force_login(asesor)

    response = client.get(reverse("gestiones:my_work"))

    rows = list(response.context["table"].page.object_list)
    assert [r.record for r in rows] == [late, fresh, untimed]
    assert b"table-danger" in response.content
    assert "Ajeno" not in response.content.decode()


def test_an_agent_cannot_open_someone_elses_gestion(client, make_gestion, asesor):
    other = make_gestion(agent=UserFactory(role="Asesor"))
    client.force_login(asesor)

    assert client.get(other.get_absolute_url()).status_code == 404


def test_a_supervisor_sees_every_gestion(client, make_gestion, supervisor):
    gestion = make_gestion(agent=UserFactory(role="Asesor"))
    client.force_login(supervisor)

    response = client.get(gestion.get_absolute_url())

    assert response.status_code == 200
    assert "Reasignar" in response.content.decode()


@pytest.mark.parametrize("who", ["outsider", "agente"])
def test_people_without_the_role_get_403(client, request, who, make_gestion):
    client.force_login(request.getfixturevalue(who))

    assert client.get(reverse("gestiones:my_work")).status_code == 403


def test_the_gestion_page_offers_only_the_actions_of_the_current_state(
    client, make_gestion, asesor
):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    form = client.get(gestion.get_absolute_url()).context["form"]

    names = [label for _, label in form.fields["action"].choices][1:]
    assert names == ["Revisar documentos", "Contactar al cliente"]


def test_choosing_an_action_loads_its_results(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, _ = step(gestion, "Revisar documentos", "Documentos completos")
    client.force_login(asesor)

    response = client.get(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert "Documentos completos → Pre estudio" in html
    assert "Faltan documentos (sin cambio de estado) · avisa al cliente" in html
    assert "<html" not in html


def test_posting_a_follow_up_changes_the_state(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk, "result": result.pk, "notes": "Todo en regla"},
        follow=True,
    )

    assert "La gestión pasó a «Pre estudio»" in response.content.decode()
    gestion.refresh_from_db()
    assert gestion.state.name == "Pre estudio"


def test_posting_a_rejection_without_reason_shows_the_error_and_changes_nothing(
    client, make_gestion, asesor
):
    gestion = make_gestion(agent=asesor)
    for a, r in [
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ]:
        action, result = step(gestion, a, r)
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)
    action, result = step(gestion, "Resolver análisis", "Rechazado por comité")
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk, "result": result.pk},
    )

    assert response.status_code == 200
    assert "Indique el motivo de rechazo." in response.content.decode()
    gestion.refresh_from_db()
    assert gestion.state.name == "En estudio"


def test_posting_an_action_of_another_state_is_refused(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Desembolsar", "Desembolso realizado")
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk, "result": result.pk},
    )

    assert response.status_code == 200
    assert "No se registró el seguimiento" in response.content.decode()
    gestion.refresh_from_db()
    assert gestion.state.name == "Creado"


def test_an_advisor_opens_a_gestion_from_the_customer(client, credit_type, asesor, customer):
    client.force_login(asesor)
    url = reverse("gestiones:create", args=[customer.pk])

    form_page = client.post(url, {"gestion_type": credit_type.pk, "reload": "1"})
    assert "Ingreso mensual" in form_page.content.decode()

    response = client.post(
        url,
        {
            "gestion_type": credit_type.pk,
            "currency": "PEN",
            "amount_requested": "8000",
            "dyn_ingreso_mensual": "2500.50",
            "dyn_destino": "Vehículo",
            "is_time_controlled": "on",
        },
    )

    gestion = Gestion.objects.get()
    assert response.status_code == 302 and response.url == gestion.get_absolute_url()
    assert gestion.data == {"ingreso_mensual": "2500.50", "destino": "Vehículo"}
    assert gestion.agent is not None
    assert "agent" not in form_page.context["form"].fields


def test_the_same_gestion_form_sent_twice_opens_one(client, credit_type, asesor, customer):
    """A double click on «Abrir gestión» opened two identical gestiones."""
    client.force_login(asesor)
    url = reverse("gestiones:create", args=[customer.pk])
    fields = {
        "gestion_type": credit_type.pk,
        "currency": "PEN",
        "amount_requested": "8000",
        "dyn_ingreso_mensual": "2500.50",
        "dyn_destino": "Vehículo",
    }

    first = client.post(url, fields)
    again = client.post(url, fields, follow=True)

    gestion = Gestion.objects.get()
    assert first.url == gestion.get_absolute_url()
    assertContains(again, f"Esta gestión ya se abrió hace un momento: es la #{gestion.pk}.")


def test_the_board_shows_counts_per_state(client, make_gestion, supervisor, credit_type):
    for _ in range(3):
        make_gestion(customer=CustomerFactory())
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:board"), {"tipo": credit_type.pk})

    columns = {c.state.name: c for c in response.context["columns"]}
    assert columns["Creado"].count == 3
    assert len(columns["Creado"].cards) == 3
    assert columns["Pre estudio"].count == 0


def test_the_workload_screen_reassigns_the_marked_gestiones(
    client, make_gestion, supervisor, asesor, asesor2
):
    gestiones = [make_gestion(customer=CustomerFactory(), agent=asesor) for _ in range(2)]
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:workload"),
        {"gestiones": [g.pk for g in gestiones], "agent": asesor2.pk, "reason": "Licencia"},
        follow=True,
    )

    assert "2 gestiones reasignadas" in response.content.decode()
    assert set(Gestion.objects.values_list("agent", flat=True)) == {asesor2.pk}


def test_the_workload_screen_says_one_gestion_in_the_singular(
    client, make_gestion, supervisor, asesor, asesor2
):
    gestion = make_gestion(customer=CustomerFactory(), agent=asesor)
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:workload"),
        {"gestiones": [gestion.pk], "agent": asesor2.pk},
        follow=True,
    )

    assert "1 gestión reasignada a" in response.content.decode()


def test_the_workload_screen_is_for_supervisors(client, asesor):
    client.force_login(asesor)

    assert client.get(reverse("gestiones:workload")).status_code == 403


def test_the_notification_badge_counts_unread_and_opening_marks_read(
    client, make_gestion, asesor, supervisor
):
    gestion = make_gestion(agent=asesor, actor=supervisor)
    client.force_login(asesor)

    badge = client.get(reverse("gestiones:notifications_badge"))
    assert 'id="unread-count">1<' in badge.content.decode()

    notification = Notification.objects.get(recipient=asesor)
    response = client.get(reverse("gestiones:notification_open", args=[notification.pk]))
    assert response.url == gestion.get_absolute_url()
    notification.refresh_from_db()
    assert notification.read_at is not None


@pytest.mark.parametrize(
    "name", ["notifications", "notifications_badge", "notifications_read", "notification_open"]
)
def test_a_call_center_agent_has_no_notifications_pages(client, agente, name):
    client.force_login(agente)
    address = reverse(f"gestiones:{name}", args=[1] if name == "notification_open" else [])

    response = client.post(address) if name == "notifications_read" else client.get(address)

    assert response.status_code == 403


def test_nobody_opens_another_users_notification(client, make_gestion, asesor, asesor2, supervisor):
    make_gestion(agent=asesor, actor=supervisor)
    notification = Notification.objects.get(recipient=asesor)
    client.force_login(asesor2)

    assert (
        client.get(reverse("gestiones:notification_open", args=[notification.pk])).status_code
        == 404
    )


def test_the_customer_card_lists_their_gestiones(client, make_gestion, asesor, customer):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    response = client.get(reverse("gestiones:customer", args=[customer.pk]))

    assert f"#{gestion.pk} Solicitud de crédito" in response.content.decode()


def test_the_agent_completes_the_required_data_later(client, credit_type, asesor, customer):
    gestion = services.create_gestion(
        customer=customer, gestion_type=credit_type, agent=asesor, require_data=False
    )
    client.force_login(asesor)
    url = reverse("gestiones:data", args=[gestion.pk])

    refused = client.post(url, {"dyn_destino": "Negocio"})
    assert "«Ingreso mensual» es obligatorio" in refused.content.decode() or (
        "obligatorio" in refused.content.decode()
    )
    client.post(url, {"dyn_destino": "Negocio", "dyn_ingreso_mensual": "4100"})

    gestion.refresh_from_db()
    assert gestion.data == {"ingreso_mensual": "4100", "destino": "Negocio"}
    page = client.get(gestion.get_absolute_url()).content.decode()
    assert "Faltan datos obligatorios" not in page


def test_changed_data_goes_to_the_timeline_with_old_and_new_values(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    client.post(
        reverse("gestiones:data", args=[gestion.pk]),
        {"dyn_ingreso_mensual": "4100", "dyn_destino": "Consumo"},
    )

    entry = gestion.customer.interactions.get(summary__contains="datos actualizados")
    assert entry.payload == {"gestion": gestion.pk, "Ingreso mensual": "3500.00 → 4100"}
