"""A loan product's approval target (hours): one sentence per bound, whatever is typed.

-5 said «mayor o igual a 0» (the field's own floor) while 0 said «mayor o igual a 1» (the
model's), and 9000 «menor o igual a 8760».
"""

import pytest
from django.urls import reverse

from credits.models.loans import APPROVAL_TARGET_MAX_HOURS, LoanProduct
from tests.credits.test_loan_bounds import _admin_data
from tests.factories import LoanProductFactory

TOO_FEW = "Debe ser al menos 1 hora."
TOO_MANY = "Debe ser como máximo 8,760 horas (un año)."


def post(admin_client, product, hours: str):
    return admin_client.post(
        reverse("admin:credits_loanproduct_change", args=[product.pk]),
        _admin_data(approval_target_hours=hours),
    )


@pytest.mark.parametrize(
    ("hours", "message"),
    [("-5", TOO_FEW), ("0", TOO_FEW), ("8761", TOO_MANY), ("9000", TOO_MANY)],
)
def test_the_admin_refuses_an_approval_target_out_of_bounds_in_one_sentence(
    admin_client, hours, message
):
    product = LoanProductFactory(name="Consumo", approval_target_hours=24)

    response = post(admin_client, product, hours)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["approval_target_hours"] == [message]
    product.refresh_from_db()
    assert product.approval_target_hours == 24


@pytest.mark.parametrize("hours", ["1", "48", "8760"])
def test_the_admin_saves_an_approval_target_within_bounds(admin_client, hours):
    product = LoanProductFactory(name="Consumo", approval_target_hours=24)

    response = post(admin_client, product, hours)

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.approval_target_hours == int(hours)


def test_the_bounds_are_the_models_own():
    field = LoanProduct._meta.get_field("approval_target_hours")

    assert [v.limit_value for v in field.validators[:2]] == [1, APPROVAL_TARGET_MAX_HOURS]
    assert APPROVAL_TARGET_MAX_HOURS == 24 * 365
