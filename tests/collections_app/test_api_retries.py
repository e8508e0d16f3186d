"""The bot's POSTs sent again (a retry whose answer was lost, WhatsApp delivering the
debtor's message twice, two workers at once) answer what the first answer said: nothing is
reported, called or agreed twice."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from collections_app import services as collection_services
from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    ReportedPayment,
)
from credits.services import delinquency
from integrations import api_clients
from tests import receipts
from tests.collections_app.conftest import (  # noqa: F401 (fixtures)
    _fresh_gateways,
    _frozen,
    debtor,
    loan,
)
from tests.credits.conftest import TODAY, frozen_today, make_active_loan  # noqa: F401
from tests.races import at_once

BOT = "/api/v1/cobranzas"


@pytest.fixture
def client_token(db) -> str:
    _client, token = api_clients.create_client(
        name="Bot", scopes="collections", rate_limit_per_minute=10_000
    )
    return token


@pytest.fixture
def api(client_token) -> Client:
    return Client(
        raise_request_exception=False, headers={"Authorization": f"Bearer {client_token}"}
    )


def doc(customer) -> dict:
    return {"tipo_documento": customer.document_type, "numero_documento": customer.document_number}


def post_json(api: Client, path: str, body: dict, **headers):
    return api.post(path, json.dumps(body), content_type="application/json", headers=headers)


def png(text: bytes = b"") -> bytes:
    """A receipt; another `text` makes another file (another photo of another payment)."""
    if not text:
        return receipts.PNG
    iend = receipts._chunk(b"IEND", b"")
    return receipts.PNG[: -len(iend)] + receipts._chunk(b"tEXt", b"Comment\x00" + text) + iend


def report_form(debtor, loan, receipt: bytes = receipts.PNG, **fields) -> dict:  # noqa: F811
    return {
        **doc(debtor),
        "codigo_pago": loan.payment_code,
        "monto": "945.60",
        "fecha": (TODAY - timedelta(days=1)).isoformat(),
        "medio": "transferencia",
        "comprobante": SimpleUploadedFile("c.png", receipt, content_type="image/png"),
        **fields,
    }


def eleven_minutes_pass() -> None:
    ReportedPayment.objects.update(created_at=timezone.now() - timedelta(minutes=11))


# --- Payment reports --------------------------------------------------------------------------


def test_a_report_retried_later_with_the_same_key_answers_the_first_answer(api, debtor, loan):  # noqa: F811
    headers = {"Idempotency-Key": "bot-msg-4711"}
    first = api.post(f"{BOT}/payment-reports", report_form(debtor, loan), headers=headers)
    assert first.status_code == 201, first.json()
    eleven_minutes_pass()  # past the 10 minutes in which an unnumbered report is a resend

    again = api.post(f"{BOT}/payment-reports", report_form(debtor, loan), headers=headers)

    assert (again.status_code, again.json()) == (201, first.json())
    report = ReportedPayment.objects.get()
    assert report.idempotency_key == "bot-msg-4711"
    assert report.api_client.name == "Bot"


def test_a_report_retried_with_the_same_key_after_it_was_verified_is_still_the_first(
    api,
    debtor,  # noqa: F811
    loan,  # noqa: F811
):
    """Once verified the debt may be settled; the retry still gets the first answer, not a
    404 or a refusal."""
    headers = {"Idempotency-Key": "bot-msg-4713"}
    first = api.post(f"{BOT}/payment-reports", report_form(debtor, loan), headers=headers)
    collection_services.approve_reported_payment(report=ReportedPayment.objects.get(), actor=None)

    again = api.post(f"{BOT}/payment-reports", report_form(debtor, loan), headers=headers)

    assert (again.status_code, again.json()) == (201, first.json())
    assert ReportedPayment.objects.count() == 1


def test_the_same_key_with_another_report_is_a_conflict_naming_the_first(api, debtor, loan):  # noqa: F811
    headers = {"Idempotency-Key": "bot-msg-4711"}
    first = api.post(f"{BOT}/payment-reports", report_form(debtor, loan), headers=headers)

    other = api.post(
        f"{BOT}/payment-reports",
        report_form(debtor, loan, receipt=png(b"otro"), monto="100.00"),
        headers=headers,
    )

    assert other.status_code == 409, other.json()
    assert f"n.º {first.json()['id']}" in other.json()["detail"]
    assert "bot-msg-4711" in other.json()["detail"]
    assert ReportedPayment.objects.count() == 1


def test_another_client_may_use_the_same_key(api, debtor, loan):  # noqa: F811
    _client, token = api_clients.create_client(name="Otro bot", scopes="collections")
    other = Client(headers={"Authorization": f"Bearer {token}"})
    headers = {"Idempotency-Key": "1"}
    first = api.post(f"{BOT}/payment-reports", report_form(debtor, loan), headers=headers)

    second = other.post(
        f"{BOT}/payment-reports",
        report_form(debtor, loan, receipt=png(b"otro"), monto="100.00"),
        headers=headers,
    )

    assert second.status_code == 201, second.json()
    assert second.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 101, "clave-ñ", "tab\there"])
def test_a_key_that_is_not_1_to_100_printable_ascii_characters_is_refused(
    api,
    debtor,  # noqa: F811
    loan,  # noqa: F811
    key,
):
    answer = api.post(
        f"{BOT}/payment-reports", report_form(debtor, loan), headers={"Idempotency-Key": key}
    )

    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "1 a 100 caracteres ASCII imprimibles" in error["msg"]
    assert not ReportedPayment.objects.exists()


def test_the_longest_key_is_taken(api, debtor, loan):  # noqa: F811
    key = "~ !" + "x" * 97
    answer = api.post(
        f"{BOT}/payment-reports", report_form(debtor, loan), headers={"Idempotency-Key": key}
    )

    assert answer.status_code == 201, answer.json()
    assert ReportedPayment.objects.get().idempotency_key == key


def test_the_same_receipt_sent_again_later_is_the_same_report(api, debtor, loan):  # noqa: F811
    first = api.post(f"{BOT}/payment-reports", report_form(debtor, loan))
    eleven_minutes_pass()

    again = api.post(f"{BOT}/payment-reports", report_form(debtor, loan))

    assert (again.status_code, again.json()) == (201, first.json())
    assert ReportedPayment.objects.count() == 1
    assert len(ReportedPayment.objects.get().receipt_sha256) == 64


def test_the_same_receipt_of_a_verified_report_is_refused_as_verified(api, debtor, loan):  # noqa: F811
    api.post(f"{BOT}/payment-reports", report_form(debtor, loan))
    collection_services.approve_reported_payment(report=ReportedPayment.objects.get(), actor=None)
    eleven_minutes_pass()

    again = api.post(f"{BOT}/payment-reports", report_form(debtor, loan, monto="900.00"))

    assert again.status_code == 422
    assert "ya se informó y se verificó" in again.json()["detail"][0]["msg"]
    assert ReportedPayment.objects.count() == 1


def test_the_same_receipt_of_a_rejected_report_may_be_sent_again(api, debtor, loan):  # noqa: F811
    first = api.post(f"{BOT}/payment-reports", report_form(debtor, loan))
    ReportedPayment.objects.update(status=ReportedPayment.Status.REJECTED)

    again = api.post(f"{BOT}/payment-reports", report_form(debtor, loan))

    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]


def test_another_receipt_later_is_another_report(api, debtor, loan):  # noqa: F811
    first = api.post(f"{BOT}/payment-reports", report_form(debtor, loan))
    eleven_minutes_pass()

    again = api.post(f"{BOT}/payment-reports", report_form(debtor, loan, receipt=png(b"2")))

    assert again.json()["id"] != first.json()["id"]
    assert ReportedPayment.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_report_sent_twice_at_once_with_one_key_is_recorded_once(
    roles,
    client_token,
    debtor,  # noqa: F811
    loan,  # noqa: F811
):
    """Two workers send one key with two different receipts (the twin rules do not join
    them): the constraint on client and key keeps one."""

    def send(text: bytes):
        def post():
            answer = Client(
                raise_request_exception=False,
                headers={"Authorization": f"Bearer {client_token}"},
            ).post(
                f"{BOT}/payment-reports",
                report_form(debtor, loan, receipt=png(text)),
                headers={"Idempotency-Key": "bot-msg-1"},
            )
            return answer.status_code

        return post

    done, errors = at_once(send(b"a"), send(b"b"))

    assert errors == []
    assert sorted(done) == [201, 409]
    assert ReportedPayment.objects.count() == 1


# --- Call-backs -------------------------------------------------------------------------------


def test_a_callback_retried_with_the_same_key_after_it_was_closed_is_not_a_second_call(
    api,
    debtor,  # noqa: F811
):
    body = {**doc(debtor), "telefono": "987654321"}
    headers = {"Idempotency-Key": "bot-msg-4712"}
    first = post_json(api, f"{BOT}/callbacks", body, **headers)
    collection_services.close_callback(
        callback=CallbackRequest.objects.get(), actor=None, status="done", outcome="Llamado."
    )

    again = post_json(api, f"{BOT}/callbacks", body, **headers)

    assert (again.status_code, again.json()) == (201, first.json())
    assert CallbackRequest.objects.count() == 1


def test_a_callback_asked_again_without_a_key_after_it_was_closed_is_a_new_call(
    api,
    debtor,  # noqa: F811
):
    body = {**doc(debtor), "telefono": "987654321"}
    post_json(api, f"{BOT}/callbacks", body)
    collection_services.close_callback(
        callback=CallbackRequest.objects.get(), actor=None, status="done", outcome="Llamado."
    )

    post_json(api, f"{BOT}/callbacks", body)

    assert CallbackRequest.objects.count() == 2


def test_the_same_key_with_another_callback_is_a_conflict(api, debtor):  # noqa: F811
    headers = {"Idempotency-Key": "k-1"}
    first = post_json(api, f"{BOT}/callbacks", {**doc(debtor), "telefono": "987654321"}, **headers)

    other = post_json(api, f"{BOT}/callbacks", {**doc(debtor), "telefono": "912345678"}, **headers)

    assert other.status_code == 409
    assert f"n.º {first.json()['id']}" in other.json()["detail"]
    assert CallbackRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_callback_sent_twice_at_once_with_one_key_is_recorded_once(
    roles,
    client_token,
    debtor,  # noqa: F811
):
    def send(phone: str):
        def post():
            return post_json(
                Client(
                    raise_request_exception=False,
                    headers={"Authorization": f"Bearer {client_token}"},
                ),
                f"{BOT}/callbacks",
                {**doc(debtor), "telefono": phone},
                **{"Idempotency-Key": "bot-msg-2"},
            ).status_code

        return post

    done, errors = at_once(send("987654321"), send("912345678"))

    assert errors == []
    assert sorted(done) == [201, 409]
    assert CallbackRequest.objects.count() == 1


# --- Agreements -------------------------------------------------------------------------------


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
def late_loan(loan):  # noqa: F811
    loan.late_annual_rate = Decimal("36")
    loan.days_past_due = 134
    loan.save()
    delinquency.accrue_late_interest(loan=loan, today=TODAY)
    return loan


def agreement_body(debtor, loan, rule, installments: int = 3) -> dict:  # noqa: F811
    return {
        **doc(debtor),
        "codigo_pago": loan.payment_code,
        "clave": f"{rule.pk}-{installments}",
        "proveedor": "clear",
        "email": "deudor@example.com",
    }


def test_an_agreement_sent_again_answers_it_and_its_down_payment_link(
    api,
    debtor,  # noqa: F811
    late_loan,
    rule,
):
    first = post_json(api, f"{BOT}/agreements", agreement_body(debtor, late_loan, rule))
    assert first.status_code == 201, first.json()
    # Later than the portal's minute: the bot's retry queue may take longer.
    PaymentAgreement.objects.update(created_at=timezone.now() - timedelta(minutes=30))

    again = post_json(api, f"{BOT}/agreements", agreement_body(debtor, late_loan, rule))

    assert (again.status_code, again.json()) == (200, first.json())
    assert PaymentAgreement.objects.count() == 1


def test_another_option_while_an_agreement_is_in_course_is_a_conflict_naming_it(
    api,
    debtor,  # noqa: F811
    late_loan,
    rule,
):
    first = post_json(api, f"{BOT}/agreements", agreement_body(debtor, late_loan, rule))

    other = post_json(api, f"{BOT}/agreements", agreement_body(debtor, late_loan, rule, 2))

    assert other.status_code == 409, other.json()
    assert f"n.º {first.json()['convenio']['id']}" in other.json()["detail"]
    assert PaymentAgreement.objects.count() == 1


def test_the_same_option_of_an_agreement_taken_elsewhere_is_a_conflict(
    api,
    debtor,  # noqa: F811
    late_loan,
    rule,
):
    """Taken by an agent or at the portal, it is not the bot's request sent again."""
    collection_services.create_agreement(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=late_loan.pk,
        option_key=f"{rule.pk}-3",
        provider="clear",
        origin=Origin.PORTAL,
        actor=None,
        payer_email="deudor@example.com",
    )

    again = post_json(api, f"{BOT}/agreements", agreement_body(debtor, late_loan, rule))

    assert again.status_code == 409, again.json()
    assert "ya tiene un convenio en curso" in again.json()["detail"]


def test_the_agreements_offered_leave_out_a_debt_whose_agreement_is_in_course(
    api,
    debtor,  # noqa: F811
    late_loan,
    rule,
):
    before = api.get(f"{BOT}/agreements", doc(debtor)).json()
    assert [d["codigo_pago"] for d in before["deudas"]] == [late_loan.payment_code]
    post_json(api, f"{BOT}/agreements", agreement_body(debtor, late_loan, rule))

    offered = api.get(f"{BOT}/agreements", doc(debtor)).json()

    assert offered["deudas"] == []


# --- A link still being made ------------------------------------------------------------------


def test_a_link_still_being_made_says_when_to_try_again(
    api,
    debtor,  # noqa: F811
    loan,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(collection_services, "LINK_WAIT", timedelta(0))
    body = {
        **doc(debtor),
        "codigo_pago": loan.payment_code,
        "concepto": "total",
        "proveedor": "mercadopago",
        "email": "deudor@example.com",
    }
    assert post_json(api, f"{BOT}/payment-links", body).status_code == 201
    # The first request is still waiting for the gateway (its worker is in the call).
    PaymentLink.objects.update(status=PaymentLink.Status.CREATING, created_at=timezone.now())

    again = post_json(api, f"{BOT}/payment-links", body)

    assert again.status_code == 503, again.json()
    assert again["Retry-After"] == "5"
    assert "se está creando" in again.json()["detail"]
