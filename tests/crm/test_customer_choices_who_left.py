"""A customer whose advisor left (inactive, or moved to a role without customers) or whose
branch or channel was deactivated: the edit form shows what the customer has, marked, and
keeps it unless another is picked; a new pick of one no longer active is refused."""

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.models import Customer
from tests.factories import BranchFactory, ChannelFactory, CustomerFactory, UserFactory
from tests.test_lost_updates import shown_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def luis(db):
    return UserFactory(username="lrojas", first_name="Luis", last_name="Rojas", role="Asesor")


@pytest.fixture
def trujillo(db):
    return BranchFactory(name="Trujillo", code="tru")


@pytest.fixture
def feria(db):
    return ChannelFactory(name="Feria", code="feria")


@pytest.fixture
def daniela(luis, trujillo, feria):
    return CustomerFactory(
        first_name="Daniela", last_name="Vargas", advisor=luis, branch=trujillo, channel=feria
    )


def deactivate(*rows) -> None:
    for row in rows:
        row.is_active = False
        row.save()


def save_with(client, customer: Customer, **changes) -> object:
    """Open the customer's form as a browser does and send it with `changes`."""
    url = reverse("crm:customer_update", args=[customer.pk])
    fields = [(name, value) for name, value in shown_form(client, url) if name not in changes]
    fields += list(changes.items())
    return client.post(url, urlencode(fields), content_type="application/x-www-form-urlencoded")


def test_the_form_shows_an_advisor_branch_and_channel_no_longer_active_marked(
    client, supervisor, luis, trujillo, feria, daniela
):
    deactivate(luis, trujillo, feria)
    client.force_login(supervisor)

    response = client.get(reverse("crm:customer_update", args=[daniela.pk]))

    assertContains(response, f'<option value="{luis.pk}" selected>Luis Rojas (inactivo)</option>')
    assertContains(
        response, f'<option value="{trujillo.pk}" selected>Trujillo (sucursal inactiva)</option>'
    )
    assertContains(response, f'<option value="{feria.pk}" selected>Feria (canal inactivo)</option>')


def test_saving_another_change_keeps_an_advisor_branch_and_channel_no_longer_active(
    client, supervisor, luis, trujillo, feria, daniela
):
    deactivate(luis, trujillo, feria)
    client.force_login(supervisor)

    response = save_with(client, daniela, address="Av. Larco 123")

    assert response.status_code == 302
    daniela.refresh_from_db()
    assert daniela.address == "Av. Larco 123"
    assert (daniela.advisor, daniela.branch, daniela.channel) == (luis, trujillo, feria)
    summary = daniela.interactions.get().summary
    assert "dirección" in summary
    assert "asesor" not in summary and "sucursal" not in summary


def test_an_advisor_moved_to_another_role_stays_marked_until_another_is_picked(
    client, supervisor, asesor, luis, daniela
):
    luis.groups.set([Group.objects.get(name="Agente call center")])
    client.force_login(supervisor)

    page = client.get(reverse("crm:customer_update", args=[daniela.pk]))
    kept = save_with(client, daniela, address="Jr. Pizarro 45")
    daniela.refresh_from_db()
    advisor_after_keeping = daniela.advisor
    moved = save_with(client, daniela, advisor=str(asesor.pk))

    assertContains(page, "Luis Rojas (sin rol de asesor)")
    assert kept.status_code == 302
    assert advisor_after_keeping == luis
    assert moved.status_code == 302
    daniela.refresh_from_db()
    assert daniela.advisor == asesor


def test_a_new_pick_of_an_advisor_branch_or_channel_no_longer_active_is_refused_by_name(
    client, supervisor, asesor, luis, trujillo, feria
):
    rosa = CustomerFactory(advisor=asesor)
    deactivate(luis, trujillo, feria)
    client.force_login(supervisor)

    response = save_with(
        client, rosa, advisor=str(luis.pk), branch=str(trujillo.pk), channel=str(feria.pk)
    )

    assertContains(response, "Luis Rojas ya no está activo: elija otro asesor.")
    assertContains(response, "La sucursal Trujillo está inactiva: elija otra.")
    assertContains(response, "El canal Feria está inactivo: elija otro.")
    rosa.refresh_from_db()
    assert rosa.advisor == asesor


def test_a_new_pick_of_someone_without_the_advisor_role_is_refused(client, supervisor, agente):
    rosa = CustomerFactory()
    client.force_login(supervisor)

    response = save_with(client, rosa, advisor=str(agente.pk))

    assertContains(response, "no tiene el rol de asesor: elija otro asesor.")
    rosa.refresh_from_db()
    assert rosa.advisor is None


def test_a_new_customer_is_offered_only_active_advisors_and_branches(
    client, supervisor, asesor, luis, trujillo
):
    deactivate(luis, trujillo)
    client.force_login(supervisor)

    response = client.get(reverse("crm:customer_create"))

    assertContains(response, "Andrea Quispe")
    assert "Luis Rojas" not in response.content.decode()
    assert "Trujillo" not in response.content.decode()
