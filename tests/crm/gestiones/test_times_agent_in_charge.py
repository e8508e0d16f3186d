"""The time dashboard credits each stay, and each application, to the agent in charge at
the time, not to whoever holds the gestión now: a reassignment moves no history."""

import importlib
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps

from crm.gestiones import services
from crm.gestiones.models import (
    ApplicationTime,
    CreditApplication,
    FollowUp,
    Gestion,
    Outcome,
    StateAgent,
    StateStay,
)
from crm.gestiones.reports.timing import services as timing_services
from crm.gestiones.workload import services as workload_services
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, LoanProductFactory

LIMA = ZoneInfo("America/Lima")
START = datetime(2025, 6, 10, 9, 0, tzinfo=LIMA)


def hours(n: float) -> datetime:
    return START + timedelta(hours=n)


@pytest.fixture
def clock(time_machine):
    def move(at: datetime) -> None:
        time_machine.move_to(at, tick=False)

    move(START)
    return move


def move(gestion: Gestion, actor, action: str, result: str) -> None:
    action_, result_ = step(gestion, action, result)
    services.record_follow_up(gestion=gestion, actor=actor, action=action_, result=result_)


def stays(gestion: Gestion) -> list[tuple[str, int | None]]:
    return list(
        StateStay.objects.filter(gestion=gestion)
        .order_by("entered_at", "id")
        .values_list("state__name", "agent_id")
    )


def reassign(gestion: Gestion, agent, supervisor) -> None:
    gestion.refresh_from_db()
    workload_services.reassign_gestion(gestion=gestion, agent=agent, actor=supervisor)


@pytest.fixture
def reassigned(clock, make_gestion, asesor, asesor2, supervisor) -> Gestion:
    """Two stays left under asesor, a third entered under asesor and reassigned to asesor2
    during it, then a fourth entered under asesor2; refreshed in full before the
    reassignment, as beat had."""
    gestion = make_gestion(actor=asesor, agent=asesor)
    clock(hours(2))
    move(gestion, asesor, "Revisar documentos", "Documentos completos")
    clock(hours(6))
    move(gestion, asesor, "Enviar a estudio", "Enviado a análisis")
    clock(hours(7))
    timing_services.refresh_times(full=True)
    clock(hours(8))
    reassign(gestion, asesor2, supervisor)
    clock(hours(9))
    move(gestion, asesor2, "Resolver análisis", "Aprobado con condiciones")
    clock(hours(9.1))
    return gestion


def test_after_a_reassignment_an_incremental_refresh_keeps_the_old_stays_with_the_old_agent(
    reassigned, asesor, asesor2
):
    build = timing_services.refresh_times()

    assert build.full_built_at == hours(7)  # incremental
    assert stays(reassigned) == [
        ("Creado", asesor.pk),
        ("Pre estudio", asesor.pk),
        # Entered under asesor: a stay belongs to the agent in charge when it began.
        ("En estudio", asesor.pk),
        ("Condicionado", asesor2.pk),
    ]


def test_after_a_reassignment_a_full_refresh_keeps_the_old_stays_with_the_old_agent(
    reassigned, asesor, asesor2
):
    timing_services.refresh_times(full=True)

    assert stays(reassigned) == [
        ("Creado", asesor.pk),
        ("Pre estudio", asesor.pk),
        ("En estudio", asesor.pk),
        ("Condicionado", asesor2.pk),
    ]


def test_a_gestion_never_reassigned_keeps_its_agent_on_every_stay(
    clock, make_gestion, asesor, asesor2, supervisor, reassigned
):
    clock(hours(10))
    other = make_gestion(actor=asesor2, agent=asesor2, customer=CustomerFactory())
    clock(hours(11))
    move(other, asesor2, "Revisar documentos", "Documentos completos")
    clock(hours(12))

    timing_services.refresh_times(full=True)

    assert stays(other) == [("Creado", asesor2.pk), ("Pre estudio", asesor2.pk)]


def test_a_stay_begun_by_a_redistribution_is_the_new_agents(
    clock, make_gestion, asesor, asesor2, credit_type
):
    # Only asesor2 works "Pre estudio": the move hands the gestión over at that moment.
    pre_study = credit_type.states.get(name="Pre estudio")
    StateAgent.objects.filter(state=pre_study, agent=asesor).update(is_active=False)
    gestion = make_gestion(actor=asesor, agent=asesor)
    clock(hours(2))
    move(gestion, asesor, "Revisar documentos", "Documentos completos")
    clock(hours(3))

    timing_services.refresh_times(full=True)

    assert Gestion.objects.get(pk=gestion.pk).agent == asesor2
    assert stays(gestion) == [("Creado", asesor.pk), ("Pre estudio", asesor2.pk)]


def test_rows_older_than_the_field_read_as_the_gestions_agent(clock, make_gestion, asesor):
    gestion = make_gestion(actor=asesor, agent=asesor)
    clock(hours(2))
    move(gestion, asesor, "Revisar documentos", "Documentos completos")
    FollowUp.objects.filter(gestion=gestion).update(agent=None)
    clock(hours(3))

    timing_services.refresh_times(full=True)

    assert stays(gestion) == [("Creado", asesor.pk), ("Pre estudio", asesor.pk)]


# --- Applications ---------------------------------------------------------------------


def applied(gestion: Gestion, *, approved_at: datetime | None) -> CreditApplication:
    return CreditApplication.objects.create(
        gestion=gestion,
        loan_product=LoanProductFactory(name="Vehicular"),
        amount=Decimal("10000.00"),
        term=12,
        lead_received_at=START,
        approved_at=approved_at,
    )


def test_an_application_approved_before_a_reassignment_stays_with_its_approver(
    clock, make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(actor=asesor, agent=asesor)
    applied(gestion, approved_at=hours(5))
    clock(hours(6))
    timing_services.refresh_times(full=True)
    clock(hours(7))
    reassign(gestion, asesor2, supervisor)
    clock(hours(7.1))

    timing_services.refresh_times()
    incremental = ApplicationTime.objects.get(gestion=gestion).agent_id
    timing_services.refresh_times(full=True)
    full = ApplicationTime.objects.get(gestion=gestion).agent_id

    assert (incremental, full) == (asesor.pk, asesor.pk)


def test_an_application_not_approved_yet_goes_with_its_gestion(
    clock, make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(actor=asesor, agent=asesor)
    applied(gestion, approved_at=None)
    clock(hours(6))
    timing_services.refresh_times(full=True)
    clock(hours(7))
    reassign(gestion, asesor2, supervisor)
    clock(hours(7.1))

    timing_services.refresh_times()

    assert ApplicationTime.objects.get(gestion=gestion).agent_id == asesor2.pk


# --- What the follow-ups record -------------------------------------------------------


def test_each_follow_up_names_the_agent_in_charge_after_it(
    clock, make_gestion, asesor, asesor2, supervisor, reassigned
):
    named = list(
        FollowUp.objects.filter(gestion=reassigned)
        .order_by("created_at", "id")
        .values_list("kind", "agent_id")
    )

    assert named == [
        (FollowUp.Kind.CREATED, None),
        (FollowUp.Kind.ASSIGNMENT, asesor.pk),
        (FollowUp.Kind.STEP, asesor.pk),
        (FollowUp.Kind.STEP, asesor.pk),
        (FollowUp.Kind.ASSIGNMENT, asesor2.pk),
        (FollowUp.Kind.STEP, asesor2.pk),
    ]


def test_the_migration_names_the_agent_only_on_open_gestiones(
    make_gestion, asesor, asesor2, supervisor
):
    still_open = make_gestion(actor=asesor, agent=asesor)
    closed = make_gestion(actor=asesor, agent=asesor2, customer=CustomerFactory())
    Gestion.objects.filter(pk=closed.pk).update(outcome=Outcome.CLOSED)
    FollowUp.objects.update(agent=None)
    migration = importlib.import_module("crm.gestiones.migrations.0023_followup_agent")

    migration.name_the_agent_of_open_gestiones(apps, None)

    assert set(FollowUp.objects.filter(gestion=still_open).values_list("agent_id", flat=True)) == {
        asesor.pk
    }
    assert set(FollowUp.objects.filter(gestion=closed).values_list("agent_id", flat=True)) == {None}
