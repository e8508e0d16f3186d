import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import services
from crm.gestiones.goals import selectors as goal_selectors
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import GestionState, Goal
from crm.gestiones.workload import services as workload_services
from crm.models import Product
from lib.money import Currency
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, ProductFactory

LIMA = ZoneInfo("America/Lima")


def lima(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=LIMA)


# The credit application's road to "Desembolsado", one step a day before the last.
TO_DISBURSED = (
    ("Revisar documentos", "Documentos completos"),
    ("Enviar a estudio", "Enviado a análisis"),
    ("Resolver análisis", "Aprobado"),
    ("Desembolsar", "Desembolso realizado"),
)


def walk(gestion, actor, steps, *, at, amount_approved=None):
    """Record `steps` on the gestión, the last one at `at` (with `amount_approved`)."""
    for n, (action_name, result_name) in enumerate(steps):
        action, result = step(gestion, action_name, result_name)
        is_last = n == len(steps) - 1
        services.record_follow_up(
            gestion=gestion,
            actor=actor,
            action=action,
            result=result,
            amount_approved=amount_approved if is_last else None,
            now=at - datetime.timedelta(days=len(steps) - 1 - n),
        )


def state(gestion_type, name) -> GestionState:
    return gestion_type.states.get(name=name)


@pytest.fixture
def consumo(credit_type) -> Product:
    """The credit application's product: every credit gestión has it."""
    return credit_type.product


@pytest.fixture
def march_goal(asesor, consumo, credit_type) -> Goal:
    return goal_services.create_goal(
        data={
            "agent": asesor,
            "product": consumo,
            "year": 2026,
            "month": 3,
            "target_local": Decimal("2000.00"),
            "target_usd": Decimal("1000.00"),
            "target_customers": 4,
            "target_prospects": 3,
            "success_state": state(credit_type, "Desembolsado"),
        }
    )


@pytest.fixture
def march(make_gestion, service_type, asesor, asesor2, march_goal):
    """Gestiones in and around March 2026; see each line for whether it counts.

    Returns the service-request goal (other product) too.
    """
    a, b, c, d, e = (CustomerFactory() for _ in range(5))
    # Counts: approved 800 (PEN), disbursed on March 10th. Customer A; a March prospect.
    g1 = make_gestion(customer=a, agent=asesor, amount_requested=Decimal("1000"), now=lima(3, 2))
    walk(g1, asesor, TO_DISBURSED, at=lima(3, 10), amount_approved=Decimal("800"))
    # Counts: nothing approved, so its 500 requested; disbursed at 23:30 on March 31st in
    # Lima (already April in UTC). Customer A again; opened in February, so no prospect.
    g2 = make_gestion(customer=a, agent=asesor, amount_requested=Decimal("500"), now=lima(2, 20))
    walk(g2, asesor, TO_DISBURSED, at=lima(3, 31, 23, 30))
    # Counts, in dollars: approved 1500. Customer B; a prospect.
    g3 = make_gestion(
        customer=b,
        agent=asesor,
        amount_requested=Decimal("2000"),
        currency=Currency.USD,
        now=lima(3, 5),
    )
    walk(g3, asesor, TO_DISBURSED, at=lima(3, 15), amount_approved=Decimal("1500"))
    # Does not count: disbursed half an hour into April (Lima). A prospect (opened in March).
    g4 = make_gestion(customer=c, agent=asesor, amount_requested=Decimal("700"), now=lima(3, 20))
    walk(g4, asesor, TO_DISBURSED, at=lima(4, 1, 0, 30))
    # Does not count: disbursed in February.
    g5 = make_gestion(customer=c, agent=asesor, amount_requested=Decimal("300"), now=lima(2, 1))
    walk(g5, asesor, TO_DISBURSED, at=lima(2, 28, 23, 0))
    # Does not count: another agent's. Not asesor's prospect either.
    g6 = make_gestion(customer=d, agent=asesor2, amount_requested=Decimal("900"), now=lima(3, 3))
    walk(g6, asesor2, TO_DISBURSED, at=lima(3, 12))
    # Still open: only a prospect. Customer E.
    make_gestion(customer=e, agent=asesor, amount_requested=Decimal("100"), now=lima(3, 25))
    # Another product (a service request with product P2) reaching "Resuelto" in March:
    # counts for the P2 goal only.
    other_product = ProductFactory(name="Seguro")
    service_goal = goal_services.create_goal(
        data={
            "agent": asesor,
            "product": other_product,
            "year": 2026,
            "month": 3,
            "target_local": Decimal("300.00"),
            "target_customers": 1,
            "target_prospects": 1,
            "success_state": state(service_type, "Resuelto"),
        }
    )
    g7 = make_gestion(
        customer=b,
        agent=asesor,
        gestion_type=service_type,
        products=[other_product],
        amount_requested=Decimal("300"),
        data={"categoria": "Reclamo"},
        now=lima(3, 6),
    )
    walk(
        g7,
        asesor,
        (("Enviar caso a TI", "Caso enviado a TI"), ("Resolver", "Solucionado")),
        at=lima(3, 8),
    )
    return service_goal


# --- Arithmetic ---------------------------------------------------------------------------


def test_progress_adds_up_what_reached_the_success_state_in_the_month(march_goal, march):
    (row,) = goal_selectors.progress(year=2026, month=3, product=march_goal.product)

    assert row.goal == march_goal
    assert row.actual_local == Decimal("1300.00")  # 800 approved + 500 requested
    assert row.actual_usd == Decimal("1500.00")
    assert row.actual_customers == 2  # A (twice) and B
    assert row.actual_prospects == 4  # A, B, C and E opened gestiones in March
    assert row.pct_local == Decimal("65.0")
    assert row.pct_usd == Decimal("150.0")  # over 100 is shown as is
    assert row.pct_customers == Decimal("50.0")
    assert row.pct_prospects == Decimal("133.3")


def test_another_products_gestiones_count_only_for_that_products_goal(march_goal, march):
    rows = {row.goal.pk: row for row in goal_selectors.progress(year=2026, month=3)}

    service = rows[march.pk]
    assert service.actual_local == Decimal("300.00")
    assert service.actual_usd == Decimal("0.00")
    assert (service.actual_customers, service.actual_prospects) == (1, 1)
    assert service.pct_usd is None  # no dollar target
    assert rows[march_goal.pk].actual_local == Decimal("1300.00")


def test_the_next_month_counts_what_was_disbursed_in_it(march_goal, march, asesor, consumo):
    april = goal_services.create_goal(
        data={
            "agent": asesor,
            "product": consumo,
            "year": 2026,
            "month": 4,
            "target_local": Decimal("700"),
            "success_state": march_goal.success_state,
        }
    )

    (row,) = goal_selectors.progress(year=2026, month=4, agent=asesor)

    assert row.goal == april
    assert row.actual_local == Decimal("700.00")
    assert row.pct_local == Decimal("100.0")
    assert row.actual_prospects == 0


def test_a_gestion_counts_once_however_often_it_is_followed_up_in_the_state(
    make_gestion, credit_type, asesor, asesor2, consumo
):
    """An open success state: a follow-up or a reassignment inside it is no new arrival."""
    goal = goal_services.create_goal(
        data={
            "agent": asesor2,
            "product": consumo,
            "year": 2026,
            "month": 3,
            "target_local": Decimal("1000"),
            "success_state": state(credit_type, "Aprobado análisis"),
        }
    )
    gestion = make_gestion(agent=asesor, amount_requested=Decimal("400"), now=lima(3, 1))
    walk(gestion, asesor, TO_DISBURSED[:3], at=lima(3, 5))
    action, result = step(gestion, "Contactar al cliente", "Contactado")
    services.record_follow_up(
        gestion=gestion, actor=asesor, action=action, result=result, now=lima(3, 6)
    )
    workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=asesor, now=lima(3, 7))

    (row,) = goal_selectors.progress(year=2026, month=3, agent=asesor2)

    assert row.goal == goal
    assert row.actual_local == Decimal("400.00")
    assert row.actual_customers == 1


def test_progress_costs_three_queries_however_many_goals(
    march_goal, march, asesor2, consumo, credit_type, django_assert_num_queries
):
    for agent_product in (ProductFactory(), ProductFactory()):
        goal_services.create_goal(
            data={
                "agent": asesor2,
                "product": agent_product,
                "year": 2026,
                "month": 3,
                "target_customers": 1,
                "success_state": state(credit_type, "Desembolsado"),
            }
        )

    with django_assert_num_queries(3):
        rows = goal_selectors.progress(year=2026, month=3)

    assert len(rows) == 4


def test_percentages_round_half_up_to_one_place():
    assert goal_selectors.percent(Decimal("1"), Decimal("16")) == Decimal("6.3")
    assert goal_selectors.percent(1, 8) == Decimal("12.5")
    assert goal_selectors.percent(Decimal("5"), Decimal("0")) is None


def test_bars_stop_at_full_width_and_step_by_five(march_goal, march):
    (row,) = goal_selectors.progress(year=2026, month=3, product=march_goal.product)

    bars = {bar["key"]: bar for bar in row.bars()}

    assert (bars["local"]["width"], bars["local"]["is_met"]) == (65, False)
    assert (bars["usd"]["width"], bars["usd"]["is_met"]) == (100, True)
    assert bars["prospects"]["width"] == 100


def test_a_month_without_goals_costs_one_query(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert goal_selectors.progress(year=2030, month=1) == []


# --- Validation ---------------------------------------------------------------------------


def goal_data(asesor, consumo, credit_type, **overrides):
    data = {
        "agent": asesor,
        "product": consumo,
        "year": 2026,
        "month": 5,
        "target_local": Decimal("100"),
        "target_usd": Decimal("0"),
        "target_customers": 1,
        "target_prospects": 1,
        "success_state": state(credit_type, "Desembolsado"),
    }
    return data | overrides


def test_an_agent_has_one_goal_per_product_and_month(asesor, consumo, credit_type):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))

    with pytest.raises(ValidationError) as error:
        goal_services.create_goal(
            data=goal_data(asesor, consumo, credit_type, target_local=Decimal("5"))
        )

    assert "ya tiene una meta de" in str(error.value)
    assert Goal.objects.count() == 1


def test_updating_a_goal_onto_another_months_goal_is_refused(asesor, consumo, credit_type):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, month=5))
    june = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, month=6))

    with pytest.raises(ValidationError, match="ya tiene una meta"):
        goal_services.update_goal(goal=june, data={"month": 5})

    goal_services.update_goal(goal=june, data={"target_local": Decimal("250")})
    june.refresh_from_db()
    assert (june.month, june.target_local) == (6, Decimal("250.00"))


@pytest.mark.parametrize(
    "field, value",
    [
        ("target_local", Decimal("-1")),
        ("target_usd", Decimal("-0.01")),
        ("target_customers", -1),
        ("target_prospects", -3),
    ],
)
def test_negative_targets_are_refused(asesor, consumo, credit_type, field, value):
    with pytest.raises(ValidationError) as error:
        goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, **{field: value}))

    assert error.value.message_dict[field] == ["La meta no puede ser negativa."]


def test_a_month_outside_the_calendar_is_refused(asesor, consumo, credit_type):
    with pytest.raises(ValidationError) as error:
        goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, month=13))

    assert "month" in error.value.message_dict


def test_a_state_that_is_not_a_successful_close_is_allowed_with_a_warning(
    asesor, consumo, credit_type
):
    goal = goal_services.create_goal(
        data=goal_data(
            asesor, consumo, credit_type, success_state=state(credit_type, "Pre estudio")
        )
    )

    assert "no es un estado de cierre exitoso" in goal_selectors.state_warning(goal)
    assert (
        goal_selectors.state_warning(
            goal_services.update_goal(
                goal=goal, data={"success_state": state(credit_type, "Desembolsado")}
            )
        )
        is None
    )


def test_deleting_a_goal_keeps_the_gestiones(asesor, consumo, credit_type, make_gestion):
    goal = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    make_gestion(agent=asesor)

    goal_services.delete_goal(goal=goal, actor=None)

    assert not Goal.objects.exists()
    assert consumo.gestiones.count() == 1


# --- Screens and permissions --------------------------------------------------------------


def form_data(agent, product, success_state, **overrides):
    data = {
        "agent": agent.pk,
        "product": product.pk,
        "year": "2026",
        "month": "5",
        "target_local": "5000.00",
        "target_usd": "40500.00",
        "target_customers": "3",
        "target_prospects": "10",
        "success_state": success_state.pk,
    }
    return data | overrides


def test_a_supervisor_creates_a_goal_from_the_form(
    client, supervisor, asesor, consumo, credit_type
):
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:goal_create"),
        form_data(asesor, consumo, state(credit_type, "Desembolsado")),
    )

    assert response.status_code == 302
    goal = Goal.objects.get()
    assert (goal.agent, goal.month, goal.target_usd) == (asesor, 5, Decimal("40500.00"))


def test_the_form_warns_about_a_state_that_is_not_a_successful_close(
    client, supervisor, asesor, consumo, credit_type
):
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:goal_create"),
        form_data(asesor, consumo, state(credit_type, "En estudio")),
        follow=True,
    )

    assertContains(response, "no es un estado de cierre exitoso")
    assert Goal.objects.count() == 1


def test_the_form_shows_duplicate_and_negative_errors_in_spanish(
    client, supervisor, asesor, consumo, credit_type
):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    client.force_login(supervisor)
    desembolsado = state(credit_type, "Desembolsado")

    duplicate = client.post(
        reverse("gestiones:goal_create"), form_data(asesor, consumo, desembolsado)
    )
    negative = client.post(
        reverse("gestiones:goal_create"),
        form_data(asesor, consumo, desembolsado, month="7", target_local="-5"),
    )

    assertContains(duplicate, "ya tiene una meta")
    assertContains(negative, "La meta no puede ser negativa.")
    assert Goal.objects.count() == 1


def test_a_supervisor_edits_and_deletes_a_goal(client, supervisor, asesor, consumo, credit_type):
    goal = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    client.force_login(supervisor)
    desembolsado = state(credit_type, "Desembolsado")
    edit = reverse("gestiones:goal_update", args=[goal.pk])
    delete = reverse("gestiones:goal_delete", args=[goal.pk])
    assertContains(client.get(edit), f'href="{delete}"')

    client.post(edit, form_data(asesor, consumo, desembolsado, target_local="7000"))
    goal.refresh_from_db()
    assert goal.target_local == Decimal("7000.00")

    assertContains(client.get(delete), "¿Eliminar la meta")
    response = client.post(delete, {"confirm": "yes"})
    assert response.status_code == 302
    assert not Goal.objects.exists()


def test_the_list_shows_the_seed_columns_and_filters(
    client, supervisor, asesor, asesor2, consumo, credit_type
):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, month=1))
    goal_services.create_goal(data=goal_data(asesor2, consumo, credit_type, month=12, year=2024))
    client.force_login(supervisor)
    url = reverse("gestiones:goal_list")

    response = client.get(url)
    by_agent = client.get(url, {"agent": asesor2.pk})

    for header in ("Vendedor", "Mes", "Año", "Producto", "Meta local", "Meta dólares"):
        assertContains(response, header)
    assertContains(response, "Enero")
    assertContains(response, "Diciembre")
    assertContains(response, "Desembolsado")
    assertContains(by_agent, "<td>Bruno Díaz</td>")
    assertNotContains(by_agent, "<td>Andrea Quispe</td>")
    assertContains(response, f'<option value="{asesor2.pk}">Bruno Díaz</option>')


def test_an_asesor_sees_only_their_own_goals_and_progress(
    client, asesor, asesor2, consumo, credit_type, time_machine
):
    time_machine.move_to(lima(5, 20), tick=False)
    mine = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    theirs = goal_services.create_goal(data=goal_data(asesor2, consumo, credit_type))
    client.force_login(asesor)

    listing = client.get(reverse("gestiones:goal_list"))
    progress = client.get(reverse("gestiones:goal_progress"))

    assertContains(listing, f'id="goal-{mine.pk}"')
    assertNotContains(listing, f'id="goal-{theirs.pk}"')
    assertNotContains(listing, "Bruno Díaz")
    assert [row.goal for row in progress.context["rows"]] == [mine]
    assert "agent" not in progress.context["form"].fields


def test_an_asesor_may_not_create_change_or_delete_goals(client, asesor, consumo, credit_type):
    goal = goal_services.create_goal(data=goal_data(asesor, consumo, credit_type))
    client.force_login(asesor)
    desembolsado = state(credit_type, "Desembolsado")

    assert client.get(reverse("gestiones:goal_create")).status_code == 403
    assert (
        client.post(
            reverse("gestiones:goal_create"), form_data(asesor, consumo, desembolsado, month="8")
        ).status_code
        == 403
    )
    assert client.get(reverse("gestiones:goal_update", args=[goal.pk])).status_code == 403
    assert client.post(reverse("gestiones:goal_delete", args=[goal.pk])).status_code == 403
    assert Goal.objects.count() == 1


@pytest.mark.parametrize("who", ["cobranzas", "outsider"])
def test_staff_without_the_goal_permission_see_no_goals(db, client, request, who):
    client.force_login(request.getfixturevalue(who))

    assert client.get(reverse("gestiones:goal_list")).status_code == 403
    assert client.get(reverse("gestiones:goal_progress")).status_code == 403


def test_the_progress_page_shows_bars_chart_and_definitions(
    client, supervisor, march_goal, march, time_machine
):
    time_machine.move_to(lima(3, 20), tick=False)
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:goal_progress"))  # the current month

    assert len(response.context["rows"]) == 2
    assertContains(response, "progress-w-65")
    assertContains(response, "65.0 %")
    assertContains(response, "150.0 %")
    assertContains(response, 'href="/static/css/progress.css"')
    assertContains(response, 'data-chart="goal-local-chart"')
    assertContains(response, "Prospectos: clientes distintos")
    assertNotContains(response, 'style="')


def test_the_progress_page_picks_another_month_and_agent(
    client, supervisor, asesor2, march_goal, march
):
    client.force_login(supervisor)

    march_page = client.get(reverse("gestiones:goal_progress"), {"year": "2026", "month": "3"})
    other_agent = client.get(
        reverse("gestiones:goal_progress"), {"year": "2026", "month": "3", "agent": asesor2.pk}
    )

    assert len(march_page.context["rows"]) == 2
    assert other_agent.context["rows"] == []
    assertContains(other_agent, "No hay metas para este mes.")


def test_the_list_costs_the_same_queries_for_one_goal_or_many(
    client, supervisor, asesor, consumo, credit_type, django_assert_num_queries
):
    goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, month=1))
    client.force_login(supervisor)
    url = reverse("gestiones:goal_list")
    client.get(url)  # the session and permission caches, once
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for month in range(2, 8):
        goal_services.create_goal(data=goal_data(asesor, consumo, credit_type, month=month))

    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url)

    assertContains(response, '<tr id="goal-', count=7)


def test_admin_holds_goals_to_the_screens_bounds(admin_client, asesor, consumo, credit_type):
    form = {
        "agent": asesor.pk,
        "product": consumo.pk,
        "year": 2099,
        "month": 3,
        "target_local": "99999999999.99",
        "target_usd": "0",
        "target_prospects": "2000000000",
        "target_customers": "0",
        "success_state": state(credit_type, "Desembolsado").pk,
    }

    response = admin_client.post(reverse("admin:gestiones_goal_add"), form)

    assert response.status_code == 200
    assert not Goal.objects.exists()
    assertContains(response, "La meta no puede superar S/ 100,000,000.00.")
    assertContains(response, "La meta no puede superar 10,000.")
    assertContains(response, "Elija un año entre 2000 y")
