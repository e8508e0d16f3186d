"""GET /api/v1/schedule-preview: public, rate-limited, exact figures, and never a 500."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

URL = "/api/v1/schedule-preview"
LIMA = ZoneInfo("America/Lima")
VALID = {
    "principal": "10000",
    "annual_rate": "12",
    "term": "3",
    "method": "french",
    "frequency": "monthly",
    "first_due_date": "2026-01-31",
}


def preview(client, **params):
    return client.get(URL, {**VALID, **params})


def column(response, name: str) -> list[str]:
    return [row[name] for row in response.json()["installments"]]


def error_fields(response) -> list[str]:
    return [error["loc"][-1] for error in response.json()["detail"]]


def test_it_computes_a_french_schedule_with_level_installments(client):
    response = preview(client)

    assert response.status_code == 200
    body = response.json()
    # 10,000 at 1% a month: level payment 10000·0.01/(1 − 1.01⁻³) = 3400.2211 → 3400.22;
    # interest on the exact balance 100.00, 66.9978 → 67.00, 33.6656 → 33.67; the last
    # installment takes the rounding left over.
    assert column(response, "total") == ["3400.22", "3400.22", "3400.23"]
    assert column(response, "interest") == ["100.00", "67.00", "33.67"]
    assert column(response, "principal") == ["3300.22", "3333.22", "3366.56"]
    assert column(response, "balance") == ["6699.78", "3366.56", "0.00"]
    assert column(response, "due_date") == ["2026-01-31", "2026-02-28", "2026-03-31"]
    assert body["totals"] == {
        "principal": "10000.00",
        "interest": "200.67",
        "fee": "0.00",
        "total": "10200.67",
    }
    assert body["principal"] == "10000.00"
    assert body["annual_rate"] == "12"
    assert body["periodic_rate"] == "0.0100000000"
    assert (body["method"], body["frequency"], body["term"]) == ("french", "monthly", 3)


def test_it_computes_a_german_schedule_with_interest_on_the_balance(client):
    response = preview(client, principal="12000", method="german")

    assert column(response, "principal") == ["4000.00", "4000.00", "4000.00"]
    assert column(response, "interest") == ["120.00", "80.00", "40.00"]
    assert column(response, "total") == ["4120.00", "4080.00", "4040.00"]
    assert response.json()["totals"]["interest"] == "240.00"


def test_it_computes_a_flat_schedule_with_interest_on_the_original_principal(client):
    response = preview(client, method="flat")

    assert column(response, "principal") == ["3333.33", "3333.33", "3333.34"]
    assert column(response, "interest") == ["100.00", "100.00", "100.00"]
    assert response.json()["totals"]["total"] == "10300.00"


def test_it_spaces_biweekly_installments_twice_a_month(client):
    # 24% a year over 24 periods: 1% each.
    response = preview(
        client,
        principal="12000",
        annual_rate="24",
        term="3",
        method="german",
        frequency="biweekly",
        first_due_date="2026-01-10",
    )

    assert response.json()["periodic_rate"] == "0.0100000000"
    assert column(response, "due_date") == ["2026-01-10", "2026-01-25", "2026-02-10"]
    assert column(response, "interest") == ["120.00", "80.00", "40.00"]


def test_it_spaces_weekly_installments_seven_days_apart(client):
    # 52% a year over 52 periods: 1% each.
    response = preview(
        client,
        principal="5200",
        annual_rate="52",
        term="2",
        method="flat",
        frequency="weekly",
        first_due_date="2026-01-05",
    )

    assert column(response, "due_date") == ["2026-01-05", "2026-01-12"]
    assert column(response, "interest") == ["52.00", "52.00"]
    assert column(response, "total") == ["2652.00", "2652.00"]


def test_it_splits_the_principal_evenly_at_zero_rate(client):
    response = preview(client, principal="100", annual_rate="0", method="french")

    assert column(response, "total") == ["33.33", "33.33", "33.34"]
    assert response.json()["totals"]["interest"] == "0.00"


def test_it_adds_a_fixed_fee_to_every_installment(client):
    response = preview(client, method="flat", fee="5")

    assert column(response, "fee") == ["5.00", "5.00", "5.00"]
    assert column(response, "total") == ["3438.33", "3438.33", "3438.34"]
    assert response.json()["totals"]["fee"] == "15.00"


def test_it_starts_one_period_after_today_in_lima_by_default(client):
    params = {k: v for k, v in VALID.items() if k != "first_due_date"}
    # 03:00 UTC on 1 February is still 31 January in Lima.
    with time_machine.travel(datetime(2026, 1, 31, 22, 0, tzinfo=LIMA), tick=False):
        response = client.get(URL, params)

    assert column(response, "due_date")[0] == "2026-02-28"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("principal", "abc"),
        ("principal", "0"),
        ("principal", "-5"),
        ("principal", "1e400"),
        ("principal", "NaN"),
        ("principal", "Infinity"),
        ("principal", "-Infinity"),
        ("principal", "10000000.01"),
        ("principal", "100.001"),
        ("principal", ""),
        ("annual_rate", "-1"),
        ("annual_rate", "1000.01"),
        ("annual_rate", "NaN"),
        ("term", "0"),
        ("term", "1.5"),
        ("term", "601"),
        ("term", "99999999999999999999999"),
        ("method", "x"),
        ("method", "French"),
        ("frequency", "daily"),
        ("first_due_date", "2026-02-30"),
        ("first_due_date", "mañana"),
        ("first_due_date", "9999-12-31"),
        ("fee", "-1"),
        ("fee", "abc"),
    ],
)
def test_it_answers_422_naming_a_bad_parameter(client, param, value):
    response = preview(client, **{param: value})

    assert response.status_code == 422
    assert param in error_fields(response)


@pytest.mark.parametrize("param", ["principal", "annual_rate", "term", "method", "frequency"])
def test_it_answers_422_naming_a_missing_parameter(client, param):
    params = {k: v for k, v in VALID.items() if k != param}

    response = client.get(URL, params)

    assert response.status_code == 422
    assert error_fields(response) == [param]


# Anything a URL can carry (lone surrogates cannot be encoded, so the client never sends them).
text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)
junk = st.one_of(
    text,
    st.sampled_from(["NaN", "-0", "1e400", "1E-400", "Infinity", "0x10", "1_000", " 5 "]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    principal=junk,
    annual_rate=junk,
    term=junk,
    method=st.sampled_from(["french", "german", "flat", "x", ""]),
    frequency=st.sampled_from(["monthly", "biweekly", "weekly", "y"]),
    first_due_date=st.one_of(st.dates().map(str), text),
)
def test_no_query_string_makes_it_fail(
    principal, annual_rate, term, method, frequency, first_due_date
):
    # The test client re-raises a view's exception, so a 500 would fail loudly here.
    cache.clear()
    response = Client().get(
        URL,
        {
            "principal": principal,
            "annual_rate": annual_rate,
            "term": term,
            "method": method,
            "frequency": frequency,
            "first_due_date": first_due_date,
        },
    )

    assert response.status_code in (200, 422)


def test_it_answers_429_in_spanish_past_the_limit(client, settings):
    settings.API_PREVIEW_RATE_LIMIT = "3/m"
    for _ in range(3):
        assert preview(client).status_code == 200

    response = preview(client)

    assert response.status_code == 429
    assert response.json() == {
        "detail": "Demasiadas solicitudes. Espere un momento e intente de nuevo."
    }
    assert 0 < int(response["Retry-After"]) <= 60


def test_it_counts_malformed_requests_too(client, settings):
    settings.API_PREVIEW_RATE_LIMIT = "2/m"
    preview(client, principal="abc")
    preview(client, principal="abc")

    assert preview(client).status_code == 429


def test_it_counts_each_address_apart(client, settings):
    settings.API_PREVIEW_RATE_LIMIT = "1/m"
    client.get(URL, VALID, REMOTE_ADDR="10.0.0.1")

    assert client.get(URL, VALID, REMOTE_ADDR="10.0.0.2").status_code == 200
    assert client.get(URL, VALID, REMOTE_ADDR="10.0.0.1").status_code == 429


def test_it_ignores_x_forwarded_for_unless_told_to_trust_a_proxy(client, settings):
    settings.API_PREVIEW_RATE_LIMIT = "1/m"
    client.get(URL, VALID, headers={"X-Forwarded-For": "203.0.113.1"})

    response = client.get(URL, VALID, headers={"X-Forwarded-For": "203.0.113.2"})

    assert response.status_code == 429


def test_it_reads_the_client_from_x_forwarded_for_behind_a_trusted_proxy(client, settings):
    settings.API_PREVIEW_RATE_LIMIT = "1/m"
    settings.RATELIMIT_TRUSTED_PROXIES = 1
    client.get(URL, VALID, headers={"X-Forwarded-For": "203.0.113.1"})

    response = client.get(URL, VALID, headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.2"})

    assert response.status_code == 200


def test_the_openapi_document_lists_the_endpoint(client):
    response = client.get(reverse("api-v1:openapi-json"))

    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/schedule-preview"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {
        "principal",
        "annual_rate",
        "term",
        "method",
        "frequency",
        "first_due_date",
        "fee",
        "product",
    }
    assert {"200", "422", "429"} <= set(operation["responses"])


def test_the_docs_page_is_public_and_loads_nothing_from_outside(client):
    response = client.get(reverse("api-v1:openapi-view"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    # Every script, stylesheet and image comes from this site: a path, never a host. (Not
    # "cdn" anywhere in the page: the random CSRF token spelled it once in ~150 runs.)
    addresses = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert addresses
    assert all(a.startswith("/") and not a.startswith("//") for a in addresses), addresses
    assert '"validatorUrl": null' in html
