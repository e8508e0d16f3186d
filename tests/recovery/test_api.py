"""Written-off campaigns in the JSON API (/api/v1/recuperacion/): tokens and their scope,
the rate limit, making, listing, reading and finishing campaigns, uploading a file of
them, bad input, and every answer checked against the API's own OpenAPI document."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_app.strategies.segments import CASTIGADA_TAG
from crm.models import Customer, ImportBatch
from integrations import api_clients
from recovery import services
from recovery.models import Campaign
from tests.api_partner import ApiPartner, api_schema
from tests.factories import CustomerFactory
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, make_campaign

BASE = "/api/v1/recuperacion"


@pytest.fixture(scope="module")
def openapi() -> dict:
    return api_schema()


class Partner(ApiPartner):
    base = BASE

    def upload(self, data: dict):
        return self._call("post", "/campanas/carga", None, data=data)


DETAIL = "/campanas/{campaign_id}"
FINISH = "/campanas/{campaign_id}/finalizar"
STATUS = "/campanas/cargas/{batch_id}"


@pytest.fixture
def token(db) -> str:
    _client, token = api_clients.create_client(name="Socio", scopes="recovery")
    return token


@pytest.fixture
def partner(token, openapi) -> Partner:
    return Partner(token, openapi)


def body(customer: Customer, **fields) -> dict:
    return {
        "tipo_documento": customer.document_type,
        "numero_documento": customer.document_number,
        "id_campana": "CAST-API",
        "monto_deuda": "5000.00",
        "tipo_descuento": "porcentaje",
        "valor_descuento": "30",
        "fecha_fin": (TODAY + timedelta(days=20)).isoformat(),
        "codigo_pago_asociado": "",
        **fields,
    }


def error_on(response, field: str) -> str:
    found = [e["msg"] for e in response.json()["detail"] if e["loc"][-1] == field]
    assert found, response.json()
    return found[0]


# --- Tokens and limits ---------------------------------------------------------------------


def test_it_refuses_a_call_without_a_token(openapi, db):
    response = Partner(None, openapi).get("/campanas")

    assert response.status_code == 401
    assert "Falta el token" in response.json()["detail"]


def test_it_refuses_a_token_nobody_was_given(openapi, db):
    response = Partner("ctr_made-up", openapi).get("/campanas")

    assert response.status_code == 401


def test_it_forbids_a_client_without_the_recovery_scope(openapi, debtor):
    _client, token = api_clients.create_client(name="Bot", scopes="collections")
    other = Partner(token, openapi)

    answers = [
        other.get("/campanas").status_code,
        other.post("/campanas", body(debtor)).status_code,
    ]

    assert answers == [403, 403]
    assert "recovery" in other.get("/campanas").json()["detail"]
    assert not Campaign.objects.exists()


def test_it_limits_each_token_to_its_requests_per_minute(openapi, db):
    _client, token = api_clients.create_client(
        name="Lento", scopes="recovery", rate_limit_per_minute=2
    )
    slow = Partner(token, openapi)

    answers = [slow.get("/campanas").status_code for _ in range(3)]
    last = slow.get("/campanas")

    assert answers == [200, 200, 429]
    assert last.json()["detail"].startswith("Demasiadas solicitudes")
    assert 0 < int(last["Retry-After"]) <= 60


# --- Making one ----------------------------------------------------------------------------


def test_it_makes_a_campaign_for_a_registered_customer(partner, debtor):
    response = partner.post("/campanas", body(debtor))

    assert response.status_code == 201, response.json()
    answer = response.json()
    campaign = Campaign.objects.get()
    assert answer["id"] == campaign.pk
    assert (answer["monto_campana"], answer["saldo"], answer["monto_descuento"]) == (
        "3500.00",
        "3500.00",
        "1500.00",
    )
    assert (answer["estado"], answer["tipo_descuento"], answer["pagos"]) == (0, "porcentaje", [])
    assert campaign.created_by is None
    assert debtor.tags.filter(name=CASTIGADA_TAG).exists()
    # No person made it: the timeline names the API client that did.
    entry = debtor.interactions.get(payload__recovery_campaign=campaign.pk)
    assert entry.summary.endswith("; etiqueta «Cartera castigada» (por la API (Socio))")


def test_it_makes_a_campaign_with_an_amount_discount_and_no_end(partner, debtor):
    response = partner.post(
        "/campanas",
        body(debtor, tipo_descuento="monto", valor_descuento="1250.50", fecha_fin=None),
    )

    assert response.status_code == 201
    assert response.json()["monto_campana"] == "3749.50"
    assert response.json()["fecha_fin"] is None


def test_an_unknown_customer_is_a_404_that_says_so(partner, debtor):
    response = partner.post("/campanas", body(debtor, numero_documento="99999999"))

    assert response.status_code == 404
    assert "No hay un cliente registrado" in response.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"monto_deuda": "1e20"}, "monto_deuda", "solo con dígitos"),
        ({"monto_deuda": 1e20}, "monto_deuda", "menor o igual"),
        ({"monto_deuda": "-5"}, "monto_deuda", "mayor que 0"),
        ({"monto_deuda": "mil"}, "monto_deuda", "solo con dígitos"),
        ({"monto_deuda": "NaN"}, "monto_deuda", ""),
        ({"monto_deuda": "10.555"}, "monto_deuda", "2 decimales"),
        ({"valor_descuento": "-1"}, "valor_descuento", "mayor o igual"),
        ({"tipo_descuento": "gratis"}, "tipo_descuento", "Elija una de estas opciones"),
        ({"fecha_fin": "9999-01-01"}, "fecha_fin", "menor o igual que 2099-12-31"),
        ({"fecha_fin": "ayer"}, "fecha_fin", "fecha válida"),
        ({"id_campana": ""}, "id_campana", "al menos 1"),
        ({"id_campana": "X" * 31}, "id_campana", "como máximo 30"),
        ({"codigo_pago_asociado": "L" * 31}, "codigo_pago_asociado", "como máximo 30"),
        ({"numero_documento": "123"}, "numero_documento", ""),
        ({"estado": 1}, "estado", "no se admite"),
        ({"monto_campana": "1"}, "monto_campana", "no se admite"),
    ],
)
def test_bad_input_is_a_422_in_spanish_on_its_field(partner, debtor, fields, field, message):
    response = partner.post("/campanas", body(debtor, **fields))

    assert response.status_code == 422
    assert message in error_on(response, field)
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"valor_descuento": "100"}, "valor_descuento", "menor que el 100"),
        (
            {"tipo_descuento": "monto", "valor_descuento": "5000"},
            "valor_descuento",
            "menor que la deuda",
        ),
        ({"fecha_fin": "2026-06-01"}, "fecha_fin", "ya pasó"),
        # The screens' and the file's bound, not only the type's 2099-12-31.
        ({"fecha_fin": "2090-01-01"}, "fecha_fin", "pasa del"),
        ({"codigo_pago_asociado": "NOPE-1"}, "codigo_pago_asociado", "No existe un crédito"),
    ],
)
def test_what_the_service_refuses_is_a_422_on_its_field(partner, debtor, fields, field, message):
    response = partner.post("/campanas", body(debtor, **fields))

    assert response.status_code == 422
    assert message in error_on(response, field)


def test_a_second_active_campaign_is_refused(partner, campaign, debtor):
    response = partner.post("/campanas", body(debtor))

    # Other terms while one is active: a conflict naming it (a retry of the same is a 200).
    assert response.status_code == 409
    assert f"{campaign.code} (id {campaign.pk})" in response.json()["detail"]
    assert Campaign.objects.count() == 1


def test_a_body_that_is_not_json_is_a_400_in_spanish(partner):
    response = partner.post_raw("/campanas", "{nope")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("No se pudo leer")


# --- Reading -------------------------------------------------------------------------------


def test_it_lists_campaigns_newest_first_a_page_at_a_time(partner):
    made = [make_campaign(CustomerFactory(), code=f"CAST-{n}") for n in range(3)]

    first = partner.get("/campanas", {"por_pagina": 2})
    second = partner.get("/campanas", {"por_pagina": 2, "pagina": 2})

    assert first.json()["total"] == 3
    assert first.json()["resultados"][0]["creada"].endswith("-05:00")  # local, with offset
    ids = [c["id"] for c in first.json()["resultados"] + second.json()["resultados"]]
    assert sorted(ids) == sorted(c.pk for c in made)
    assert len(first.json()["resultados"]) == 2


def test_it_filters_the_list_by_status_campaign_id_and_document(partner, campaign, debtor):
    paid = make_campaign(CustomerFactory(), code="CAST-2026-06")
    services.apply_payment(
        campaign_id=paid.pk,
        amount=CAMPAIGN_AMOUNT,
        received_on=TODAY,
        source="transfer",
        actor=None,
    )
    make_campaign(CustomerFactory(), code="CAST-OTRA")

    by_status = partner.get("/campanas", {"estado": 1}).json()["resultados"]
    by_code = partner.get("/campanas", {"id_campana": "CAST-2026-06"}).json()["resultados"]
    by_document = partner.get("/campanas", {"numero_documento": debtor.document_number})

    assert [c["id"] for c in by_status] == [paid.pk]
    assert sorted(c["id"] for c in by_code) == sorted([campaign.pk, paid.pk])
    assert [c["id"] for c in by_document.json()["resultados"]] == [campaign.pk]


@pytest.mark.parametrize(
    "params",
    [{"estado": 3}, {"estado": "x"}, {"pagina": 0}, {"por_pagina": 1000}, {"pagina": 10**9}],
)
def test_bad_list_filters_are_a_422(partner, params):
    assert partner.get("/campanas", params).status_code == 422


def test_it_reads_a_campaign_with_its_payments(partner, campaign):
    payment = services.apply_payment(
        campaign_id=campaign.pk,
        amount=Decimal("1200.00"),
        received_on=TODAY,
        source="transfer",
        actor=None,
        reference="OP-9",
    )
    services.annul_payment(payment_id=payment.pk, actor=None, reason="Duplicado")

    response = partner.get(f"/campanas/{campaign.pk}", route=DETAIL)

    answer = response.json()
    assert answer["saldo"] == "7200.00"
    assert answer["pagos"] == [
        {
            "id": payment.pk,
            "monto": "1200.00",
            "fecha": TODAY.isoformat(),
            "origen": "transfer",
            "referencia": "OP-9",
            "estado": "anulado",
            "pagado_en_exceso": "0.00",
            "anulado_el": answer["pagos"][0]["anulado_el"],
            "motivo_anulacion": "Duplicado",
        }
    ]


def test_an_unknown_campaign_is_a_404(partner, db):
    assert partner.get("/campanas/999", route=DETAIL).status_code == 404


# --- Finishing -----------------------------------------------------------------------------


def test_it_finishes_a_campaign_and_the_tag_goes(partner, campaign, debtor):
    response = partner.post(
        f"/campanas/{campaign.pk}/finalizar", {"motivo": "Acuerdo"}, route=FINISH
    )

    assert response.status_code == 200
    assert response.json()["estado"] == 2
    assert not debtor.tags.filter(name=CASTIGADA_TAG).exists()
    assert debtor.interactions.filter(summary__contains="Acuerdo (por la API (Socio))").exists()


def test_it_finishes_a_campaign_without_a_body(partner, campaign):
    response = partner.post(f"/campanas/{campaign.pk}/finalizar", route=FINISH)

    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED


def test_finishing_a_finished_campaign_is_a_409(partner, campaign):
    partner.post(f"/campanas/{campaign.pk}/finalizar", route=FINISH)

    response = partner.post(f"/campanas/{campaign.pk}/finalizar", route=FINISH)

    assert response.status_code == 409
    assert "no está activa" in response.json()["detail"]


def test_a_finish_reason_too_long_is_a_422(partner, campaign):
    response = partner.post(
        f"/campanas/{campaign.pk}/finalizar", {"motivo": "x" * 201}, route=FINISH
    )

    assert response.status_code == 422
    campaign.refresh_from_db()
    assert campaign.is_active


# --- Uploading a file ----------------------------------------------------------------------


def _csv(*rows: str, header: str) -> SimpleUploadedFile:
    text = "\n".join([header, *rows]) + "\n"
    return SimpleUploadedFile("campanas.csv", text.encode(), content_type="text/csv")


API_HEADER = (
    "tipo_documento,numero_documento,id_campana,monto_deuda,tipo_descuento,valor_descuento,"
    "fecha_fin"
)
ENDS = (TODAY + timedelta(days=30)).strftime("%d/%m/%Y")


def test_an_upload_is_queued_and_its_status_tells_the_result(
    partner, django_capture_on_commit_callbacks
):
    one, two = CustomerFactory(), CustomerFactory()
    file = _csv(
        f"DNI,{one.document_number},CAST-F1,1000.00,porcentaje,10,{ENDS}",
        f"DNI,{two.document_number},CAST-F1,2000.00,monto,500,",
        header=API_HEADER,
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = partner.upload({"archivo": file})

    assert response.status_code == 202, response.json()
    answer = response.json()
    assert answer["url_estado"].endswith(f"{BASE}/campanas/cargas/{answer['id']}")
    status = partner.get(f"/campanas/cargas/{answer['id']}", route=STATUS).json()
    assert (status["estado"], status["aplicada"], status["creadas"], status["errores"]) == (
        "done",
        True,
        2,
        [],
    )
    amounts = sorted(Campaign.objects.values_list("amount", flat=True))
    assert amounts == [Decimal("900.00"), Decimal("1500.00")]
    batch = ImportBatch.objects.get()
    assert batch.created_by is None
    assert batch.file_name.startswith("API Socio · ")


def test_a_file_with_a_bad_row_writes_nothing_unless_told_to_skip_it(
    partner, django_capture_on_commit_callbacks
):
    good = CustomerFactory()
    rows = (
        f"DNI,{good.document_number},CAST-F2,1000.00,porcentaje,10,{ENDS}",
        "DNI,99999999,CAST-F2,1000.00,porcentaje,10,",
    )

    with django_capture_on_commit_callbacks(execute=True):
        strict = partner.upload({"archivo": _csv(*rows, header=API_HEADER)}).json()
    status = partner.get(f"/campanas/cargas/{strict['id']}", route=STATUS).json()

    assert (status["aplicada"], status["creadas"], status["filas_con_errores"]) == (False, 0, 1)
    assert status["errores"][0]["linea"] == 3
    assert not Campaign.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        lenient = partner.upload(
            {"archivo": _csv(*rows, header=API_HEADER), "omitir_errores": "true"}
        ).json()
    status = partner.get(f"/campanas/cargas/{lenient['id']}", route=STATUS).json()

    assert (status["aplicada"], status["creadas"], status["omitidas"]) == (True, 1, 1)
    assert Campaign.objects.get().customer == good


def test_an_upload_may_create_the_customers_it_names(partner, django_capture_on_commit_callbacks):
    file = _csv(
        f"DNI,47000001,CAST-F3,1000.00,porcentaje,10,{ENDS},Lucía,Quispe",
        header=API_HEADER + ",nombres,apellidos",
    )

    with django_capture_on_commit_callbacks(execute=True):
        answer = partner.upload({"archivo": file, "crear_clientes": "true"}).json()

    status = partner.get(f"/campanas/cargas/{answer['id']}", route=STATUS).json()
    assert status["creadas"] == 1, status
    assert Campaign.objects.get().customer.first_name == "Lucía"


def test_an_upload_without_the_required_columns_is_a_422_and_leaves_nothing(partner):
    file = _csv("hola,mundo", header="columna_a,columna_b")

    response = partner.upload({"archivo": file})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["file", "archivo"]
    assert not ImportBatch.objects.exists()


def test_an_upload_lacking_columns_names_them_as_this_api_does(partner):
    file = _csv("dni,12345678,CAST-1", header="tipo_documento,numero_documento,id_campana")

    response = partner.upload({"archivo": file})

    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert message == (
        "Al archivo le faltan columnas: monto_deuda, tipo_descuento, valor_descuento."
    )
    assert not ImportBatch.objects.exists()


def test_an_upload_of_the_wrong_format_is_a_422(partner):
    file = SimpleUploadedFile(
        "campanas.exe", b"MZ\x90\x00", content_type="application/octet-stream"
    )

    response = partner.upload({"archivo": file})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "archivo"


def test_an_upload_without_a_file_is_a_422(partner):
    assert partner.upload({"omitir_errores": "true"}).status_code == 422


def test_the_status_of_another_kind_of_import_is_a_404(partner, db):
    batch = ImportBatch.objects.create(kind="customers", file_name="x.csv")

    assert partner.get(f"/campanas/cargas/{batch.pk}", route=STATUS).status_code == 404


def test_the_openapi_document_lists_the_endpoints_and_their_errors(openapi):
    paths = {p: ops for p, ops in openapi["paths"].items() if p.startswith(BASE)}

    assert set(paths) == {
        BASE + "/campanas",
        BASE + "/campanas/carga",
        BASE + STATUS,
        BASE + DETAIL,
        BASE + FINISH,
    }
    create = paths[BASE + "/campanas"]["post"]
    assert {"201", "401", "403", "404", "422", "429"} <= set(create["responses"])
    schema = openapi["components"]["schemas"]["CampaignIn"]["properties"]
    assert schema["monto_deuda"]["anyOf"][0]["maximum"] == 99999999.99
    assert schema["id_campana"]["maxLength"] == 30


def test_an_id_beyond_any_row_is_a_404(partner, db):
    huge = 10**30

    assert partner.get(f"/campanas/{huge}", route=DETAIL).status_code == 404
    assert partner.get(f"/campanas/cargas/{huge}", route=STATUS).status_code == 404
    assert partner.post(f"/campanas/{huge}/finalizar", route=FINISH).status_code == 404
