"""Gestiones' configuration forms sent twice: a double click, the back button and send.
A new campaign's second send finds the campaign the first made; a deletion's second
confirmation finds the row gone, says it was deleted a moment ago and goes where the
first went, instead of a "not found" page that reads as a failure."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.gestiones import services
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import (
    Campaign,
    DeletionRecord,
    FollowUp,
    GestionState,
    Goal,
    Survey,
)
from crm.models import Product
from tests.crm.gestiones.conftest import asesor2, credit_type  # noqa: F401 (fixtures, imported)
from tests.factories import CustomerFactory, UserFactory

CONFIRM = {"confirm": "yes"}
# What a credit application's gestión needs to open.
CREDIT_DATA = {"ingreso_mensual": "3500.00", "destino": "Consumo"}


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- A new campaign ------------------------------------------------------------------------


@pytest.fixture
def campaign_data(credit_type):  # noqa: F811
    return {
        "name": "Feria de diciembre",
        "kind": "outbound",
        "status": "draft",
        "gestion_type": credit_type.pk,
        "message_body": "",
    }


def test_a_campaign_sent_twice_is_created_once_and_the_second_goes_to_it(
    client, supervisor, campaign_data
):
    client.force_login(supervisor)
    url = reverse("gestiones:campaign_create")
    client.post(url, campaign_data)

    second = client.post(url, campaign_data, follow=True)

    campaign = Campaign.objects.get()
    assert second.redirect_chain == [(campaign.get_absolute_url(), 302)]
    assert (
        "La campaña «Feria de diciembre» ya se creó hace un momento: no se creó otra."
        in " ".join(shown(second))
    )


def test_a_campaign_name_taken_long_ago_is_still_refused(
    client, supervisor, campaign_data, time_machine
):
    client.force_login(supervisor)
    url = reverse("gestiones:campaign_create")
    client.post(url, campaign_data)
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=2))

    later = client.post(url, campaign_data)

    assert Campaign.objects.count() == 1
    assert later.status_code == 200
    assert "name" in later.context["form"].errors


def test_a_launch_pressed_twice_runs_once_and_the_second_says_it_is_running(
    client,
    supervisor,
    credit_type,  # noqa: F811
):
    campaign = Campaign.objects.create(
        name="Aviso", slug="aviso", kind="outbound", gestion_type=credit_type
    )
    client.force_login(supervisor)
    url = reverse("gestiones:campaign_launch", args=[campaign.pk])
    client.post(url)  # its task waits for the commit: the launch is still running

    second = client.post(url, follow=True)

    messages = " ".join(shown(second))
    assert "Usted lanzó esta campaña hace un momento" in messages
    assert "El lanzamiento anterior de esta campaña sigue en curso." not in messages


# --- A bulk reassignment ------------------------------------------------------------------


def test_a_reassignment_sent_twice_says_the_first_moved_them(
    client,
    supervisor,
    asesor,
    asesor2,  # noqa: F811
    credit_type,  # noqa: F811
):
    gestiones = [
        services.create_gestion(
            customer=CustomerFactory(), gestion_type=credit_type, agent=asesor, data=CREDIT_DATA
        )
        for _ in range(2)
    ]
    client.force_login(supervisor)
    url = reverse("gestiones:workload")
    data = {"gestiones": [g.pk for g in gestiones], "agent": asesor2.pk, "reason": "Licencia"}
    client.post(url, data)

    second = client.post(url, data, follow=True)

    messages = shown(second)
    assert any("ya se reasignaron a" in text and "hace un momento" in text for text in messages)
    assert not any("No se reasignó ninguna gestión" in text for text in messages)
    assert FollowUp.objects.filter(kind=FollowUp.Kind.ASSIGNMENT, actor=supervisor).count() == 2


def test_a_reassignment_of_gestiones_already_the_agents_still_says_nothing_moved(
    client,
    supervisor,
    asesor2,  # noqa: F811
    credit_type,  # noqa: F811
):
    gestion = services.create_gestion(
        customer=CustomerFactory(), gestion_type=credit_type, agent=asesor2, data=CREDIT_DATA
    )
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:workload"), {"gestiones": [gestion.pk], "agent": asesor2.pk}, follow=True
    )

    assert any("No se reasignó ninguna gestión" in text for text in shown(response))


# --- A new survey --------------------------------------------------------------------------


def survey_data(**fields) -> dict:
    data = {
        "name": "Post venta",
        "intro": "",
        "thanks": "¡Gracias!",
        "is_active": "on",
        "q-TOTAL_FORMS": "2",
        "q-INITIAL_FORMS": "0",
        "q-MIN_NUM_FORMS": "0",
        "q-MAX_NUM_FORMS": "1000",
    }
    rows = [
        {"order": "1", "text": "¿Nos recomendaría?", "kind": "scale", "scale_min": "0",
         "scale_max": "10", "is_required": "on", "choices": ""},
        {"order": "2", "text": "¿Qué canal prefiere?", "kind": "choice", "scale_min": "1",
         "scale_max": "5", "choices": "Correo\r\nWhatsApp"},
    ]  # fmt: skip
    for index, row in enumerate(rows):
        data |= {f"q-{index}-{key}": value for key, value in row.items()}
    return data | fields


def test_a_survey_sent_twice_is_saved_once_and_the_second_goes_to_it(client, supervisor):
    client.force_login(supervisor)
    url = reverse("gestiones:survey_create")
    client.post(url, survey_data())

    second = client.post(url, survey_data(), follow=True)

    survey = Survey.objects.get()
    assert second.redirect_chain == [(reverse("gestiones:survey_report", args=[survey.pk]), 302)]
    assert (
        "La encuesta «Post venta» ya está guardada con estas mismas preguntas: no se creó otra."
        in shown(second)
    )
    assert survey.questions.count() == 2


def test_another_survey_with_a_name_taken_is_still_refused(client, supervisor):
    client.force_login(supervisor)
    url = reverse("gestiones:survey_create")
    client.post(url, survey_data())

    other = client.post(url, survey_data(**{"q-1-choices": "Correo\r\nLlamada"}))

    assert Survey.objects.count() == 1
    assert other.status_code == 200
    assert "name" in other.context["form"].errors


# --- A new goal ----------------------------------------------------------------------------


@pytest.fixture
def goal_data(asesor, credit_type):  # noqa: F811
    return {
        "agent": asesor.pk,
        "product": credit_type.product.pk,
        "year": "2026",
        "month": "5",
        "target_local": "5000.00",
        "target_usd": "0",
        "target_customers": "3",
        "target_prospects": "10",
        "success_state": GestionState.objects.get(gestion_type=credit_type, name="Desembolsado").pk,
    }


def test_a_goal_sent_twice_is_registered_once_and_the_second_says_so(client, supervisor, goal_data):
    client.force_login(supervisor)
    url = reverse("gestiones:goal_create")
    client.post(url, goal_data)

    second = client.post(url, goal_data, follow=True)

    assert Goal.objects.count() == 1
    assert second.redirect_chain == [(reverse("gestiones:goal_list"), 302)]
    assert any(
        "ya está registrada con estos mismos valores: no se creó otra." in text
        for text in shown(second)
    )


def test_another_goal_for_the_same_agent_product_and_month_is_still_refused(
    client, supervisor, goal_data
):
    client.force_login(supervisor)
    url = reverse("gestiones:goal_create")
    client.post(url, goal_data)

    other = client.post(url, {**goal_data, "target_local": "9000.00"})

    assert Goal.objects.count() == 1
    assert other.status_code == 200
    assert "ya tiene una meta" in other.content.decode()


# --- A deletion confirmed twice ------------------------------------------------------------


@pytest.fixture
def boss(db):
    return UserFactory(username="jefa", first_name="Ana", last_name="Díaz", role="Administrador")


def test_a_campaign_deleted_twice_says_the_first_deleted_it(client, boss):
    campaign = Campaign.objects.create(name="Borrador", slug="borrador", kind="outbound")
    client.force_login(boss)
    url = reverse("gestiones:campaign_delete", args=[campaign.pk])
    client.post(url, CONFIRM)

    second = client.post(url, CONFIRM, follow=True)

    assert second.redirect_chain == [(reverse("gestiones:campaign_list"), 302)]
    assert "Campaña «Borrador» ya se eliminó hace un momento." in shown(second)
    assert DeletionRecord.objects.count() == 1


def test_a_survey_deleted_twice_says_the_first_deleted_it(client, boss):
    survey = Survey.objects.create(name="Piloto")
    client.force_login(boss)
    url = reverse("gestiones:survey_delete", args=[survey.pk])
    client.post(url, CONFIRM)

    second = client.post(url, CONFIRM, follow=True)

    assert second.redirect_chain == [(reverse("gestiones:survey_list"), 302)]
    assert "Encuesta «Piloto» ya se eliminó hace un momento." in shown(second)


def test_a_goal_deleted_twice_says_the_first_deleted_it(
    client,
    supervisor,
    asesor,
    credit_type,  # noqa: F811
):
    goal = goal_services.create_goal(
        data={
            "agent": asesor,
            "product": Product.objects.get(code="consumo"),
            "year": 2026,
            "month": 5,
            "target_local": Decimal("50000"),
            "target_usd": Decimal("0"),
            "target_prospects": 10,
            "target_customers": 3,
            "success_state": GestionState.objects.get(
                gestion_type=credit_type, name="Desembolsado"
            ),
        }
    )
    client.force_login(supervisor)
    url = reverse("gestiones:goal_delete", args=[goal.pk])
    client.post(url, CONFIRM)

    second = client.post(url, CONFIRM, follow=True)

    assert second.redirect_chain == [(reverse("gestiones:goal_list"), 302)]
    assert any("ya se eliminó hace un momento" in text for text in shown(second))
    assert not Goal.objects.exists()


def test_a_row_deleted_by_someone_else_or_long_ago_is_still_not_found(
    client, boss, admin_user, time_machine
):
    campaign = Campaign.objects.create(name="Borrador", slug="borrador", kind="outbound")
    url = reverse("gestiones:campaign_delete", args=[campaign.pk])
    client.force_login(admin_user)
    client.post(url, CONFIRM)
    client.force_login(boss)

    by_another = client.post(url, CONFIRM)
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=2))
    client.force_login(admin_user)
    later = client.post(url, CONFIRM)

    assert (by_another.status_code, later.status_code) == (404, 404)
