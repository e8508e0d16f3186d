"""An export reads each column's cell through a getter made once per export, not through
django-tables2's BoundRow per cell (30,000 rows ran past the worker's 30 s): the file is
the same as the per-cell way wrote it."""

import io

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tables2.rows import BoundRow

from lib import lists
from tests.factories import CustomerFactory, UserFactory

# Lists whose columns cover choice labels, `value_*` methods, related fields, money,
# dates, booleans and blanks.
LISTS = (
    "collections_app:reported_list",
    "collections_app:promise_list",
    "recovery:campaign_list",
    "credits:loan_list",
    "crm:customer_list",
    "gestiones:list",
    "gestiones:campaign_list",
    "credits:investor_list",
)


def _per_cell_getter(table, bound_column, model, *, places):
    """The cell as the export read it before: a BoundRow and get_cell_value per cell."""
    return lambda record: lists._safe_cell(
        BoundRow(record, table=table).get_cell_value(bound_column.name), places=places
    )


@pytest.fixture
def admin(db):
    return UserFactory(username="admin-cells", is_staff=True, is_superuser=True)


def _export(client, url_name, file_format):
    response = client.get(reverse(url_name), {"export": file_format})
    assert response.status_code == 200
    if file_format == "csv":
        return b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("url_name", LISTS)
def test_the_file_is_the_one_the_per_cell_way_wrote(demo, client, admin, monkeypatch, url_name):
    client.force_login(admin)

    fast = {fmt: _export(client, url_name, fmt) for fmt in ("csv", "xlsx")}
    monkeypatch.setattr(lists, "_cell_getter", _per_cell_getter)
    slow = {fmt: _export(client, url_name, fmt) for fmt in ("csv", "xlsx")}

    assert len(slow["xlsx"]) > 1, "the demo has rows for this list"
    assert fast["csv"] == slow["csv"]
    assert fast["xlsx"] == slow["xlsx"]


def test_no_bound_row_is_made_per_cell(demo, client, admin, monkeypatch):
    made = []

    class CountedRow(BoundRow):
        def __init__(self, *args, **kwargs):
            made.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(lists, "BoundRow", CountedRow)
    client.force_login(admin)

    for url_name in LISTS:
        _export(client, url_name, "csv")

    assert made == []


def test_an_export_over_the_limit_is_refused_without_counting_every_row(client, admin, monkeypatch):
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS_QUEUED", 2)
    for _ in range(4):
        CustomerFactory()
    client.force_login(admin)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("crm:customer_list"), {"export": "csv"})

    assert response.status_code == 302
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    # The direct limit's, then the queued one's.
    assert counts and all("LIMIT 3" in count.upper() for count in counts)
    [message] = get_messages(response.wsgi_request)
    # It says only what it knows: more than the limit, not how many.
    assert "más de 2 filas" in str(message)
