"""The gestiones dashboards: each report's figures, the filters, the Excel and the page."""

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm.gestiones.models import Gestion, GestionState, GestionType, Outcome, RejectionReason
from crm.gestiones.reports import forms as report_forms
from crm.gestiones.reports import selectors as report_selectors
from crm.models import Branch, Channel, Product
from tests.factories import CustomerFactory, UserFactory

LIMA = ZoneInfo("America/Lima")
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=LIMA)
HTMX = {"HX-Request": "true"}
ALL_TIME = {"start": "", "end": ""}
D = Decimal


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


# --- Building blocks --------------------------------------------------------------------


def make_type(name: str, states: list[tuple[str, str]]) -> tuple[GestionType, dict]:
    """Create a type and its states, in order; the first one is the initial state."""
    gestion_type = GestionType.objects.create(name=name, code=name.lower().replace(" ", "-"))
    made = {}
    for order, (state_name, outcome) in enumerate(states):
        made[state_name] = GestionState.objects.create(
            gestion_type=gestion_type,
            name=state_name,
            order=order,
            is_initial=order == 0,
            outcome=outcome,
        )
    return gestion_type, made


@dataclass
class World:
    consumo: GestionType
    servicio: GestionType
    states: dict
    reasons: dict
    centro: Branch
    norte: Branch
    web: Channel
    oficina: Channel
    credito: Product
    seguro: Product
    ana: object
    beto: object


def make_gestion(w: World, state: GestionState, created: datetime, **fields) -> Gestion:
    products = fields.pop("products", [])
    gestion = Gestion.objects.create(
        customer=CustomerFactory(),
        gestion_type=state.gestion_type,
        state=state,
        outcome=state.outcome,
        created_at=created,
        **fields,
    )
    gestion.products.set(products)
    return gestion


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LIMA)


@pytest.fixture
def world(db) -> World:
    """Two processes, two branches, two agents and twelve gestiones with known figures.

    #11 was created on 31/05/2025 at 23:30 in Lima, already 1 June in UTC: it belongs to
    May. #12 is older than the default twelve months.
    """
    consumo, consumo_states = make_type(
        "Crédito consumo",
        [
            ("Creado", Outcome.OPEN),
            ("En estudio", Outcome.OPEN),
            ("Desembolsado", Outcome.SUCCESS),
            ("Rechazado comité", Outcome.REJECTED),
            ("Rechazado gerente", Outcome.REJECTED),
            ("Desistido", Outcome.CLOSED),
        ],
    )
    servicio, servicio_states = make_type(
        "Servicio", [("Registrada", Outcome.OPEN), ("Resuelta", Outcome.SUCCESS)]
    )
    reasons = {
        name: RejectionReason.objects.create(gestion_type=consumo, name=name)
        for name in ("Baja capacidad", "Sobreendeudado", "Historial crediticio")
    }
    w = World(
        consumo=consumo,
        servicio=servicio,
        states={**consumo_states, **servicio_states},
        reasons=reasons,
        centro=Branch.objects.create(name="Centro", code="centro"),
        norte=Branch.objects.create(name="Norte", code="norte"),
        web=Channel.objects.create(name="Web", code="web"),
        oficina=Channel.objects.create(name="Oficina", code="oficina"),
        credito=Product.objects.create(name="Crédito", code="credito"),
        seguro=Product.objects.create(name="Seguro", code="seguro"),
        ana=UserFactory(username="ana", first_name="Ana", last_name="Torres", role="Asesor"),
        beto=UserFactory(username="beto", first_name="Beto", last_name="Ramos", role="Asesor"),
    )
    s, r = w.states, w.reasons

    def add(state, created, branch, agent, channel, requested=None, approved=None, **more):
        products = [{"c": w.credito, "s": w.seguro}[p] for p in more.pop("products", "")]
        make_gestion(
            w,
            s[state],
            created,
            branch=branch,
            agent=agent,
            channel=channel,
            amount_requested=D(requested) if requested else None,
            amount_approved=D(approved) if approved else None,
            products=products,
            **more,
        )

    add("Creado", at(2025, 6, 1), w.centro, w.ana, w.web, "1000.00", products="c")  # 1
    add("En estudio", at(2025, 5, 20), w.centro, w.ana, w.oficina, "2500.50", products="cs")  # 2
    add(
        "Desembolsado", at(2025, 5, 10), w.centro, w.ana, w.web, "5000.00", "4500.00", products="cs"
    )  # 3
    add(
        "Desembolsado",
        at(2025, 4, 2),
        w.norte,
        w.beto,
        w.web,
        "3000.00",
        "3000.00",
        products="c",
        currency="USD",
    )  # 4
    add(
        "Rechazado comité",
        at(2025, 4, 15),
        w.norte,
        w.beto,
        w.oficina,
        "800.00",
        rejection_reason=r["Baja capacidad"],
        products="c",
    )  # 5
    add(
        "Rechazado comité",
        at(2025, 3, 3),
        w.centro,
        w.ana,
        w.web,
        "1200.00",
        rejection_reason=r["Baja capacidad"],
        products="c",
    )  # 6
    add(
        "Rechazado gerente",
        at(2025, 3, 25),
        w.norte,
        w.beto,
        w.web,
        "600.00",
        rejection_reason=r["Sobreendeudado"],
        products="c",
    )  # 7
    add("Rechazado gerente", at(2025, 2, 14), w.norte, None, w.oficina, "400.00", products="c")  # 8
    add("Desistido", at(2025, 2, 1), w.centro, w.beto, w.oficina, "700.00")  # 9
    add("Registrada", at(2025, 6, 10), w.norte, w.beto, w.web)  # 10
    add("Resuelta", at(2025, 5, 31, 23, 30), None, w.ana, None)  # 11
    add(
        "Desembolsado", at(2024, 5, 31), w.centro, w.ana, w.web, "10000.00", "9000.00", products="c"
    )  # 12
    return w


def everything(**kwargs) -> report_selectors.ReportFilters:
    return report_selectors.ReportFilters(**kwargs)


def by_type(filters: report_selectors.ReportFilters) -> report_selectors.AmountReport:
    return report_selectors.requested_vs_approved(filters).by_type


def by_month(filters: report_selectors.ReportFilters) -> report_selectors.AmountReport:
    return report_selectors.requested_vs_approved(filters).by_month


def by_branch(filters: report_selectors.ReportFilters) -> report_selectors.BreakdownReport:
    return report_selectors.branches_and_agents(filters).by_branch


def by_agent(filters: report_selectors.ReportFilters) -> report_selectors.BreakdownReport:
    return report_selectors.branches_and_agents(filters).by_agent


def by_label(report) -> dict:
    return {row.label: row for row in report.rows}


def money(amounts: list[report_selectors.Amounts]) -> dict:
    return {a.currency: (a.requested, a.approved, a.ratio) for a in amounts}


# --- 1. By type and state ---------------------------------------------------------------


def test_it_counts_gestiones_by_type_and_state_with_share_and_amount_per_currency(world):
    report = report_selectors.gestiones_by_state(everything())

    assert report.currencies == ["PEN", "USD"]
    assert [(r.gestion_type, r.state, r.count, r.percent) for r in report.rows] == [
        # Largest remainders: the two 16.67 and the first 8.33 get the cents left over.
        ("Crédito consumo", "Creado", 1, D("8.34")),
        ("Crédito consumo", "En estudio", 1, D("8.33")),
        ("Crédito consumo", "Desembolsado", 3, D("25.00")),
        ("Crédito consumo", "Rechazado comité", 2, D("16.67")),
        ("Crédito consumo", "Rechazado gerente", 2, D("16.67")),
        ("Crédito consumo", "Desistido", 1, D("8.33")),
        ("Servicio", "Registrada", 1, D("8.33")),
        ("Servicio", "Resuelta", 1, D("8.33")),
    ]
    desembolsado = report.rows[2]
    assert [(a.currency, a.requested) for a in desembolsado.amounts] == [
        ("PEN", D("15000.00")),
        ("USD", D("3000.00")),
    ]
    assert report.total == 12
    assert report.total_percent == D("100.00") == sum(r.percent for r in report.rows)
    assert [a.requested for a in report.total_amounts] == [D("22200.50"), D("3000.00")]


def test_only_the_currencies_present_get_a_column(world):
    report = report_selectors.gestiones_by_state(everything(branch=world.centro))

    assert report.currencies == ["PEN"]
    assert [a.requested for a in report.total_amounts] == [D("20400.50")]


# --- 2. Rejections pivot ----------------------------------------------------------------


def test_the_rejections_pivot_has_reasons_by_rejected_state_with_every_total(world):
    pivot = report_selectors.rejections_by_reason(everything())

    assert pivot.columns == ["Rechazado comité", "Rechazado gerente"]
    assert [(row.reason, row.cells, row.total) for row in pivot.rows] == [
        ("Baja capacidad", [2, 0], 2),
        ("Sobreendeudado", [0, 1], 1),
        ("Sin motivo", [0, 1], 1),
    ]
    assert pivot.column_totals == [2, 2]
    assert pivot.total == 4


def test_the_pivot_is_empty_without_rejections(world):
    pivot = report_selectors.rejections_by_reason(everything(gestion_type=world.servicio))

    assert (pivot.columns, pivot.rows, pivot.column_totals, pivot.total) == ([], [], [], 0)


# --- 3. Requested vs approved -----------------------------------------------------------


def test_it_sums_requested_and_approved_by_type_with_the_approval_ratio(world):
    report = by_type(everything())

    rows = by_label(report)
    assert rows["Crédito consumo"].count == 10
    assert money(rows["Crédito consumo"].amounts) == {
        "PEN": (D("22200.50"), D("13500.00"), D("60.81")),
        "USD": (D("3000.00"), D("3000.00"), D("100.00")),
    }
    assert money(rows["Servicio"].amounts) == {
        "PEN": (D("0.00"), D("0.00"), None),
        "USD": (D("0.00"), D("0.00"), None),
    }
    assert report.total.count == 12
    assert money(report.total.amounts)["PEN"] == (D("22200.50"), D("13500.00"), D("60.81"))


def test_it_sums_by_month_of_creation_in_lima_filling_empty_months(world):
    report = by_month(everything())

    months = {row.month: row for row in report.rows}
    assert min(months) == date(2024, 5, 1)
    assert max(months) == date(2025, 6, 1)
    assert len(report.rows) == 14
    assert months[date(2024, 9, 1)].count == 0
    # #11, created 31/05 at 23:30 in Lima, is May's although UTC says June.
    assert months[date(2025, 5, 1)].count == 3
    assert money(months[date(2025, 5, 1)].amounts)["PEN"][:2] == (D("7500.50"), D("4500.00"))
    assert months[date(2025, 6, 1)].count == 2
    assert money(months[date(2025, 4, 1)].amounts)["USD"][:2] == (D("3000.00"), D("3000.00"))
    assert months[date(2025, 5, 1)].label == "mayo de 2025"


# --- 4. Per branch and agent ------------------------------------------------------------


def test_it_counts_by_branch_with_outcomes_amounts_and_effectiveness(world):
    report = by_branch(everything())

    assert [row.label for row in report.rows] == ["Centro", "Norte", "Sin sucursal"]
    centro, norte, none = report.rows
    assert (centro.count, centro.open, centro.success, centro.rejected, centro.closed) == (
        6, 2, 2, 1, 1,
    )  # fmt: skip
    assert centro.effectiveness == D("50.00")
    assert money(centro.amounts)["PEN"][:2] == (D("20400.50"), D("13500.00"))
    assert (norte.count, norte.open, norte.success, norte.rejected, norte.closed) == (5, 1, 1, 3, 0)
    assert norte.effectiveness == D("25.00")
    assert money(norte.amounts) == {
        "PEN": (D("1800.00"), D("0.00"), D("0.00")),
        "USD": (D("3000.00"), D("3000.00"), D("100.00")),
    }
    assert (none.count, none.success, none.effectiveness) == (1, 1, D("100.00"))
    total = report.total
    assert (total.count, total.open, total.success, total.rejected, total.closed) == (
        12, 3, 4, 4, 1,
    )  # fmt: skip
    assert total.effectiveness == D("44.44")


def test_it_counts_by_agent_and_names_the_unassigned(world):
    report = by_agent(everything())

    rows = by_label(report)
    assert list(rows) == ["Ana Torres", "Beto Ramos", "Sin asignar"]
    ana, beto = rows["Ana Torres"], rows["Beto Ramos"]
    assert (ana.count, ana.open, ana.success, ana.rejected, ana.closed) == (6, 2, 3, 1, 0)
    assert ana.effectiveness == D("75.00")
    assert (beto.count, beto.open, beto.success, beto.rejected, beto.closed) == (5, 1, 1, 2, 1)
    assert beto.effectiveness == D("25.00")
    assert (rows["Sin asignar"].rejected, rows["Sin asignar"].effectiveness) == (1, D("0.00"))


def test_effectiveness_is_empty_when_nothing_has_finished(world):
    report = by_branch(everything(gestion_type=world.servicio, branch=world.norte))

    assert report.rows[0].open == 1
    assert report.rows[0].effectiveness is None


# --- 5. By channel ----------------------------------------------------------------------


def test_it_measures_effectiveness_by_channel(world):
    report = report_selectors.by_channel(everything())

    rows = by_label(report)
    assert list(rows) == ["Oficina", "Web", "Sin canal"]
    web, oficina = rows["Web"], rows["Oficina"]
    assert (web.count, web.success, web.rejected, web.effectiveness) == (7, 3, 2, D("60.00"))
    assert (oficina.count, oficina.success, oficina.rejected, oficina.effectiveness) == (
        4, 0, 2, D("0.00"),
    )  # fmt: skip
    assert rows["Sin canal"].effectiveness == D("100.00")


# --- Filters ----------------------------------------------------------------------------


def test_filters_change_every_figure(world):
    cases = [
        (everything(), 12),
        (everything(branch=world.norte), 5),
        (everything(agent=world.ana), 6),
        (everything(gestion_type=world.servicio), 2),
        # Two products on one gestión count it once.
        (everything(product=world.credito), 9),
        (everything(product=world.seguro), 2),
        (everything(start=date(2025, 5, 1), end=date(2025, 5, 31)), 3),
        (everything(start=date(2025, 6, 1)), 2),
        (everything(end=date(2024, 12, 31)), 1),
    ]
    for filters, expected in cases:
        assert report_selectors.gestiones_by_state(filters).total == expected, filters
        assert by_type(filters).total.count == expected, filters
        assert by_branch(filters).total.count == expected, filters
        assert by_agent(filters).total.count == expected, filters
        assert report_selectors.by_channel(filters).total.count == expected, filters


def test_the_branch_filter_narrows_the_pivot(world):
    pivot = report_selectors.rejections_by_reason(everything(branch=world.norte))

    assert [(row.reason, row.cells) for row in pivot.rows] == [
        ("Baja capacidad", [1, 0]),
        ("Sobreendeudado", [0, 1]),
        ("Sin motivo", [0, 1]),
    ]
    assert pivot.total == 3


def test_the_product_filter_narrows_the_amounts(world):
    report = by_type(everything(product=world.seguro))

    assert money(report.total.amounts) == {"PEN": (D("7500.50"), D("4500.00"), D("60.00"))}


def test_the_form_defaults_to_the_last_twelve_months():
    form = report_forms.DashboardFilterForm({})

    assert form.is_valid()
    assert form.filters().start == date(2024, 7, 1)
    assert form.filters().end == date(2025, 6, 15)


def test_the_form_refuses_desde_after_hasta(db):
    form = report_forms.DashboardFilterForm({"start": "2025-06-10", "end": "2025-06-01"})

    assert not form.is_valid()
    assert form.error_list() == [
        "«Desde» (10/06/2025) es posterior a «Hasta» (01/06/2025): corrija el rango."
    ]


def test_the_form_explains_a_bad_date_and_an_unknown_branch(db):
    form = report_forms.DashboardFilterForm({"start": "ayer", "end": "", "branch": "999"})

    assert not form.is_valid()
    assert form.error_list() == [
        "Desde: Escriba una fecha válida (día/mes/año).",
        "Sucursal: Elija una sucursal de la lista.",
    ]


@pytest.mark.parametrize("end", ["9999-12-31", "31/12/9999", "2027-01-01"])
def test_the_form_refuses_an_end_past_next_year(db, end):
    form = report_forms.DashboardFilterForm({"start": "2025-01-01", "end": end})

    assert not form.is_valid()
    assert form.error_list() == ["Hasta: Elija una fecha entre el 01/01/2000 y el 31/12/2026."]


def test_the_form_refuses_a_start_before_2000_and_takes_the_bounds_themselves(db):
    refused = report_forms.DashboardFilterForm({"start": "0001-01-01", "end": "2025-06-15"})
    bounds = report_forms.DashboardFilterForm({"start": "2000-01-01", "end": "2026-12-31"})

    assert refused.error_list() == ["Desde: Elija una fecha entre el 01/01/2000 y el 31/12/2026."]
    assert bounds.is_valid()


# --- The page ---------------------------------------------------------------------------


def test_an_asesor_without_the_permission_gets_403(client, asesor):
    client.force_login(asesor)

    assert client.get(reverse("gestiones:dashboard")).status_code == 403
    assert client.get(reverse("gestiones:dashboard_xlsx")).status_code == 403


def test_a_supervisor_sees_every_section_with_the_default_twelve_months(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard"))

    assert response.status_code == 200
    assertTemplateUsed(response, "gestiones/dashboard.html")
    assertContains(response, 'value="2024-07-01"')
    # The page comes at once; each section then loads by itself, with the same filters.
    query = response.context["query"]
    for section in ("states", "rejections", "amounts", "teams", "channels"):
        url = reverse("gestiones:dashboard_section", args=[section])
        assertContains(response, f'hx-get="{url}?{query}"'.replace("&", "&amp;"))
        part = client.get(f"{url}?{query}", headers=HTMX)
        assertContains(part, f'id="dashboard-{section}"')
        if section == "states":
            assert part.context["states"].total == 11  # #12 is older than twelve months
            assertContains(part, 'data-chart="states-chart"')
            assertContains(part, 'id="states-chart" type="application/json"')
        if section == "rejections":
            assertContains(part, "Solicitudes rechazadas y motivos")
            assertContains(part, "Sin motivo")


def test_an_unknown_section_is_404(client, supervisor, world):
    client.force_login(supervisor)

    url = reverse("gestiones:dashboard_section", args=["nada"])
    assert client.get(url).status_code == 404


def test_htmx_gets_only_the_results_for_the_filters(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:dashboard"), {**ALL_TIME, "branch": world.norte.pk}, headers=HTMX
    )

    assertTemplateUsed(response, "gestiones/partials/dashboard_results.html")
    assert_not_the_full_page(response)
    assert response["HX-Replace-Url"].startswith(reverse("gestiones:dashboard"))
    assertContains(response, f"branch={world.norte.pk}")  # the Excel link keeps the filters
    section = client.get(
        reverse("gestiones:dashboard_section", args=["states"]),
        {**ALL_TIME, "branch": world.norte.pk},
        headers=HTMX,
    )
    assert section.context["states"].total == 5


def assert_not_the_full_page(response) -> None:
    assert "gestiones/dashboard.html" not in [t.name for t in response.templates]


def test_bad_filters_show_the_errors_instead_of_figures(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:dashboard"), {"start": "2025-06-10", "end": "2025-06-01"}, headers=HTMX
    )

    assert response.status_code == 200  # htmx 2 swaps only 2xx
    assertContains(response, "es posterior a «Hasta»")
    assertNotContains(response, 'id="dashboard-states"')


@pytest.mark.parametrize("section", ["states", "rejections", "amounts", "teams", "channels"])
def test_a_section_for_the_last_day_of_the_calendar_shows_the_error(
    client, supervisor, world, section
):
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:dashboard_section", args=[section]),
        {"start": "", "end": "9999-12-31"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assertContains(response, "Elija una fecha entre el 01/01/2000 y el 31/12/2026.")
    assertNotContains(response, f'id="dashboard-{section}"')


def test_the_page_for_the_first_day_of_the_calendar_shows_the_error(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:dashboard"), {"start": "0001-01-01", "end": "", "completo": "1"}
    )

    assert response.status_code == 200
    assertContains(response, "Elija una fecha entre el 01/01/2000 y el 31/12/2026.")


def test_the_page_costs_the_same_queries_however_many_rows(
    client, supervisor, world, django_assert_num_queries
):
    client.force_login(supervisor)
    # The whole page rendered at once (what it offers without JavaScript).
    url = reverse("gestiones:dashboard")
    ALL_AT_ONCE = {**ALL_TIME, "completo": "1"}
    client.get(url, ALL_AT_ONCE)  # the session's first save (lib.middleware), done
    with CaptureQueriesContext(connection) as few:
        client.get(url, ALL_AT_ONCE)
    few = len(few)  # read now: the next request empties the log it reads from
    # More of everything: types, states, reasons, branches, agents, channels, months.
    other, states = make_type(
        "Vehicular", [("Nuevo", Outcome.OPEN), ("Rechazado", Outcome.REJECTED)]
    )
    reason = RejectionReason.objects.create(gestion_type=other, name="Tasación")
    for k in range(6):
        make_gestion(
            world,
            states["Rechazado"],
            at(2023, 1 + k, 5),
            branch=Branch.objects.create(name=f"Sur {k}", code=f"sur-{k}"),
            agent=UserFactory(),
            channel=Channel.objects.create(name=f"Extra {k}", code=f"extra-{k}"),
            amount_requested=D("100.00"),
            rejection_reason=reason,
            products=[world.seguro],
        )

    # New people, branches and channels drop the cached permission sets and filter choices:
    # the first page after them reads those again, as it must; compare the next one.
    client.get(url, ALL_AT_ONCE)
    with django_assert_num_queries(few):
        response = client.get(url, ALL_AT_ONCE)

    assert response.context["states"].total == 18
    # One of them: when the summary was refreshed (never, here); and the session's read
    # when sessions live in the database only (with Redis, CI, they come from the cache).
    session_read = settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    assert few == 18 + session_read


# --- The Excel --------------------------------------------------------------------------


def test_the_workbook_has_one_sheet_per_report_with_the_figures(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard_xlsx"), ALL_TIME)

    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "gestiones-2025-06-15.xlsx" in response["Content-Disposition"]
    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == [
        "Por estado",
        "Rechazos",
        "Montos por tipo",
        "Montos por mes",
        "Por sucursal",
        "Por gestor",
        "Por canal",
    ]
    states = rows_by_first_cell(book["Por estado"])
    assert states["Tipo"][:6] == (
        "Tipo", "Estado", "Cantidad", "%", "Monto solicitado PEN", "Monto solicitado USD",
    )  # fmt: skip
    assert states["Total general"][2:6] == (12, 100, 22200.5, 3000)
    pivot = rows_by_first_cell(book["Rechazos"])
    assert pivot["Motivo"] == ("Motivo", "Rechazado comité", "Rechazado gerente", "Total general")
    assert pivot["Baja capacidad"] == ("Baja capacidad", 2, 0, 2)
    assert pivot["Total general"] == ("Total general", 2, 2, 4)
    amounts = rows_by_first_cell(book["Montos por tipo"])
    assert amounts["Crédito consumo"][:5] == ("Crédito consumo", 10, 22200.5, 13500, 60.81)
    branches = rows_by_first_cell(book["Por sucursal"])
    assert branches["Norte"][:7] == ("Norte", 5, 1, 1, 3, 0, 25)
    assert rows_by_first_cell(book["Por canal"])["Web"][6] == 60
    assert rows_by_first_cell(book["Por gestor"])["Ana Torres"][1] == 6
    assert book["Por sucursal"]["H7"].number_format == "#,##0.00"


def test_the_workbook_follows_the_filters(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:dashboard_xlsx"), {**ALL_TIME, "product": world.seguro.pk}
    )

    book = load_workbook(BytesIO(response.content))
    sheet = rows_by_first_cell(book["Por estado"])
    assert sheet["Total general"][2] == 2
    assert sheet["Producto"] == ("Producto", "Seguro") + (None,) * (len(sheet["Producto"]) - 2)


def test_the_workbook_refuses_bad_filters(client, supervisor, db):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard_xlsx"), {"start": "x", "end": ""})

    assert response.status_code == 400
    # In UTF-8, said so: without a charset a browser showed «Al dÃ­a».
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Desde" in response.content.decode("utf-8")


def test_the_workbook_refuses_the_last_day_of_the_calendar(client, supervisor, world):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard_xlsx"), {"start": "", "end": "31/12/9999"})

    assert response.status_code == 400
    assert (
        response.content.decode() == "Hasta: Elija una fecha entre el 01/01/2000 y el 31/12/2026."
    )


def test_the_workbook_writes_names_as_text_never_as_formulas(client, supervisor, world):
    world.norte.name = '=HYPERLINK("http://x","Norte")'
    world.norte.save()
    reason = world.reasons["Baja capacidad"]
    reason.name = "Baja\x01capacidad"  # a control character openpyxl refuses
    reason.save()
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:dashboard_xlsx"), ALL_TIME)

    assert response.status_code == 200
    book = load_workbook(BytesIO(response.content))
    branch = next(
        cell
        for row in book["Por sucursal"].iter_rows()
        for cell in row
        if cell.value == '=HYPERLINK("http://x","Norte")'
    )
    assert branch.data_type == "s"
    assert rows_by_first_cell(book["Rechazos"])["Bajacapacidad"][1] == 2


def rows_by_first_cell(sheet) -> dict:
    return {row[0]: row for row in sheet.iter_rows(values_only=True) if row and row[0]}


# --- The benchmark ----------------------------------------------------------------------


def test_the_benchmark_fills_once_and_prints_every_section(db):
    out = io.StringIO()
    call_command("bench_gestiones", gestiones=300, runs=1, stdout=out)
    count = Gestion.objects.count()
    call_command("bench_gestiones", gestiones=300, runs=1, stdout=out)

    assert count == 300
    assert Gestion.objects.count() == 300
    output = out.getvalue()
    for name in ("Estados", "Rechazos", "Montos", "Sucursal y gestor", "Canales", "Mi trabajo"):
        assert name in output
