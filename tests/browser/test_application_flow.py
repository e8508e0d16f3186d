"""End to end, in the system Chromium: from a calculator lead to a disbursed loan.

A visitor asks for a credit on the calculator; the advisor the workload rule picked
approves the application, which makes the draft loan, and sends its contract to every
signer through DocuSeal (faked with `responses`); DocuSeal's webhook says all signed;
a supervisor disburses, and the gestión is *Desembolsado*. And the screens of that flow
fit a phone's width.
"""

import copy
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import responses
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, Route, expect

from credits.models import Loan, LoanContract
from crm.gestiones import examples
from crm.gestiones.models import CreditApplication, CreditLead
from tests.browser import pages
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.factories import LoanProductFactory, UserFactory

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parents[1] / "integrations" / "fixtures" / "docuseal"
API = "https://docuseal.test/api"
SECRET = "s3cr3t-webhook"
VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"
DOCUMENT_URL = "https://docuseal.com/blobs/proxy/hash/contrato.pdf"
# Stands in for Google's api.js: the browser never leaves the test machine.
FAKE_GRECAPTCHA = """
window.grecaptcha = {
  ready: (callback) => callback(),
  execute: (siteKey, options) => Promise.resolve(`token-${siteKey}-${options.action}`),
};
"""


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def outside(settings):
    """reCAPTCHA and DocuSeal, configured and faked: every call out answered here."""
    settings.RECAPTCHA_SITE_KEY = "site-key"
    settings.RECAPTCHA_SECRET_KEY = "secret-key"
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.DOCUSEAL_BASE_URL = API
    settings.DOCUSEAL_API_KEY = "key-123"
    settings.DOCUSEAL_TEMPLATE_ID = 77
    settings.DOCUSEAL_WEBHOOK_SECRET = SECRET
    settings.DOCUSEAL_WEBHOOK_HEADER = "X-Docuseal-Secret"
    settings.DOCUSEAL_LENDER_SIGNER_EMAIL = "gerencia@prestamista.pe"
    settings.DOCUSEAL_LENDER_SIGNER_NAME = "Carmen Ríos"
    submitter = fixture("create_submission_response")[0]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(
            VERIFY_URL,
            json={
                "success": True,
                "score": 0.9,
                "action": "credit_lead",
                "hostname": "localhost",
            },
        )
        mock.post(
            f"{API}/submissions",
            json=[
                {**submitter, "id": 21, "submission_id": 9, "email": "lucia@example.com"},
                {
                    **submitter,
                    "id": 22,
                    "submission_id": 9,
                    "email": "gerencia@prestamista.pe",
                    "role": "Prestamista",
                },
            ],
        )
        mock.get(DOCUMENT_URL, body=b"%PDF-1.7 firmado")
        yield mock


def completed_event() -> dict:
    event = copy.deepcopy(fixture("submission_completed"))
    event["data"]["id"] = 9
    event["data"]["documents"] = [{"name": "contrato", "url": DOCUMENT_URL}]
    for signer in event["data"]["submitters"]:
        signer["submission_id"] = 9
    return event


def test_a_calculator_lead_becomes_a_signed_and_disbursed_loan(
    page: Page, live_server, roles, outside
):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    UserFactory(username="supervisor", first_name="Sergio", last_name="Villa", role="Supervisor")
    examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    product = LoanProductFactory(
        name="Consumo 24 %", min_amount=Decimal("1000"), max_amount=Decimal("30000"), max_term=36
    )
    page.on("dialog", lambda dialog: dialog.accept())

    def fake_google(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=FAKE_GRECAPTCHA)

    page.route("https://www.google.com/recaptcha/**", fake_google)

    # A visitor simulates 12,000 and asks for that credit.
    page.goto(
        f"{live_server.url}/calculadora/?amount=12000&annual_rate=24&term=12&frequency=monthly"
    )
    page.locator("#credit-lead-link").click()
    expect(page.get_by_label("¿Cuánto necesita?")).to_have_value("12000")
    page.get_by_label("Nombres").fill("Lucía")
    page.get_by_label("Apellidos").fill("Paredes Vega")
    page.get_by_label("Número de documento").fill("41234567")
    page.get_by_label("Correo electrónico").fill("lucia@example.com")
    page.get_by_label("Celular").fill("987654321")
    page.get_by_label("Producto").select_option(label="Consumo 24 %")
    page.get_by_label("Acepto que evalúen mi solicitud").check()
    page.get_by_role("button", name="Enviar solicitud").click()
    expect(page.get_by_role("alert")).to_contain_text("¡Gracias, Lucía!")
    application = CreditApplication.objects.select_related("gestion").get()
    gestion = application.gestion
    assert gestion.agent == advisor
    assert application.loan_product == product and application.amount == Decimal("12000")

    # The advisor got it in their work and approves it.
    pages.sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/gestiones/")
    page.get_by_role("link", name=f"#{gestion.pk}").click()
    expect(page.locator("#gestion-application")).to_contain_text("Calculadora web")
    for action, result, state in (
        ("Revisar documentos", "Documentos completos → Pre estudio", "Pre estudio"),
        ("Enviar a estudio", "Enviado a análisis → En estudio", "En estudio"),
        ("Resolver análisis", "Aprobado → Aprobado análisis", "Aprobado análisis"),
    ):
        # The action's results come by HTMX: its script must be running first.
        page.wait_for_load_state()
        page.wait_for_function("() => !!window.htmx")
        page.get_by_label("Acción").select_option(label=action)
        choice = page.get_by_label("Resultado")
        # One that alerts the customer says so in its label too.
        option = choice.locator("option", has_text=result)
        expect(option).to_have_count(1)
        choice.select_option(value=option.get_attribute("value"))
        page.get_by_role("button", name="Registrar seguimiento").click()
        expect(page.locator("#gestion-state")).to_have_text(state)
    expect(page.locator("#gestion-state")).to_have_text("Aprobado análisis")
    loan = Loan.objects.get()
    expect(page.locator("#application-loan")).to_contain_text(loan.payment_code)
    expect(page.locator("#application-loan")).to_contain_text("Borrador")

    # The draft loan: its gestión on its page, and the contract sent to every signer.
    page.locator("#application-loan").get_by_role("link", name=loan.payment_code).click()
    expect(page.locator("#loan-gestiones")).to_contain_text(
        f"Solicitud de crédito de la gestión #{gestion.pk}"
    )
    page.locator("#loan-actions").get_by_role("button", name="Enviar a firma").click()
    expect(page.locator("#messages")).to_contain_text(
        "pidió la firma a lucia@example.com y gerencia@prestamista.pe"
    )
    expect(page.locator("#loan-header [data-status]")).to_have_text("Por firmar")
    expect(page.locator("#loan-contracts .signer")).to_have_count(2)
    sent = json.loads(outside.calls[-1].request.body)
    assert [s["email"] for s in sent["submitters"]] == [
        "lucia@example.com",
        "gerencia@prestamista.pe",
    ]

    # DocuSeal says everyone signed.
    answer = page.request.post(
        f"{live_server.url}/webhooks/docuseal/",
        data=json.dumps(completed_event()),
        headers={"Content-Type": "application/json", "X-Docuseal-Secret": SECRET},
    )
    assert answer.ok
    page.reload()
    expect(page.locator("#loan-header [data-status]")).to_have_text("Por desembolsar")
    expect(page.locator("#loan-contracts")).to_contain_text("Firmado")
    assert LoanContract.objects.get().status == LoanContract.Status.COMPLETED

    # A supervisor disburses: the schedule starts and the gestión is done.
    page.context.clear_cookies()
    pages.sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{loan.get_absolute_url()}")
    page.locator("#loan-actions").get_by_text("Desembolsar", exact=True).click()
    page.get_by_role("button", name="Revisar y desembolsar").click()
    expect(page.locator("#disbursement-day")).to_contain_text("con fecha")
    page.get_by_role("button", name="Confirmar desembolso").click()
    expect(page.locator("#messages")).to_contain_text("desembolsado: su cronograma está vigente")
    expect(page.locator("#loan-header [data-status]")).to_have_text("Vigente")
    page.goto(f"{live_server.url}{gestion.get_absolute_url()}")
    expect(page.locator("#gestion-state")).to_have_text("Desembolsado")
    expect(page.locator("#follow-ups")).to_contain_text(f"Crédito {loan.payment_code} desembolsado")
    assert re.fullmatch(r"\d{10}", loan.payment_code)
    assert Loan.objects.get().installments.count() == 12


def test_no_application_page_scrolls_sideways_on_a_phone(page: Page, live_server, transactional_db):
    out = io.StringIO()
    call_command("seed_demo", customers=12, demo_instance=True, stdout=out)
    call_command("seed_credits", loans=20, stdout=out)
    call_command("seed_gestiones", gestiones=60, stdout=out)
    waiting = CreditLead.objects.filter(status=CreditLead.Status.TO_CONFIRM).first()
    open_one = CreditApplication.objects.filter(loan__isnull=True).first()
    signed = CreditApplication.objects.filter(loan__status=Loan.Status.AWAITING_SIGNATURE).first()
    paths = [
        reverse("calculator_credit"),
        reverse("gestiones:credit_leads"),
        reverse("gestiones:credit_lead", args=[waiting.pk]),
        reverse("gestiones:application_create"),
        reverse("gestiones:application_edit", args=[open_one.gestion_id]),
        signed.gestion.get_absolute_url(),
        signed.loan.get_absolute_url(),
    ]
    page.set_viewport_size(PHONE)
    pages.sign_in(page, live_server, "admin")

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
    expect(page.locator("#loan-gestiones")).to_contain_text("Solicitud de crédito")
