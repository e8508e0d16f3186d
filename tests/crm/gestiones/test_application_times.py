"""Time is a metric: the funnel, the times from the lead against the approval target, the
time in each state, the breaches, their refresh and their dashboard."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits.models import LedgerEntry, Loan, LoanContract
from crm.gestiones import services, tasks
from crm.gestiones.models import (
    ApplicationTime,
    ApplicationTimeFigure,
    CreditApplication,
    CreditLead,
    FollowUp,
    Gestion,
    GestionState,
    StateStay,
    StateTimeFigure,
    TimeBuild,
)
from crm.gestiones.models.timing import AGENT, BRANCH, PRODUCT
from crm.gestiones.reports.timing import figures
from crm.gestiones.reports.timing import selectors as times
from crm.gestiones.reports.timing import services as timing_services
from crm.models import Branch
from tests.browser.pages import sign_in
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory, UserFactory

LIMA = ZoneInfo("America/Lima")
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=LIMA)
JUNE = date(2025, 6, 1)
MAY = date(2025, 5, 1)
HTMX = {"HX-Request": "true"}
URL = "gestiones:application_times"
D = Decimal
HOUR = 3600


@pytest.fixture(autouse=True)
def frozen(request, time_machine):
    # A browser test waits on a clock that runs.
    if "page" not in request.fixturenames:
        time_machine.move_to(NOW, tick=False)


def at(day: int, hour: int = 9, month: int = 6) -> datetime:
    return datetime(2025, month, day, hour, 0, tzinfo=LIMA)


def hours_after(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)


@dataclass
class World:
    states: dict[str, GestionState]
    vehicular: object  # LoanProduct, target 24 h
    consumo: object  # LoanProduct, target 48 h
    centro: Branch
    norte: Branch
    ana: object
    beto: object


@pytest.fixture
def world(credit_type) -> World:
    return World(
        states={s.name: s for s in credit_type.states.all()},
        vehicular=LoanProductFactory(name="Vehicular"),
        consumo=LoanProductFactory(name="Consumo", approval_target_hours=48),
        centro=Branch.objects.create(name="Centro", code="centro"),
        norte=Branch.objects.create(name="Norte", code="norte"),
        ana=UserFactory(username="ana", first_name="Ana", last_name="Rojas", role="Asesor"),
        beto=UserFactory(username="beto", first_name="Beto", last_name="Vega", role="Asesor"),
    )


def application(
    w: World,
    lead_at: datetime,
    *,
    product=None,
    branch=None,
    agent=None,
    state: str = "En estudio",
    applied_after: float = 0,
    approved_after: float | None = None,
    loan: Loan | None = None,
) -> CreditApplication:
    """A credit application whose lead came at `lead_at`, approved that many hours later."""
    gestion_state = w.states[state]
    gestion = Gestion.objects.create(
        customer=CustomerFactory(),
        gestion_type=gestion_state.gestion_type,
        state=gestion_state,
        outcome=gestion_state.outcome,
        branch=branch or w.centro,
        agent=agent or w.ana,
        created_at=hours_after(lead_at, applied_after),
        state_entered_at=hours_after(lead_at, applied_after),
    )
    return CreditApplication.objects.create(
        gestion=gestion,
        loan_product=product or w.vehicular,
        amount=D("10000.00"),
        term=12,
        lead_received_at=lead_at,
        approved_at=None if approved_after is None else hours_after(lead_at, approved_after),
        loan=loan,
    )


def refresh(**kwargs) -> TimeBuild:
    return timing_services.refresh_times(**kwargs)


def figure(period=(JUNE, JUNE), grouping=0, **keys) -> ApplicationTimeFigure:
    return ApplicationTimeFigure.objects.get(
        first_month=period[0], last_month=period[1], grouping=grouping, **keys
    )


def june(**filters) -> times.TimeFilters:
    return times.TimeFilters(start=JUNE, end=date(2025, 6, 30), **filters)


# --- Exact medians and percentiles ------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([7], D("7"), D("7")),
        ([5, 1, 4, 2, 3], D("3"), D("4.6")),  # odd: the middle one; p90 at rank 3.6
        ([4, 1, 3, 2], D("2.5"), D("3.7")),  # even: between the middle two; p90 at 2.7
        ([10, 20], D("15"), D("19")),
    ],
)
def test_median_and_p90_are_percentile_cont_exactly(values, median, p90):
    ordered = sorted(values)

    assert figures.percentile(ordered, figures.MEDIAN) == median
    assert figures.percentile(ordered, figures.P90) == p90


def test_the_percentile_agrees_with_the_definition_on_many_values():
    values = sorted((k * 7919) % 1000 for k in range(1, 1002))  # 1001 values, repeats too
    position = Fraction(9, 10) * (len(values) - 1)
    low = int(position)
    expected = values[low] + (values[low + 1] - values[low]) * (position - low)

    assert figures.percentile(values, figures.P90) == D(expected.numerator) / expected.denominator


def test_time_to_approval_has_an_exact_median_and_p90_per_product(world):
    # Vehicular: 1, 2, 3 and 10 hours (even); Consumo: 5, 30 and 50 hours (odd).
    for k, hours in enumerate([1, 2, 3, 10]):
        application(world, at(2 + k), approved_after=hours)
    for k, hours in enumerate([5, 30, 50]):
        application(world, at(2 + k), product=world.consumo, approved_after=hours)

    refresh()

    vehicular = figure(grouping=PRODUCT, product=world.vehicular)
    assert vehicular.approval_count == 4
    assert vehicular.approval_median == D("2.5") * HOUR
    assert vehicular.approval_p90 == D("7.9") * HOUR  # 3 + 0.7 × (10 − 3)
    consumo = figure(grouping=PRODUCT, product=world.consumo)
    assert consumo.approval_median == 30 * HOUR
    assert consumo.approval_p90 == 46 * HOUR  # 30 + 0.8 × (50 − 30)
    everything = figure()
    assert everything.approval_count == 7
    assert everything.approval_median == 5 * HOUR  # 1 2 3 5 10 30 50
    assert everything.approval_p90 == 38 * HOUR  # rank 5.4: 30 + 0.4 × 20


def test_times_are_grouped_by_branch_and_advisor_and_their_combinations(world):
    application(world, at(2), branch=world.centro, agent=world.ana, approved_after=2)
    application(world, at(3), branch=world.centro, agent=world.beto, approved_after=4)
    application(world, at(4), branch=world.norte, agent=world.beto, approved_after=8)
    application(world, at(5), branch=world.norte, agent=world.beto, approved_after=12)

    refresh()

    assert figure(grouping=BRANCH, branch=world.centro).approval_median == 3 * HOUR
    assert figure(grouping=BRANCH, branch=world.norte).approval_median == 10 * HOUR
    assert figure(grouping=AGENT, agent=world.ana).approval_median == 2 * HOUR
    assert figure(grouping=AGENT, agent=world.beto).approval_median == 8 * HOUR
    beto_norte = figure(grouping=BRANCH | AGENT, branch=world.norte, agent=world.beto)
    assert (beto_norte.applications, beto_norte.approval_median) == (2, 10 * HOUR)
    # Stored: every grouping of at most two keys (what one filter and its tables read).
    groupings = ApplicationTimeFigure.objects.filter(first_month=JUNE, last_month=JUNE)
    assert set(groupings.values_list("grouping", flat=True)) == set(range(7))


def test_two_filters_group_their_facts_at_once(world):
    application(world, at(2), branch=world.norte, agent=world.ana, approved_after=2)
    application(world, at(3), branch=world.norte, agent=world.beto, approved_after=4)
    application(world, at(4), branch=world.norte, agent=world.beto, approved_after=9)
    application(world, at(5), product=world.consumo, branch=world.norte, approved_after=1)
    build = refresh()

    report = times.times_report(june(product=world.vehicular, branch=world.norte), build)

    assert not report.is_stored
    assert report.by_product is None and report.by_branch is None
    assert [(r.label, r.measures[1].median) for r in report.by_agent] == [
        ("Ana Rojas", D("2.0")),
        ("Beto Vega", D("6.5")),
    ]
    assert report.total.measures[1].p90 == D("8.0")  # 2 4 9: rank 1.8 → 4 + 0.8 × 5


def test_each_time_is_measured_from_the_lead(world):
    loan = LoanFactory(
        product=world.vehicular, status=Loan.Status.ACTIVE, disbursed_at=hours_after(at(2), 72)
    )
    LoanContract.objects.create(
        loan=loan,
        status=LoanContract.Status.COMPLETED,
        signer_email="a@example.com",
        completed_at=hours_after(at(2), 50),
    )
    application(world, at(2), applied_after=3, approved_after=20, loan=loan, state="Desembolsado")

    refresh()

    row = figure()
    assert row.application_median == 3 * HOUR
    assert row.approval_median == 20 * HOUR
    assert row.signature_median == 50 * HOUR
    assert row.disbursement_median == 72 * HOUR
    fact = ApplicationTime.objects.get()
    assert (fact.month, fact.deadline_at) == (JUNE, hours_after(at(2), 24))


def test_the_cohort_is_the_leads_month_in_lima(world):
    # 23:30 on 31 May in Lima is already 1 June in UTC.
    application(world, datetime(2025, 5, 31, 23, 30, tzinfo=LIMA), approved_after=2)

    refresh()

    assert ApplicationTime.objects.get().month == MAY
    assert figure(period=(MAY, MAY)).applications == 1
    assert not ApplicationTimeFigure.objects.filter(first_month=JUNE, last_month=JUNE).exists()


# --- Signature moments ------------------------------------------------------------------


def test_the_signature_is_the_completed_contract_among_several(world):
    loan = LoanFactory(product=world.vehicular, status=Loan.Status.READY_TO_DISBURSE)
    LoanContract.objects.create(
        loan=loan, status=LoanContract.Status.DECLINED, signer_email="a@example.com"
    )
    LoanContract.objects.create(
        loan=loan,
        status=LoanContract.Status.COMPLETED,
        signer_email="a@example.com",
        completed_at=hours_after(at(2), 30),
    )
    application(world, at(2), approved_after=10, loan=loan)

    refresh()

    assert ApplicationTime.objects.get().signed_at == hours_after(at(2), 30)


def test_without_a_signed_contract_the_move_to_ready_to_disburse_is_the_signature(world):
    ready = LoanFactory(
        product=world.vehicular,
        status=Loan.Status.READY_TO_DISBURSE,
        status_changed_at=hours_after(at(2), 40),
    )
    # Disbursed without a contract: its last status move before the disbursement.
    disbursed = LoanFactory(
        product=world.vehicular, status=Loan.Status.ACTIVE, disbursed_at=hours_after(at(3), 90)
    )
    LedgerEntry.objects.create(
        loan=disbursed, kind=LedgerEntry.Kind.STATUS, created_at=hours_after(at(3), 10)
    )
    LedgerEntry.objects.create(
        loan=disbursed, kind=LedgerEntry.Kind.STATUS, created_at=hours_after(at(3), 60)
    )
    LedgerEntry.objects.create(
        loan=disbursed,
        kind=LedgerEntry.Kind.DISBURSEMENT,
        component="principal",
        owed=D("100.00"),
        created_at=hours_after(at(3), 90),
    )
    LedgerEntry.objects.create(
        loan=disbursed, kind=LedgerEntry.Kind.STATUS, created_at=hours_after(at(3), 90)
    )
    draft = LoanFactory(product=world.vehicular)
    application(world, at(2), approved_after=5, loan=ready)
    application(world, at(3), approved_after=5, loan=disbursed)
    application(world, at(4), approved_after=5, loan=draft)

    refresh()

    signed = dict(ApplicationTime.objects.values_list("lead_at", "signed_at"))
    assert signed == {
        at(2): hours_after(at(2), 40),
        at(3): hours_after(at(3), 60),
        at(4): None,
    }


# --- The funnel -------------------------------------------------------------------------


def test_the_funnel_counts_each_stage_of_the_cohort(world):
    CreditLead.objects.create(source="calculator", received_at=at(1))  # never an application
    CreditLead.objects.create(source="campaign", received_at=at(1), status="discarded")
    CreditLead.objects.create(source="campaign", received_at=at(1, month=5))  # May's
    application(world, at(2))  # open, not approved
    application(world, at(3), approved_after=5, loan=LoanFactory(product=world.vehicular))
    signed = LoanFactory(
        product=world.vehicular,
        status=Loan.Status.READY_TO_DISBURSE,
        status_changed_at=hours_after(at(4), 30),
    )
    application(world, at(4), approved_after=5, loan=signed)
    disbursed = LoanFactory(
        product=world.consumo, status=Loan.Status.ACTIVE, disbursed_at=hours_after(at(5), 90)
    )
    # Disbursed with no signature on record: it still counts as signed and approved.
    application(world, at(5), product=world.consumo, loan=disbursed, state="Desembolsado")

    refresh()

    report = times.times_report(june(), times.time_build())
    assert report.is_stored
    assert [(s.label, s.count) for s in report.funnel] == [
        ("Leads", 6),
        ("Solicitudes", 4),
        ("Aprobadas", 3),
        ("Firmadas", 2),
        ("Desembolsadas", 1),
    ]
    assert [s.of_leads for s in report.funnel] == [
        D("100.00"),
        D("66.67"),
        D("50.00"),
        D("33.33"),
        D("16.67"),
    ]
    assert report.funnel[4].of_previous == D("50.00")
    # Leads without an application have no product: the product's funnel starts at its
    # applications.
    consumo = times.times_report(june(product=world.consumo), times.time_build())
    assert [s.count for s in consumo.funnel] == [1, 1, 1, 1, 1]
    assert figure(period=(MAY, MAY)).leads == 1


# --- Time in each state -----------------------------------------------------------------


def test_time_in_each_state_comes_from_the_transitions_and_the_current_state(
    world, make_gestion, asesor, time_machine
):
    created = at(10)
    durations = [(2, 10), (4, 20), (6, 30)]  # hours in Creado, then in Pre estudio
    for in_created, in_pre_study in durations:
        time_machine.move_to(created, tick=False)
        gestion = make_gestion(actor=asesor, branch=world.centro)
        time_machine.move_to(hours_after(created, in_created), tick=False)
        services.record_follow_up(gestion=gestion, actor=asesor, **kwargs_of(gestion, "docs"))
        time_machine.move_to(hours_after(created, in_created + in_pre_study), tick=False)
        services.record_follow_up(gestion=gestion, actor=asesor, **kwargs_of(gestion, "study"))
    time_machine.move_to(hours_after(created, 100), tick=False)

    refresh()

    rows = {
        r.state: r
        for r in times.times_report(june(), times.time_build()).states
        if r.gestion_type == "Solicitud de crédito"
    }
    assert (rows["Creado"].count, rows["Creado"].median, rows["Creado"].p90) == (
        3,
        D("4.0"),
        D("5.6"),
    )
    assert (rows["Pre estudio"].median, rows["Pre estudio"].current) == (D("20.0"), 0)
    # Still in "En estudio": 100 − 12, 100 − 24 and 100 − 36 hours so far.
    study = rows["En estudio"]
    assert (study.count, study.current, study.median) == (3, 3, D("76.0"))
    # Allowed 3 days (72 h): the two that stayed 76 and 88 hours went past it.
    assert (study.allowed, study.over) == (D("72.0"), 2)
    assert rows["Creado"].allowed == D("24.0") and rows["Creado"].over == 0


def kwargs_of(gestion: Gestion, which: str) -> dict:
    names = {
        "docs": ("Revisar documentos", "Documentos completos"),
        "study": ("Enviar a estudio", "Enviado a análisis"),
    }[which]
    action, result = step(gestion, *names)
    return {"action": action, "result": result}


def test_a_closed_gestion_leaves_no_current_stay_and_a_missing_creation_row_is_tolerated(world):
    closing = world.states["Desistido"]
    gestion = Gestion.objects.create(
        customer=CustomerFactory(),
        gestion_type=closing.gestion_type,
        state=closing,
        outcome=closing.outcome,
        created_at=at(1),
        state_entered_at=at(3),
    )
    # Loaded data: no creation follow-up, one move out of the initial state.
    FollowUp.objects.create(
        gestion=gestion, from_state=world.states["Creado"], state=closing, created_at=at(3)
    )

    refresh()

    stays = list(StateStay.objects.values_list("state__name", "entered_at", "left_at"))
    assert stays == [("Creado", at(1), at(3))]


def test_state_times_filter_by_branch_and_advisor(world):
    for branch, agent, hours in [
        (world.centro, world.ana, 2),
        (world.norte, world.ana, 4),
        (world.norte, world.beto, 8),
    ]:
        state = world.states["Creado"]
        Gestion.objects.create(
            customer=CustomerFactory(),
            gestion_type=state.gestion_type,
            state=state,
            branch=branch,
            agent=agent,
            created_at=hours_after(NOW, -hours),
            state_entered_at=hours_after(NOW, -hours),
        )

    refresh()

    def median(**filters) -> Decimal:
        (row,) = times.times_report(june(**filters), times.time_build()).states
        return row.median

    assert median() == D("4.0")
    assert median(branch=world.norte) == D("6.0")
    assert median(agent=world.ana) == D("3.0")
    assert median(branch=world.norte, agent=world.beto) == D("8.0")


# --- Breaches ---------------------------------------------------------------------------


def test_breaches_are_the_late_approvals_and_the_open_applications_past_their_target(world):
    application(world, at(1), approved_after=30)  # late (24 h)
    application(world, at(2), approved_after=20)  # in time
    application(world, at(3), product=world.consumo, approved_after=30)  # in time (48 h)
    application(world, at(4), product=world.consumo, approved_after=50)  # late (48 h)
    application(world, at(12))  # open for 75 h: late
    application(world, at(14))  # open for 27 h: late
    application(world, at(15, hour=8))  # open for 4 h: not yet
    application(world, at(5), state="Rechazado comité de crédito")  # closed: not counted

    build = refresh()

    found = times.breach_rows(list(times.breaches(june(), build)), build.built_at)
    assert [(b.fact.lead_at, b.is_open, b.hours, b.over) for b in found] == [
        (at(1), False, D("30.0"), D("6.0")),
        (at(4), False, D("50.0"), D("2.0")),
        (at(12), True, D("75.0"), D("51.0")),
        (at(14), True, D("27.0"), D("3.0")),
    ]
    everything = figure()
    assert (everything.approved_late, everything.open_late) == (2, 2)
    assert figure(grouping=PRODUCT, product=world.consumo).approved_late == 1
    report = times.times_report(june(), build)
    (vehicular,) = [r for r in report.by_product if r.label == "Vehicular"]
    assert (vehicular.target_hours, vehicular.within_target) == (24, D("50.00"))


def test_an_open_application_becomes_a_breach_when_its_target_passes(world, time_machine):
    application(world, at(15, hour=8))
    refresh()
    assert figure().open_late == 0

    time_machine.move_to(hours_after(at(15, hour=8), 25), tick=False)
    build = refresh()

    assert figure().open_late == 1
    assert times.breaches(june(), build).count() == 1


def test_a_product_target_change_moves_its_deadlines(world, time_machine):
    application(world, at(2), product=world.consumo, approved_after=30)
    refresh()
    assert figure().approved_late == 0

    world.consumo.approval_target_hours = 12
    world.consumo.save()
    time_machine.move_to(NOW + timedelta(minutes=5), tick=False)
    refresh()

    assert figure().approved_late == 1


# --- The refresh ------------------------------------------------------------------------


def stored() -> tuple[list, list]:
    """The figure tables' contents, without ids."""

    def rows(model) -> list:
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
        return sorted(model.objects.values_list(*fields), key=repr)

    return rows(ApplicationTimeFigure), rows(StateTimeFigure)


def build_some(world) -> None:
    application(world, at(2), approved_after=30)
    application(world, at(3), product=world.consumo, approved_after=5, branch=world.norte)
    application(world, at(10, month=5), approved_after=7, agent=world.beto, state="Desembolsado")
    application(world, at(12, month=1), state="Creado")
    CreditLead.objects.create(source="calculator", received_at=at(4, month=5))


def test_the_refresh_is_idempotent(world):
    build_some(world)
    refresh()
    first = stored()

    refresh()
    refresh(full=True)

    assert stored() == first


def test_an_incremental_refresh_gives_what_a_full_one_does(world, time_machine, asesor):
    build_some(world)
    refresh()
    # Past the look-back over what was saved before the first refresh.
    time_machine.move_to(NOW + timedelta(hours=2), tick=False)
    first = refresh()
    untouched = set(
        ApplicationTimeFigure.objects.filter(first_month=MAY, last_month=MAY).values_list("pk")
    )
    time_machine.move_to(NOW + timedelta(hours=2, minutes=5), tick=False)
    opened = application(world, at(15, hour=11))
    changed = CreditApplication.objects.get(lead_received_at=at(2)).gestion
    action, result = step(changed, "Resolver análisis", "Aprobado")
    services.record_follow_up(gestion=changed, actor=asesor, action=action, result=result)

    second = refresh()

    assert second.full_built_at == first.full_built_at  # incremental
    assert opened.gestion_id in timing_services.changed_gestiones(since=first.built_at)
    assert figure().applications == 3
    # May had nothing open and nothing changed: its rows were not rewritten.
    assert (
        set(ApplicationTimeFigure.objects.filter(first_month=MAY, last_month=MAY).values_list("pk"))
        == untouched
    )
    incremental = stored()
    refresh(full=True)
    assert stored() == incremental


def test_the_last_twelve_months_are_stored_and_agree_with_grouping_the_facts_at_once(world):
    build_some(world)
    application(world, at(20, month=1), approved_after=3)  # 2025-01: inside the window
    build = refresh()
    assert (build.window_first, build.window_last) == (date(2024, 7, 1), JUNE)
    twelve = times.TimeFilters(start=date(2024, 7, 1), end=NOW.date())
    # One day more at the start: not a stored period, the same applications.
    longer = times.TimeFilters(start=date(2024, 6, 30), end=NOW.date())

    stored_report = times.times_report(twelve, build)
    at_once = times.times_report(longer, build)

    assert stored_report.is_stored and not at_once.is_stored
    assert stored_report.funnel == at_once.funnel
    assert stored_report.total.measures == at_once.total.measures
    assert [r.measures for r in stored_report.by_agent] == [r.measures for r in at_once.by_agent]
    assert stored_report.states == at_once.states
    assert stored_report.total.figure.applications == 5


def test_a_range_that_cuts_a_month_is_grouped_at_once_from_the_facts(world):
    application(world, at(2), approved_after=2)
    application(world, at(20, month=5), approved_after=6)
    build = refresh()

    report = times.times_report(times.TimeFilters(start=date(2025, 5, 15), end=at(3).date()), build)

    assert not report.is_stored
    assert report.total.measures[1].median == D("4.0")


def test_a_range_is_stored_only_when_it_is_one_month_or_the_last_twelve(world):
    build = refresh()

    def period(start: date, end: date):
        return times.stored_period(times.TimeFilters(start=start, end=end), build)

    assert period(MAY, date(2025, 5, 31)) == (MAY, MAY)
    assert period(JUNE, date(2025, 6, 15)) == (JUNE, JUNE)  # up to the refresh's day
    assert period(JUNE, date(2025, 6, 30)) == (JUNE, JUNE)
    assert period(date(2024, 7, 1), date(2025, 6, 15)) == (date(2024, 7, 1), JUNE)
    assert period(MAY, date(2025, 5, 30)) is None
    assert period(date(2025, 5, 2), date(2025, 5, 31)) is None
    assert period(MAY, date(2025, 6, 15)) is None
    assert times.stored_period(times.TimeFilters(), build) is None


def test_the_beat_task_refreshes_the_time_metrics_too(world):
    application(world, at(2), approved_after=3)

    tasks.refresh_report_summary.delay()

    assert TimeBuild.objects.get().built_at == NOW
    assert ApplicationTime.objects.count() == 1


def test_a_day_after_the_last_full_refresh_it_rewrites_everything(world, time_machine):
    first = refresh()
    time_machine.move_to(NOW + timing_services.FULL_EVERY, tick=False)

    second = refresh()

    assert second.full_built_at == NOW + timing_services.FULL_EVERY != first.full_built_at


# --- The dashboard ----------------------------------------------------------------------


def test_an_advisor_without_the_dashboards_gets_403_and_a_visitor_the_login(client, asesor):
    assert client.get(reverse(URL)).status_code == 302

    client.force_login(asesor)

    assert client.get(reverse(URL)).status_code == 403


def test_before_the_first_refresh_the_page_says_so(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(reverse(URL))

    assertContains(response, 'id="times-not-built"')
    assertNotContains(response, 'id="times-funnel"')


def test_a_supervisor_sees_the_funnel_the_times_the_states_and_the_breaches(
    client, supervisor, world
):
    application(world, at(1), approved_after=30)
    application(world, at(2), product=world.consumo, approved_after=10, branch=world.norte)
    refresh()
    client.force_login(supervisor)

    response = client.get(reverse(URL))

    assert response.status_code == 200
    assertTemplateUsed(response, "gestiones/application_times.html")
    assertContains(response, "Cifras al 15/06/2025 12:00")
    assert response.context["report"].is_stored  # the default range: the last 12 months
    for part in ("times-funnel", "times-by-product", "times-by-branch", "times-by-agent"):
        assertContains(response, f'id="{part}"')
    assertContains(response, 'data-chart="funnel-chart"')
    assertContains(response, 'id="funnel-chart" type="application/json"')
    assertContains(response, 'id="states-times-table"')
    gestion_url = CreditApplication.objects.get(lead_received_at=at(1)).gestion.get_absolute_url()
    assertContains(response, f'href="{gestion_url}"')
    assertContains(response, "Aprobada tarde")
    # The dashboards link to each other.
    assertContains(client.get(reverse("gestiones:dashboard")), f'href="{reverse(URL)}"')


def test_filters_narrow_every_table_and_a_filtered_key_has_no_table(client, supervisor, world):
    application(world, at(1), approved_after=30)
    application(world, at(2), product=world.consumo, approved_after=10, branch=world.norte)
    refresh()
    client.force_login(supervisor)

    response = client.get(reverse(URL), {"branch": world.norte.pk}, headers=HTMX)

    assertTemplateUsed(response, "gestiones/partials/times_results.html")
    assert "gestiones/application_times.html" not in [t.name for t in response.templates]
    report = response.context["report"]
    assert report.by_branch is None
    assert report.total.figure.applications == 1
    assert [r.label for r in report.by_product] == ["Consumo"]
    assertNotContains(response, 'id="times-by-branch"')


def test_bad_filters_show_the_errors(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(reverse(URL), {"start": "2025-06-10", "end": "2025-06-01"}, headers=HTMX)

    assert response.status_code == 200
    assertContains(response, "es posterior a «Hasta»")
    assertNotContains(response, 'id="times-funnel"')


def test_an_advisor_not_on_the_list_is_called_an_advisor(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(reverse(URL), {"agent": "999999"}, headers=HTMX)

    assertContains(response, "Elija un asesor de la lista.")


@pytest.mark.parametrize("end", ["9999-12-31", "31/12/9999"])
def test_an_end_on_the_last_day_of_the_calendar_shows_the_error(client, supervisor, world, end):
    application(world, at(2))
    refresh()
    client.force_login(supervisor)

    response = client.get(reverse(URL), {"start": "", "end": end}, headers=HTMX)

    assert response.status_code == 200
    assertContains(response, "Hasta: Elija una fecha entre el 01/01/2000 y el 31/12/2026.")
    assertNotContains(response, 'id="times-funnel"')


def test_the_breaches_page_through_their_own_fragment(client, supervisor, world):
    for day in range(1, 28):
        application(world, at(day, month=5))  # all open past the target
    refresh()
    client.force_login(supervisor)
    query = {"start": "2025-05-01", "end": "2025-05-31"}

    first = client.get(reverse(URL), query)
    second = client.get(
        reverse(URL), {**query, "page": 2}, headers={**HTMX, "HX-Target": "times-breaches"}
    )

    assert first.context["breaches"].paginator.count == 27
    assertContains(first, "Página 1 de 2")
    assertTemplateUsed(second, "gestiones/partials/times_breaches.html")
    assert "gestiones/partials/times_results.html" not in [t.name for t in second.templates]
    assert [b.fact.lead_at for b in second.context["breach_rows"]] == [
        at(26, month=5),
        at(27, month=5),
    ]


def test_the_page_costs_the_same_queries_however_many_rows(
    client, supervisor, world, django_assert_num_queries
):
    application(world, at(1), approved_after=30)
    application(world, at(2), product=world.consumo, approved_after=10)
    refresh()
    client.force_login(supervisor)
    url = reverse(URL)
    client.get(url)  # the session's first save, done
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    few = len(few)
    # More of everything: products, branches, advisors, states, breaches, months.
    for k in range(8):
        product = LoanProductFactory(name=f"Producto {k}")
        branch = Branch.objects.create(name=f"Sur {k}", code=f"sur-{k}")
        agent = UserFactory(role="Asesor")
        for day in range(1, 4):
            application(
                world,
                at(day, month=1 + k % 5),
                product=product,
                branch=branch,
                agent=agent,
                approved_after=day * 20,
                state="Pre estudio",
            )
    refresh()
    client.get(url)  # new people and branches refresh the cached filter choices

    with django_assert_num_queries(few):
        response = client.get(url)

    assert response.context["report"].total.figure.applications == 26


def test_the_page_fits_a_phone(page: Page, live_server, roles, supervisor, world):
    now = timezone.now()
    for k in range(30):
        application(
            world,
            now - timedelta(hours=10 + 7 * k),
            product=world.consumo if k % 3 else world.vehicular,
            branch=world.norte if k % 2 else world.centro,
            agent=world.beto if k % 4 else world.ana,
            approved_after=None if k % 5 == 0 else 3 + k,
        )
    refresh()
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "supervisor")

    response = page.goto(f"{live_server.url}{reverse(URL)}")

    assert response.status == 200
    page.wait_for_load_state("networkidle")
    assert page.locator("#funnel-table tbody tr").count() == 5
    assert page.locator("#breaches-table tbody tr").count() > 0
    assert_no_sideways_scroll(page)
