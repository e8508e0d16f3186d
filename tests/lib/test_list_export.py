"""Lists export their filtered rows as CSV or XLSX: every row, in the screen's order."""

import csv
import io

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from lib import lists
from tests.factories import CustomerFactory, TagFactory, UserFactory

# Every list that offers its rows as a file, with the name the file gets.
EXPORTING_LISTS = (
    ("crm:customer_list", "clientes"),
    ("gestiones:my_work", "mi-trabajo"),
    ("gestiones:list", "gestiones"),
    ("gestiones:campaign_list", "campanas"),
    ("gestiones:survey_list", "encuestas"),
    ("gestiones:goal_list", "metas"),
    ("credits:loan_list", "creditos"),
    ("credits:investor_list", "inversionistas"),
    ("credits:liquidation_list", "liquidaciones"),
)


@pytest.fixture
def admin(db):
    return UserFactory(username="admin-export", is_staff=True, is_superuser=True)


def _csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def _xlsx_rows(response) -> list[list]:
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


@pytest.mark.parametrize(("url_name", "file_name"), EXPORTING_LISTS)
def test_every_list_exports_its_rows_with_the_screens_headers(
    demo, client, admin, url_name, file_name
):
    client.force_login(admin)
    page = client.get(reverse(url_name))
    # Every titled column on screen is in the file (an actions column has no title).
    shown = [str(column.header) for column in page.context["table"].columns if column.header]

    for file_format, read in (("csv", _csv_rows), ("xlsx", _xlsx_rows)):
        response = client.get(reverse(url_name), {"export": file_format})

        assert response.status_code == 200
        assert f'filename="{file_name}-' in response["Content-Disposition"]
        rows = read(response)
        assert [header for header in rows[0] if header in shown] == shown
        assert len(rows) - 1 == page.context["table"].paginator.count


def test_the_file_has_every_filtered_row_not_only_the_page(client, admin):
    for number in range(lists.LIST_PAGE_SIZE + 5):
        CustomerFactory(last_name=f"Quispe {number:02d}")
    CustomerFactory(last_name="Rojas")
    client.force_login(admin)

    rows = _csv_rows(client.get(reverse("crm:customer_list"), {"q": "quispe", "export": "csv"}))

    names = [row[2] for row in rows[1:]]
    assert len(names) == lists.LIST_PAGE_SIZE + 5
    assert not any("Rojas" in name for name in names)


def test_the_file_keeps_the_order_the_user_chose(client, admin):
    for last_name in ("Bravo", "Alva", "Cruz"):
        CustomerFactory(first_name="Ana", last_name=last_name)
    client.force_login(admin)

    rows = _csv_rows(client.get(reverse("crm:customer_list"), {"sort": "-name", "export": "csv"}))

    assert [row[2] for row in rows[1:]] == ["Ana Cruz", "Ana Bravo", "Ana Alva"]


def test_cells_hold_plain_values_numbers_and_full_names(client, admin):
    advisor = UserFactory(first_name="María", last_name="Flores", role="Asesor")
    customer = CustomerFactory(
        first_name="Rosa", last_name="Huamán", phone="+51987654321", advisor=advisor
    )
    customer.tags.add(TagFactory(name="VIP"), TagFactory(name="Moroso"))
    client.force_login(admin)

    rows = _xlsx_rows(client.get(reverse("crm:customer_list"), {"export": "xlsx"}))

    header, row = rows
    record = dict(zip(header, row, strict=True))
    assert record["Cliente"] == "Rosa Huamán"
    assert record["Celular"] == "+51987654321"
    assert record["Asesor"] == "María Flores"
    assert sorted(record["Etiquetas"].split(", ")) == ["Moroso", "VIP"]
    assert record["Tipo de documento"] == "DNI"


def test_text_a_spreadsheet_would_run_stays_text(client, admin):
    CustomerFactory(first_name='=HYPERLINK("http://x.example","clic")', last_name="Ruiz")
    client.force_login(admin)

    csv_rows = _csv_rows(client.get(reverse("crm:customer_list"), {"export": "csv"}))
    response = client.get(reverse("crm:customer_list"), {"export": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active

    assert csv_rows[1][2].startswith("'=HYPERLINK")
    assert sheet["C2"].data_type == "s"
    assert sheet["C2"].value.startswith("=HYPERLINK")
    # A phone number starting with + is a number, not a formula: left as it is.
    assert csv_rows[1][3].startswith("+51")


def test_a_name_with_a_control_character_is_exported_without_it(client, admin):
    """openpyxl refuses such a character: the whole export was a 500."""
    CustomerFactory(first_name="Ro\x01sa", last_name="Ruiz")
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list"), {"export": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active

    assert response.status_code == 200
    assert sheet["C2"].value == "Rosa Ruiz"


def test_an_export_over_the_limit_is_refused_with_a_message(client, admin, monkeypatch):
    """Over the queued exports' limit too (tests/lib/test_queued_exports.py queues them)."""
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS_QUEUED", 2)
    for _ in range(3):
        CustomerFactory()
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list"), {"q": "", "export": "xlsx"})

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:customer_list") + "?q="
    [message] = get_messages(response.wsgi_request)
    assert "más de 2 filas" in str(message) and "filtre" in str(message)


def test_the_results_offer_the_export_with_the_current_search(client, admin):
    CustomerFactory(last_name="Quispe")
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list"), {"q": "quispe", "page": "1"})

    html = response.content.decode()
    assert 'href="?q=quispe&amp;export=csv"' in html
    assert 'href="?q=quispe&amp;export=xlsx"' in html


def test_an_empty_result_offers_no_export(client, admin):
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list"), {"q": "nadie se llama así"})

    assert "export=csv" not in response.content.decode()


def test_an_unknown_format_shows_the_page(client, admin):
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list"), {"export": "pdf"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_who_cannot_see_the_list_cannot_export_it(client, outsider):
    CustomerFactory()
    client.force_login(outsider)

    response = client.get(reverse("crm:customer_list"), {"export": "csv"})

    assert response.status_code == 403


def test_an_agent_exports_the_gestiones_their_list_shows_and_no_others(demo, client):
    agent = UserFactory(role="Asesor")
    client.force_login(agent)
    page = client.get(reverse("gestiones:list"))

    rows = _csv_rows(client.get(reverse("gestiones:list"), {"export": "csv"}))

    assert len(rows) - 1 == page.context["table"].paginator.count
    assert (
        len(rows) - 1
        < len(_csv_rows(_as_admin(client).get(reverse("gestiones:list"), {"export": "csv"}))) - 1
    )


def _as_admin(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_query_count_does_not_grow_with_the_rows(client, admin, django_assert_max_num_queries):
    for _ in range(40):
        CustomerFactory().tags.add(TagFactory())
    client.force_login(admin)

    with django_assert_max_num_queries(10):
        _csv_rows(client.get(reverse("crm:customer_list"), {"export": "csv"}))
