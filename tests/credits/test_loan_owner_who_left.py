"""A new loan left at «El del cliente» / «La del cliente» takes the customer's advisor and
branch only while that advisor is active with the role and that branch is active: a loan
credited to someone who left had nobody to follow it. The form says so before and after."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains

from credits.models import Loan
from credits.services import loans as loan_services
from tests.credits.test_views_loans import _loan_data
from tests.factories import BranchFactory, CustomerFactory, LoanProductFactory, UserFactory

pytestmark = pytest.mark.django_db

GONE = "El asesor del cliente, Luis Rojas, ya no está activo: el crédito queda sin asesor."
NO_ROLE = (
    "El asesor del cliente, Luis Rojas, ya no tiene el rol de asesor: el crédito queda sin asesor."
)
CLOSED = "La sucursal del cliente, Trujillo, está inactiva: el crédito queda sin sucursal."


@pytest.fixture
def luis(db):
    return UserFactory(username="lrojas", first_name="Luis", last_name="Rojas", role="Asesor")


@pytest.fixture
def trujillo(db):
    return BranchFactory(name="Trujillo", code="tru")


@pytest.fixture
def daniela(luis, trujillo):
    return CustomerFactory(first_name="Daniela", last_name="Vargas", advisor=luis, branch=trujillo)


def deactivate(row) -> None:
    row.is_active = False
    row.save()


def create_for(client, customer, **overrides):
    url = reverse("credits:loan_create") + f"?customer={customer.pk}"
    return client.post(url, _loan_data(LoanProductFactory(), **overrides))


def test_the_customers_advisor_who_left_gets_no_new_loan_and_the_form_says_so(
    client, supervisor, luis, daniela
):
    deactivate(luis)
    client.force_login(supervisor)

    page = client.get(reverse("credits:loan_create") + f"?customer={daniela.pk}")
    response = create_for(client, daniela)

    assertContains(page, GONE)
    assert response.status_code == 302
    loan = Loan.objects.get(customer=daniela)
    assert loan.advisor is None
    assert GONE in [str(m) for m in get_messages(response.wsgi_request)]
    assert GONE in daniela.interactions.get(summary__startswith="Crédito").summary


def test_an_advisor_moved_to_another_role_gets_no_new_loan(client, supervisor, luis, daniela):
    luis.groups.set([Group.objects.get(name="Agente call center")])
    client.force_login(supervisor)

    create_for(client, daniela)

    assert Loan.objects.get(customer=daniela).advisor is None
    assert NO_ROLE in daniela.interactions.get(summary__startswith="Crédito").summary


def test_an_inactive_branch_of_the_customer_is_not_given_to_a_new_loan(
    client, supervisor, trujillo, daniela
):
    deactivate(trujillo)
    client.force_login(supervisor)

    page = client.get(reverse("credits:loan_create") + f"?customer={daniela.pk}")
    create_for(client, daniela)

    assertContains(page, CLOSED)
    assert Loan.objects.get(customer=daniela).branch is None


def test_an_advisor_and_branch_still_active_are_the_loans_as_before(
    client, supervisor, luis, trujillo, daniela
):
    client.force_login(supervisor)

    response = create_for(client, daniela)

    loan = Loan.objects.get(customer=daniela)
    assert (loan.advisor, loan.branch) == (luis, trujillo)
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["success"]


def test_a_chosen_advisor_is_the_loans_even_when_the_customers_left(
    client, supervisor, asesor, luis, daniela
):
    deactivate(luis)
    client.force_login(supervisor)

    response = create_for(client, daniela, advisor=str(asesor.pk))

    assert Loan.objects.get(customer=daniela).advisor == asesor
    assert GONE not in [str(m) for m in get_messages(response.wsgi_request)]


def test_picking_an_advisor_or_branch_no_longer_active_is_refused_by_name(
    client, supervisor, luis, trujillo, customer
):
    deactivate(luis)
    deactivate(trujillo)
    client.force_login(supervisor)

    response = create_for(client, customer, advisor=str(luis.pk), branch=str(trujillo.pk))

    assertContains(response, "Luis Rojas ya no está activo: elija otro asesor.")
    assertContains(response, "La sucursal Trujillo está inactiva: elija otra.")
    assert not Loan.objects.exists()


def test_the_service_gives_nobody_when_the_customers_advisor_left(luis, daniela):
    deactivate(luis)

    loan = loan_services.create_loan(
        actor=None,
        customer=daniela,
        product=LoanProductFactory(),
        principal=Decimal("5000"),
        term=12,
        start_date=loan_services.timezone.localdate(),
    )

    assert loan.advisor is None
    assert loan.branch == daniela.branch
