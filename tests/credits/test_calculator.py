"""The public investment calculator at /calculadora/ and its "Quiero invertir" form."""

from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
from django.urls import reverse
from pytest_django.asserts import assertContains, assertTemplateNotUsed, assertTemplateUsed

from crm.models import Customer, Interaction
from tests.factories import ChannelFactory, CustomerFactory

VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"
FIGURES = {"amount": "12000", "annual_rate": "12", "term": "3", "frequency": "monthly"}
LEAD = {
    "first_name": "Lucía",
    "last_name": "Paredes Rojas",
    "document_type": "dni",
    "document_number": "41234567",
    "email": "lucia@example.pe",
    "phone": "987654321",
    "amount": "20000",
    "consent": "on",
    "recaptcha_token": "token-from-the-browser",
    "sim-amount": "12000",
    "sim-annual_rate": "12",
    "sim-term": "3",
    "sim-frequency": "monthly",
}


@pytest.fixture
def google(settings):
    """Google's siteverify, faked; tests add the answer they need."""
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    with responses.RequestsMock() as mock:
        yield mock


def google_answers(google, **fields) -> None:
    answer = {
        "success": True,
        "score": 0.9,
        "action": "invest_lead",
        "hostname": "testserver",
        **fields,
    }
    google.add(responses.POST, VERIFY_URL, json=answer)


def scheme(response, method: str):
    return next(s for s in response.context["schemes"] if s.method == method)


def test_an_anonymous_visitor_sees_the_three_schemes(client):
    response = client.get(reverse("calculator"), FIGURES)

    assert response.status_code == 200
    assertTemplateUsed(response, "credits/calculator.html")
    assert [s.method for s in response.context["schemes"]] == ["french", "german", "flat"]
    for method in ("french", "german", "flat"):
        assertContains(response, f'id="scheme-{method}"')
        assertContains(response, f'id="schedule-{method}"')
    assertContains(response, 'data-chart="calc-balance-chart"')
    assertContains(response, 'id="calc-interest-chart" type="application/json"')


def test_the_french_scheme_has_a_level_installment(client):
    response = client.get(reverse("calculator"), FIGURES)

    # 12,000 at 1% a month: 12000·0.01/(1 − 1.01⁻³) = 4080.2653 → 4080.27; interest on the
    # balance 120.00 + 80.40 + 40.40.
    french = scheme(response, "french")
    assert french.first_installment == Decimal("4080.27")
    assert french.schedule.total_interest == Decimal("240.80")
    assertContains(response, "S/ 4,080.27")
    assertContains(response, "S/ 12,240.80")


def test_the_german_scheme_repays_level_principal_with_falling_interest(client):
    response = client.get(reverse("calculator"), FIGURES)

    german = scheme(response, "german")
    assert german.first_installment == Decimal("4120.00")
    assert german.last_installment == Decimal("4040.00")
    assert german.schedule.total_interest == Decimal("240.00")
    assertContains(response, "S/ 12,240.00")


def test_the_flat_scheme_charges_interest_on_the_original_amount(client):
    response = client.get(reverse("calculator"), FIGURES)

    flat = scheme(response, "flat")
    assert flat.first_installment == Decimal("4120.00")
    assert flat.schedule.total_interest == Decimal("360.00")
    assertContains(response, "S/ 12,360.00")


def test_the_first_visit_shows_the_default_simulation(client):
    response = client.get(reverse("calculator"))

    assert response.context["form"].cleaned_data["amount"] == Decimal("10000")
    assert len(response.context["schemes"]) == 3


def test_an_htmx_request_gets_only_the_results(client):
    response = client.get(reverse("calculator"), FIGURES, headers={"HX-Request": "true"})

    assertTemplateUsed(response, "credits/partials/calculator_results.html")
    assertTemplateNotUsed(response, "credits/calculator.html")
    assert response["HX-Replace-Url"].startswith("/calculadora/?amount=12000")
    # The lead form's copy of the simulation follows the figures on screen.
    assertContains(response, 'id="lead-simulation" hx-swap-oob="true"')
    assertContains(response, 'name="sim-amount" value="12000"')


def test_invalid_figures_are_explained_in_spanish(client):
    bad = {"amount": "abc", "annual_rate": "-1", "term": "0", "frequency": "daily"}

    response = client.get(reverse("calculator"), bad, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assertContains(response, "Revise los datos de la simulación")
    assertContains(response, "Introduzca un número.")
    assertContains(response, "Asegúrese de que este valor es mayor o igual a 0.")
    assertContains(response, "Asegúrese de que este valor es mayor o igual a 1.")
    assertContains(response, "Elija una frecuencia de la lista.")
    assert response.context["schemes"] == []


def test_too_many_simulations_from_one_address_are_paused(client, settings):
    settings.CALCULATOR_RATE_LIMIT = "1/m"
    client.get(reverse("calculator"), FIGURES)

    response = client.get(reverse("calculator"), FIGURES, headers={"HX-Request": "true"})

    assertContains(response, "Demasiadas simulaciones seguidas desde su conexión.")
    assert response.context["schemes"] == []


def test_only_the_calculator_lets_the_recaptcha_script_in(client, settings):
    settings.RECAPTCHA_SITE_KEY = "site-key"

    page = client.get(reverse("calculator"))

    assert "https://www.google.com/recaptcha/" in page["Content-Security-Policy"]
    assertContains(page, "https://www.google.com/recaptcha/api.js?render=site-key")
    assertContains(page, 'data-recaptcha-action="invest_lead"')


def test_without_a_site_key_the_page_loads_nothing_from_google(client, settings):
    settings.RECAPTCHA_SITE_KEY = ""

    response = client.get(reverse("calculator"))

    assert "google.com/recaptcha/api.js" not in response.content.decode()


def test_a_lead_becomes_a_web_customer_with_the_simulation_on_the_timeline(client, db, google):
    google_answers(google)

    response = client.post(reverse("calculator_lead"), LEAD, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    assert response["Location"].startswith("/calculadora/?amount=12000")
    customer = Customer.objects.get(document_number="41234567")
    assert customer.channel.code == "web"
    assert (customer.first_name, customer.email) == ("Lucía", "lucia@example.pe")
    lead = customer.interactions.get(kind=Interaction.Kind.NOTE)
    assert lead.summary == "Quiere invertir S/ 20,000.00 (calculadora)"
    assert lead.channel.code == "web"
    assert lead.direction == Interaction.Direction.INBOUND
    assert lead.actor is None
    assert lead.payload["simulation"]["schemes"]["french"]["first_installment"] == "4080.27"
    assert lead.payload["monto simulado"] == "S/ 12,000.00"
    sent = parse_qs(google.calls[0].request.body)
    assert sent["response"] == ["token-from-the-browser"]
    assert sent["remoteip"] == ["198.51.100.4"]


def test_a_one_installment_simulation_says_cuota_in_the_singular(client, db, google):
    google_answers(google)

    client.post(reverse("calculator_lead"), {**LEAD, "sim-term": "1"})

    lead = Interaction.objects.get(kind=Interaction.Kind.NOTE)
    assert lead.payload["plazo"] == "1 cuota (mensual)"


def test_the_visitor_is_thanked_after_the_redirect(client, db, google):
    google_answers(google)

    response = client.post(reverse("calculator_lead"), LEAD, follow=True)

    assertContains(
        response, "¡Gracias, Lucía! Recibimos sus datos: un asesor se comunicará con usted."
    )


def test_an_existing_document_gets_an_interaction_and_keeps_its_data(client, db, google):
    google_answers(google)
    branch = ChannelFactory(code="sucursal", name="Sucursal")
    rosa = CustomerFactory(document_number="41234567", email="rosa@example.pe", channel=branch)

    response = client.post(reverse("calculator_lead"), LEAD)

    assert response.status_code == 302
    assert Customer.objects.count() == 1
    rosa.refresh_from_db()
    assert (rosa.email, rosa.channel) == ("rosa@example.pe", branch)
    lead = rosa.interactions.get()
    assert lead.summary == "Quiere invertir S/ 20,000.00 (calculadora)"
    assert lead.payload["correo indicado"] == "lucia@example.pe"


def test_a_refused_captcha_writes_nothing(client, db, google):
    google_answers(google, success=False, **{"error-codes": ["invalid-input-response"]})

    response = client.post(reverse("calculator_lead"), LEAD)

    assert response.status_code == 200
    assertContains(response, "No pudimos verificar que la solicitud la envía una persona.")
    assert not Customer.objects.exists()
    assert not Interaction.objects.exists()


def test_a_low_captcha_score_writes_nothing(client, db, google):
    google_answers(google, score=0.1)

    client.post(reverse("calculator_lead"), LEAD)

    assert not Customer.objects.exists()


def test_past_the_limit_the_form_is_refused_without_asking_google(client, db, google, settings):
    settings.CALCULATOR_LEAD_RATE_LIMIT = "2/h"
    google_answers(google)
    client.post(reverse("calculator_lead"), {**LEAD, "document_number": "41234501"})
    client.post(reverse("calculator_lead"), {**LEAD, "document_number": "41234502"})

    response = client.post(reverse("calculator_lead"), {**LEAD, "document_number": "41234503"})

    assert response.status_code == 200
    assertContains(response, "Recibimos demasiadas solicitudes desde su conexión.")
    assert not Customer.objects.filter(document_number="41234503").exists()
    assert len(google.calls) == 2


def test_an_invalid_document_is_refused_before_anything_is_written(client, db, google):
    response = client.post(reverse("calculator_lead"), {**LEAD, "document_number": "1234"})

    assertContains(response, "El DNI debe tener exactamente 8 dígitos.")
    assert not Customer.objects.exists()
    assert len(google.calls) == 0


def test_the_lead_needs_consent_and_a_way_to_reach_the_person(client, db, google):
    data = {k: v for k, v in LEAD.items() if k not in ("consent", "email", "phone")}

    response = client.post(reverse("calculator_lead"), data)

    assertContains(response, "Necesitamos su autorización para contactarlo.")
    assertContains(response, "Déjenos al menos un celular o un correo para contactarlo.")
    assert not Customer.objects.exists()


def test_the_refused_form_keeps_the_simulation_on_screen(client, db, google):
    google_answers(google, success=False)

    response = client.post(reverse("calculator_lead"), LEAD)

    assert scheme(response, "french").first_installment == Decimal("4080.27")
    assertContains(response, 'name="sim-amount" value="12000"')
    assertContains(response, 'value="Lucía"')
