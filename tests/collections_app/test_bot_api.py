"""The collection bot's API (/api/v1/cobranzas/): tokens, limits, each endpoint and its
effect, bad input, the timeline, and every answer checked against the API's own OpenAPI
document."""

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    ReportedPayment,
)
from credits.models import Loan, Payment
from credits.services import delinquency
from crm.models import Customer, Interaction
from integrations import api_clients, fakes
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import OutboxMessage
from tests import receipts
from tests.api_partner import ApiPartner, api_schema
from tests.collections_app.conftest import INSTALLMENT, OVERDUE, TO_SETTLE, TODAY, pay
from tests.factories import CustomerFactory

BASE = "/api/v1/cobranzas"
PNG = receipts.PNG
PDF = receipts.PDF


# --- The bot, and its answers checked against the OpenAPI document --------------------------


@pytest.fixture(scope="module")
def openapi() -> dict:
    return api_schema()


class Bot(ApiPartner):
    """A test client that sends the bot's token and checks every answer against the schema."""

    def get(self, path: str, params: dict | None = None, **kwargs):
        return self._call("get", path, data=params, **kwargs)

    def post(self, path: str, body: dict, **kwargs):
        return self._call(
            "post", path, data=json.dumps(body), content_type="application/json", **kwargs
        )

    def post_raw(self, path: str, raw: str):
        return self._call("post", path, data=raw, content_type="application/json")

    def post_form(self, path: str, data: dict):
        return self._call("post", path, data=data)

    def _call(self, method: str, path: str, *, headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        response = getattr(self.client, method)(BASE + path, headers=headers, **kwargs)
        self.check(method, BASE + path, response)
        return response


@pytest.fixture
def token(db) -> str:
    _client, token = api_clients.create_client(name="AsisteClick", scopes="collections")
    return token


@pytest.fixture
def bot(token, openapi) -> Bot:
    return Bot(token, openapi)


def doc(customer: Customer) -> dict:
    return {"tipo_documento": customer.document_type, "numero_documento": customer.document_number}


def receipt(name="comprobante.png", content=PNG, content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def bot_entries(customer: Customer) -> list[Interaction]:
    return list(
        Interaction.objects.filter(customer=customer, kind=Interaction.Kind.BOT).order_by("pk")
    )


@pytest.fixture
def rule(db) -> AgreementRule:
    return AgreementRule.objects.create(
        name="Hasta 3 cuotas",
        max_installments=3,
        min_down_payment_percent=Decimal("20.00"),
        late_interest_discount_percent=Decimal("50.00"),
        min_days_past_due=1,
        days_between_installments=30,
    )


@pytest.fixture
def late_loan(loan):
    """The loan as the nightly delinquency run leaves it: days past due, late interest."""
    loan.late_annual_rate = Decimal("36")
    loan.days_past_due = 134
    loan.save()
    delinquency.accrue_late_interest(loan=loan, today=TODAY)
    return Loan.objects.get(pk=loan.pk)


def error_on(response, field: str) -> str:
    found = [e["msg"] for e in response.json()["detail"] if e["loc"][-1] == field]
    assert found, response.json()
    return found[0]


# --- Tokens ---------------------------------------------------------------------------------


def test_it_refuses_a_call_without_a_token(openapi, debtor):
    response = Bot(None, openapi).get("/lookup", doc(debtor))

    assert response.status_code == 401
    assert "Falta el token" in response.json()["detail"]


def test_it_refuses_a_token_nobody_was_given(openapi, debtor):
    response = Bot("ctr_made-up", openapi).get("/lookup", doc(debtor))

    assert response.status_code == 401
    assert response.json()["detail"] == "El token no es válido o fue revocado."


def test_it_refuses_the_token_of_a_client_turned_off(bot, debtor):
    client = api_clients.client_for_token(bot.token)
    client.is_active = False
    client.save()
    api_clients.forget(client)

    response = bot.get("/lookup", doc(debtor))

    assert response.status_code == 401


def test_it_forbids_a_client_without_the_collections_scope(openapi, debtor):
    _client, token = api_clients.create_client(name="Importador", scopes="imports")

    response = Bot(token, openapi).get("/lookup", doc(debtor))

    assert response.status_code == 403
    assert "collections" in response.json()["detail"]


def test_it_answers_no_entry_on_the_timeline_for_a_refused_token(openapi, debtor):
    Bot("ctr_made-up", openapi).get("/lookup", doc(debtor))

    assert bot_entries(debtor) == []


# --- Limits ---------------------------------------------------------------------------------


def test_it_limits_each_token_to_its_requests_per_minute(openapi, debtor):
    _client, token = api_clients.create_client(
        name="Lento", scopes="collections", rate_limit_per_minute=2
    )
    bot = Bot(token, openapi)
    other = CustomerFactory()

    answers = [bot.get("/lookup", doc(c)).status_code for c in (debtor, other, debtor)]

    assert answers == [200, 200, 429]


def test_the_token_limit_says_when_to_come_back_in_spanish(openapi, debtor):
    _client, token = api_clients.create_client(
        name="Lento", scopes="collections", rate_limit_per_minute=1
    )
    bot = Bot(token, openapi)
    bot.get("/lookup", doc(debtor))

    response = bot.get("/lookup", doc(debtor))

    assert response.status_code == 429
    assert response.json()["detail"].startswith("Demasiadas solicitudes")
    assert 0 < int(response["Retry-After"]) <= 60


def test_it_limits_the_calls_about_one_document_whoever_makes_them(bot, openapi, debtor, settings):
    settings.BOT_API_DOCUMENT_RATE_LIMIT = "3/m"
    _client, other_token = api_clients.create_client(name="Otro bot", scopes="collections")
    another = CustomerFactory()

    first = [bot.get("/lookup", doc(debtor)).status_code for _ in range(2)]
    third = Bot(other_token, openapi).get("/credits", doc(debtor)).status_code
    fourth = bot.get("/lookup", doc(debtor))
    other_document = bot.get("/lookup", doc(another))

    assert [*first, third] == [200, 200, 200]
    assert fourth.status_code == 429
    assert fourth.json()["detail"].startswith("Demasiadas solicitudes")
    assert other_document.status_code == 200


def test_the_document_limit_counts_the_number_however_it_is_written(bot, debtor, settings):
    settings.BOT_API_DOCUMENT_RATE_LIMIT = "1/m"
    number = debtor.document_number
    bot.get("/lookup", doc(debtor))

    response = bot.get(
        "/lookup",
        {"tipo_documento": "dni", "numero_documento": f"{number[:2]}.{number[2:5]}-{number[5:]}"},
    )

    assert response.status_code == 429


def test_the_document_limit_says_when_to_come_back(bot, debtor, settings):
    settings.BOT_API_DOCUMENT_RATE_LIMIT = "1/m"
    bot.get("/lookup", doc(debtor))

    response = bot.get("/lookup", doc(debtor))

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 61


# --- Lookup ---------------------------------------------------------------------------------


def test_the_lookup_of_a_debtor_says_con_deuda_with_the_summary(bot, debtor):
    response = bot.get("/lookup", doc(debtor))

    assert response.status_code == 200
    body = response.json()
    assert body["estado"] == "CON_DEUDA"
    assert body["cliente"] == {"nombre": debtor.first_name, "nombre_completo": debtor.full_name}
    assert body["deuda"]["total"] == str(TO_SETTLE)
    assert body["deuda"]["vencido"] == str(OVERDUE)
    assert body["deuda"]["moneda"] == "PEN"
    assert body["deuda"]["creditos"] == 1
    assert body["deuda"]["proximo_vencimiento"] == "2026-07-01"


def test_the_lookup_of_a_customer_without_debt_says_sin_deuda(bot):
    customer = CustomerFactory()

    body = bot.get("/lookup", doc(customer)).json()

    assert body["estado"] == "SIN_DEUDA"
    assert body["cliente"]["nombre_completo"] == customer.full_name
    assert body["deuda"] is None


def test_the_lookup_of_an_unknown_document_says_no_encontrado_and_nothing_else(bot, db):
    body = bot.get("/lookup", {"tipo_documento": "dni", "numero_documento": "87654321"}).json()

    assert body == {
        "estado": "NO_ENCONTRADO",
        "cliente": None,
        "deuda": None,
        "saldo_a_favor": None,
        "ofertas_concluidas": None,
    }


def test_the_same_number_under_another_document_type_is_not_found(bot, db):
    customer = CustomerFactory(
        document_type=Customer.DocumentType.PASSPORT, document_number="12345678"
    )

    body = bot.get("/lookup", {"tipo_documento": "dni", "numero_documento": "12345678"}).json()

    assert body["estado"] == "NO_ENCONTRADO"
    assert bot.get("/lookup", doc(customer)).json()["estado"] == "SIN_DEUDA"


def test_the_lookup_goes_on_the_timeline_as_a_bot_interaction(bot, debtor):
    bot.get("/lookup", doc(debtor))

    (entry,) = bot_entries(debtor)
    assert entry.summary == "Consulta del bot: CON_DEUDA"
    assert entry.direction == Interaction.Direction.INBOUND
    assert entry.actor is None
    assert entry.payload == {"consulta": "lookup", "cliente_api": "AsisteClick"}


def test_the_lookup_costs_a_few_queries_however_many_loans(
    bot, debtor, make_active_loan, django_assert_max_num_queries
):
    bot.get("/lookup", doc(debtor))  # the token's row is read once, then cached
    with CaptureQueriesContext(connection) as one_loan:
        bot.get("/lookup", doc(debtor))
    for _ in range(3):
        make_active_loan(customer=debtor)

    # The customer, the loans, their installments, the written-off campaigns (recovery's
    # receivable kind), the loans holding a credit balance, the timeline entry and its
    # customer's last-interaction date; the tests' savepoint around the entry is the ninth.
    with django_assert_max_num_queries(9):
        body = bot.get("/lookup", doc(debtor)).json()
    assert len(one_loan) <= 9, [q["sql"] for q in one_loan]
    # Only the names of the customer are read, and nothing deferred is read afterwards.
    assert all('crm_customer"."phone' not in q["sql"] for q in one_loan)

    assert body["deuda"]["creditos"] == 4
    with CaptureQueriesContext(connection) as four_loans:
        bot.get("/lookup", doc(debtor))
    assert len(four_loans) == len(one_loan)


# --- Credits --------------------------------------------------------------------------------


def test_the_credits_show_the_overdue_installments_and_the_next_one(bot, debtor, loan):
    response = bot.get("/credits", doc(debtor))

    assert response.status_code == 200
    (credit,) = response.json()["creditos"]
    assert credit["codigo_pago"] == loan.payment_code
    assert credit["total"] == str(TO_SETTLE)
    assert credit["vencido"] == str(OVERDUE)
    assert credit["cartera"] == "vigente"
    assert [c["numero"] for c in credit["cuotas_vencidas"]] == [1, 2, 3, 4, 5]
    assert {c["monto"] for c in credit["cuotas_vencidas"]} == {str(INSTALLMENT)}
    assert credit["proxima_cuota"]["numero"] == 6
    assert credit["proxima_cuota"]["vence"] == "2026-07-01"


def test_the_credits_of_an_unknown_document_are_a_404_in_spanish(bot, db):
    response = bot.get("/credits", {"tipo_documento": "dni", "numero_documento": "87654321"})

    assert response.status_code == 404
    assert response.json()["detail"] == "No encontramos un cliente con ese documento."


def test_the_credits_query_goes_on_the_timeline(bot, debtor):
    bot.get("/credits", doc(debtor))

    (entry,) = bot_entries(debtor)
    assert entry.summary == "Consulta del bot: créditos activos (1)"


# --- Agreements -----------------------------------------------------------------------------


def test_the_days_late_come_from_the_schedule_not_the_nightly_figure(bot, debtor, late_loan, rule):
    """Before the night's run (or with it a day behind) the loan said 0 days: no agreements."""
    Loan.objects.filter(pk=late_loan.pk).update(days_past_due=0)

    (debt,) = bot.get("/agreements", doc(debtor)).json()["deudas"]

    assert debt["dias_atraso"] == 134
    assert [o["cuotas"] for o in debt["opciones"]] == [1, 2, 3]


def test_the_agreements_offer_what_the_rules_allow(bot, debtor, late_loan, rule):
    response = bot.get("/agreements", doc(debtor))

    assert response.status_code == 200
    (debt,) = response.json()["deudas"]
    assert debt["codigo_pago"] == late_loan.payment_code
    assert debt["dias_atraso"] == 134
    assert [o["cuotas"] for o in debt["opciones"]] == [1, 2, 3]
    single, _two, three = debt["opciones"]
    assert single["clave"] == f"{rule.pk}-1"
    assert single["pie"] == single["total"]
    assert Decimal(three["pie"]) + 2 * Decimal(three["monto_cuota"]) == Decimal(three["total"])
    assert [p["numero"] for p in three["plan"]] == [0, 1, 2]
    assert Decimal(three["descuento"]) > 0
    assert Decimal(three["total"]) == Decimal(debt["vencido"]) - Decimal(three["descuento"])


def test_without_rules_there_are_no_agreements_to_offer(bot, debtor, late_loan):
    (debt,) = bot.get("/agreements", doc(debtor)).json()["deudas"]

    assert debt["opciones"] == []


def test_taking_an_agreement_stores_it_and_answers_the_down_payment_link(
    bot, debtor, late_loan, rule
):
    response = bot.post(
        "/agreements",
        {
            **doc(debtor),
            "codigo_pago": late_loan.payment_code,
            "clave": f"{rule.pk}-3",
            "proveedor": "clear",
            "email": "deudor@example.com",
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    agreement = PaymentAgreement.objects.get()
    assert body["convenio"]["id"] == agreement.pk
    assert agreement.origin == Origin.BOT
    assert agreement.installments == 3
    assert agreement.status == PaymentAgreement.Status.PENDING
    link = PaymentLink.objects.get()
    assert link.agreement == agreement
    assert link.concept == PaymentLink.Concept.AGREEMENT
    assert body["link"]["url"] == link.url
    assert body["link"]["monto"] == str(agreement.down_payment)
    (checkout,) = fakes.fake_gateway("clear").checkouts
    assert checkout.amount == agreement.down_payment
    assert checkout.payer_email == "deudor@example.com"


def test_an_agreement_the_rules_do_not_offer_is_refused_in_spanish(bot, debtor, late_loan, rule):
    response = bot.post(
        "/agreements",
        {
            **doc(debtor),
            "codigo_pago": late_loan.payment_code,
            "clave": f"{rule.pk}-9",
            "proveedor": "clear",
            "email": "deudor@example.com",
        },
    )

    assert response.status_code == 422
    assert error_on(response, "clave") == "Ese convenio no está disponible para esta deuda."
    assert not PaymentAgreement.objects.exists()


# --- Payment links --------------------------------------------------------------------------


def link_body(debtor, loan, **fields) -> dict:
    return {
        **doc(debtor),
        "codigo_pago": loan.payment_code,
        "concepto": "total",
        "proveedor": "mercadopago",
        "email": "deudor@example.com",
        **fields,
    }


def test_a_link_for_the_total_charges_what_settles_the_debt(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan))

    assert response.status_code == 201, response.json()
    body = response.json()
    link = PaymentLink.objects.get()
    assert body["referencia"] == link.reference
    assert body["url"] == link.url
    assert body["monto"] == str(TO_SETTLE)
    assert body["concepto"] == "total"
    # Its expiry in the lender's zone, with the offset: in UTC a bot showing only the day
    # named the next one for any time after 19:00 in Lima.
    assert datetime.fromisoformat(body["vence"]) == link.expires_at
    assert body["vence"].endswith("-05:00")
    assert link.origin == Origin.BOT
    assert link.status == PaymentLink.Status.ACTIVE
    (checkout,) = fakes.fake_gateway("mercadopago").checkouts
    assert checkout.amount == TO_SETTLE
    assert checkout.reference == link.reference


def test_a_link_for_an_installment_charges_what_it_still_owes(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan, concepto="cuota", cuota=2))

    assert response.status_code == 201
    assert response.json()["monto"] == str(INSTALLMENT)
    assert PaymentLink.objects.get().installment_number == 2


def test_a_link_for_an_amount_charges_that_amount(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan, concepto="monto", monto="500.50"))

    assert response.status_code == 201
    assert response.json()["monto"] == "500.50"
    assert PaymentLink.objects.get().concept == PaymentLink.Concept.CUSTOM


def test_the_same_link_asked_again_is_the_one_already_open(bot, debtor, loan):
    """A bot's retry made a second live link for the same debt: both could be paid."""
    first = bot.post("/payment-links", link_body(debtor, loan))
    again = bot.post("/payment-links", link_body(debtor, loan))
    other_gateway = bot.post(
        "/payment-links", link_body(debtor, loan, proveedor="clear", confirmar_otra_pasarela=True)
    )
    other_amount = bot.post("/payment-links", link_body(debtor, loan, concepto="cuota", cuota=2))

    assert again.json()["referencia"] == first.json()["referencia"]
    assert other_gateway.json()["referencia"] != first.json()["referencia"]
    assert other_amount.json()["referencia"] != first.json()["referencia"]
    assert PaymentLink.objects.count() == 3
    assert len(fakes.fake_gateway("mercadopago").checkouts) == 2


def test_a_link_about_to_expire_is_not_offered_again(bot, debtor, loan):
    first = bot.post("/payment-links", link_body(debtor, loan))
    PaymentLink.objects.update(expires_at=timezone.now() + timedelta(minutes=20))

    again = bot.post("/payment-links", link_body(debtor, loan))

    assert again.json()["referencia"] != first.json()["referencia"]


def test_a_link_goes_on_the_timeline_as_a_bot_interaction(bot, debtor, loan):
    bot.post("/payment-links", link_body(debtor, loan))

    (entry,) = bot_entries(debtor)
    assert entry.summary.startswith("Link de pago creado")
    assert entry.direction == Interaction.Direction.INBOUND


def test_an_amount_above_the_debt_is_refused_by_the_service_in_spanish(bot, debtor, loan):
    response = bot.post(
        "/payment-links", link_body(debtor, loan, concepto="monto", monto="20000.00")
    )

    assert response.status_code == 422
    assert error_on(response, "monto").startswith("El monto debe estar entre")
    assert not PaymentLink.objects.exists()


def test_a_huge_amount_is_refused_before_anything_in_spanish(bot, debtor, loan):
    response = bot.post(
        "/payment-links", link_body(debtor, loan, concepto="monto", monto="1" + "0" * 40)
    )

    assert response.status_code == 422
    assert error_on(response, "monto") == "Debe ser menor o igual que 99999999.99."


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("10.001", "Use como máximo 2 decimales."),
        ("-5", "Debe ser mayor que 0."),
        ("NaN", "Escriba el número solo con dígitos y, si tiene decimales, un punto: 1500.50."),
        ("diez", "Escriba el número solo con dígitos y, si tiene decimales, un punto: 1500.50."),
        ("1e3", "Escriba el número solo con dígitos y, si tiene decimales, un punto: 1500.50."),
    ],
)
def test_a_malformed_amount_is_refused_in_spanish(bot, debtor, loan, amount, message):
    response = bot.post("/payment-links", link_body(debtor, loan, concepto="monto", monto=amount))

    assert response.status_code == 422
    assert error_on(response, "monto") == message


def test_an_amount_with_another_concept_is_refused(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan, monto="100.00"))

    assert response.status_code == 422
    assert error_on(response, "monto") == "Indique el monto solo con concepto «monto»."


def test_an_installment_link_needs_the_installment_number(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan, concepto="cuota"))

    assert response.status_code == 422
    assert error_on(response, "cuota") == "Indique el número de cuota."


def test_a_paid_or_unknown_installment_is_refused_in_spanish(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan, concepto="cuota", cuota=99))

    assert response.status_code == 422
    assert error_on(response, "cuota") == "Esa cuota no existe o ya está pagada."


def test_a_payment_code_the_customer_does_not_owe_is_a_404(bot, debtor, make_active_loan):
    someone_elses = make_active_loan()

    response = bot.post("/payment-links", link_body(debtor, someone_elses))

    assert response.status_code == 404
    assert someone_elses.payment_code in response.json()["detail"]
    assert not PaymentLink.objects.exists()


def test_an_unknown_provider_is_refused_in_spanish(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan, proveedor="paypal"))

    assert response.status_code == 422
    assert error_on(response, "proveedor") == (
        "Elija una de estas opciones: 'mercadopago' o 'clear'."
    )


def test_a_bad_email_is_refused_in_spanish(bot, debtor, loan):
    response = bot.post("/payment-links", link_body(debtor, loan, email="no-es-un-correo"))

    assert response.status_code == 422
    assert error_on(response, "email") == "Indique un correo electrónico válido."


def test_a_gateway_that_refuses_the_link_is_a_502(bot, debtor, loan, monkeypatch):
    def refuse(request):
        raise ProviderError("cuenta suspendida")

    monkeypatch.setattr(fakes.fake_gateway("mercadopago"), "create_checkout", refuse)

    response = bot.post("/payment-links", link_body(debtor, loan))

    assert response.status_code == 502
    assert "cuenta suspendida" in response.json()["detail"]
    assert PaymentLink.objects.get().status == PaymentLink.Status.FAILED


def test_a_gateway_that_is_down_is_a_503(bot, debtor, loan, monkeypatch):
    def down(request):
        raise TemporaryProviderError("HTTP 503")

    monkeypatch.setattr(fakes.fake_gateway("mercadopago"), "create_checkout", down)

    assert bot.post("/payment-links", link_body(debtor, loan)).status_code == 503


# --- Payments to verify ---------------------------------------------------------------------


def report_form(debtor, loan, **fields) -> dict:
    return {
        **doc(debtor),
        "codigo_pago": loan.payment_code,
        "monto": "945.60",
        "fecha": (TODAY - timedelta(days=1)).isoformat(),
        "medio": "transferencia",
        "referencia": "OP-778899",
        "email": "deudor@example.com",
        "comprobante": receipt(),
        **fields,
    }


def test_a_reported_payment_is_stored_for_an_agent_and_the_team_is_emailed(
    bot, debtor, loan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = bot.post_form("/payment-reports", report_form(debtor, loan))

    assert response.status_code == 201, response.json()
    report = ReportedPayment.objects.get()
    assert response.json()["id"] == report.pk
    assert report.amount == Decimal("945.60")
    assert report.method == ReportedPayment.Method.TRANSFER
    assert report.reference == "OP-778899"
    assert report.origin == Origin.BOT
    assert report.receipt.read().startswith(b"\x89PNG")
    (mail,) = OutboxMessage.objects.filter(payload__to="cobranzas@cartera.test")
    assert "OP-778899" in mail.payload["body"]


def test_a_reported_payment_goes_on_the_timeline_as_a_bot_interaction(bot, debtor, loan):
    bot.post_form("/payment-reports", report_form(debtor, loan, medio="deposito"))

    (entry,) = bot_entries(debtor)
    assert entry.summary.startswith("Pago informado para verificar")


def test_a_receipt_that_is_not_a_pdf_jpg_or_png_is_refused_in_spanish(bot, debtor, loan):
    response = bot.post_form(
        "/payment-reports",
        report_form(debtor, loan, comprobante=receipt("virus.exe", b"MZ\x90\x00", "x/y")),
    )

    assert response.status_code == 422
    assert error_on(response, "comprobante") == "El comprobante debe ser un PDF, JPG o PNG."
    assert not ReportedPayment.objects.exists()


def test_a_receipt_whose_content_is_not_its_type_is_refused(bot, debtor, loan):
    response = bot.post_form(
        "/payment-reports",
        report_form(debtor, loan, comprobante=receipt("recibo.pdf", PNG, "application/pdf")),
    )

    assert response.status_code == 422
    assert (
        error_on(response, "comprobante")
        == "El archivo no es un PDF válido, o está incompleto: vuelva a guardarlo."
    )


def test_a_pdf_receipt_is_accepted(bot, debtor, loan):
    response = bot.post_form(
        "/payment-reports",
        report_form(debtor, loan, comprobante=receipt("recibo.pdf", PDF, "application/pdf")),
    )

    assert response.status_code == 201


def test_a_payment_dated_tomorrow_is_refused_in_spanish(bot, debtor, loan):
    response = bot.post_form(
        "/payment-reports",
        report_form(debtor, loan, fecha=(TODAY + timedelta(days=1)).isoformat()),
    )

    assert response.status_code == 422
    assert error_on(response, "fecha") == "La fecha de pago no puede ser futura."


def test_a_report_without_its_receipt_is_refused(bot, debtor, loan):
    form = report_form(debtor, loan)
    del form["comprobante"]

    response = bot.post_form("/payment-reports", form)

    assert response.status_code == 422
    assert not ReportedPayment.objects.exists()


# --- Call-back requests ---------------------------------------------------------------------


def test_a_callback_request_waits_for_an_agent(bot, debtor):
    tomorrow_at_ten = timezone.make_aware(datetime.combine(TODAY + timedelta(days=1), time(10)))

    response = bot.post(
        "/callbacks",
        {**doc(debtor), "telefono": "+51 987 654 321", "horario_preferido": "2026-06-16T10:00"},
    )

    assert response.status_code == 201, response.json()
    callback = CallbackRequest.objects.get()
    assert response.json()["id"] == callback.pk
    assert response.json()["mensaje"] == "Registramos su pedido de llamada."
    assert callback.customer == debtor
    assert callback.phone == "+51987654321"
    assert callback.preferred_at == tomorrow_at_ten
    assert callback.origin == Origin.BOT
    assert callback.status == CallbackRequest.Status.OPEN
    (entry,) = bot_entries(debtor)
    assert entry.summary.startswith("Pidió que lo llamen")


def test_a_callback_request_may_name_the_time_in_words(bot, debtor):
    response = bot.post(
        "/callbacks", {**doc(debtor), "telefono": "987654321", "franja_preferida": "mañanas"}
    )

    assert response.status_code == 201
    assert CallbackRequest.objects.get().preferred_time == "mañanas"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"telefono": "llámame"}, "telefono", "Tiene caracteres que no se admiten."),
        ({"telefono": "1234"}, "telefono", "Debe tener al menos 7 caracteres."),
        (
            {"telefono": "+1 (234) 567-89012345"},
            "telefono",
            "Debe tener como máximo 20 caracteres.",
        ),
        (
            {"telefono": "987654321", "horario_preferido": "2026-01-01T10:00"},
            "horario_preferido",
            "El horario preferido no puede ser pasado.",
        ),
        (
            {"telefono": "987654321", "horario_preferido": "mañana"},
            "horario_preferido",
            "Indique una fecha y hora válidas (AAAA-MM-DDTHH:MM).",
        ),
    ],
)
def test_a_bad_callback_request_is_refused_in_spanish(bot, debtor, fields, field, message):
    response = bot.post("/callbacks", {**doc(debtor), **fields})

    assert response.status_code == 422
    assert error_on(response, field) == message
    assert not CallbackRequest.objects.exists()


# --- Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document_type", "number", "message"),
    [
        ("dni", "1234567", "El DNI debe tener exactamente 8 dígitos."),
        ("dni", "1234567A", "El DNI debe tener exactamente 8 dígitos."),
        ("ruc", "20123456789", "El dígito verificador del RUC no es válido."),
        (
            "ce",
            "12345678",
            "El carné de extranjería debe tener de 9 a 12 caracteres alfanuméricos.",
        ),
        ("dni", "12345678' OR 1=1", "Tiene caracteres que no se admiten."),
        ("dni", "1" * 40, "Debe tener como máximo 20 caracteres."),
    ],
)
def test_a_bad_document_is_refused_in_spanish(bot, db, document_type, number, message):
    response = bot.get("/lookup", {"tipo_documento": document_type, "numero_documento": number})

    assert response.status_code == 422
    assert error_on(response, "numero_documento") == message


def test_an_unknown_document_type_is_refused_in_spanish(bot, db):
    response = bot.get("/lookup", {"tipo_documento": "cuit", "numero_documento": "12345678"})

    assert response.status_code == 422
    assert error_on(response, "tipo_documento").startswith("Elija una de estas opciones")


def test_a_missing_field_is_refused_in_spanish(bot, debtor):
    response = bot.post("/callbacks", doc(debtor))

    assert response.status_code == 422
    assert error_on(response, "telefono") == "Este campo es obligatorio."


def test_a_field_the_api_does_not_know_is_refused(bot, debtor):
    response = bot.post("/callbacks", {**doc(debtor), "telefono": "987654321", "customer_id": 1})

    assert response.status_code == 422
    assert error_on(response, "customer_id") == "Este campo no se admite."


def test_deep_json_in_a_field_is_refused_in_spanish(bot, debtor):
    deep = "[" * 500 + "]" * 500
    raw = json.dumps({**doc(debtor), "franja_preferida": "x", "telefono": "987654321"})
    raw = raw[:-1] + f', "extra": {deep}}}'

    response = bot.post_raw("/callbacks", raw)

    assert response.status_code == 422
    assert error_on(response, "extra") == "Este campo no se admite."


def test_json_too_deep_to_parse_is_a_400_not_a_server_error(bot, debtor):
    response = bot.post_raw("/callbacks", "[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert not CallbackRequest.objects.exists()


def test_a_body_that_is_not_json_is_a_400(bot, debtor):
    assert bot.post_raw("/callbacks", "telefono=987654321").status_code == 400


# --- The schema -----------------------------------------------------------------------------

BOT_OPERATIONS = {
    ("get", "/lookup"),
    ("get", "/credits"),
    ("get", "/agreements"),
    ("post", "/agreements"),
    ("post", "/payment-links"),
    ("post", "/payment-reports"),
    ("post", "/callbacks"),
}


def test_the_openapi_document_shows_every_bot_endpoint_behind_a_bearer_token(openapi):
    found = {
        (method, path.removeprefix(BASE))
        for path, operations in openapi["paths"].items()
        if path.startswith(BASE)
        for method, operation in operations.items()
    }

    assert found == BOT_OPERATIONS
    assert openapi["components"]["securitySchemes"]["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    for method, path in BOT_OPERATIONS:
        operation = openapi["paths"][BASE + path][method]
        assert operation["security"] == [{"TokenAuth": []}]
        assert operation["tags"] == ["cobranzas"]
        assert operation["summary"]


def test_the_served_openapi_document_and_docs_page_include_the_bot(client, db):
    document = client.get("/api/v1/openapi.json")
    page = client.get("/api/v1/docs")

    assert document.status_code == 200
    assert BASE + "/lookup" in document.json()["paths"]
    assert page.status_code == 200


def test_the_schema_knows_every_answer_the_tests_check(openapi):
    # The checker itself: an undocumented status or a body off its schema fails the test.
    bot = Bot(None, openapi)

    class Fake:
        status_code = 418
        content = b"{}"

        def __getitem__(self, name):
            return "application/json"

    with pytest.raises(AssertionError):
        bot.check("get", BASE + "/lookup", Fake())


def test_dates_are_iso_and_amounts_are_strings_with_two_places(bot, debtor):
    body = bot.get("/credits", doc(debtor)).json()

    (credit,) = body["creditos"]
    assert date.fromisoformat(credit["proxima_cuota"]["vence"])
    assert all(len(c["monto"].split(".")[1]) == 2 for c in credit["cuotas_vencidas"])


def test_a_bot_writes_with_its_token_alone_no_session_nor_csrf_cookie(bot, debtor):
    bot.client = Client(enforce_csrf_checks=True)

    response = bot.post("/callbacks", {**doc(debtor), "telefono": "987654321"})

    assert response.status_code == 201


def test_a_report_above_the_debt_needs_pago_mayor_a_la_deuda(bot, debtor, loan):
    refused = bot.post_form("/payment-reports", report_form(debtor, loan, monto="1000000"))
    said = bot.post_form(
        "/payment-reports",
        report_form(debtor, loan, monto="11000.00", pago_mayor_a_la_deuda="true"),
    )

    assert refused.status_code == 422
    assert error_on(refused, "monto").endswith("envíe pago_mayor_a_la_deuda=true.")
    assert said.status_code == 201
    assert ReportedPayment.objects.get().amount == Decimal("11000.00")


def test_a_report_sent_as_json_is_told_to_come_as_a_form_with_its_file(bot, debtor, loan):
    fields = report_form(debtor, loan)
    del fields["comprobante"]

    response = bot.post("/payment-reports", fields)

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "type": "multipart_expected",
            "loc": ["body"],
            "msg": "Este pedido se envía como multipart/form-data (los campos y el archivo), "
            "no como application/json.",
        }
    ]
    assert not ReportedPayment.objects.exists()


def test_a_credits_total_already_takes_off_its_credit_balance_and_says_how_much(bot, debtor, loan):
    pay(loan, "7000.00", TODAY, overpayment=Payment.Overpayment.CREDIT)

    (credit,) = bot.get("/credits", doc(debtor)).json()["creditos"]

    # What settles it (5,402.60: the 7th installment and the later principal) less the credit.
    assert (credit["total"], credit["saldo_a_favor"]) == ("4076.20", "1326.40")
