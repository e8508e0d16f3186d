"""The co-signer (*aval*) of a loan not yet signed: registered, changed or removed from the
loan's page until its contract goes out, with the timeline's old and new values.

A product that starts asking for a co-signer, or a co-signer registered without an e-mail,
left the loan's contract unsendable with a message that asked for an edit no screen had.
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from credits.models import Loan, LoanContract
from credits.services import contracts as contract_services
from credits.services import loans as loan_services
from crm.models import Interaction
from tests.factories import CustomerFactory, LoanFactory, UserFactory

CHANGE = "credits:loan_cosigner"


@pytest.fixture
def draft(db):
    customer = CustomerFactory(email="rosa@example.com")
    return LoanFactory(customer=customer)


@pytest.fixture
def supervisor_client(client, db):
    client.force_login(UserFactory(role="Supervisor"))
    return client


def test_a_product_that_now_asks_for_a_cosigner_says_where_to_register_one(draft):
    draft.product.requires_cosigner = True
    draft.product.save()

    with pytest.raises(ValidationError, match="«Registrar aval», en los datos del crédito"):
        contract_services.signers_for(draft)


def test_the_loan_page_offers_to_register_the_cosigner_a_product_asks_for(supervisor_client, draft):
    draft.product.requires_cosigner = True
    draft.product.save()

    page = supervisor_client.get(draft.get_absolute_url()).content.decode()

    assert "Falta: el producto lo exige." in page
    assert reverse(CHANGE, args=[draft.pk]) in page


def test_registering_the_cosigner_lets_the_contract_go_to_both(supervisor_client, draft):
    draft.product.requires_cosigner = True
    draft.product.save()

    response = supervisor_client.post(
        reverse(CHANGE, args=[draft.pk]),
        {
            "cosigner_name": "Luis Quispe",
            "cosigner_email": "luis@example.com",
            "cosigner_document": "40404040",
        },
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.cosigner_name, draft.cosigner_email, draft.cosigner_document) == (
        "Luis Quispe",
        "luis@example.com",
        "40404040",
    )
    kinds = [s.kind for s in contract_services.signers_for(draft)]
    assert "cosigner" in kinds
    entry = Interaction.objects.filter(customer=draft.customer).latest("pk")
    assert entry.summary == (
        f"Aval del crédito {draft.payment_code}: — → Luis Quispe · luis@example.com · 40404040"
    )


def test_a_name_without_an_email_is_refused_on_the_form(supervisor_client, draft):
    response = supervisor_client.post(
        reverse(CHANGE, args=[draft.pk]), {"cosigner_name": "Luis Quispe", "cosigner_email": ""}
    )

    assert response.status_code == 200
    assert "indique su nombre y su correo, los dos" in response.content.decode()
    draft.refresh_from_db()
    assert draft.cosigner_name == ""


def test_a_required_cosigner_cannot_be_removed(draft):
    draft.product.requires_cosigner = True
    draft.product.save()
    loan_services.set_cosigner(
        loan=draft, name="Luis Quispe", email="luis@example.com", document="", actor=None
    )

    with pytest.raises(ValidationError, match="exige un aval"):
        loan_services.set_cosigner(loan=draft, name="", email="", document="", actor=None)


def test_the_cosigner_stays_once_the_contract_is_out(draft):
    Loan.objects.filter(pk=draft.pk).update(status=Loan.Status.AWAITING_SIGNATURE)
    LoanContract.objects.create(loan=draft, status=LoanContract.Status.SENT)

    with pytest.raises(ValidationError, match="está en firma o firmado"):
        loan_services.set_cosigner(
            loan=draft, name="Otra Persona", email="otra@example.com", document="", actor=None
        )


def test_after_a_declined_contract_the_cosigner_may_change(draft):
    Loan.objects.filter(pk=draft.pk).update(status=Loan.Status.AWAITING_SIGNATURE)
    LoanContract.objects.create(loan=draft, status=LoanContract.Status.DECLINED)

    assert loan_services.set_cosigner(
        loan=draft, name="Otra Persona", email="otra@example.com", document="", actor=None
    )


def test_an_active_loans_page_offers_no_change(supervisor_client, make_active_loan):
    loan = make_active_loan()

    page = supervisor_client.get(loan.get_absolute_url()).content.decode()

    assert reverse(CHANGE, args=[loan.pk]) not in page
    assert supervisor_client.post(reverse(CHANGE, args=[loan.pk]), {}).status_code == 200


def test_an_advisor_without_the_change_permission_is_refused(client, draft):
    client.force_login(UserFactory(role="Agente call center"))

    assert client.get(reverse(CHANGE, args=[draft.pk])).status_code == 403
