"""Payment receipts and signed contracts: random names, served only to who may see the loan."""

from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from credits.models import Loan, LoanContract, Payment
from credits.models.loans import contract_upload_to
from credits.models.payments import receipt_upload_to
from credits.services import payments as payment_services
from tests.factories import LoanFactory

PDF = b"%PDF-1.4 recibo del cliente"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PRIVATE_FILES_SERVER = ""


@pytest.fixture
def paid_loan(make_active_loan, cobranzas):
    loan = make_active_loan(start_date=date(2026, 1, 1))
    payment_services.apply_payment(
        loan=loan,
        amount="100.00",
        received_on=date(2026, 1, 15),
        source=Payment.Source.DEPOSIT,
        actor=cobranzas,
        reference="0042",
        receipt=SimpleUploadedFile("voucher.pdf", PDF, "application/pdf"),
    )
    return loan


def receipt_url(payment: Payment) -> str:
    return reverse("credits:payment_receipt", args=[payment.loan_id, payment.pk])


def test_receipts_and_contracts_are_stored_under_random_folders():
    first = receipt_upload_to(None, "voucher.pdf")
    second = receipt_upload_to(None, "voucher.pdf")
    contract = contract_upload_to(None, "../CR-1-contrato.pdf")

    assert first.startswith("recibos/") and first.endswith("/voucher.pdf")
    assert first != second
    assert contract.startswith("contratos/") and contract.endswith("/CR-1-contrato.pdf")
    assert contract.count("/") == 2


def test_who_may_see_the_loan_opens_its_receipt_in_the_browser(client, supervisor, paid_loan):
    payment = paid_loan.payments.get()
    client.force_login(supervisor)

    response = client.get(receipt_url(payment))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")


def test_the_loan_page_links_the_receipt_through_the_checking_view(client, supervisor, paid_loan):
    payment = paid_loan.payments.get()
    client.force_login(supervisor)

    response = client.get(paid_loan.get_absolute_url())

    assertContains(response, f'href="{receipt_url(payment)}"')
    assertNotContains(response, payment.receipt.name)


def test_a_role_without_loans_gets_not_found(client, agente, paid_loan):
    client.force_login(agente)

    response = client.get(receipt_url(paid_loan.payments.get()))

    assert response.status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in(client, paid_loan):
    response = client.get(receipt_url(paid_loan.payments.get()))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_receipt_is_reached_only_through_its_own_loan(client, supervisor, paid_loan):
    other = LoanFactory()
    payment = paid_loan.payments.get()
    client.force_login(supervisor)

    response = client.get(reverse("credits:payment_receipt", args=[other.pk, payment.pk]))

    assert response.status_code == 404


def test_a_payment_without_receipt_has_nothing_to_serve(client, supervisor, make_active_loan):
    loan = make_active_loan(start_date=date(2026, 1, 1))
    payment = payment_services.apply_payment(
        loan=loan,
        amount="100.00",
        received_on=date(2026, 1, 15),
        source=Payment.Source.CASH,
        actor=None,
    )
    client.force_login(supervisor)

    assert client.get(receipt_url(payment)).status_code == 404


def signed_contract(loan: Loan) -> LoanContract:
    contract = LoanContract.objects.create(
        loan=loan, signer_email="rosa@example.com", status=LoanContract.Status.COMPLETED
    )
    contract.signed_file.save("CR-1-contrato.pdf", ContentFile(b"%PDF-1.7 firmado"))
    return contract


def test_the_signed_contract_is_served_to_who_may_see_the_loan(client, asesor, agente):
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)
    contract = signed_contract(loan)
    url = reverse("credits:contract_file", args=[loan.pk, contract.pk])

    client.force_login(asesor)
    response = client.get(url)
    page = client.get(loan.get_absolute_url())
    client.force_login(agente)
    refused = client.get(url)

    assert b"".join(response.streaming_content) == b"%PDF-1.7 firmado"
    assertContains(page, f'href="{url}"')
    assert refused.status_code == 404


def test_admin_links_the_files_through_the_checking_views(admin_client, paid_loan):
    payment = paid_loan.payments.get()
    contract = signed_contract(paid_loan)

    payment_page = admin_client.get(reverse("admin:credits_payment_change", args=[payment.pk]))
    contract_page = admin_client.get(
        reverse("admin:credits_loancontract_change", args=[contract.pk])
    )

    assertContains(payment_page, f'href="{receipt_url(payment)}"')
    assertNotContains(payment_page, payment.receipt.name)
    contract_url = reverse("credits:contract_file", args=[paid_loan.pk, contract.pk])
    assertContains(contract_page, f'href="{contract_url}"')
    assertNotContains(contract_page, contract.signed_file.name)
