"""Every agent-facing page on a phone (375 × 812): nothing makes the page scroll sideways.

Wide tables scroll inside their own box (Bootstrap's `.table-responsive`); the page itself
stays as wide as the screen, with the demo data `make run` loads (small).
"""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from callcenter.models import Lead
from credits.models import Loan
from crm.gestiones.models import Gestion
from crm.models import Customer
from recovery.models import Campaign
from tests.browser.pages import sign_in
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.factories import BranchFactory, ChannelFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.browser

LISTS_AND_REPORTS = (
    "home",
    "crm:customer_list",
    "crm:customer_create",
    "crm:agenda",
    "credits:loan_list",
    "credits:loan_create",
    "credits:portfolio_report",
    "credits:investor_list",
    "credits:investor_dashboard",
    "credits:liquidation_list",
    "gestiones:my_work",
    "gestiones:list",
    "gestiones:board",
    "gestiones:workload",
    "gestiones:dashboard",
    "gestiones:notifications",
    "gestiones:campaign_list",
    "gestiones:survey_list",
    "gestiones:goal_list",
    "gestiones:goal_progress",
    "gestiones:document_template_list",
    "gestiones:deletion_list",
    "collections_app:conversation_list",
    "collections_app:segment_list",
    "collections_app:segment_create",
    "collections_app:template_list",
    "collections_app:template_create",
    "collections_app:event_settings",
    "collections_app:flow_list",
    "collections_app:flow_create",
    "collections_app:effectiveness",
    "recovery:campaign_list",
    "recovery:campaign_create",
    "recovery:funnel",
)


@pytest.fixture
def demo_data(transactional_db, settings):
    out = io.StringIO()
    call_command("seed_demo", customers=12, demo_instance=True, stdout=out)
    call_command("seed_credits", loans=20, stdout=out)
    call_command("seed_gestiones", gestiones=60, stdout=out)
    call_command("seed_collections", stdout=out)
    call_command("seed_strategies", stdout=out)
    call_command("seed_recovery", stdout=out)


def test_no_agent_page_scrolls_sideways_on_a_phone(page: Page, live_server, demo_data):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "admin")
    customer = Customer.objects.filter(interactions__isnull=False).order_by("pk").first()
    loan = Loan.objects.filter(payments__isnull=False).order_by("pk").first()
    gestion = Gestion.objects.filter(follow_ups__isnull=False).order_by("pk").first()
    paths = [reverse(name) for name in LISTS_AND_REPORTS] + [
        customer.get_absolute_url(),
        reverse("crm:customer_update", args=[customer.pk]),
        loan.get_absolute_url(),
        reverse("credits:payment_create", args=[loan.pk]),
        gestion.get_absolute_url(),
        reverse("recovery:campaign_detail", args=[Campaign.objects.order_by("pk").first().pk]),
    ]

    wide = []
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        try:
            assert_no_sideways_scroll(page)
        except AssertionError as exc:
            wide.append(str(exc))

    assert wide == [], "\n".join(wide)


@pytest.mark.parametrize("width", [992, 1280, 1440])
def test_the_menu_of_the_users_with_most_items_fits_a_desktop_screen(
    page: Page, live_server, demo_data, width
):
    """The admin's menu was 1,501 px wide at 1,280: the name and *Salir* were off screen."""
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server, "admin")

    page.goto(f"{live_server.url}{reverse('crm:customer_list')}")

    assert_no_sideways_scroll(page)
    box = page.get_by_role("button", name="Salir").bounding_box()
    assert box["x"] + box["width"] <= width


def test_a_pasted_link_as_a_leads_name_does_not_widen_its_page_on_a_phone(
    page: Page, live_server, roles
):
    """Kommo's lead names are free text: a link pasted as the name was 3,130 px wide at 375.

    The name is in the breadcrumb and the heading; it breaks inside them (app.css).
    """
    UserFactory(username="agente", role="Agente call center")
    link = "https://www.facebook.com/ads/manager/leads/?act=1234567890&lead_id=25399013&form=pedido-web"
    lead = Lead.objects.create(kommo_id=25399013, name=link, phone="+51 999 000 111", in_queue=True)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "agente")

    page.goto(f"{live_server.url}{lead.get_absolute_url()}")

    assert_no_sideways_scroll(page)


def test_a_long_pager_keeps_its_first_page_on_a_phone(page: Page, live_server, roles):
    """'1 2 … 11 siguiente' centred on one line spilled past both edges: page 1 was at x = -46."""
    UserFactory(username="asesor", role="Asesor")
    CustomerFactory.create_batch(260, branch=BranchFactory(), channel=ChannelFactory())
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "asesor")

    page.goto(f"{live_server.url}{reverse('crm:customer_list')}")

    pager = page.locator("ul.pagination").first
    first, last = pager.locator(".page-link").first, pager.locator(".page-link").last
    assert first.bounding_box()["x"] >= 0
    assert last.bounding_box()["x"] + last.bounding_box()["width"] <= PHONE["width"]
    assert_no_sideways_scroll(page)


def test_a_long_state_name_in_a_gestions_badges_does_not_widen_its_page_on_a_phone(
    page: Page, live_server, roles
):
    """A state is named in admin, up to 120 characters; a badge does not wrap by itself."""
    from crm.gestiones import examples, services

    asesor = UserFactory(username="asesor", role="Asesor")
    process = examples.build_process(examples.CREDIT_APPLICATION, agents=[asesor])
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=process,
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )
    gestion.state.name = "Pendiente de revisión de documentos por el área de riesgos " * 2
    gestion.state.save()
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "asesor")

    page.goto(f"{live_server.url}{reverse('gestiones:detail', args=[gestion.pk])}")

    assert_no_sideways_scroll(page)


def test_on_a_phone_the_follow_up_form_is_one_tap_away(page: Page, live_server, demo_data):
    """The form came after four side cards, about two screens down at 375 px."""
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "admin")
    gestion = Gestion.objects.filter(closed_at__isnull=True).order_by("pk").first()
    page.goto(f"{live_server.url}{gestion.get_absolute_url()}")

    jump = page.locator("#jump-to-follow-up")
    expect(jump).to_be_in_viewport()
    jump.click()

    expect(page.get_by_role("heading", name="Registrar seguimiento")).to_be_in_viewport()


def test_on_a_desktop_the_follow_up_form_needs_no_jump(page: Page, live_server, demo_data):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, "admin")
    gestion = Gestion.objects.filter(closed_at__isnull=True).order_by("pk").first()
    page.goto(f"{live_server.url}{gestion.get_absolute_url()}")

    expect(page.locator("#jump-to-follow-up")).to_be_hidden()
    expect(page.get_by_role("heading", name="Registrar seguimiento")).to_be_in_viewport()
