"""The JSON API's edges, whichever endpoint: paths and methods it lacks, parameters it cannot
read, texts PostgreSQL cannot store, bodies too big or unreadable; every answer JSON, in
Spanish, in one shape, and as the OpenAPI document says."""

import json

import pytest
from django.core.cache import cache
from django.test import Client

from collections_app.models import CallbackRequest
from integrations import api_clients
from tests.api_partner import ApiPartner, api_schema
from tests.factories import CustomerFactory


@pytest.fixture(scope="module")
def openapi() -> dict:
    return api_schema()


@pytest.fixture
def partner(db, openapi) -> ApiPartner:
    _client, token = api_clients.create_client(
        name="Socio", scopes="collections,recovery,book", rate_limit_per_minute=1000
    )
    return ApiPartner(token, openapi)


@pytest.fixture
def public(openapi) -> ApiPartner:
    return ApiPartner(None, openapi)


def messages(response) -> dict:
    return {error["loc"][-1]: error["msg"] for error in response.json()["detail"]}


# --- Paths and methods -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/cobranzas/lookup/", "/api/v1/docs/"])
def test_a_path_the_api_lacks_is_a_404_in_json_and_spanish(client, db, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "no existe en la API" in response.json()["detail"]


def test_a_post_to_a_path_the_api_lacks_is_its_404_not_the_csrf_page(db):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/api/v1/nope", "{}", content_type="application/json")

    assert response.status_code == 404
    assert "no existe en la API" in response.json()["detail"]


def test_a_method_the_path_lacks_is_a_405_in_json_and_spanish_with_its_allow_header(client, db):
    response = client.delete("/api/v1/cobranzas/lookup")

    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert response["Allow"] == "GET"
    assert response.json()["detail"] == "Método DELETE no admitido aquí; use GET."


def test_an_unknown_campaign_is_a_404_in_spanish(partner):
    response = partner.get(
        "/recuperacion/campanas/999999", route="/recuperacion/campanas/{campaign_id}"
    )

    assert response.status_code == 404
    assert response.json()["detail"] == "No existe una campaña con ese número."


# --- Validation errors: Spanish and one shape, whatever the schema --------------------------


def test_a_path_parameter_that_is_no_number_is_refused_in_spanish(partner):
    response = partner.get(
        "/recuperacion/campanas/abc", route="/recuperacion/campanas/{campaign_id}"
    )

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"type": "int_parsing", "loc": ["path", "campaign_id"], "msg": "Indique un número entero."}
    ]


def test_the_public_preview_refuses_in_spanish_in_the_shape_of_the_other_endpoints(public):
    response = public.get(
        "/schedule-preview",
        {"principal": "0", "term": "700", "method": "french", "frequency": "monthly"},
    )

    assert response.status_code == 422
    assert messages(response) == {
        "principal": "Debe ser mayor que 0.",
        "term": "Debe ser menor o igual que 600.",
    }
    assert all(set(error) == {"type", "loc", "msg"} for error in response.json()["detail"])


def test_the_public_preview_asks_in_spanish_for_what_is_missing(public):
    response = public.get("/schedule-preview", {"principal": "100", "term": "3"})

    assert response.status_code == 422
    assert messages(response) == dict.fromkeys(
        ["annual_rate", "method", "frequency"], "Este campo es obligatorio."
    )


def test_a_negative_zero_rate_previews_as_a_plain_zero(public):
    response = public.get(
        "/schedule-preview",
        {
            "principal": "300",
            "annual_rate": "-0",
            "term": "3",
            "method": "french",
            "frequency": "monthly",
        },
    )

    assert response.status_code == 200
    assert response.json()["annual_rate"] == "0"
    assert response.json()["periodic_rate"] == "0.0000000000"


def test_a_validators_own_message_reaches_the_client(partner):
    response = partner.post(
        "/cartera/importaciones/clientes",
        {"filas": [{"nombres": "x" * 300}]},
        route="/cartera/importaciones/{tipo}",
    )

    assert response.status_code == 422
    assert messages(response) == {
        "filas": "Un campo o un valor es demasiado largo (hasta 255 caracteres)."
    }


def test_list_lengths_are_refused_in_spanish_and_in_the_singular_for_one(partner):
    response = partner.post(
        "/cartera/importaciones/clientes", {"filas": []}, route="/cartera/importaciones/{tipo}"
    )

    assert messages(response) == {"filas": "Debe tener al menos 1 elemento."}


def test_a_text_of_at_least_one_character_is_said_in_the_singular(partner):
    customer = CustomerFactory()

    response = partner.post(
        "/cobranzas/payment-links",
        {
            "tipo_documento": customer.document_type,
            "numero_documento": customer.document_number,
            "codigo_pago": "",
            "concepto": "total",
            "proveedor": "mercadopago",
            "email": "ana@example.com",
        },
    )

    assert messages(response)["codigo_pago"] == "Debe tener al menos 1 carácter."


def test_a_number_too_long_to_read_is_refused_in_spanish(partner):
    response = partner.get("/cartera/clientes", {"pagina": "9" * 5000})

    assert response.status_code == 422
    assert messages(response) == {"pagina": "El número es demasiado grande."}


# --- What the database cannot store, and what Django will not read ---------------------------


def test_a_nul_character_is_refused_before_anything_is_written(partner):
    customer = CustomerFactory()

    response = partner.post(
        "/cobranzas/callbacks",
        {
            "tipo_documento": customer.document_type,
            "numero_documento": customer.document_number,
            "telefono": "987654321",
            "franja_preferida": "mañanas\x00",
        },
    )

    assert response.status_code == 422
    assert messages(response) == {"franja_preferida": "Tiene un carácter nulo, que no se admite."}
    assert not CallbackRequest.objects.exists()


@pytest.mark.parametrize(
    ("path", "params"),
    [("/cartera/clientes", {"q": "ana\x00"}), ("/recuperacion/campanas", {"id_campana": "\x00"})],
)
def test_a_nul_character_in_a_search_is_refused(partner, path, params):
    response = partner.get(path, params)

    assert response.status_code == 422
    assert "carácter nulo" in " ".join(messages(response).values())


def test_a_nul_character_deep_in_a_row_names_where_it_is(partner):
    response = partner.post(
        "/cartera/importaciones/clientes",
        {"filas": [{"nombres": "Ana"}, {"apellidos": "Díaz\x00"}]},
        route="/cartera/importaciones/{tipo}",
    )

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [
        ["body", "payload", "filas", 1, "apellidos"]
    ]


@pytest.mark.parametrize(
    ("character", "code"), [("\x01", "U+0001"), ("\x1b", "U+001B"), ("\x7f", "U+007F")]
)
def test_a_control_character_is_refused_naming_the_field_and_the_character(
    partner, character, code
):
    customer = CustomerFactory()

    response = partner.post(
        "/cobranzas/callbacks",
        {
            "tipo_documento": customer.document_type,
            "numero_documento": customer.document_number,
            "telefono": "987654321",
            "franja_preferida": f"mañanas{character}",
        },
    )

    assert response.status_code == 422
    assert messages(response) == {
        "franja_preferida": f"Tiene un carácter de control invisible ({code}), que no se "
        "admite: bórrelo."
    }
    assert not CallbackRequest.objects.exists()


def test_tabs_and_line_breaks_are_text_not_control_characters(partner):
    customer = CustomerFactory()

    response = partner.post(
        "/cobranzas/callbacks",
        {
            "tipo_documento": customer.document_type,
            "numero_documento": customer.document_number,
            "telefono": "987654321",
            "franja_preferida": "mañanas,\tde 9\r\na 12",
        },
    )

    assert response.status_code == 201


def test_more_parameters_than_django_reads_is_a_documented_400_not_a_server_error(partner):
    response = partner.get("/cartera/clientes", {f"p{n}": "1" for n in range(1001)})

    assert response.status_code == 400
    assert "demasiados parámetros" in response.json()["detail"]


def test_a_body_too_big_is_a_documented_413_on_every_endpoint_that_reads_one(partner):
    big = {"tipo_documento": "dni", "numero_documento": "12345678", "x": "a" * 3_000_000}

    response = partner.post("/cobranzas/callbacks", big)

    assert response.status_code == 413
    assert "demasiado grande" in response.json()["detail"]


def test_an_unreadable_body_is_refused_in_spanish_also_under_debug(partner, settings):
    settings.DEBUG = True

    response = partner.post_raw("/recuperacion/campanas", "{nope")

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "No se pudo leer el cuerpo de la solicitud: envíe JSON válido o un formulario."
    )


# --- The OpenAPI document says what every endpoint answers ------------------------------------

AWKWARD = ("²", "\x00", "9" * 5000, -1, None, [], {})


def test_every_answer_to_awkward_input_is_documented_with_its_shape(partner, openapi):
    failures = []
    for route, operations in openapi["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            fields = (
                openapi["components"]["schemas"][ref.split("/")[-1]]["properties"] if ref else {}
            )
            for value in AWKWARD:
                text = str(value)[:50].replace("\x00", "%00") or "x"
                path = route
                for param in params:
                    if param["in"] == "path":
                        path = path.replace("{" + param["name"] + "}", text)
                query = {p["name"]: str(value) for p in params if p["in"] == "query"}
                cache.clear()  # the rate limits would answer first
                client = partner.client
                headers = {"Authorization": f"Bearer {partner.token}"}
                if method == "get":
                    response = client.get(path, query, headers=headers)
                else:
                    body = json.dumps(dict.fromkeys(fields, value) or {"x": value})
                    response = client.post(
                        path, body, content_type="application/json", headers=headers
                    )
                try:
                    partner.check(method, route, response)
                except AssertionError as exc:
                    failures.append(f"{method.upper()} {path[:60]} {value!r:.20}: {exc}"[:300])
            if method == "post":
                for raw in ("[" * 5000 + "]" * 5000, '{"x": "' + "a" * 3_000_000 + '"}', "{no"):
                    response = partner.client.post(
                        route, raw, content_type="application/json", headers=headers
                    )
                    try:
                        partner.check(method, route, response)
                    except AssertionError as exc:
                        failures.append(f"POST {route} {raw[:10]!r}: {exc}"[:300])
    assert not failures, "\n".join(failures)


# --- Numbers sent as text ---------------------------------------------------------------------

PLAIN_ONLY = "Escriba el número solo con dígitos y, si tiene decimales, un punto: 1500.50."


@pytest.mark.parametrize("typed", ["1e4", "1E+4", "1_0000", "１００００", "10 000", "1,5"])
def test_the_preview_reads_only_plain_digits_in_its_query(public, typed):
    # Pydantic alone read "1e4" and "1_0000" as 10000 and full-width digits as digits.
    response = public.get(
        "/schedule-preview",
        {
            "principal": typed,
            "annual_rate": "12",
            "term": "3",
            "method": "french",
            "frequency": "monthly",
        },
    )

    assert response.status_code == 422
    assert messages(response) == {"principal": PLAIN_ONLY}


@pytest.mark.parametrize("name", ["term", "product", "annual_rate"])
def test_the_previews_other_numbers_refuse_an_underscore_too(public, name):
    params = {
        "principal": "300",
        "annual_rate": "12",
        "term": "3",
        "method": "french",
        "frequency": "monthly",
    }
    params[name] = "1_2"

    response = public.get("/schedule-preview", params)

    assert response.status_code == 422
    assert messages(response)[name] == PLAIN_ONLY


def test_a_plain_amount_with_its_sign_and_spaces_around_still_previews(public):
    response = public.get(
        "/schedule-preview",
        {
            "principal": " +300.50 ",
            "annual_rate": "12.5",
            "term": "3",
            "method": "french",
            "frequency": "monthly",
        },
    )

    assert response.status_code == 200
    assert response.json()["principal"] == "300.50"


def test_a_page_number_with_an_underscore_is_refused(partner):
    response = partner.get("/recuperacion/campanas", {"pagina": "1_0"})

    assert response.status_code == 422
    assert messages(response) == {"pagina": PLAIN_ONLY}


def test_a_campaign_amount_sent_as_text_must_be_plain_but_a_json_number_is_read(partner):
    customer = CustomerFactory(document_type="dni", document_number="45678912")
    body = {
        "tipo_documento": "dni",
        "numero_documento": customer.document_number,
        "id_campana": "C-1",
        "monto_deuda": "1e4",
        "tipo_descuento": "porcentaje",
        "valor_descuento": 40,
    }

    refused = partner.post("/recuperacion/campanas", body)
    body["monto_deuda"] = 1000.5
    created = partner.post("/recuperacion/campanas", body)

    assert refused.status_code == 422
    assert messages(refused) == {"monto_deuda": PLAIN_ONLY}
    assert created.status_code == 201, created.json()
    assert created.json()["monto_deuda"] == "1000.50"
