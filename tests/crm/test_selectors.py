from datetime import timedelta

from django.utils import timezone

from crm import selectors
from crm.models import Customer
from tests.factories import CustomerFactory, InteractionFactory


def _found(text):
    return set(
        selectors.search_customers(Customer.objects.all(), text).values_list(
            "first_name", flat=True
        )
    )


def test_search_finds_by_document_number_or_part_of_it(db):
    CustomerFactory(first_name="Rosa", document_number="45678912")
    CustomerFactory(first_name="Juan", document_number="11223344")

    assert _found("45678912") == {"Rosa"}
    assert _found("4567") == {"Rosa"}


def test_search_ignores_accents_and_case(db):
    CustomerFactory(first_name="Rosa", last_name="Huamán")
    CustomerFactory(first_name="Juan", last_name="Quispe")

    assert _found("HUAMAN") == {"Rosa"}
    assert _found("huamán") == {"Rosa"}


def test_search_finds_by_phone_written_any_way(db):
    CustomerFactory(first_name="Rosa", phone="+51987654321")
    CustomerFactory(first_name="Juan", phone="+51911111111")

    assert _found("987 654 321") == {"Rosa"}
    assert _found("+51 987-654-321") == {"Rosa"}
    assert _found("(51) 987654321") == {"Rosa"}


def test_search_finds_by_secondary_phone(db):
    CustomerFactory(first_name="Rosa", phone="+51911111111", phone_secondary="+51987654321")

    assert _found("987654321") == {"Rosa"}


def test_search_needs_every_word_to_match_some_name(db):
    CustomerFactory(first_name="Rosa", last_name="Huamán Torres")
    CustomerFactory(first_name="Rosa", last_name="Quispe")
    CustomerFactory(first_name="Juan", last_name="Torres")

    assert _found("rosa torres") == {"Rosa"}
    assert _found("torres") == {"Rosa", "Juan"}


def test_an_empty_search_returns_everyone(db):
    CustomerFactory.create_batch(3)

    assert selectors.search_customers(Customer.objects.all(), "  ").count() == 3


def test_the_timeline_pages_newest_first_without_gaps_or_repeats(customer):
    now = timezone.now()
    for i in range(45):
        # Pairs share a timestamp: the id breaks the tie.
        InteractionFactory(customer=customer, occurred_at=now - timedelta(minutes=i // 2))

    seen, cursor = [], None
    while True:
        page, cursor = selectors.timeline(customer, before=cursor, size=20)
        seen.extend(page)
        if cursor is None:
            break

    assert len(seen) == 45
    assert len({i.pk for i in seen}) == 45
    assert seen == sorted(seen, key=lambda i: (i.occurred_at, i.pk), reverse=True)


def test_the_timeline_filters_by_kind(customer):
    InteractionFactory(customer=customer, kind="note")
    InteractionFactory(customer=customer, kind="call")

    page, cursor = selectors.timeline(customer, kind="call")

    assert [i.kind for i in page] == ["call"]
    assert cursor is None
