"""What the lists answer to a query string they cannot run, or that empties them: no server
error, no unfiltered rows or export, and an empty text that says why it is empty."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from credits.investors import selectors as investor_selectors
from credits.models import Investor, Liquidation
from lib import search
from tests.callcenter.conftest import held_lead, queue_config  # noqa: F401
from tests.crm.gestiones.conftest import asesor2, credit_type, make_gestion  # noqa: F401
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    CustomerFactory,
    InvestorFactory,
    LoanFactory,
    UserFactory,
)

TOO_LONG = "Escriba como máximo 100 caracteres para buscar."
CORRECT_THE_FILTERS = "Ninguna fila: corrija los filtros marcados."


@pytest.fixture
def admin_client(db):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(username="q-admin", is_staff=True, is_superuser=True))
    return client


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


# --- A search too long or of too many words -------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "crm:customer_list",
        "credits:loan_list",
        "gestiones:list",
        "gestiones:my_work",
        "credits:investor_list",
        "callcenter:queue",
        "gestiones:goal_list",
        "gestiones:survey_list",
        "gestiones:campaign_list",
    ],
)
def test_a_search_of_many_words_is_not_a_server_error_and_says_it_is_too_long(admin_client, name):
    CustomerFactory()

    # 1,100 words, 2.2 kB of query string: one LIKE per word was "Expression tree is too
    # large" on SQLite.
    response = admin_client.get(reverse(name), {"q": "a " * 1100})

    assert response.status_code == 200
    assertContains(response, TOO_LONG)
    assertContains(response, 'id="id_q" class="form-control is-invalid"')


@pytest.mark.parametrize(
    ("name", "factory"),
    [("crm:customer_list", CustomerFactory), ("credits:investor_list", InvestorFactory)],
)
def test_a_very_long_search_is_not_a_server_error(admin_client, name, factory):
    factory()  # SQLite checks the pattern on the first row it compares

    # 60 kB in one word: "LIKE or GLOB pattern too complex" (SQLite's 50 kB pattern limit).
    response = admin_client.get(reverse(name), {"q": "x" * 60_000})

    assert response.status_code == 200
    assertContains(response, TOO_LONG)


def test_a_search_over_a_hundred_characters_lists_no_customer(admin_client):
    CustomerFactory(first_name="Zoila", last_name="Uno")

    response = admin_client.get(reverse("crm:customer_list"), {"q": "zoila " + "u" * 100})

    assertNotContains(response, "Zoila")
    assertContains(response, CORRECT_THE_FILTERS)


def test_the_search_box_takes_at_most_a_hundred_characters(admin_client):
    response = admin_client.get(reverse("credits:loan_list"))

    assertContains(response, 'maxlength="100"')


def test_a_search_uses_its_first_ten_distinct_words():
    words = [f"palabra{n}" for n in range(30)]

    assert search.terms(" ".join(words + words)) == words[: search.MAX_TERMS]


def test_an_investor_search_of_many_words_compares_at_most_ten_of_them(db):
    text = " ".join(f"w{n}" for n in range(500))

    sql = str(investor_selectors.search_investors(Investor.objects.all(), text).query)

    assert 0 < sql.count("LIKE") <= 3 * search.MAX_TERMS


# --- A filter the list cannot read ------------------------------------------------------------
def test_a_list_with_a_filter_it_cannot_read_shows_no_rows(admin_client):
    LoanFactory(payment_code="L000000777")

    response = admin_client.get(reverse("credits:loan_list"), {"status": "bogus"})

    assertNotContains(response, "L000000777")
    assertContains(response, CORRECT_THE_FILTERS)
    assertContains(response, 'class="form-select is-invalid"')


def test_an_export_with_a_filter_it_cannot_read_answers_the_page_not_every_row(admin_client):
    LoanFactory(payment_code="L000000777")
    LoanFactory(payment_code="L000000778")

    response = admin_client.get(reverse("credits:loan_list"), {"status": "bogus", "export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assertNotContains(response, "L000000777")
    assertContains(response, CORRECT_THE_FILTERS)


def test_an_export_with_filters_it_reads_still_exports(admin_client):
    LoanFactory(payment_code="L000000777")

    response = admin_client.get(reverse("credits:loan_list"), {"status": "draft", "export": "csv"})

    assert [row[0] for row in _csv(response)[1:]] == ["L000000777"]


def test_the_liquidation_list_says_a_date_it_cannot_read(admin_client):
    Liquidation.objects.create(
        investor=InvestorFactory(name="Inversiones Quispe"),
        period_start=timezone.localdate() - timedelta(days=30),
        period_end=timezone.localdate(),
    )

    response = admin_client.get(reverse("credits:liquidation_list"), {"since": "2026-02-30"})

    assert response.status_code == 200
    assertContains(response, 'id="id_since" class="form-control is-invalid"')
    assertContains(response, 'id="id_since_error"')
    assertContains(response, "0 liquidaciones")
    assertContains(response, CORRECT_THE_FILTERS)


def test_a_search_with_a_nul_character_says_so_and_lists_no_customer(admin_client):
    CustomerFactory(first_name="Zoila", last_name="Uno")
    CustomerFactory(first_name="Zoila", last_name="Dos")

    response = admin_client.get(reverse("crm:customer_list"), {"q": "\x00"})

    assertNotContains(response, "Zoila")
    assertContains(response, 'id="id_q" class="form-control is-invalid"')
    assertContains(response, "Los caracteres nulos no están permitidos.")


# --- Lists emptied by a search, not by a lack of work -----------------------------------------
def test_my_work_searched_without_matches_says_nothing_matched(
    client,
    asesor,
    make_gestion,  # noqa: F811
):
    make_gestion(agent=asesor)
    client.force_login(asesor)

    response = client.get(reverse("gestiones:my_work"), {"q": "zzqqxx"})

    assertNotContains(response, "No tiene gestiones abiertas")
    assertContains(response, "Ninguna gestión abierta coincide con la búsqueda.")


def test_my_work_emptied_by_a_filter_says_the_filters(
    client,
    asesor,
    make_gestion,  # noqa: F811
):
    make_gestion(agent=asesor)
    client.force_login(asesor)

    response = client.get(reverse("gestiones:my_work"), {"late": "late"})

    assertNotContains(response, "¡Buen trabajo!")
    assertContains(response, "Ninguna gestión abierta coincide con la búsqueda o los filtros.")


def test_my_work_without_gestiones_still_congratulates(client, asesor):
    client.force_login(asesor)

    response = client.get(reverse("gestiones:my_work"))

    assertContains(response, "No tiene gestiones abiertas. ¡Buen trabajo!")


def test_the_queue_searched_without_matches_says_nothing_matched(
    client,
    agente,
    held_lead,  # noqa: F811
):
    client.force_login(agente)

    response = client.get(reverse("callcenter:queue"), {"q": "zzqqxx"})

    assertNotContains(response, "No hay leads por llamar.")
    assertContains(response, "Ningún lead de la cola coincide con la búsqueda.")


def test_the_empty_queue_still_says_there_are_no_leads(client, agente, queue_config):  # noqa: F811
    client.force_login(agente)

    response = client.get(reverse("callcenter:queue"))

    assertContains(response, "No hay leads por llamar.")


# --- Empty texts that name what emptied the list ----------------------------------------------
def test_the_agenda_emptied_by_a_search_does_not_blame_the_dates(admin_client):
    AppointmentFactory(starts_at=timezone.now() + timedelta(days=1))

    response = admin_client.get(reverse("crm:agenda"), {"q": "zzqqxx"})

    assertNotContains(response, "No hay citas en esas fechas.")
    assertContains(response, "Ninguna cita de esas fechas coincide con la búsqueda o los filtros.")


def test_the_agenda_without_appointments_says_the_dates(admin_client):
    response = admin_client.get(reverse("crm:agenda"))

    assertContains(response, "No hay citas en esas fechas.")


def test_a_list_emptied_by_a_filter_does_not_speak_only_of_the_search(admin_client):
    CustomerFactory()
    empty_branch = BranchFactory()

    response = admin_client.get(reverse("crm:customer_list"), {"branch": empty_branch.pk})

    assertContains(response, "No hay clientes que coincidan con la búsqueda o los filtros.")


def test_a_list_emptied_by_the_search_alone_speaks_of_the_search(admin_client):
    CustomerFactory()

    response = admin_client.get(reverse("crm:customer_list"), {"q": "zzqqxx"})

    assertContains(response, "No hay clientes que coincidan con la búsqueda.")


# --- Money in the exports ---------------------------------------------------------------------
def test_the_loans_csv_writes_every_amount_with_two_decimals(admin_client):
    LoanFactory()  # no schedule yet: its outstanding principal is the sum of nothing

    rows = _csv(admin_client.get(reverse("credits:loan_list"), {"export": "csv"}))

    header, row = rows[0], rows[1]
    assert row[header.index("Capital")] == "10000,00"
    assert row[header.index("Saldo capital")] == "0,00"  # read from SQLite as "0"


def test_a_search_with_a_nul_is_shown_again_without_it(admin_client):
    page = admin_client.get("/clientes/", {"q": "ab\x00c"})

    assert 'value="abc"' in page.content.decode()
    assert "\x00" not in page.content.decode()
