"""On a phone (375 × 740): the customer list shows each customer's advisor and last
interaction without scrolling sideways, a bar chart of many long categories is drawn
sideways and as tall as its rows need, and the follow-up's chosen result is written whole
under its select (the select cut «Documentos completos → Pre est…»). On a desktop (1280 px)
the list keeps every column and the charts keep their columns and height."""

import datetime
import json
import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect
from pytest_django.asserts import assertContains

from crm.gestiones import examples, services
from crm.gestiones.models import Gestion
from crm.models import Customer, Tag
from tests.browser.pages import sign_in
from tests.factories import CustomerFactory, UserFactory

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
LAST_CONTACT = datetime.datetime(2026, 5, 14, 10, 30, tzinfo=datetime.UTC)


def _customer_of(advisor) -> Customer:
    """Rosa, Andrea's customer, tagged and last contacted on 14 May 2026."""
    customer = CustomerFactory(
        first_name="Rosa Elvira",
        last_name="Huamán Quispe",
        advisor=advisor,
        last_interaction_at=LAST_CONTACT,
    )
    customer.tags.add(Tag.objects.create(name="Cliente preferente", color=Tag.Color.GREEN))
    return customer


def _assert_nothing_scrolls_sideways(page: Page, table_id: str) -> None:
    page_width, viewport, box_width, shown = page.evaluate(
        "(id) => { const box = document.getElementById(id).closest('.table-responsive');"
        " return [document.documentElement.scrollWidth, window.innerWidth,"
        " box.scrollWidth, box.clientWidth]; }",
        table_id,
    )
    assert page_width <= viewport, f"the page is {page_width}px wide on a {viewport}px screen"
    assert box_width <= shown, f"#{table_id} hides {box_width - shown}px behind a sideways scroll"


# --- The customer list ---------------------------------------------------------------------


@pytest.mark.browser
def test_the_customer_list_on_a_phone_shows_the_advisor_and_last_interaction(
    page: Page, live_server, roles
):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    _customer_of(advisor)
    page.set_viewport_size(PHONE)

    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/clientes/")

    summary = page.locator("#customer-results tbody tr").first.locator(".d-md-none")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Andrea Quispe")
    expect(summary).to_contain_text("Última interacción: 14/05/2026")
    expect(summary).to_contain_text("Cliente preferente")
    box = summary.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    expect(page.get_by_role("columnheader", name="Asesor")).to_be_hidden()
    _assert_nothing_scrolls_sideways(page, "customer-results")


@pytest.mark.browser
def test_the_customer_list_on_a_desktop_keeps_every_column(page: Page, live_server, roles):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    _customer_of(advisor)
    page.set_viewport_size(DESKTOP)

    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/clientes/")

    headings = page.locator("#customer-results thead th:visible")
    # Their text, not their names: a sortable heading's name ends in its CSS arrow.
    expect(headings).to_have_text(
        [
            "Documento",
            "Cliente",
            "Celular",
            "Sucursal",
            "Canal",
            "Asesor",
            "Etiquetas",
            "Última interacción",
        ]
    )
    row = page.locator("#customer-results tbody tr").first
    expect(row.locator(".d-md-none")).to_be_hidden()
    expect(row.locator("td:visible")).to_have_count(8)


@pytest.mark.django_db
def test_the_customer_lists_secondary_columns_are_hidden_below_md(client, asesor):
    _customer_of(asesor)
    client.force_login(asesor)

    response = client.get(reverse("crm:customer_list"))

    html = response.content.decode()
    for heading in ("Celular", "Sucursal", "Canal", "Asesor", "Etiquetas", "Última interacción"):
        attrs = re.search(rf"<th ([^>]*)>(<a [^>]*>)?{heading}<", html).group(1)
        assert {"d-none", "d-md-table-cell"} <= set(attrs.split('"')[1].split()), heading
    for heading in ("Documento", "Cliente"):
        attrs = re.search(rf"<th ([^>]*)>(<a [^>]*>)?{heading}<", html).group(1)
        assert "d-none" not in attrs, heading
    assertContains(response, '<td class="d-none d-md-table-cell">Andrea Quispe</td>')
    assertContains(response, '<div class="d-md-none small">')


# --- Charts --------------------------------------------------------------------------------


def _chart(page: Page) -> dict:
    """What Chart.js drew on the page's first canvas: its direction and size, and the
    category names written on its axis."""
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas'))")
    return page.evaluate(
        """() => { const chart = Chart.getChart(document.querySelector('canvas'));
        const categories = chart.options.indexAxis === 'y' ? chart.scales.y : chart.scales.x;
        return { indexAxis: chart.options.indexAxis, width: chart.width, height: chart.height,
                 ticks: categories.ticks.map((t) => t.label) }; }"""
    )


LONG_LABELS = [
    f"Solicitud de crédito · {state}"
    for state in (
        "Creado",
        "Pre estudio",
        "En estudio",
        "Aprobado análisis",
        "Condicionado",
        "Desembolsado",
        "Rechazado gerente de negocios",
        "Desistido",
    )
]


def _chart_alone(page: Page, live_server, spec: dict) -> dict:
    page.goto(f"{live_server.url}/healthz")  # any page of ours: the scripts' origin
    page.set_content(
        f"""<html><head><meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="stylesheet" href="{live_server.url}/static/css/app.css"></head>
        <body><div class="chart-box">
        <canvas data-chart="spec"></canvas></div>
        <script type="application/json" id="spec">{json.dumps(spec)}</script>
        <script src="{live_server.url}/static/vendor/chart.js/chart.umd.min.js"></script>
        <script src="{live_server.url}/static/js/charts.js"></script>
        </body></html>"""
    )
    return _chart(page)


STATES_SPEC = {
    "type": "bar",
    "labels": LONG_LABELS,
    "datasets": [{"label": "En curso", "data": [3, 5, 2, 4, 1, 6, 2, 1]}],
    "options": {"stacked": True, "yLabel": "Gestiones"},
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_a_bar_chart_of_many_long_names_is_drawn_sideways(page: Page, live_server):
    page.set_viewport_size(PHONE)

    chart = _chart_alone(page, live_server, STATES_SPEC)

    assert chart["indexAxis"] == "y"
    assert chart["height"] > chart["width"], chart
    assert len(chart["ticks"]) == len(LONG_LABELS)  # every name written, none skipped
    # A name wraps and is cut on the axis ("…"); the tooltip's title keeps it whole.
    assert ["Solicitud de crédito", "· Rechazado gerente", "de negocios"] in chart["ticks"]
    assert all(len(line) <= 20 for tick in chart["ticks"] for line in tick)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_desktop_the_same_chart_keeps_its_columns_and_height(page: Page, live_server):
    page.set_viewport_size(DESKTOP)

    chart = _chart_alone(page, live_server, STATES_SPEC)

    assert chart["indexAxis"] in (None, "x")
    assert chart["height"] == 288  # .chart-box's 18rem (app.css)
    assert chart["ticks"] == LONG_LABELS


@pytest.mark.browser
def test_the_dashboards_states_chart_on_a_phone_is_taller_than_wide(page: Page, live_server, roles):
    UserFactory(username="supervisor", role="Supervisor")
    advisor = UserFactory(username="asesor", role="Asesor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    for state in credit.states.order_by("id")[:8]:
        gestion = services.create_gestion(
            customer=CustomerFactory(),
            gestion_type=credit,
            agent=advisor,
            data={"ingreso_mensual": "3200", "destino": "Vehículo"},
        )
        Gestion.objects.filter(pk=gestion.pk).update(state=state)
    page.set_viewport_size(PHONE)

    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{reverse('gestiones:dashboard')}?completo=1")
    page.locator('canvas[data-chart="states-chart"]').scroll_into_view_if_needed()
    canvas = "document.querySelector('[data-chart=states-chart]')"
    page.wait_for_function(f"() => window.Chart && Chart.getChart({canvas})")

    chart = page.evaluate(
        f"""() => {{ const chart = Chart.getChart({canvas});
        return {{ indexAxis: chart.options.indexAxis, width: chart.width, height: chart.height,
                  labels: chart.data.labels.length }}; }}"""
    )
    assert chart["labels"] > 6, chart
    assert chart["indexAxis"] == "y"
    assert chart["height"] > chart["width"], chart


# --- The follow-up's result ----------------------------------------------------------------


@pytest.mark.browser
def test_on_a_phone_the_chosen_result_is_written_whole_under_its_select(
    page: Page, live_server, roles
):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit,
        agent=advisor,
        data={"ingreso_mensual": "3200", "destino": "Vehículo"},
    )
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}{gestion.get_absolute_url()}")
    chosen = page.locator("#result-chosen")
    expect(chosen).to_be_hidden()

    page.get_by_label("Acción").select_option(label="Revisar documentos")
    page.get_by_label("Resultado").select_option(label="Documentos completos → Pre estudio")

    expect(chosen).to_be_visible()
    expect(chosen).to_have_text("Documentos completos → Pre estudio")
    box = chosen.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]

    page.get_by_label("Resultado").select_option(index=0)  # «—»: nothing chosen
    expect(chosen).to_be_hidden()


@pytest.mark.django_db
def test_a_reloaded_form_writes_its_chosen_result_whole(client, asesor):
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[asesor])
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit,
        agent=asesor,
        data={"ingreso_mensual": "3200", "destino": "Vehículo"},
    )
    action = credit.actions.get(name="Revisar documentos")
    result = action.results.get(name="Documentos completos")
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk, "result": result.pk, "reload": "1"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    line = html[html.index('id="result-chosen"') :]
    line = line[: line.index("</div>")]
    assert "Documentos completos → Pre estudio</span>" in line
    assert " hidden" not in line.split(">")[0]
