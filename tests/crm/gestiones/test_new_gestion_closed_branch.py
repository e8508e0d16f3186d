"""A new gestión for a customer whose branch or channel was deactivated since.

The form took the customer's branch and channel as its defaults whatever their state: the
select, which offers active ones only, showed an empty choice without a word, and the
value sent (a tab opened before, a link) was refused with «Elija una opción de la lista».
"""

import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.gestiones import forms
from crm.gestiones.models import Gestion, GestionType
from crm.models import Customer
from tests.factories import BranchFactory, ChannelFactory, CustomerFactory

DATA = {"currency": "PEN", "dyn_ingreso_mensual": "2500", "dyn_destino": "Vehículo"}


@pytest.fixture
def left_customer(db):
    """A customer of the closed Sucursal Surco, come through the retired Feria channel."""
    return CustomerFactory(
        branch=BranchFactory(name="Sucursal Surco", is_active=False),
        channel=ChannelFactory(name="Feria", is_active=False),
    )


def select(page: str, name: str) -> str:
    return re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)


def test_a_closed_branch_and_channel_are_not_the_default_and_the_form_says_why(
    client, supervisor, credit_type, left_customer
):
    client.force_login(supervisor)

    page = client.get(reverse("gestiones:create", args=[left_customer.pk])).content.decode()

    form = forms.GestionForm(customer=left_customer, user=supervisor)
    assert form["branch"].value() is None
    assert form["channel"].value() is None
    assert "Sucursal Surco" not in select(page, "branch")
    assert "Feria" not in select(page, "channel")
    assert "La sucursal del cliente, Sucursal Surco, está inactiva: elija otra." in page
    assert "El canal del cliente, Feria, está inactivo: elija otro." in page


def test_an_active_branch_and_channel_are_still_the_default_without_a_note(
    supervisor, credit_type, customer
):
    form = forms.GestionForm(customer=customer, user=supervisor)

    assert form["branch"].value() == customer.branch_id
    assert form["channel"].value() == customer.channel_id
    assert not form.fields["branch"].help_text
    assert not form.fields["channel"].help_text


def test_a_closed_branch_sent_anyway_is_refused_by_name(
    client, supervisor, credit_type, left_customer
):
    client.force_login(supervisor)
    other = BranchFactory(name="Sucursal Centro")

    refused = client.post(
        reverse("gestiones:create", args=[left_customer.pk]),
        {
            **DATA,
            "gestion_type": credit_type.pk,
            "branch": left_customer.branch_id,
            "channel": left_customer.channel_id,
        },
    )
    opened = client.post(
        reverse("gestiones:create", args=[left_customer.pk]),
        {**DATA, "gestion_type": credit_type.pk, "branch": other.pk},
    )

    assert refused.status_code == 200
    assertContains(refused, "La sucursal Sucursal Surco está inactiva: elija otra.")
    assertContains(refused, "El canal Feria está inactivo: elija otro.")
    assert opened.status_code == 302
    assert Gestion.objects.get().branch == other


def test_on_the_demo_a_customer_whose_branch_closed_gets_no_closed_default(
    client, demo, supervisor
):
    """On the demo's data: a customer's branch closes, and a supervisor opens the new
    gestión page for them."""
    customer = (
        Customer.objects.filter(branch__isnull=False, channel__isnull=False)
        .select_related("branch", "channel")
        .first()
    )
    closed = customer.branch
    closed.is_active = False
    closed.save()
    gestion_type = GestionType.objects.filter(is_active=True).order_by("pk").first()
    client.force_login(supervisor)
    url = reverse("gestiones:create", args=[customer.pk])

    page = client.get(url, {"gestion_type": gestion_type.pk})

    form = page.context["form"]
    assert form["branch"].value() is None
    assert form["channel"].value() == customer.channel_id
    assertContains(page, f"La sucursal del cliente, {closed}, está inactiva: elija otra.")


def test_a_gestion_saved_without_a_branch_does_not_get_the_closed_one(
    supervisor, credit_type, left_customer
):
    """The service's own default (campaigns and life-cycle events open gestiones too):
    the customer's branch and channel only while they are active."""
    from crm.gestiones import services

    gestion = services.create_gestion(
        customer=left_customer, gestion_type=credit_type, actor=supervisor, require_data=False
    )

    assert gestion.branch is None and gestion.channel is None
