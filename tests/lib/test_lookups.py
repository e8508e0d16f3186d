"""`in` on integer columns with numbers no row can hold: no row, not a server error; ids read
from text."""

import pytest

from crm.models import Tag
from lib import lookups

pytestmark = pytest.mark.django_db


def test_an_in_lookup_leaves_out_numbers_beyond_the_columns_range():
    tag = Tag.objects.create(name="Preferente")
    huge = int("9" * 40)

    assert list(Tag.objects.filter(pk__in=[huge, tag.pk])) == [tag]
    assert list(Tag.objects.filter(pk__in=[huge])) == []
    assert list(Tag.objects.filter(pk__in=[-huge, huge])) == []


def test_a_multiple_choice_of_rows_posted_with_a_huge_number_is_a_form_error(admin_client):
    from tests.factories import CustomerFactory

    customer = CustomerFactory()

    response = admin_client.post(
        f"/clientes/{customer.pk}/editar/",
        {
            "document_type": customer.document_type,
            "document_number": customer.document_number,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "tags": "9" * 40,
        },
    )

    assert response.status_code == 200
    assert "tags" in response.context["form"].errors


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", 42),
        ("007", 7),
        ("9" * 18, int("9" * 18)),
        ("9" * 19, None),
        ("9" * 5000, None),
        ("", None),
        ("²", None),
        ("٣", None),
        ("４２", None),
        ("-1", None),
        (" 1", None),
        ("1.0", None),
    ],
)
def test_whole_number_reads_only_ascii_digits_of_an_id(text, number):
    assert lookups.whole_number(text) == number


def test_whole_number_takes_a_narrower_bound():
    assert lookups.whole_number("123456789", digits=9) == 123456789
    assert lookups.whole_number("1234567890", digits=9) is None
