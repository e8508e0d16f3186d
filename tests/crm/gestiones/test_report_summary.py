"""The dashboards' summary: the same figures as grouping the gestiones themselves, kept
current by its refresh, read with few queries, and its age shown."""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import services, tasks
from crm.gestiones.models import (
    Gestion,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
    StateMonthSummary,
    SummaryBuild,
)
from crm.gestiones.reports import forms as report_forms
from crm.gestiones.reports import selectors as report_selectors
from crm.gestiones.reports import services as report_services
from crm.models import Branch, Channel, Product
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, UserFactory

LIMA = ZoneInfo("America/Lima")
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=LIMA)
TODAY = NOW.date()
HTMX = {"HX-Request": "true"}
SECTION_KEYS = ("states", "rejections", "amounts", "teams", "channels")
ALL_TIME = {"start": "", "end": ""}
Filters = report_selectors.ReportFilters
REPORTS = (
    report_selectors.gestiones_by_state,
    report_selectors.rejections_by_reason,
    report_selectors.requested_vs_approved,
    report_selectors.branches_and_agents,
    report_selectors.by_channel,
)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


# --- A random-ish world -----------------------------------------------------------------


@dataclass
class World:
    types: list[GestionType]
    branches: list[Branch]
    agents: list
    channels: list[Channel]
    products: list[Product]


def make_type(name: str, states: list[tuple[str, str]], reasons: list[str]) -> GestionType:
    gestion_type = GestionType.objects.create(name=name, code=name.lower().replace(" ", "-"))
    for order, (state_name, outcome) in enumerate(states):
        GestionState.objects.create(
            gestion_type=gestion_type,
            name=state_name,
            order=order,
            is_initial=order == 0,
            outcome=outcome,
        )
    for reason in reasons:
        RejectionReason.objects.create(gestion_type=gestion_type, name=reason)
    return gestion_type


def add_gestiones(w: World, count: int, *, seed: int, months: list[date]) -> None:
    """Write `count` gestiones created in `months`, mixing every key the dashboards group
    by: some on the edges of a local day and month (UTC is five hours ahead), some without
    agent, branch, channel or amount, in both currencies, with none, one or two products."""
    rng = random.Random(seed)
    customers = [CustomerFactory() for _ in range(5)]
    states = {t.pk: list(t.states.all()) for t in w.types}
    reasons = {t.pk: list(t.rejection_reasons.all()) for t in w.types}
    gestiones, links = [], []
    for k in range(count):
        gestion_type = rng.choice(w.types)
        state = rng.choice(states[gestion_type.pk])
        month = rng.choice(months)
        day = month.replace(day=rng.randint(1, 28))
        moment = rng.choice(
            [
                datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59)),
                datetime(month.year, month.month, 1, 0, 0),  # the month's first instant
                datetime(day.year, day.month, day.day, 23, 59),  # already tomorrow in UTC
            ]
        ).replace(tzinfo=LIMA)
        requested = Decimal(rng.randrange(10_000, 9_000_000)) / 100 if rng.random() < 0.8 else None
        approved = None
        if requested and state.outcome == Outcome.SUCCESS:
            approved = (requested * rng.randint(50, 100) / 100).quantize(Decimal("0.01"))
        reason = None
        if state.outcome == Outcome.REJECTED and reasons[gestion_type.pk] and rng.random() < 0.8:
            reason = rng.choice(reasons[gestion_type.pk])
        gestiones.append(
            Gestion(
                customer=customers[k % len(customers)],
                gestion_type=gestion_type,
                state=state,
                outcome=state.outcome,
                agent=rng.choice([*w.agents, None]),
                branch=rng.choice([*w.branches, None]),
                channel=rng.choice([*w.channels, None]),
                amount_requested=requested,
                amount_approved=approved,
                currency=rng.choice(["PEN", "PEN", "USD"]),
                rejection_reason=reason,
                created_at=moment,
            )
        )
    made = Gestion.objects.bulk_create(gestiones)
    for gestion in made:
        for product in rng.sample(w.products, rng.choice([0, 1, 1, 2])):
            links.append(Gestion.products.through(gestion_id=gestion.pk, product_id=product.pk))
    Gestion.products.through.objects.bulk_create(links)


def month_range(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


@pytest.fixture
def world(db) -> World:
    consumo = make_type(
        "Consumo",
        [
            ("Creado", Outcome.OPEN),
            ("En estudio", Outcome.OPEN),
            ("Desembolsado", Outcome.SUCCESS),
            ("Rechazado comité", Outcome.REJECTED),
            ("Rechazado gerente", Outcome.REJECTED),
            ("Desistido", Outcome.CLOSED),
        ],
        ["Baja capacidad", "Sobreendeudado", "Historial"],
    )
    vehicular = make_type(
        "Vehicular",
        [
            ("Evaluación", Outcome.OPEN),
            ("Aprobado", Outcome.SUCCESS),
            ("Rechazado", Outcome.REJECTED),
        ],
        ["Baja capacidad", "Tasación"],
    )
    servicio = make_type(
        "Servicio", [("Registrada", Outcome.OPEN), ("Resuelta", Outcome.SUCCESS)], []
    )
    w = World(
        types=[consumo, vehicular, servicio],
        branches=[
            Branch.objects.create(name=n, code=n.lower()) for n in ("Centro", "Norte", "Sur")
        ],
        agents=[
            UserFactory(username=f"gestor{k}", first_name=name, last_name="Pérez", role="Asesor")
            # Two namesakes: their rows keep one order, whichever source they come from.
            for k, name in enumerate(("Ana", "Beto", "Ana", "Dario"))
        ],
        channels=[Channel.objects.create(name=n, code=n.lower()) for n in ("Web", "Oficina")],
        products=[
            Product.objects.create(name=n, code=n.lower()) for n in ("Crédito", "Seguro", "Tarjeta")
        ],
    )
    add_gestiones(w, 400, seed=1, months=month_range(date(2024, 3, 1), date(2025, 5, 1)))
    # This month so far, as the default range ends today.
    add_gestiones(w, 40, seed=2, months=[date(2025, 6, 1)])
    Gestion.objects.filter(created_at__gt=NOW).update(created_at=NOW - timedelta(hours=1))
    # Saved two days ago: a refresh now has no reason to rebuild any month for them.
    Gestion.objects.update(updated_at=NOW - timedelta(days=2))
    return w


def filter_cases(w: World) -> list[Filters]:
    default = Filters(start=report_forms.default_start(TODAY), end=TODAY)
    ranges = [
        Filters(),
        default,
        Filters(start=date(2024, 8, 15), end=date(2025, 2, 10)),  # cuts both ends
        Filters(start=date(2024, 9, 1), end=date(2024, 9, 30)),  # one whole month
        Filters(start=date(2024, 9, 10), end=date(2024, 9, 20)),  # inside one month
        Filters(start=date(2024, 9, 10), end=date(2024, 10, 5)),  # two cut months, no whole
        Filters(start=date(2024, 11, 17)),
        Filters(end=date(2025, 1, 31)),
        Filters(end=date(2025, 1, 30)),
        Filters(start=date(2023, 1, 1), end=date(2024, 1, 31)),  # before the first gestión
        Filters(start=date(2025, 6, 16), end=date(2025, 8, 1)),  # after the last
        Filters(start=date(2025, 6, 2), end=TODAY),
    ]
    cases = list(ranges)
    for base in (default, Filters(start=date(2024, 8, 15), end=date(2025, 2, 10)), Filters()):
        cases += [Filters(start=base.start, end=base.end, branch=b) for b in w.branches]
        cases += [Filters(start=base.start, end=base.end, agent=a) for a in w.agents]
        cases += [Filters(start=base.start, end=base.end, product=p) for p in w.products]
        cases += [Filters(start=base.start, end=base.end, gestion_type=t) for t in w.types]
    cases.append(
        Filters(
            start=date(2024, 7, 3),
            end=date(2025, 3, 30),
            branch=w.branches[0],
            product=w.products[1],
            gestion_type=w.types[0],
        )
    )
    return cases


def assert_summary_equals_raw(filters: Filters, summary: SummaryBuild) -> None:
    for report in REPORTS:
        assert report(filters, summary) == report(filters), (report.__name__, filters)


# --- Same figures -----------------------------------------------------------------------


def test_the_summary_gives_the_raw_figures_for_every_filter_and_range(world):
    summary = report_services.refresh_summary()

    for model in report_services.SECTIONS:
        assert model.objects.filter(product__isnull=True).exists(), model
        assert model.objects.filter(product__isnull=False).exists(), model
    assert (summary.first_day, summary.last_day) == (date(2024, 3, 1), TODAY)
    for filters in filter_cases(world):
        assert_summary_equals_raw(filters, summary)


def test_a_gestion_with_two_products_counts_once_without_filter_and_once_per_product(world):
    credito, seguro, _ = world.products
    both = Gestion.objects.filter(products=credito).filter(products=seguro)
    assert both.exists()
    summary = report_services.refresh_summary()

    def total(product=None) -> int:
        return report_selectors.gestiones_by_state(Filters(product=product), summary).total

    assert total() == Gestion.objects.count()
    assert total(credito) == Gestion.objects.filter(products=credito).count()
    assert total(seguro) == Gestion.objects.filter(products=seguro).count()


def test_namesakes_keep_the_order_they_were_created_in_from_either_source(db):
    consumo = make_type("Consumo", [("Creado", Outcome.OPEN)], [])
    centro = Branch.objects.create(name="Centro", code="centro")
    norte = Branch.objects.create(name="Norte", code="norte")
    first = UserFactory(username="jose1", first_name="José", last_name="García")
    second = UserFactory(username="jose2", first_name="José", last_name="García")
    state = consumo.states.get()
    customer = CustomerFactory()
    # The second one's groups come first when the database sorts by branch.
    for agent, branch in ((second, centro), (first, norte), (first, norte)):
        Gestion.objects.create(
            customer=customer,
            gestion_type=consumo,
            state=state,
            agent=agent,
            branch=branch,
            created_at=NOW - timedelta(days=40),
        )
    summary = report_services.refresh_summary()

    for source in (None, summary):
        rows = report_selectors.branches_and_agents(Filters(), source).by_agent.rows
        assert [(row.label, row.count) for row in rows] == [("José García", 2), ("José García", 1)]


def test_the_summary_reads_only_whole_months_and_the_gestiones_for_the_cut_days():
    summary = SummaryBuild(first_day=date(2024, 3, 5), last_day=date(2025, 6, 15))
    split = report_selectors.split_range

    assert split(date(2024, 8, 15), date(2025, 2, 10), summary) == report_selectors.Split(
        months=True,
        first=date(2024, 9, 1),
        last=date(2025, 1, 1),
        days=((date(2024, 8, 15), date(2024, 8, 31)), (date(2025, 2, 1), date(2025, 2, 10))),
    )
    # The current month is whole up to its last gestión; the first one from its first.
    assert split(date(2024, 7, 1), date(2025, 6, 15), summary).days == ()
    assert split(date(2024, 3, 5), date(2025, 6, 30), summary).days == ()
    assert split(date(2024, 3, 6), None, summary).days == ((date(2024, 3, 6), date(2024, 3, 31)),)
    assert split(None, None, summary) == report_selectors.Split(True, None, None, ())
    # Within one month, or across two cut ones: only the gestiones.
    assert split(date(2024, 9, 10), date(2024, 10, 5), summary) == report_selectors.Split(
        False, None, None, ((date(2024, 9, 10), date(2024, 10, 5)),)
    )


def test_an_empty_database_gives_an_empty_summary_and_empty_reports(db):
    summary = report_services.refresh_summary()

    assert (summary.first_day, summary.last_day) == (None, None)
    for filters in (Filters(), Filters(start=date(2025, 1, 1), end=TODAY)):
        assert_summary_equals_raw(filters, summary)
        assert report_selectors.gestiones_by_state(filters, summary).total == 0


# --- Kept current -----------------------------------------------------------------------


def test_a_state_change_shows_after_the_next_refresh(time_machine, make_gestion, asesor):
    time_machine.move_to(NOW - timedelta(days=1), tick=False)
    gestion = make_gestion(actor=asesor, now=NOW - timedelta(days=200))
    make_gestion(actor=asesor, now=NOW - timedelta(days=3))
    time_machine.move_to(NOW, tick=False)
    first = report_services.refresh_summary()
    everything = Filters()

    def state_counts(summary) -> dict[str, int]:
        report = report_selectors.gestiones_by_state(everything, summary)
        return {row.state: row.count for row in report.rows}

    assert state_counts(first) == {"Creado": 2}
    time_machine.move_to(NOW + timedelta(minutes=3), tick=False)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    assert state_counts(report_selectors.summary_build()) == {"Creado": 2}  # not yet
    time_machine.move_to(NOW + timedelta(minutes=5), tick=False)
    second = report_services.refresh_summary()

    # Found by its change, not its age: only its month was rebuilt.
    assert report_services.changed_months(since=first.built_at) == [date(2024, 11, 1)]
    assert second.full_built_at == first.full_built_at
    assert state_counts(second) == {"Creado": 1, "Pre estudio": 1}
    assert_summary_equals_raw(everything, second)


def test_a_refresh_rebuilds_only_the_months_that_changed(world, time_machine):
    report_services.refresh_summary()
    untouched = set(StateMonthSummary.objects.filter(month=date(2024, 9, 1)).values_list("pk"))
    gestion = Gestion.objects.filter(created_at__month=12, created_at__year=2024).first()
    time_machine.move_to(NOW + timedelta(minutes=5), tick=False)
    gestion.state = gestion.gestion_type.states.exclude(pk=gestion.state_id).first()
    gestion.outcome = gestion.state.outcome
    gestion.save()

    summary = report_services.refresh_summary()

    assert report_services.changed_months(since=NOW) == [date(2024, 12, 1)]
    assert set(StateMonthSummary.objects.filter(month=date(2024, 9, 1)).values_list("pk")) == (
        untouched
    )
    assert_summary_equals_raw(Filters(), summary)


def test_a_day_after_the_last_full_rebuild_the_refresh_rebuilds_everything(world, time_machine):
    first = report_services.refresh_summary()
    # A change no save announced (updated_at unchanged): only a full rebuild sees it.
    Gestion.objects.filter(pk__in=Gestion.objects.values("pk")[:20]).delete()
    time_machine.move_to(NOW + timedelta(hours=2), tick=False)
    stale = report_services.refresh_summary()
    assert stale.full_built_at == first.full_built_at
    assert report_selectors.gestiones_by_state(Filters(), stale).total == 440

    time_machine.move_to(NOW + report_services.FULL_EVERY, tick=False)
    summary = report_services.refresh_summary()

    assert summary.full_built_at == NOW + report_services.FULL_EVERY
    assert report_selectors.gestiones_by_state(Filters(), summary).total == 420
    assert_summary_equals_raw(Filters(), summary)


def test_the_beat_task_refreshes_the_summary(world):
    entry = settings.CELERY_BEAT_SCHEDULE["gestiones-refresh-report-summary"]
    assert entry["task"] == "gestiones.refresh_report_summary"

    tasks.refresh_report_summary.delay()

    assert SummaryBuild.objects.get().built_at == NOW


# --- The page ---------------------------------------------------------------------------


def section_url(key: str) -> str:
    return reverse("gestiones:dashboard_section", args=[key])


def test_the_dashboard_says_how_fresh_its_figures_are(client, supervisor, world, time_machine):
    client.force_login(supervisor)

    before = client.get(reverse("gestiones:dashboard"))
    report_services.refresh_summary()
    time_machine.move_to(NOW + timedelta(minutes=2), tick=False)
    after = client.get(reverse("gestiones:dashboard"))

    assertContains(before, "Cifras calculadas en este momento.")
    assertNotContains(before, "Cifras al")
    assertContains(after, "Cifras al 15/06/2025 12:00; se actualizan cada 5 minutos.")


def section_queries(client, section: str, query: dict) -> list[str]:
    """Return the queries a section request makes for its figures: not the session's, the
    signed-in user's or the permissions' (cached or not, they are the framework's)."""
    framework = ("django_session", "auth_permission", "SAVEPOINT", '"auth_user"."id" = ')
    with CaptureQueriesContext(connection) as queries:
        assert client.get(section_url(section), query, headers=HTMX).status_code == 200
    return [q["sql"] for q in queries if not any(word in q["sql"] for word in framework)]


def test_each_section_reads_the_summary_with_the_same_few_queries(client, supervisor, world):
    client.force_login(supervisor)
    report_services.refresh_summary()
    cut = {"start": "2024-08-15", "end": "2025-02-10", "product": world.products[0].pk}
    # (query, GROUP BY queries): the summary's; a cut range adds its edge days' from the
    # gestiones.
    cases = [({}, 1), (ALL_TIME, 1), (cut, 2)]
    counted = {}
    for query, grouped in cases:
        for section in SECTION_KEYS:
            sql = section_queries(client, section, query)
            assert sum("GROUP BY" in q for q in sql) == grouped, (query, section)
            # The last refresh, the groups, the names (and the product of the filter).
            assert len(sql) <= grouped + 4, (query, section, sql)
            counted[(str(query), section)] = len(sql)
    # More of everything: branches, agents, channels, months.
    more = World(
        types=world.types,
        branches=[
            Branch.objects.create(name=f"Sucursal extra {k}", code=f"sucursal-extra-{k}")
            for k in range(4)
        ],
        agents=[UserFactory(first_name=f"Nuevo{k}", role="Asesor") for k in range(4)],
        channels=[
            Channel.objects.create(name=f"Canal extra {k}", code=f"canal-extra-{k}")
            for k in range(3)
        ],
        products=world.products,
    )
    add_gestiones(more, 200, seed=3, months=month_range(date(2023, 1, 1), date(2025, 5, 1)))
    report_services.refresh_summary(full=True)

    for query, _ in cases:
        for section in SECTION_KEYS:
            sql = section_queries(client, section, query)
            assert len(sql) == counted[(str(query), section)], (query, section, sql)


def test_a_section_reads_the_summary_not_the_gestiones_for_whole_months(client, supervisor, world):
    client.force_login(supervisor)
    report_services.refresh_summary()

    with CaptureQueriesContext(connection) as queries:
        client.get(section_url("states"), headers=HTMX)

    grouped = [q["sql"] for q in queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1
    assert StateMonthSummary._meta.db_table in grouped[0]
    assert f'FROM "{Gestion._meta.db_table}"' not in grouped[0]


def test_the_excel_agrees_with_the_page_between_refreshes(client, supervisor, world):
    client.force_login(supervisor)
    report_services.refresh_summary()
    # A change the summary has not seen yet: page and Excel both show the refreshed figures.
    Gestion.objects.filter(pk__in=Gestion.objects.values("pk")[:5]).delete()

    page = client.get(section_url("states"), ALL_TIME, headers=HTMX)
    book = load_workbook(BytesIO(client.get(reverse("gestiones:dashboard_xlsx"), ALL_TIME).content))

    total = page.context["states"].total
    assert total == Gestion.objects.count() + 5
    sheet = {row[0]: row for row in book["Por estado"].iter_rows(values_only=True) if row[0]}
    assert sheet["Total general"][2] == total
    assert sheet["Cifras al"][1] == "15/06/2025 12:00"
