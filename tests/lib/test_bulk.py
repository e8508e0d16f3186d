"""lib.bulk: many rows at once, COPY on PostgreSQL, executemany elsewhere."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from credits.models import LedgerEntry
from crm.models import Channel
from lib import bulk
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db


def test_rows_read_from_a_query_on_the_same_connection_are_written():
    Channel.objects.bulk_create(Channel(name=f"Canal {n}", code=f"canal-{n}") for n in range(5))
    source = Channel.objects.order_by("pk").iterator(chunk_size=2)

    written = bulk.insert_rows(
        Channel,
        ("name", "code", "is_active"),
        ((f"{c.name} bis", f"{c.code}-bis", False) for c in source),
    )

    assert written == 5
    assert Channel.objects.filter(code__endswith="-bis", is_active=False).count() == 5


def test_decimals_and_datetimes_are_stored_as_the_orm_stores_them():
    loan = LoanFactory()
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("America/Lima"))

    bulk.insert_rows(
        LedgerEntry,
        ("loan", "kind", "component", "owed", "paid", "reason", "created_at"),
        [(loan.pk, "status", "", Decimal("12.50"), Decimal("0"), "prueba", moment)],
    )

    entry = LedgerEntry.objects.get(loan=loan)
    assert (entry.owed, entry.paid, entry.created_at) == (Decimal("12.50"), Decimal("0"), moment)
    # Found by a date filter as any entry the ORM wrote.
    assert LedgerEntry.objects.filter(created_at__date=date(2026, 3, 1)).get() == entry
