"""The data migration that turns links taken on trust into suggestions to confirm."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from callcenter.models import Lead
from tests.factories import CustomerFactory

BEFORE = [("callcenter", "0004_lead_suggested_customer")]
AFTER = [("callcenter", "0005_unconfirmed_matches_become_suggestions")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest_schema")
def test_it_unlinks_queued_leads_from_customers_that_existed_before_them():
    # 0005 changes data only: the rows can be written with today's models.
    _migrate(BEFORE)
    now = timezone.now()
    borrower = CustomerFactory(phone="+51987111222", created_at=now - timedelta(days=400))
    made_from_lead = CustomerFactory(document_number="72345678", created_at=now)
    by_phone = Lead.objects.create(
        kommo_id=1,
        phone="+51 987 111 222",
        in_queue=True,
        customer=borrower,
        created_at=now - timedelta(minutes=5),
    )
    own = Lead.objects.create(
        kommo_id=2,
        document_number="72345678",
        in_queue=True,
        customer=made_from_lead,
        created_at=now - timedelta(seconds=1),
    )
    sold = Lead.objects.create(
        kommo_id=3, in_queue=False, customer=borrower, created_at=now - timedelta(days=2)
    )

    _migrate(AFTER)

    by_phone.refresh_from_db()
    assert by_phone.customer is None
    assert (by_phone.suggested_customer, by_phone.suggested_by) == (borrower, Lead.Match.PHONE)
    own.refresh_from_db()
    assert own.customer == made_from_lead
    sold.refresh_from_db()
    assert sold.customer == borrower
