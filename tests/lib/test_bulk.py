"""lib.bulk: many rows at once, COPY on PostgreSQL, executemany elsewhere."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from credits.models import LedgerEntry
from crm.models import Channel, Customer, Tag
from lib import bulk
from tests.factories import CustomerFactory, LoanFactory

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


def test_created_objects_get_their_ids_and_read_back_as_bulk_create_writes_them():
    from django.contrib.auth import get_user_model
    from django.forms.models import model_to_dict

    from credits.models import Payment

    loan = LoanFactory()
    clerk = get_user_model().objects.create(username="cajero")

    def payments(reference: str) -> list[Payment]:
        return [
            Payment(
                loan=loan,
                amount=Decimal("150.5"),  # stored to its two places, as the ORM stores it
                received_on=date(2026, 3, n),
                source=Payment.Source.OTHER,
                reference=f"{reference} {n}",
                overpayment=Payment.Overpayment.CREDIT,
                recorded_by=clerk,
            )
            for n in (1, 2, 3)
        ]

    copied, created = payments("copia"), payments("orm")
    bulk.create_objects(copied)
    Payment.objects.bulk_create(created)

    assert all(p.pk and not p._state.adding for p in copied)
    assert len({p.pk for p in copied + created}) == 6
    skip = {"id", "reference", "recorded_at"}  # recorded_at: when each object was made
    for mine, theirs in zip(copied, created, strict=True):
        mine_read = model_to_dict(Payment.objects.get(pk=mine.pk), exclude=skip)
        theirs_read = model_to_dict(Payment.objects.get(pk=theirs.pk), exclude=skip)
        assert mine_read == theirs_read
        assert mine_read["amount"] == Decimal("150.50")
        assert mine_read["recorded_by"] == clerk.pk


def test_objects_whose_parent_was_saved_after_them_take_its_id():
    from credits.models import Installment

    loan = LoanFactory.build(customer=LoanFactory().customer, product=LoanFactory().product)
    installments = [
        Installment(
            loan=loan,
            number=n,
            due_date=date(2026, n, 5),
            principal_due=Decimal("100.00"),
            interest_due=Decimal("10.00"),
        )
        for n in (1, 2)
    ]
    loan.save()

    bulk.create_objects(installments)

    stored = list(loan.installments.order_by("number").values_list("pk", "number", "kind"))
    assert stored == [(installments[0].pk, 1, "regular"), (installments[1].pk, 2, "regular")]


def test_a_field_of_another_type_is_stored_through_its_own_preparation():
    from crm.models import Customer

    customer = Customer(
        document_type=Customer.DocumentType.DNI,
        document_number="45678912",
        first_name="Rosa",
        last_name="Huamán",
        phone="+51 987 654 321",  # a PhoneNumber once set: stored as its E.164 text
    )

    bulk.create_objects([customer])

    stored = Customer.objects.get(pk=customer.pk)
    assert str(stored.phone) == "+51987654321"
    assert (stored.document_type, stored.last_name) == (Customer.DocumentType.DNI, "Huamán")


def test_a_failed_constraint_raises_djangos_integrity_error():
    from django.db import IntegrityError, transaction

    from credits.models import Loan

    taken = LoanFactory(payment_code="PX-0001")
    again = LoanFactory.build(
        customer=taken.customer, product=taken.product, payment_code="PX-0001"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.create_objects([again])

    assert Loan.objects.filter(payment_code="PX-0001").count() == 1


def test_links_are_added_once_and_those_already_there_stay():
    tag, other = Tag.objects.create(name="Cartera castigada"), Tag.objects.create(name="VIP")
    ana, luis, rosa = CustomerFactory(), CustomerFactory(), CustomerFactory()
    ana.tags.add(tag, other)
    through = Customer.tags.through
    kept = through.objects.get(customer=ana, tag=tag).pk

    bulk.add_links(through, "customer", [ana.pk, luis.pk, luis.pk, rosa.pk], "tag", tag.pk)
    bulk.add_links(through, "customer", [], "tag", tag.pk)

    assert set(tag.customers.all()) == {ana, luis, rosa}
    assert through.objects.filter(tag=tag).count() == 3
    assert through.objects.get(customer=ana, tag=tag).pk == kept
    assert list(luis.tags.all()) == [tag] and set(ana.tags.all()) == {tag, other}
