"""`in` on integer columns with numbers no row can hold: no row, not a server error."""

import pytest

from crm.models import Tag

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
