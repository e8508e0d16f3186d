"""The lists on a phone (375 × 740): the state and the figure a list is read by show without
scrolling sideways, row actions stay on screen, and the search box leaves the keyboard shut.
On a desktop (1280 px) every column is still there and the search box takes the focus."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import examples, services
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import Gestion
from tests.browser.pages import sign_in
from tests.factories import CustomerFactory, LoanFactory, UserFactory

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def _late_gestion(advisor) -> Gestion:
    """A credit application of Rosa's, assigned to `advisor`, due two days ago."""
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    gestion = services.create_gestion(
        customer=CustomerFactory(first_name="Rosa Elvira", last_name="Huamán Quispe"),
        gestion_type=credit,
        agent=advisor,
        amount_requested=Decimal("12500.00"),
        data={"ingreso_mensual": "3200", "destino": "Vehículo"},
    )
    Gestion.objects.filter(pk=gestion.pk).update(due_at=timezone.now() - datetime.timedelta(days=2))
    gestion.refresh_from_db()
    return gestion


def _right_edge(locator) -> float:
    box = locator.bounding_box()
    assert box is not None, "not drawn"
    return box["x"] + box["width"]


def _assert_nothing_scrolls_sideways(page: Page) -> None:
    page_width, viewport = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert page_width <= viewport, f"the page is {page_width}px wide on a {viewport}px screen"


def _assert_the_table_fits(page: Page, table_id: str) -> None:
    box_width, shown = page.evaluate(
        f"(() => {{ const box = document.getElementById('{table_id}').closest('.table-responsive');"
        " return [box.scrollWidth, box.clientWidth]; })()"
    )
    assert box_width <= shown, f"#{table_id} hides {box_width - shown}px behind a sideways scroll"


@pytest.mark.browser
def test_my_work_on_a_phone_shows_each_gestions_state_and_due_date(page: Page, live_server, roles):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    gestion = _late_gestion(advisor)
    page.set_viewport_size(PHONE)

    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/gestiones/")

    summary = page.locator("#gestion-results tbody tr").first.locator(".d-md-none")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text(gestion.state.name)
    expect(summary).to_contain_text(timezone.localtime(gestion.due_at).strftime("%d/%m/%Y"))
    expect(summary).to_contain_text("Atrasada")
    assert _right_edge(summary) <= PHONE["width"]
    expect(page.get_by_role("columnheader", name="Vence")).to_be_hidden()
    _assert_the_table_fits(page, "gestion-results")
    _assert_nothing_scrolls_sideways(page)


@pytest.mark.browser
def test_my_work_on_a_desktop_keeps_every_column(page: Page, live_server, roles):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    _late_gestion(advisor)
    page.set_viewport_size(DESKTOP)

    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/gestiones/")

    for heading in ("N.º", "Cliente", "Tipo", "Estado", "Gestor", "Sucursal", "Monto", "Vence"):
        expect(page.get_by_role("columnheader", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("columnheader", name="Creada")).to_be_visible()
    expect(page.locator("#gestion-results tbody tr").first.locator(".d-md-none")).to_be_hidden()
    expect(page.locator("#gestion-results tbody tr").first.locator("td")).to_have_count(9)


@pytest.mark.browser
def test_the_loan_list_on_a_phone_shows_each_loans_status(page: Page, live_server, roles):
    UserFactory(username="asesor", role="Asesor")
    LoanFactory(customer=CustomerFactory(first_name="Rosa Elvira", last_name="Huamán Quispe"))
    page.set_viewport_size(PHONE)

    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/creditos/")

    summary = page.locator("#loan-results tbody tr").first.locator(".d-md-none")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Borrador")
    assert _right_edge(summary) <= PHONE["width"]
    _assert_the_table_fits(page, "loan-results")
    _assert_nothing_scrolls_sideways(page)


@pytest.mark.browser
def test_the_loan_list_on_a_desktop_keeps_every_column(page: Page, live_server, roles):
    UserFactory(username="asesor", role="Asesor")
    LoanFactory()
    page.set_viewport_size(DESKTOP)

    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/creditos/")

    for heading in ("Código", "Cliente", "Producto", "Capital", "Estado", "Días de atraso"):
        expect(page.get_by_role("columnheader", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("columnheader", name="Sucursal")).to_be_visible()


def _goal(supervisor) -> None:
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    credit = examples.build_process(
        examples.CREDIT_APPLICATION, agents=[advisor], supervisors=[supervisor]
    )
    goal_services.create_goal(
        data={
            "agent": advisor,
            "product": credit.product,
            "year": 2026,
            "month": 5,
            "target_local": Decimal("150000"),
            "target_usd": Decimal("20000"),
            "target_customers": 12,
            "target_prospects": 40,
            "success_state": credit.states.get(name="Desembolsado"),
        }
    )


@pytest.mark.browser
def test_a_goals_edit_button_is_on_screen_on_a_phone(page: Page, live_server, roles):
    supervisor = UserFactory(username="supervisor", role="Supervisor")
    _goal(supervisor)
    page.set_viewport_size(PHONE)

    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/gestiones/metas/")

    edit = page.locator("#goal-results tbody tr").first.get_by_role("link", name="Editar")
    expect(edit).to_be_visible()
    assert _right_edge(edit) <= PHONE["width"]
    # Drawn on top: not under the cells that scroll beneath it.
    assert edit.evaluate(
        "(link) => { const r = link.getBoundingClientRect();"
        " return link.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"
    )
    _assert_nothing_scrolls_sideways(page)


@pytest.mark.browser
def test_a_lists_search_box_takes_the_focus_on_a_desktop_only(page: Page, live_server, roles):
    advisor = UserFactory(username="asesor", role="Asesor")
    _late_gestion(advisor)
    sign_in(page, live_server, "asesor")

    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/gestiones/")
    expect(page.locator("#gestion-results")).to_be_visible()
    expect(page.locator("#id_q")).not_to_be_focused()

    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/gestiones/")
    expect(page.locator("#id_q")).to_be_focused()


# --- Markup: what a phone is given, checked without a browser ---------------------------


@pytest.mark.django_db
def test_the_lists_search_box_is_not_autofocused_in_the_markup(client, asesor):
    client.force_login(asesor)

    response = client.get(reverse("gestiones:my_work"))

    assertContains(response, 'data-autofocus="wide"')
    assertNotContains(response, " autofocus ")


@pytest.mark.django_db
def test_the_header_buttons_of_the_goal_list_wrap(client, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:goal_list"))

    assertContains(response, '<div class="d-flex flex-wrap gap-2">')


@pytest.mark.django_db
def test_the_loan_lists_secondary_columns_are_hidden_below_md(client, asesor):
    LoanFactory()
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_list"))

    heading = re.search(r"<th ([^>]*)>(<a [^>]*>)?Estado", response.content.decode())
    assert {"d-none", "d-md-table-cell"} <= set(heading.group(1).split('"')[1].split())
    assertContains(response, '<div class="d-md-none small')
    assertContains(response, 'class="btn-group btn-group-sm flex-shrink-0 text-nowrap"')
