"""The customer portal: a debtor proves who they are with a one-time code, reads their
statement and acts on it; nobody learns whether a document is registered without the code.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from collections_app import services as collection_services
from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    PortalCode,
    ReportedPayment,
)
from collections_app.portal import services as portal_services
from credits.models import Payment
from crm import messages as customer_messages
from crm.models import Customer, Interaction, Message
from integrations import fakes, payment_gateways
from integrations.models import OutboxMessage
from tests import receipts
from tests.collections_app.conftest import INSTALLMENT, OVERDUE, TO_SETTLE, TODAY, pay
from tests.test_bad_input import fuzz_form

VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"
PNG = receipts.PNG
UNKNOWN = "87654321"

IDENTIFY = reverse("collections_app:portal_identify")
CODE = reverse("collections_app:portal_code")
STATEMENT = reverse("collections_app:portal_statement")
PAY = reverse("collections_app:portal_pay")


@pytest.fixture(autouse=True)
def google(settings):
    """Google's siteverify, faked: it takes every token made for the portal."""
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(
            VERIFY_URL,
            json={
                "success": True,
                "score": 0.9,
                "action": "portal_identify",
                "hostname": "testserver",
            },
        )
        yield mock


@pytest.fixture
def reachable(debtor):
    """The debtor, with an e-mail on file: codes reach them."""
    debtor.email = "deudor@example.pe"
    debtor.save()
    return debtor


def identify(client: Client, document_number: str, **extra):
    data = {
        "document_type": "dni",
        "document_number": document_number,
        "recaptcha_token": "token-from-the-browser",
    }
    return client.post(IDENTIFY, data, **extra)


def last_code() -> str:
    """Read the code from the last customer message queued, as the customer would."""
    message = OutboxMessage.objects.filter(destination=customer_messages.DESTINATION).latest("pk")
    return re.search(r"\b(\d{6})\b", message.payload["body"]).group(1)


def going_to(link: PaymentLink) -> str:
    """The portal's page that sends the payer on to the gateway."""
    return reverse("collections_app:portal_link", args=[link.reference]) + "?ir=1"


def signed_in(client: Client, customer) -> Client:
    identify(client, customer.document_number)
    response = client.post(CODE, {"code": last_code()})
    assert response.status_code == 302 and response["Location"] == STATEMENT
    return client


def without_tokens(html: str) -> str:
    """The page without what differs per browser (the CSRF token)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def steps(customer) -> list[str]:
    return [
        i.payload.get("step")
        for i in customer.interactions.filter(kind=Interaction.Kind.PORTAL_VISIT).order_by("pk")
    ]


# --- Identification never tells whether a document is registered ------------------------------


def test_a_registered_and_an_unknown_document_get_the_same_answers(reachable):
    known, unknown = Client(), Client()

    answers = [identify(known, reachable.document_number), identify(unknown, UNKNOWN)]
    pages = [known.get(CODE), unknown.get(CODE)]
    wrong = [known.post(CODE, {"code": "000000"}), unknown.post(CODE, {"code": "000000"})]

    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0]["Location"] == answers[1]["Location"] == CODE
    assert without_tokens(pages[0].text) == without_tokens(pages[1].text)
    assert (
        "Si el documento está registrado, en unos segundos le enviaremos un código" in pages[0].text
    )
    assert "deudor@" not in pages[0].text and "***" not in pages[0].text
    assert without_tokens(wrong[0].text) == without_tokens(wrong[1].text)


def test_the_request_only_queues_the_code_for_known_and_unknown_documents(reachable, monkeypatch):
    """The code's rows and message are the worker's: the request costs the same either way."""
    from collections_app.portal import tasks

    queued = []
    monkeypatch.setattr(tasks.request_code, "delay", lambda *args: queued.append(args))

    identify(Client(), reachable.document_number)
    identify(Client(), UNKNOWN)

    assert queued == [("dni", reachable.document_number), ("dni", UNKNOWN)]
    assert not PortalCode.objects.exists() and not mail.outbox
    tasks.request_code(*queued[0])
    tasks.request_code(*queued[1])
    assert PortalCode.objects.filter(customer=reachable).count() == 1


def test_the_code_goes_through_the_customer_message_service(
    reachable, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        identify(Client(), reachable.document_number)

    (sent,) = mail.outbox
    assert sent.to == ["deudor@example.pe"]
    code = re.search(r"\b(\d{6})\b", sent.body).group(1)
    stored = PortalCode.objects.get(customer=reachable)
    assert stored.code_hash == portal_services.code_hash(reachable.pk, code)
    assert code not in stored.code_hash
    assert stored.channel == "email" and stored.sent_to == "deudor@example.pe"
    assert stored.expires_at == timezone.now() + timedelta(minutes=10)
    entry = reachable.interactions.get(kind=Interaction.Kind.EMAIL)
    assert "Su código para el portal de pagos" in entry.summary


def test_a_customer_who_asked_not_to_be_contacted_still_gets_the_code_they_ask_for(
    reachable, django_capture_on_commit_callbacks
):
    # A code the debtor asks for answers them: it is not contact, and without it they
    # could not sign in to pay. Nothing else goes to them.
    Customer.objects.filter(pk=reachable.pk).update(has_opted_out=True)

    with django_capture_on_commit_callbacks(execute=True):
        identify(Client(), reachable.document_number)

    (sent,) = mail.outbox
    assert sent.to == ["deudor@example.pe"]
    assert PortalCode.objects.filter(customer=reachable).exists()


def test_an_unknown_document_sends_nothing(db):
    identify(Client(), UNKNOWN)

    assert not OutboxMessage.objects.exists()
    assert not PortalCode.objects.exists()


def test_a_customer_without_an_address_gets_no_code_and_the_timeline_says_why(debtor):
    response = identify(Client(), debtor.document_number)

    assert response["Location"] == CODE
    assert not PortalCode.objects.exists()
    assert debtor.interactions.filter(
        kind=Interaction.Kind.SYSTEM,
        summary__contains="Su código para el portal de pagos. El cliente no tiene correo",
    ).exists()


def test_a_document_invalid_for_its_type_is_refused_in_spanish(db, google):
    response = identify(Client(), "1234")

    assertContains(response, "El DNI debe tener exactamente 8 dígitos.")
    assert len(google.calls) == 0


@pytest.mark.parametrize("number", ["9" * 500, "<script>", "12 34 56 7\x00"])
def test_any_input_gets_a_form_error_never_a_server_error(db, number):
    response = identify(Client(), number)

    assert response.status_code == 200
    assertContains(response, "invalid-feedback")


def test_a_missing_document_type_is_asked_for_in_plain_words(db):
    response = Client().post(IDENTIFY, {"document_number": UNKNOWN, "recaptcha_token": "t"})

    assertContains(response, "Elija el tipo de documento.")
    assertNotContains(response, "Este campo es obligatorio")


@pytest.mark.parametrize("token", ["x" * 5000, "token\x00"], ids=["too-long", "nul"])
def test_a_token_that_is_not_googles_is_refused_above_the_form(reachable, token):
    response = Client().post(
        IDENTIFY,
        {
            "document_type": "dni",
            "document_number": reachable.document_number,
            "recaptcha_token": token,
        },
    )

    assertContains(response, "No pudimos verificar que la solicitud la envía una persona")
    assert not PortalCode.objects.exists()


def test_a_form_google_refuses_sends_no_code(reachable, google):
    google.replace(responses.POST, VERIFY_URL, json={"success": True, "score": 0.1})

    response = identify(Client(), reachable.document_number)

    assertContains(response, "No pudimos verificar que la solicitud la envía una persona")
    assert not PortalCode.objects.exists()


def test_a_token_solved_on_another_site_sends_no_code(reachable):
    # Google says it was solved on "testserver"; the form was posted to another host.
    response = identify(Client(), reachable.document_number, HTTP_HOST="portal.otro.example")

    assertContains(response, "No pudimos verificar que la solicitud la envía una persona")
    assert not PortalCode.objects.exists()


# --- The code --------------------------------------------------------------------------------


def test_the_right_code_opens_the_statement_in_a_new_session_key(reachable):
    client = Client()
    identify(client, reachable.document_number)
    before = client.session.session_key

    response = client.post(CODE, {"code": last_code()})

    assertRedirects(response, STATEMENT, fetch_redirect_response=False)
    assert client.session.session_key != before
    assertContains(client.get(STATEMENT), reachable.loans.get().payment_code)
    assert steps(reachable) == ["identified", "statement"]


def test_a_code_typed_in_full_width_digits_is_read_as_its_digits(reachable):
    client = Client()
    identify(client, reachable.document_number)
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in last_code())

    response = client.post(CODE, {"code": full_width})

    assert response["Location"] == STATEMENT


def test_a_code_with_spaces_is_read_as_its_digits(reachable):
    client = Client()
    identify(client, reachable.document_number)
    code = last_code()

    response = client.post(CODE, {"code": f" {code[:3]} {code[3:]} "})

    assert response["Location"] == STATEMENT


def test_wrong_codes_count_and_the_fifth_spends_the_code(reachable):
    client = Client()
    identify(client, reachable.document_number)
    code = last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    answers = [client.post(CODE, {"code": wrong}) for _ in range(4)]
    fifth = client.post(CODE, {"code": wrong})
    after = client.post(CODE, {"code": code})

    assertContains(answers[0], "Le quedan 4 intentos.")
    assertContains(answers[3], "Le queda 1 intento.")
    assert fifth["Location"] == IDENTIFY
    assert after["Location"] == IDENTIFY  # nothing pending any more
    assert PortalCode.objects.get().attempts == 5
    assert (
        portal_services.check_code(
            document_type="dni", document_number=reachable.document_number, code=code
        )
        is None
    )


def test_wrong_codes_leave_nothing_on_the_timeline(reachable):
    client = Client()
    identify(client, reachable.document_number)
    entries = reachable.interactions.count()

    wrong = f"{(int(last_code()) + 1) % 10**6:06d}"

    for _ in range(3):
        client.post(CODE, {"code": wrong})

    assert reachable.interactions.count() == entries


def test_a_code_expires_after_ten_minutes(reachable):
    client = Client()
    identify(client, reachable.document_number)
    code = last_code()

    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1), tick=False):
        response = client.post(CODE, {"code": code})
        checked = portal_services.check_code(
            document_type="dni", document_number=reachable.document_number, code=code
        )

    assert response["Location"] == IDENTIFY
    assert checked is None


def test_a_code_opens_one_session_only(reachable):
    signed_in(Client(), reachable)
    code = last_code()

    assert (
        portal_services.check_code(
            document_type="dni", document_number=reachable.document_number, code=code
        )
        is None
    )
    assert PortalCode.objects.get().used_at is not None


def test_a_new_code_replaces_the_one_before(reachable):
    client = Client()
    # Sent more than a few minutes before the new one (test_portal_two_codes: a code sent
    # just before stays open).
    minutes = portal_services.PREVIOUS_CODE_MINUTES
    with time_machine.travel(timezone.now() - timedelta(minutes=minutes, seconds=1), tick=False):
        identify(client, reachable.document_number)
        first = last_code()
    identify(client, reachable.document_number)
    second = last_code()

    if first != second:
        assert client.post(CODE, {"code": first}).status_code == 200
    assert client.post(CODE, {"code": second})["Location"] == STATEMENT


def test_the_code_page_needs_a_document_first(db):
    assert Client().get(CODE)["Location"] == IDENTIFY


# --- Rate limits -------------------------------------------------------------------------------


def test_codes_for_one_document_are_limited_whoever_asks(reachable, settings):
    settings.PORTAL_IDENTIFY_DOCUMENT_RATE_LIMIT = "2/h"

    answers = [
        identify(Client(), reachable.document_number, REMOTE_ADDR=f"10.0.0.{n}") for n in range(3)
    ]
    unknown = [identify(Client(), UNKNOWN, REMOTE_ADDR=f"10.0.1.{n}") for n in range(3)]

    assert [a.status_code for a in answers] == [302, 302, 429]
    assert [a.status_code for a in unknown] == [302, 302, 429]
    assertContains(answers[2], "demasiados códigos para este documento", status_code=429)
    assert PortalCode.objects.count() == 2


def test_identification_is_limited_per_address(db, settings):
    settings.PORTAL_IDENTIFY_RATE_LIMIT = "3/h"
    client = Client()

    answers = [identify(client, f"{41000000 + n}") for n in range(4)]

    assert [a.status_code for a in answers] == [302, 302, 302, 429]
    assertContains(answers[3], "demasiadas solicitudes desde su conexión", status_code=429)


def test_code_attempts_are_limited_per_address(reachable, settings):
    settings.PORTAL_CODE_RATE_LIMIT = "2/h"
    client = Client()
    identify(client, reachable.document_number)

    client.post(CODE, {"code": "000001"})
    client.post(CODE, {"code": "000002"})
    response = client.post(CODE, {"code": last_code()})

    assert response.status_code == 429
    assert PortalCode.objects.get().used_at is None


# --- The portal session ------------------------------------------------------------------------


def test_the_statement_needs_a_proved_code(reachable):
    client = Client()
    assert client.get(STATEMENT)["Location"] == IDENTIFY

    identify(client, reachable.document_number)

    assert client.get(STATEMENT)["Location"] == IDENTIFY


def test_a_staff_sign_in_does_not_open_anyones_statement(reachable, django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("agente", password="x"))

    assert client.get(STATEMENT)["Location"] == IDENTIFY


def test_the_session_ends_after_twenty_idle_minutes(reachable):
    client = signed_in(Client(), reachable)
    now = timezone.now()

    with time_machine.travel(now + timedelta(minutes=19), tick=False):
        assert client.get(STATEMENT).status_code == 200
    with time_machine.travel(now + timedelta(minutes=38), tick=False):
        assert client.get(STATEMENT).status_code == 200
    with time_machine.travel(now + timedelta(minutes=59), tick=False):
        response = client.get(STATEMENT)
        page = client.get(IDENTIFY)

    assert response["Location"] == IDENTIFY
    assertContains(page, "Su sesión terminó por inactividad")


def test_leaving_the_portal_keeps_a_staff_sign_in(reachable, django_user_model):
    agent = django_user_model.objects.create_user("agente", password="x")
    client = Client()
    client.force_login(agent)
    signed_in(client, reachable)

    client.post(reverse("collections_app:portal_logout"))

    assert client.get(STATEMENT)["Location"] == IDENTIFY
    assert int(client.session["_auth_user_id"]) == agent.pk


# --- The statement -----------------------------------------------------------------------------


def test_the_statement_shows_paid_and_pending_installments_and_the_totals(reachable, loan):
    pay(loan, INSTALLMENT, TODAY)
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)
    everything = client.get(STATEMENT + "?pagadas=1")

    assertContains(response, loan.payment_code)
    # Paid installments are counted; "verlas" lists them.
    assertContains(response, "1 cuota pagada")
    assertNotContains(response, 'data-state="paid"')
    assertContains(everything, 'data-state="paid"', count=1)
    for page in (response, everything):
        assertContains(page, 'data-state="overdue"', count=4)
        assertContains(page, 'data-state="upcoming"', count=7)
    assertContains(response, "10,024.67")  # TO_SETTLE less one installment
    assertContains(response, "3,782.40")  # overdue: four installments


def test_the_statement_shows_only_this_debtors_loans(reachable, make_active_loan):
    other = make_active_loan()
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    assertNotContains(response, other.payment_code)
    assertNotContains(response, other.customer.first_name)


def test_the_statement_costs_the_same_queries_for_one_loan_as_for_four(
    reachable, loan, make_active_loan
):
    client = signed_in(Client(), reachable)
    client.get(STATEMENT)  # the first view records its step

    with CaptureQueriesContext(connection) as one:
        assertContains(client.get(STATEMENT), loan.payment_code)
    others = [make_active_loan(customer=reachable) for _ in range(3)]
    pay(others[0], INSTALLMENT, TODAY)
    with CaptureQueriesContext(connection) as four:
        response = client.get(STATEMENT)

    for other in others:
        assertContains(response, other.payment_code)
    assert len(four.captured_queries) == len(one.captured_queries)


def test_a_paid_loan_is_listed_as_paid(reachable, loan):
    pay(loan, TO_SETTLE, TODAY, overpayment=Payment.Overpayment.SHORTEN_TERM)
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    assertContains(response, "No tiene deudas pendientes")
    assertContains(response, "cuotas pagadas")
    assertContains(client.get(STATEMENT + "?pagadas=1"), 'data-state="paid"')
    assertNotContains(response, 'data-state="overdue"')
    assertNotContains(response, 'data-state="upcoming"')
    assertNotContains(response, "Pagar el total")


def test_viewing_the_statement_again_records_one_step(reachable):
    client = signed_in(Client(), reachable)

    client.get(STATEMENT)
    client.get(STATEMENT)

    assert steps(reachable) == ["identified", "statement"]


# --- Paying ------------------------------------------------------------------------------------


def test_paying_an_installment_goes_to_the_gateway_with_a_portal_link(reachable, loan):
    client = signed_in(Client(), reachable)

    response = client.post(
        PAY,
        {
            "debt": f"loan:{loan.pk}",
            "concept": "installment",
            "installment_number": "1",
            "provider": "mercadopago",
        },
    )

    link = PaymentLink.objects.get()
    assert response["Location"] == going_to(link)
    assert link.url.startswith("https://fake-gateway.invalid/mercadopago/")
    assert (link.origin, link.amount, link.installment_number) == (Origin.PORTAL, INSTALLMENT, 1)
    assert link.payer_email == "deudor@example.pe"
    (checkout,) = fakes.fake_gateway("mercadopago").checkouts
    assert checkout.back_url.endswith(f"/portal/pago/{link.reference}/")
    assert steps(reachable)[-1] == "link"
    assert reachable.interactions.filter(payload__link=link.pk).exists()


def test_the_page_after_the_form_sends_the_payer_on_to_the_gateway(reachable, loan):
    client = signed_in(Client(), reachable)

    response = client.post(
        PAY, {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "mercadopago"}, follow=True
    )

    link = PaymentLink.objects.get()
    assertContains(response, f'<meta http-equiv="refresh" content="0;url={link.url}">', html=False)
    assertContains(response, "Lo llevamos a MercadoPago")


def test_paying_the_total_asks_for_what_settles_the_loan(reachable, loan):
    client = signed_in(Client(), reachable)

    client.post(PAY, {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "clear"})

    link = PaymentLink.objects.get()
    assert (link.amount, link.provider) == (TO_SETTLE, "clear")


def test_pressing_pay_again_goes_to_the_link_already_open(reachable, loan):
    """Back from the gateway and pressing again made a second link: both could be paid."""
    client = signed_in(Client(), reachable)
    total = {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "mercadopago"}

    first = client.post(PAY, total)
    again = client.post(PAY, total)

    link = PaymentLink.objects.get()
    assert first["Location"] == again["Location"] == going_to(link)
    assert len(fakes.fake_gateway("mercadopago").checkouts) == 1


@pytest.mark.parametrize("amount", ["9.99", str(TO_SETTLE + Decimal("0.01")), "1e400", "abc"])
def test_a_custom_amount_outside_the_bounds_is_refused(reachable, loan, amount):
    client = signed_in(Client(), reachable)

    response = client.post(
        PAY,
        {"debt": f"loan:{loan.pk}", "concept": "custom", "amount": amount, "provider": "clear"},
        follow=True,
    )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == STATEMENT
    assert not PaymentLink.objects.exists()
    assert response.context["messages"]


@pytest.mark.parametrize("number", ["0", "-1", "99999", "99999999999999999999"])
def test_an_installment_out_of_the_list_is_refused_once_in_plain_words(reachable, loan, number):
    client = signed_in(Client(), reachable)

    response = client.post(
        PAY,
        {
            "debt": f"loan:{loan.pk}",
            "concept": "installment",
            "installment_number": number,
            "provider": "clear",
        },
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["Elija una cuota de la lista."]
    assert not PaymentLink.objects.exists()


def test_another_customers_loan_cannot_be_paid_from_a_session(reachable, make_active_loan):
    other = make_active_loan()
    client = signed_in(Client(), reachable)

    response = client.post(
        PAY, {"debt": f"loan:{other.pk}", "concept": "total", "provider": "mercadopago"}
    )

    assert response["Location"] == STATEMENT
    assert not PaymentLink.objects.exists()


def test_only_the_configured_gateways_are_offered(reachable, loan, settings):
    settings.PAYMENT_GATEWAYS_FAKE = False
    settings.MERCADOPAGO_ACCESS_TOKEN = "APP_USR-token"
    settings.CLEAR_API_URL = settings.CLEAR_API_KEY = ""
    client = signed_in(Client(), reachable)

    page = client.get(STATEMENT)
    client.post(PAY, {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "clear"})

    assertNotContains(page, "Pagar con:")  # one gateway: nothing to choose
    assertContains(page, 'name="provider" value="mercadopago"')
    assertNotContains(page, 'value="clear"')
    assert not PaymentLink.objects.exists()


def test_without_a_configured_gateway_the_statement_says_so(reachable, loan, settings):
    settings.PAYMENT_GATEWAYS_FAKE = False
    settings.MERCADOPAGO_ACCESS_TOKEN = ""
    settings.CLEAR_API_URL = settings.CLEAR_API_KEY = ""
    client = signed_in(Client(), reachable)

    page = client.get(STATEMENT)

    assertContains(page, "El pago en línea no está disponible")
    assertNotContains(page, "Pagar el total")
    assertContains(page, "Informar un pago")


def test_the_back_page_shows_the_links_state_and_nothing_personal(reachable, loan):
    link = collection_services.create_payment_link(
        customer=reachable,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.INSTALLMENT,
        installment_number=1,
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
    )
    url = reverse("collections_app:portal_link", args=[link.reference])

    waiting = Client().get(url)
    collection_services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id="555",
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount,
            currency=link.currency,
            paid_on=TODAY,
            raw={},
        ),
    )
    paid = Client().get(url)

    assertContains(waiting, "Estamos esperando la confirmación de MercadoPago")
    assertContains(paid, "Pago recibido")
    for page in (waiting, paid):
        assertContains(page, "945.60")
        assertNotContains(page, loan.payment_code)
        assertNotContains(page, reachable.first_name)


def test_the_back_page_shows_the_debt_to_its_customer(reachable, loan):
    client = signed_in(Client(), reachable)
    client.post(PAY, {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "mercadopago"})
    link = PaymentLink.objects.get()

    response = client.get(reverse("collections_app:portal_link", args=[link.reference]))

    assertContains(response, loan.payment_code)


@pytest.mark.parametrize("reference", ["PL-" + "0" * 20, "nada", "PL-%27or1=1"])
def test_an_unknown_or_malformed_reference_is_not_found(db, reference):
    response = Client().get(f"/portal/pago/{reference}/")

    assert response.status_code == 404


# --- Reporting, promising, calling, agreeing -------------------------------------------------


def receipt(name="comprobante.png", content=PNG):
    return SimpleUploadedFile(name, content, content_type="image/png")


def test_reporting_a_payment_leaves_it_to_verify(reachable, loan):
    client = signed_in(Client(), reachable)

    response = client.post(
        reverse("collections_app:portal_report"),
        {
            "debt": f"loan:{loan.pk}",
            "amount": "945.60",
            "paid_on": "2026-06-14",
            "method": "transfer",
            "reference": "OP-778",
            "receipt": receipt(),
            "contact_email": "",
        },
    )

    assert response["Location"] == STATEMENT
    report = ReportedPayment.objects.get()
    assert (report.origin, report.amount, report.status) == (
        Origin.PORTAL,
        INSTALLMENT,
        ReportedPayment.Status.PENDING,
    )
    assert steps(reachable)[-1] == "reported"
    assert reachable.interactions.filter(payload__reported_payment=report.pk).exists()


def test_a_debtor_who_reports_more_than_the_debt_is_asked_to_say_so(reachable, loan):
    client = signed_in(Client(), reachable)
    data = {
        "debt": f"loan:{loan.pk}",
        "amount": "1094560.00",  # the dot forgotten: a hundred times the installment
        "paid_on": "2026-06-14",
        "method": "transfer",
        "reference": "OP-778",
        "contact_email": "",
    }

    refused = client.post(reverse("collections_app:portal_report"), {**data, "receipt": receipt()})
    said = client.post(
        reverse("collections_app:portal_report"),
        {**data, "receipt": receipt(), "paid_more": "on"},
    )

    assertContains(refused, "El monto supera la deuda: S/ 10,970.27 la cancelan hoy.")
    assertContains(refused, 'name="paid_more"')
    assert said["Location"] == STATEMENT
    assert ReportedPayment.objects.get().amount == Decimal("1094560.00")


def test_the_paid_more_box_is_not_offered_before_it_is_needed(reachable, loan):
    client = signed_in(Client(), reachable)

    assertNotContains(client.get(reverse("collections_app:portal_report")), 'name="paid_more"')


@pytest.mark.parametrize(
    "upload, error",
    [
        (SimpleUploadedFile("nota.txt", b"hola"), "debe ser un PDF, JPG o PNG"),
        (SimpleUploadedFile("falso.png", b"GIF89a" + b"\x00" * 20), "no es un PNG válido"),
    ],
)
def test_a_receipt_that_is_not_one_is_refused(reachable, loan, upload, error):
    client = signed_in(Client(), reachable)

    response = client.post(
        reverse("collections_app:portal_report"),
        {
            "debt": f"loan:{loan.pk}",
            "amount": "100",
            "paid_on": "2026-06-14",
            "method": "transfer",
            "receipt": upload,
        },
    )

    assertContains(response, error)
    assert not ReportedPayment.objects.exists()


def test_a_future_payment_day_is_refused(reachable, loan):
    client = signed_in(Client(), reachable)

    response = client.post(
        reverse("collections_app:portal_report"),
        {
            "debt": f"loan:{loan.pk}",
            "amount": "100",
            "paid_on": "2026-06-16",
            "method": "cash",
            "receipt": receipt(),
        },
    )

    assertContains(response, "no puede ser futura")


def test_promising_to_pay_records_the_promise(reachable, loan):
    client = signed_in(Client(), reachable)

    response = client.post(
        reverse("collections_app:portal_promise"),
        {"debt": f"loan:{loan.pk}", "amount": "500", "promised_on": "2026-06-30"},
    )

    assert response["Location"] == STATEMENT
    promise = PaymentPromise.objects.get()
    assert (promise.origin, promise.amount) == (Origin.PORTAL, Decimal("500.00"))
    assert steps(reachable)[-1] == "promised"
    assertContains(client.get(STATEMENT), "Compromiso de pagar")


@pytest.mark.parametrize("day", ["2026-06-14", "2026-12-31", "31/31/2026"])
def test_a_promise_outside_the_allowed_days_is_refused(reachable, loan, day):
    client = signed_in(Client(), reachable)

    response = client.post(
        reverse("collections_app:portal_promise"),
        {"debt": f"loan:{loan.pk}", "amount": "500", "promised_on": day},
    )

    assert response.status_code == 200
    assert not PaymentPromise.objects.exists()


def test_asking_for_a_call_puts_it_in_the_call_back_list(reachable):
    client = signed_in(Client(), reachable)

    response = client.post(
        reverse("collections_app:portal_callback"),
        {"phone": "987 654 321", "preferred_time": "afternoon"},
    )

    assert response["Location"] == STATEMENT
    callback = CallbackRequest.objects.get()
    assert (callback.customer, callback.origin, callback.phone) == (
        reachable,
        Origin.PORTAL,
        "+51987654321",
    )
    assert callback.preferred_time.startswith("Tarde")
    assert steps(reachable)[-1] == "callback"


def test_a_call_time_out_of_the_list_is_refused_in_plain_words(reachable):
    client = signed_in(Client(), reachable)

    response = client.post(
        reverse("collections_app:portal_callback"),
        {"phone": "987 654 321", "preferred_time": "bogus"},
    )

    assertContains(response, "Elija un horario de la lista.")
    assertNotContains(response, "bogus no es una de las opciones")
    assert not CallbackRequest.objects.exists()


def test_asking_again_for_a_call_to_the_same_phone_in_a_visit_is_one_request(reachable):
    client = signed_in(Client(), reachable)
    url = reverse("collections_app:portal_callback")

    answers = [
        client.post(url, {"phone": "987 654 321", "preferred_time": "afternoon"}),
        client.post(url, {"phone": "+51 987654321", "preferred_time": "afternoon"}),
    ]

    assert [a["Location"] for a in answers] == [STATEMENT, STATEMENT]
    assert CallbackRequest.objects.count() == 1
    assert steps(reachable).count("callback") == 1
    # What was done, not a promise of a call.
    said = [str(m) for m in get_messages(answers[0].wsgi_request)]
    assert said == ["Registramos su pedido de llamada. ¡Gracias!"]


def test_a_call_to_another_phone_or_after_the_first_was_made_is_a_request_of_its_own(
    reachable, cobranzas
):
    url = reverse("collections_app:portal_callback")
    client = signed_in(Client(), reachable)
    client.post(url, {"phone": "987 654 321"})
    client.post(url, {"phone": "912 345 678"})
    # Another visit, while the call to that number still waits: the same request.
    signed_in(Client(), reachable).post(url, {"phone": "987 654 321"})
    assert CallbackRequest.objects.count() == 2

    first = CallbackRequest.objects.get(phone="+51987654321")
    collection_services.close_callback(
        callback=first, actor=cobranzas, status=CallbackRequest.Status.DONE, outcome="Llamado"
    )
    signed_in(Client(), reachable).post(url, {"phone": "987 654 321"})

    assert CallbackRequest.objects.count() == 3


def test_taking_an_agreement_goes_to_pay_its_down_payment(reachable, loan):
    loan.days_past_due = 134
    loan.save()
    AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("20")
    )
    client = signed_in(Client(), reachable)
    assertContains(client.get(STATEMENT), "Aceptar y pagar la cuota inicial", count=3)

    rule = AgreementRule.objects.get()
    response = client.post(
        reverse("collections_app:portal_agreement"),
        {"debt": f"loan:{loan.pk}", "option": f"{rule.pk}-3", "provider": "mercadopago"},
    )

    agreement = PaymentAgreement.objects.get()
    link = agreement.links.get()
    assert response["Location"] == going_to(link)
    assert (agreement.origin, agreement.installments) == (Origin.PORTAL, 3)
    assert link.amount == (OVERDUE * Decimal("0.2")).quantize(Decimal("0.01"))
    assert steps(reachable)[-1] == "agreement"


def test_a_debt_with_an_agreement_in_course_offers_no_other(reachable, loan):
    loan.days_past_due = 134
    loan.save()
    rule = AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("20")
    )
    client = signed_in(Client(), reachable)
    client.post(
        reverse("collections_app:portal_agreement"),
        {"debt": f"loan:{loan.pk}", "option": f"{rule.pk}-2", "provider": "mercadopago"},
    )

    statement = client.get(STATEMENT)

    assertContains(statement, "En curso")
    assertNotContains(statement, "Aceptar y pagar la cuota inicial")


def test_two_rules_offer_each_number_of_payments_once_the_cheaper(reachable, loan):
    loan.days_past_due = 134
    loan.save()
    AgreementRule.objects.create(
        name="Convenio corto", max_installments=2, min_down_payment_percent=Decimal("20")
    )
    generous = AgreementRule.objects.create(
        name="Convenio con descuento",
        max_installments=3,
        min_down_payment_percent=Decimal("20"),
        late_interest_discount_percent=Decimal("50"),
    )
    client = signed_in(Client(), reachable)

    statement = client.get(STATEMENT)

    assertContains(statement, "Aceptar y pagar la cuota inicial", count=3)
    for count in (1, 2, 3):
        assertContains(statement, f'value="{generous.pk}-{count}"')


def test_an_agreements_figures_add_up_with_its_last_installment(reachable, loan):
    """The last installment takes the rounding: shown as the others, the sum was off."""
    # The down payment (the least link, S/ 10.00) and three installments that do not split
    # the rest evenly in cents.
    AgreementRule.objects.create(
        name="Cuatro pagos", max_installments=4, min_down_payment_percent=Decimal("0")
    )
    client = signed_in(Client(), reachable)

    statement = client.get(STATEMENT)

    option = next(
        o
        for account, _installments in statement.context["accounts"]
        for o in account.options
        if o.installments == 4
    )
    assert option.last_installment_amount is not None
    assert (
        option.down_payment + option.installment_amount * 2 + option.last_installment_amount
        == option.total
    )
    assertContains(statement, '(la última, <span class="amount">S/ ')


def test_an_agreement_not_offered_is_refused(reachable, loan):

    client = signed_in(Client(), reachable)

    client.post(
        reverse("collections_app:portal_agreement"),
        {"debt": f"loan:{loan.pk}", "option": "999-2", "provider": "mercadopago"},
    )

    assert not PaymentAgreement.objects.exists()


# --- A call without the code ---------------------------------------------------------------------


def test_a_visitor_without_a_code_may_ask_for_a_call_to_the_phone_on_file(debtor):
    known, unknown = Client(), Client()
    identify(known, debtor.document_number)
    identify(unknown, UNKNOWN)
    url = reverse("collections_app:portal_code_callback")

    answers = [
        known.post(url, {"preferred_time": "morning"}),
        unknown.post(url, {"preferred_time": "morning"}),
    ]

    assert without_tokens(answers[0].text) == without_tokens(answers[1].text)
    callback = CallbackRequest.objects.get()
    assert callback.customer == debtor
    assert callback.phone == str(debtor.phone)
    assert "sin identificarse" in callback.preferred_time


def test_the_statement_is_refused_after_asking_for_a_call_without_a_code(debtor):
    client = Client()
    identify(client, debtor.document_number)

    client.post(reverse("collections_app:portal_code_callback"), {"preferred_time": ""})

    assert client.get(STATEMENT)["Location"] == IDENTIFY


# --- Whatever is sent ------------------------------------------------------------------------


def test_no_identification_form_answers_a_server_error_whatever_it_is_sent(reachable):
    client = Client(raise_request_exception=False)

    fuzz_form(client, IDENTIFY, ["document_type", "document_number", "recaptcha_token"])
    identify(client, reachable.document_number)
    fuzz_form(client, CODE, ["code"])


def test_no_statement_form_answers_a_server_error_whatever_it_is_sent(reachable, loan):
    client = signed_in(Client(raise_request_exception=False), reachable)
    forms = {
        "portal_pay": ["debt", "concept", "installment_number", "amount", "provider"],
        "portal_agreement": ["debt", "option", "provider"],
        "portal_report": ["debt", "amount", "paid_on", "method", "reference", "receipt"],
        "portal_promise": ["debt", "amount", "promised_on"],
        "portal_callback": ["phone", "preferred_time"],
    }

    for name, fields in forms.items():
        fuzz_form(client, reverse(f"collections_app:{name}"), fields)

    assert client.get(STATEMENT).status_code == 200


def test_the_statement_lists_what_is_in_course_and_nothing_when_there_is_none(reachable, loan):
    client = signed_in(Client(), reachable)
    assertNotContains(client.get(STATEMENT), 'id="in-course"')

    collection_services.report_payment(
        customer=reachable,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal("100.00"),
        paid_on=TODAY,
        method="transfer",
        receipt=SimpleUploadedFile("r.png", receipts.PNG, "image/png"),
        origin=Origin.PORTAL,
        actor=None,
    )
    response = client.get(STATEMENT)

    # A payment reported is listed on its own, with its state (not "in course" once reviewed).
    assertNotContains(response, 'id="in-course"')
    assertContains(response, 'id="reported-payments"')
    assertContains(response, "por verificar")
    assertNotContains(response, "Compromiso de pagar")


def test_the_code_goes_by_sms_when_an_sms_provider_is_configured(
    reachable, settings, google, django_capture_on_commit_callbacks
):
    settings.SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC123"
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    twilio = google.post(
        "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json",
        json={"sid": "SM1", "status": "queued"},
        status=201,
    )
    with django_capture_on_commit_callbacks(execute=True):
        identify(Client(), reachable.document_number)

    assert mail.outbox == []
    stored = PortalCode.objects.get(customer=reachable)
    assert stored.channel == "sms" and stored.sent_to == str(reachable.phone)
    assert twilio.call_count == 1
    message = Message.objects.get(customer=reachable, channel="sms")
    assert message.provider_message_id == "SM1"
    # A one-time code: the text travels, but neither the timeline nor the inbox keeps it.
    assert message.body == ""


def test_without_an_sms_provider_the_code_goes_by_email_not_to_the_log(reachable):
    assert reachable.phone
    identify(Client(), reachable.document_number)

    assert PortalCode.objects.get(customer=reachable).channel == "email"


def test_the_total_to_pay_says_it_already_takes_off_the_credit_balance(client, reachable, loan):
    # Six installments paid, 1,326.40 kept as credit: the total asked is that much less.
    pay(loan, "7000.00", TODAY, overpayment=Payment.Overpayment.CREDIT)
    signed_in(client, reachable)

    response = client.get(STATEMENT)

    # What settles it (5,402.60: the 7th installment and the later principal) less the credit.
    assertContains(
        response, 'Para cancelarlo hoy: <strong class="amount">S/ 4,076.20</strong>', html=False
    )
    assertContains(
        response,
        '(ya descuenta su saldo a favor de <span class="amount">S/ 1,326.40</span>)',
        html=False,
    )
