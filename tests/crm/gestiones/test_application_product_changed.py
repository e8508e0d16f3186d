"""An open credit application whose product changed under it (range narrowed, product
deactivated) says so on its card, and its form keeps the product, marked «(inactivo)»."""

from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from credits.models import LoanProduct
from tests.crm.gestiones.test_applications import approve, receive

CHANGED = "El producto cambió después de la solicitud:"


def test_a_narrowed_range_is_said_on_the_card(client, credit_type, lead, product, asesor):
    gestion = receive(lead, credit_type).application.gestion
    LoanProduct.objects.filter(pk=product.pk).update(max_amount="5000.00", min_term=24)
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    assertContains(response, CHANGED)
    assertContains(response, "El monto debe estar entre")
    assertContains(response, "El plazo debe estar entre 24 y 36 cuotas")


def test_a_deactivated_product_is_said_on_the_card(client, credit_type, lead, product, asesor):
    gestion = receive(lead, credit_type).application.gestion
    LoanProduct.objects.filter(pk=product.pk).update(is_active=False)
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    assertContains(response, CHANGED)
    assertContains(response, "no está activo")


def test_an_application_its_product_still_allows_shows_no_warning(
    client, credit_type, lead, asesor
):
    gestion = receive(lead, credit_type).application.gestion
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    assertNotContains(response, CHANGED)


def test_an_approved_application_is_not_warned_about_later_changes(
    client, credit_type, lead, product, asesor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    LoanProduct.objects.filter(pk=product.pk).update(max_amount="5000.00")
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    assertNotContains(response, CHANGED)


def test_the_form_keeps_a_deactivated_product_marked(client, credit_type, lead, product, asesor):
    gestion = receive(lead, credit_type).application.gestion
    LoanProduct.objects.filter(pk=product.pk).update(is_active=False)
    client.force_login(gestion.agent)

    response = client.get(reverse("gestiones:application_edit", args=[gestion.pk]))

    form = response.context["form"]
    assert form["product"].value() == product.pk
    assert product.pk in [p.pk for p in form.fields["product"].queryset]
    assertContains(response, f"{product.name} (inactivo)")
