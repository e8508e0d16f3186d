"""The API's answers to a retry and to a failure: a campaign sent again is the campaign it
made (200), another one while one is active a 409 naming it; a server error is JSON with the
request's reference (500), the database failing a 503 with Retry-After, both still reported
as Django reports an error; a 401 names the scheme to use."""

import json
import logging
from datetime import timedelta

import pytest
from django.core import signals
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from integrations import api_clients
from recovery.models import Campaign
from tests.api_partner import ApiPartner, api_schema
from tests.factories import CustomerFactory
from tests.recovery.conftest import make_campaign


@pytest.fixture(scope="module")
def openapi() -> dict:
    return api_schema()


@pytest.fixture
def partner(db, openapi) -> ApiPartner:
    _client, token = api_clients.create_client(name="Socio", scopes="recovery,collections")
    return ApiPartner(token, openapi)


def campaign_body(customer, **fields) -> dict:
    return {
        "tipo_documento": customer.document_type,
        "numero_documento": customer.document_number,
        "id_campana": "CAST-API",
        "monto_deuda": "5000.00",
        "tipo_descuento": "porcentaje",
        "valor_descuento": "30",
        "fecha_fin": (timezone.localdate() + timedelta(days=20)).isoformat(),
        "codigo_pago_asociado": "",
        **fields,
    }


# --- A campaign sent again -----------------------------------------------------------------


def test_a_campaign_sent_again_answers_the_one_it_made(partner):
    customer = CustomerFactory()
    first = partner.post("/recuperacion/campanas", campaign_body(customer))
    assert first.status_code == 201, first.json()

    again = partner.post("/recuperacion/campanas", campaign_body(customer, monto_deuda="5000"))

    assert again.status_code == 200, again.json()
    assert again.json() == first.json()
    assert Campaign.objects.count() == 1


def test_a_campaign_sent_again_after_it_was_finished_still_answers_it(partner):
    customer = CustomerFactory()
    first = partner.post("/recuperacion/campanas", campaign_body(customer))
    Campaign.objects.update(status=Campaign.Status.FINISHED)

    again = partner.post("/recuperacion/campanas", campaign_body(customer))

    assert again.status_code == 200, again.json()
    assert again.json()["id"] == first.json()["id"]


def test_another_campaign_while_one_is_active_is_a_409_naming_it(partner):
    customer = CustomerFactory()
    active = make_campaign(
        customer, code="CAST-OTRA", ends_on=timezone.localdate() + timedelta(days=20)
    )

    response = partner.post("/recuperacion/campanas", campaign_body(customer))

    assert response.status_code == 409, response.json()
    assert "CAST-OTRA" in response.json()["detail"]
    assert f"id {active.pk}" in response.json()["detail"]
    assert Campaign.objects.count() == 1


def test_the_same_code_with_other_terms_while_active_is_a_409_naming_it(partner):
    customer = CustomerFactory()
    first = partner.post("/recuperacion/campanas", campaign_body(customer))

    response = partner.post("/recuperacion/campanas", campaign_body(customer, valor_descuento="40"))

    assert response.status_code == 409, response.json()
    assert f"id {first.json()['id']}" in response.json()["detail"]


def test_the_same_code_with_other_terms_once_finished_is_still_a_422_on_the_code(partner):
    customer = CustomerFactory()
    partner.post("/recuperacion/campanas", campaign_body(customer))
    Campaign.objects.update(status=Campaign.Status.FINISHED)

    response = partner.post("/recuperacion/campanas", campaign_body(customer, valor_descuento="40"))

    assert response.status_code == 422, response.json()
    assert [e["loc"][-1] for e in response.json()["detail"]] == ["id_campana"]


# --- A server error ------------------------------------------------------------------------


@pytest.fixture
def reported(settings) -> list:
    """Debug off, as in production; collect who hears of an error (Sentry listens to the
    signal, ADMINS to django.request's error lines)."""
    settings.DEBUG = False
    heard: list = []

    def listener(sender, request, **kwargs):
        heard.append(("signal", request.path))

    signals.got_request_exception.connect(listener)
    yield heard
    signals.got_request_exception.disconnect(listener)


def failing_count(error: Exception):
    def count(self):
        raise error

    return count


def test_a_server_error_under_the_api_is_json_with_the_requests_reference(
    partner, monkeypatch, reported, caplog
):
    monkeypatch.setattr(QuerySet, "count", failing_count(ZeroDivisionError("boom")))

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = partner.client.get(
            "/api/v1/recuperacion/campanas",
            headers={"Authorization": f"Bearer {partner.token}", "X-Request-ID": "req-42"},
        )

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail.startswith("Error interno:")
    assert "referencia: req-42" in detail
    # Reported as before: the signal, and an error line with its traceback (mailed to ADMINS).
    assert reported == [("signal", "/api/v1/recuperacion/campanas")]
    (line,) = [r for r in caplog.records if r.name == "django.request"]
    assert line.exc_info[0] is ZeroDivisionError
    assert line.status_code == 500


def test_a_database_failure_under_the_api_is_a_503_to_retry(partner, monkeypatch, reported, caplog):
    monkeypatch.setattr(
        QuerySet, "count", failing_count(OperationalError("server closed the connection"))
    )

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = partner.client.get(
            "/api/v1/recuperacion/campanas", headers={"Authorization": f"Bearer {partner.token}"}
        )

    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response["Retry-After"] == "10"
    assert "Intente de nuevo en 10 segundos" in response.json()["detail"]
    assert response["X-Request-ID"] in response.json()["detail"]
    assert len(reported) == 1
    assert [r.exc_info[0] for r in caplog.records if r.name == "django.request"] == [
        OperationalError
    ]


def test_an_error_is_mailed_to_admins_with_its_traceback(
    partner, monkeypatch, reported, settings, mailoutbox
):
    settings.ADMINS = [("Soporte", "soporte@cartera.test")]
    monkeypatch.setattr(QuerySet, "count", failing_count(ZeroDivisionError("boom")))

    partner.client.get(
        "/api/v1/recuperacion/campanas", headers={"Authorization": f"Bearer {partner.token}"}
    )

    (mail,) = mailoutbox
    assert "Internal Server Error: /api/v1/recuperacion/campanas" in mail.subject
    assert "ZeroDivisionError" in mail.body


# --- A 401 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/recuperacion/campanas", "/api/v1/cobranzas/lookup", "/api/v1/cartera/clientes"],
)
def test_a_401_names_the_bearer_scheme(client, db, path):
    response = client.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert json.loads(response.content)["detail"].startswith("Falta el token")


def test_a_revoked_token_is_a_401_naming_the_scheme_too(client, db):
    response = client.get("/api/v1/recuperacion/campanas", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
