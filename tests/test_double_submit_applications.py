"""A credit lead confirmed or discarded twice (a double click, the back button and send):
the second finds what the first decided, goes where the first went and says so, instead
of an error that "nothing is left to decide"."""

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.gestiones.applications import services as application_services
from crm.gestiones.models import CreditApplication, CreditLead
from tests.crm.gestiones.conftest import (  # noqa: F401 (fixtures, imported)
    asesor2,
    credit_type,
    lead,
    make_gestion,
    product,
)
from tests.factories import LoanFactory


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def waiting(credit_type, lead, customer):  # noqa: F811
    """A lead whose document is `customer`'s, typed with another first name: to confirm."""
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    return application_services.receive_lead(
        data=typed, source="calculator", received_at=timezone.now()
    ).lead


def test_a_lead_confirmed_twice_opens_one_application_and_the_second_goes_to_it(
    client, waiting, asesor
):
    client.force_login(asesor)
    url = reverse("gestiones:credit_lead_confirm", args=[waiting.pk])
    client.post(url)

    second = client.post(url)

    gestion = CreditApplication.objects.get().gestion
    assert second.url == gestion.get_absolute_url()
    messages = shown(client.get(second.url))
    assert (
        f"Este lead ya se confirmó hace un momento: su solicitud está en la gestión "
        f"#{gestion.pk}; no se abrió otra." in messages
    )
    assert not any("no queda nada por decidir" in text for text in messages)


def test_a_lead_discarded_twice_says_the_first_discarded_it(client, waiting, asesor):
    client.force_login(asesor)
    url = reverse("gestiones:credit_lead_discard", args=[waiting.pk])
    # Its confirmation page's button (the confirm field), clicked twice.
    confirmed = {"reason": "No es la misma persona", "confirm": "yes"}
    client.post(url, confirmed)

    second = client.post(url, confirmed, follow=True)

    assert second.redirect_chain == [(reverse("gestiones:credit_leads"), 302)]
    assert f"El lead #{waiting.pk} ya se descartó hace un momento." in shown(second)
    assert CreditLead.objects.get().status == CreditLead.Status.DISCARDED


def test_a_lead_decided_by_another_person_still_says_it_is_decided(
    client, waiting, asesor, supervisor
):
    client.force_login(asesor)
    client.post(reverse("gestiones:credit_lead_confirm", args=[waiting.pk]))
    client.force_login(supervisor)

    other = client.post(reverse("gestiones:credit_lead_confirm", args=[waiting.pk]), follow=True)

    assert any("no queda nada por decidir" in text for text in shown(other))
    assert CreditApplication.objects.count() == 1


# --- A loan linked to a gestión (*cuentas por gestión*) -----------------------------------


def test_a_loan_linked_twice_is_linked_once_and_the_second_says_so(
    client,
    make_gestion,  # noqa: F811
    customer,
    asesor,
):
    gestion = make_gestion(agent=asesor)
    loan = LoanFactory(customer=customer)
    client.force_login(asesor)
    url = reverse("gestiones:loan_link", args=[gestion.pk])
    client.post(url, {"loan": loan.pk})

    second = client.post(url, {"loan": loan.pk}, follow=True)

    assert list(gestion.loans.all()) == [loan]
    assert f"El crédito {loan.payment_code} ya está vinculado a la gestión." in shown(second)
    assert gestion.follow_ups.filter(notes__contains="vinculado").count() == 1


def test_a_loan_unlinked_twice_says_it_is_not_linked_instead_of_not_found(
    client,
    make_gestion,  # noqa: F811
    customer,
    asesor,
):
    gestion = make_gestion(agent=asesor)
    loan = LoanFactory(customer=customer)
    gestion.loans.add(loan)
    client.force_login(asesor)
    url = reverse("gestiones:loan_unlink", args=[gestion.pk, loan.pk])
    client.post(url)

    second = client.post(url, follow=True)

    assert second.redirect_chain == [(gestion.get_absolute_url(), 302)]
    assert (
        f"El crédito {loan.payment_code} no está vinculado a la gestión: no hay nada que "
        "desvincular." in shown(second)
    )


def test_another_customers_loan_is_still_not_found_to_unlink(
    client,
    make_gestion,  # noqa: F811
    asesor,
):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    response = client.post(reverse("gestiones:loan_unlink", args=[gestion.pk, LoanFactory().pk]))

    assert response.status_code == 404
