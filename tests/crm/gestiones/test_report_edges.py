"""Edges of the dashboards and the goals: absurd targets, empty charts, stale figures."""

from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import Gestion, Goal, SummaryBuild
from crm.gestiones.reports import selectors as report_selectors
from crm.gestiones.reports import services as report_services
from tests.factories import CustomerFactory

LIMA = ZoneInfo("America/Lima")
NOW = datetime(2026, 5, 15, 12, 0, tzinfo=LIMA)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def disbursed(credit_type):
    return credit_type.states.get(name="Desembolsado")


def goal_data(asesor, credit_type, disbursed, **overrides):
    data = {
        "agent": asesor,
        "product": credit_type.product,
        "year": 2026,
        "month": 5,
        "target_local": Decimal("100000.00"),
        "target_usd": Decimal("0"),
        "target_customers": 5,
        "target_prospects": 10,
        "success_state": disbursed,
    }
    return data | overrides


# --- Goals: bounds a mistyped target or year crosses -----------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("target_local", Decimal("10000000000")),
        ("target_usd", Decimal("100000000.01")),
        ("target_customers", 10_000_000_000),
        ("target_prospects", 10_001),
    ],
)
def test_a_target_a_million_times_too_big_is_refused(asesor, credit_type, disbursed, field, value):
    with pytest.raises(ValidationError) as error:
        goal_services.create_goal(data=goal_data(asesor, credit_type, disbursed, **{field: value}))

    assert "La meta no puede superar" in error.value.message_dict[field][0]
    assert not Goal.objects.exists()


def test_the_largest_targets_are_accepted(asesor, credit_type, disbursed):
    goal = goal_services.create_goal(
        data=goal_data(
            asesor,
            credit_type,
            disbursed,
            target_local=goal_services.MAX_TARGET_AMOUNT,
            target_usd=goal_services.MAX_TARGET_AMOUNT,
            target_customers=goal_services.MAX_TARGET_COUNT,
            target_prospects=goal_services.MAX_TARGET_COUNT,
        )
    )

    assert goal.target_local == goal_services.MAX_TARGET_AMOUNT


def test_a_goal_with_every_target_at_zero_is_refused(asesor, credit_type, disbursed):
    zero = {"target_local": 0, "target_usd": 0, "target_customers": 0, "target_prospects": 0}

    with pytest.raises(ValidationError, match="al menos una meta mayor que cero"):
        goal_services.create_goal(data=goal_data(asesor, credit_type, disbursed, **zero))

    assert not Goal.objects.exists()


def test_a_goal_with_one_target_above_zero_is_accepted(asesor, credit_type, disbursed):
    only_prospects = {"target_local": 0, "target_usd": 0, "target_customers": 0}

    goal = goal_services.create_goal(
        data=goal_data(asesor, credit_type, disbursed, target_prospects=1, **only_prospects)
    )

    assert goal.target_prospects == 1


def test_a_goal_after_next_year_is_refused(asesor, credit_type, disbursed, time_machine):
    time_machine.move_to(datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("America/Lima")), tick=False)
    with pytest.raises(ValidationError) as error:
        goal_services.create_goal(data=goal_data(asesor, credit_type, disbursed, year=2028))

    assert error.value.message_dict["year"] == ["Elija un año entre 2000 y 2027."]
    goal_services.create_goal(data=goal_data(asesor, credit_type, disbursed, year=2027))


def test_the_form_shows_the_bounds_in_spanish(client, supervisor, asesor, credit_type, disbursed):
    client.force_login(supervisor)
    data = {
        "agent": asesor.pk,
        "product": credit_type.product.pk,
        "year": "2026",
        "month": "5",
        "target_local": "10000000000",
        "target_usd": "0",
        "target_customers": "0",
        "target_prospects": "10000000000",
        "success_state": disbursed.pk,
    }

    response = client.post(reverse("gestiones:goal_create"), data)

    assert response.status_code == 200
    assertContains(response, "La meta no puede superar S/")
    assertContains(response, "La meta no puede superar 10,000.")
    assert not Goal.objects.exists()


def test_the_goal_export_names_the_success_states_type(
    client, supervisor, asesor, credit_type, disbursed
):
    goal_services.create_goal(data=goal_data(asesor, credit_type, disbursed))
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:goal_list"), {"export": "xlsx"})

    sheet = load_workbook(BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    row = [cell.value for cell in sheet[2]]
    assert row[header.index("Estado exitoso")] == f"Desembolsado · {credit_type.name}"


# --- Dashboards: no data, stale figures -------------------------------------------------


def test_the_dashboard_without_gestiones_draws_no_empty_charts(client, supervisor, db):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard"), {"completo": "1"})

    assertNotContains(response, "<canvas")
    assertContains(response, "No hay gestiones con estos filtros.")


def test_the_dashboard_with_gestiones_draws_its_charts(client, supervisor, make_gestion):
    make_gestion()
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard"), {"completo": "1"})

    assertContains(response, 'data-chart="states-chart"')
    assertContains(response, 'data-chart="branches-chart"')
    assertContains(response, 'data-chart="channels-chart"')


def test_fresh_figures_say_when_they_are_refreshed(client, supervisor, db):
    report_services.refresh_summary(full=True)
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard"))

    assertContains(response, "se actualizan cada 5 minutos")
    assertNotContains(response, "no se han actualizado desde entonces")


def test_stale_figures_say_they_have_not_been_refreshed(client, supervisor, db):
    report_services.refresh_summary(full=True)
    SummaryBuild.objects.update(built_at=NOW - timedelta(hours=2))
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard"))

    assertContains(response, "no se han actualizado desde entonces")
    assertNotContains(response, "se actualizan cada 5 minutos")


# --- Dashboards: shares that add up -----------------------------------------------------


def test_the_shares_by_state_add_up_to_the_total_percent(make_gestion, credit_type):
    states = list(credit_type.states.order_by("order")[:3])
    for state in states:
        gestion = make_gestion(customer=CustomerFactory())
        Gestion.objects.filter(pk=gestion.pk).update(state=state, outcome=state.outcome)

    report = report_selectors.gestiones_by_state(report_selectors.ReportFilters())

    assert [row.percent for row in report.rows] == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert sum(row.percent for row in report.rows) == report.total_percent
