from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits.investors import services as investor_services
from credits.models import Bucket, Installment, Loan, LoanContract, Payment
from credits.services import payments as payment_services
from tests import receipts
from tests.factories import (
    BranchFactory,
    CustomerFactory,
    InvestorFactory,
    LoanFactory,
    LoanProductFactory,
    UserFactory,
)

HTMX = {"HX-Request": "true"}


def _today():
    return timezone.localdate()


@pytest.fixture
def current_loan(make_active_loan, customer):
    """An active loan of 10,000 at 24 % in 12 monthly installments, none due yet."""
    return make_active_loan(
        customer=customer,
        start_date=_today() - timedelta(days=10),
        first_due_date=_today() + timedelta(days=20),
    )


def _first_installment(loan: Loan) -> Installment:
    return loan.installments.get(number=1, is_superseded=False)


def _pay(client, loan, **data):
    fields = {
        "amount": "945.60",
        "received_on": _today().isoformat(),
        "source": Payment.Source.CASH,
        "reference": "",
        "receipt_url": "",
        "overpayment": Payment.Overpayment.CREDIT,
        **data,
    }
    return client.post(reverse("credits:payment_create", args=[loan.pk]), fields)


# --- List -------------------------------------------------------------------------------


def test_call_center_agents_and_users_without_a_role_are_refused_the_loan_list(
    client, agente, outsider, current_loan
):
    for user in (agente, outsider):
        client.force_login(user)

        assert client.get(reverse("credits:loan_list")).status_code == 403
        assert client.get(current_loan.get_absolute_url()).status_code == 403


def test_collections_may_see_the_list_and_a_loan_but_not_create_one(
    client, cobranzas, current_loan
):
    client.force_login(cobranzas)

    assert client.get(reverse("credits:loan_list")).status_code == 200
    assert client.get(current_loan.get_absolute_url()).status_code == 200
    assert client.get(reverse("credits:loan_create")).status_code == 403


def test_the_navbar_offers_loans_to_advisors_and_the_portfolio_to_supervisors(
    client, asesor, supervisor
):
    client.force_login(asesor)
    page = client.get(reverse("credits:loan_list"))
    assertContains(page, reverse("credits:loan_list"))
    assertNotContains(page, reverse("credits:portfolio_report"))

    client.force_login(supervisor)
    assertContains(client.get(reverse("credits:loan_list")), reverse("credits:portfolio_report"))


def test_the_list_finds_a_loan_by_its_exact_payment_code(client, asesor):
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán")
    LoanFactory(payment_code="1234567897", customer=rosa)
    juan = CustomerFactory(first_name="Juan", last_name="Pérez")
    LoanFactory(payment_code="1234567800", customer=juan)
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_list"), {"q": "1234567897"})

    assertContains(response, "Rosa")
    assertNotContains(response, "Juan")
    assertContains(response, "1 crédito")


def test_a_payment_code_finds_its_loan_and_the_loans_of_a_customer_whose_text_has_it(
    client, asesor
):
    # Last names fixed: the factory's random ones include "Juan" (a failed run).
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán")
    LoanFactory(payment_code="1234567897", customer=rosa)
    zoila = CustomerFactory(first_name="Zoila", last_name="Quispe", document_number="1234567897")
    LoanFactory(customer=zoila)
    LoanFactory(customer=CustomerFactory(first_name="Juan", last_name="Pérez"))
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_list"), {"q": "1234567897"})

    assertContains(response, "Rosa")
    assertContains(response, "Zoila")
    assertNotContains(response, "Juan")
    assertContains(response, "2 créditos")


def test_the_list_finds_loans_by_document_number_or_by_name_without_accents(
    client, asesor, customer
):
    LoanFactory(customer=customer)
    LoanFactory(customer=CustomerFactory(first_name="Juan", last_name="Pérez"))
    client.force_login(asesor)

    by_document = client.get(reverse("credits:loan_list"), {"q": "45678912"})
    by_name = client.get(reverse("credits:loan_list"), {"q": "huaman rosa"})

    for response in (by_document, by_name):
        assertContains(response, "Rosa Huamán Torres")
        assertNotContains(response, "Juan")


def test_the_list_filters_by_status_product_and_branch(client, asesor, make_active_loan):
    moto = LoanProductFactory(name="Moto al toque")
    lima = BranchFactory(name="Lima Centro")
    make_active_loan(product=moto, branch=lima, customer=CustomerFactory(first_name="Zoila"))
    LoanFactory(product=moto, branch=lima, customer=CustomerFactory(first_name="Yolanda"))
    LoanFactory(customer=CustomerFactory(first_name="Wilmer"))
    client.force_login(asesor)

    response = client.get(
        reverse("credits:loan_list"),
        {"status": Loan.Status.ACTIVE, "product": moto.pk, "branch": lima.pk},
    )

    assertContains(response, "Zoila")
    assertNotContains(response, "Yolanda")
    assertNotContains(response, "Wilmer")


def test_the_list_filters_by_aging_bucket_and_shows_days_past_due(client, asesor, make_active_loan):
    late = make_active_loan(customer=CustomerFactory(first_name="Atrasada"))
    Loan.objects.filter(pk=late.pk).update(days_past_due=45, bucket=Bucket.D31_60)
    make_active_loan(customer=CustomerFactory(first_name="Puntual"))
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_list"), {"bucket": Bucket.D31_60})

    assertContains(response, "Atrasada")
    assertContains(response, "31–60 días")
    assertNotContains(response, "Puntual")


def test_the_list_shows_the_outstanding_principal_and_sorts_by_it(
    client, asesor, current_loan, make_active_loan
):
    make_active_loan(principal=Decimal("2500.00"), customer=CustomerFactory(first_name="Chico"))
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_list"), {"sort": "outstanding"})

    content = response.content.decode()
    assert content.index("2,500.00") < content.index("10,000.00")


def test_an_htmx_search_gets_only_the_results_fragment(client, asesor, current_loan):
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_list"), {"q": "Rosa"}, headers=HTMX)

    assertTemplateUsed(response, "credits/partials/loan_results.html")
    assertNotContains(response, "<nav")
    assertContains(response, current_loan.payment_code)
    assert response["HX-Push-Url"] == reverse("credits:loan_list") + "?q=Rosa"


def test_the_list_pages_by_25(client, asesor):
    LoanFactory.create_batch(30)
    client.force_login(asesor)

    page2 = client.get(reverse("credits:loan_list"), {"page": 2})

    assertContains(page2, "30 créditos")
    assert page2.content.decode().count('<tr id="loan-') == 5


# --- Detail -----------------------------------------------------------------------------


def _detail_queries(client, loan) -> int:
    # Once unmeasured: the first request after signing in also stamps the session, and
    # caches fill, as they are on a working day.
    client.get(reverse("credits:loan_detail", args=[loan.pk]))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("credits:loan_detail", args=[loan.pk])).status_code == 200
    return len(queries)


def test_the_detail_costs_the_same_queries_however_many_payments_and_investors(
    client, supervisor, current_loan
):
    def pay_and_fund() -> None:
        payment_services.apply_payment(
            loan=current_loan,
            amount=Decimal("300.00"),
            received_on=_today(),
            source="cash",
            actor=None,
        )
        investor_services.add_participation(
            loan=current_loan, investor=InvestorFactory(), actor=None, share=Decimal("10")
        )

    client.force_login(supervisor)
    pay_and_fund()
    few = _detail_queries(client, current_loan)
    for _n in range(5):
        pay_and_fund()
    many = _detail_queries(client, current_loan)

    assert many == few


def test_the_detail_shows_the_schedule_payments_and_participations(
    client, supervisor, current_loan
):
    investor = InvestorFactory(name="Inversiones Andinas")
    investor_services.add_participation(
        loan=current_loan, investor=investor, actor=None, share=Decimal("40")
    )
    payment_services.apply_payment(
        loan=current_loan,
        amount=Decimal("945.60"),
        received_on=_today(),
        source=Payment.Source.CASH,
        actor=supervisor,
    )
    client.force_login(supervisor)

    response = client.get(current_loan.get_absolute_url())

    assertContains(response, current_loan.payment_code)
    assertContains(response, "Rosa Huamán Torres")
    assertContains(response, 'id="installment-12"')
    assertContains(response, "Pagada", count=1)
    assertContains(response, "Por vencer", count=11)
    assertContains(response, "945.60")
    assertContains(response, "interés 200.00")
    assertContains(response, "capital 745.60")
    assertContains(response, "Inversiones Andinas")
    assertContains(response, "4,000.00")
    assertContains(response, "Registrar pago")
    assertContains(response, "Castigar")
    assertContains(response, "Anular pago")


def test_the_detail_marks_overdue_installments(client, asesor, make_active_loan):
    loan = make_active_loan(
        start_date=_today() - timedelta(days=70), first_due_date=_today() - timedelta(days=40)
    )
    client.force_login(asesor)

    response = client.get(loan.get_absolute_url())

    assertContains(response, "Vencida", count=2)
    assertContains(response, 'data-state="overdue"', count=2)
    assertContains(response, "40 días de atraso")


def test_a_draft_shows_its_projected_schedule_and_its_actions(client, asesor):
    draft = LoanFactory(advisor=asesor)
    client.force_login(asesor)

    response = client.get(draft.get_absolute_url())

    assertContains(response, "Cronograma proyectado")
    assertContains(response, 'id="projected-12"')
    assertContains(response, "Enviar a firma")
    assertContains(response, f'href="/creditos/{draft.pk}/estado/?action=cancel"')
    assertNotContains(response, 'value="disburse"')
    assertNotContains(response, "Registrar pago")


def test_the_detail_offers_disbursing_only_to_who_may_disburse(client, asesor, supervisor):
    ready = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)

    client.force_login(asesor)
    assertNotContains(client.get(ready.get_absolute_url()), 'value="disburse"')
    client.force_login(supervisor)
    assertContains(client.get(ready.get_absolute_url()), 'value="disburse"')


def test_disbursing_a_loan_whose_first_due_day_passed_says_it_starts_overdue(client, supervisor):
    today = timezone.localdate()
    late = LoanFactory(
        status=Loan.Status.READY_TO_DISBURSE,
        start_date=today - timedelta(days=40),
        first_due_date=today - timedelta(days=10),
    )
    on_time = LoanFactory(
        status=Loan.Status.READY_TO_DISBURSE, start_date=today, first_due_date=today
    )
    client.force_login(supervisor)

    warned = client.get(late.get_absolute_url())

    assertContains(warned, 'id="first-due-passed"')
    assertContains(warned, "quedará vencida")
    assertNotContains(client.get(on_time.get_absolute_url()), 'id="first-due-passed"')


def test_the_detail_lists_contracts_with_their_signed_file_and_audit_links(client, asesor):
    loan = LoanFactory(status=Loan.Status.AWAITING_SIGNATURE)
    LoanContract.objects.create(
        loan=loan,
        signer_email="rosa@example.com",
        status=LoanContract.Status.DECLINED,
        audit_log_url="https://docuseal.example/audit/1",
    )
    client.force_login(asesor)

    response = client.get(loan.get_absolute_url())

    assertContains(response, "Rechazado")
    assertContains(response, "https://docuseal.example/audit/1")
    assertContains(response, 'value="resend_contract"')


# --- Create -----------------------------------------------------------------------------


def _loan_data(product, **overrides):
    return {
        "product": product.pk,
        "principal": "15000",
        "term": "24",
        "annual_rate": "",
        "start_date": _today().isoformat(),
        "first_due_date": "",
        "advisor": "",
        "branch": "",
        "vehicle_brand": "Toyota",
        "vehicle_model": "Yaris",
        "vehicle_year": "2022",
        "vehicle_plate": "abc-123",
        "vehicle_vin": "JTDBT923771234567",
        "notes": "",
        **overrides,
    }


def test_an_advisor_creates_a_loan_for_the_customer_given_in_the_address(client, asesor, customer):
    product = LoanProductFactory(annual_rate=Decimal("30.00"))
    client.force_login(asesor)
    url = reverse("credits:loan_create") + f"?customer={customer.pk}"

    page = client.get(url)
    response = client.post(url, _loan_data(product))

    assertContains(page, "Rosa Huamán Torres")
    loan = Loan.objects.get(customer=customer)
    assert response.status_code == 302
    assert response.url == loan.get_absolute_url()
    assert loan.status == Loan.Status.DRAFT
    assert loan.principal == Decimal("15000.00")
    assert loan.annual_rate == Decimal("30.00")
    assert loan.created_by == asesor
    assert (loan.vehicle_plate, loan.vehicle_vin) == ("ABC123", "JTDBT923771234567")


def test_the_customer_may_be_typed_by_document_number(client, asesor, customer):
    product = LoanProductFactory()
    client.force_login(asesor)

    client.post(reverse("credits:loan_create"), _loan_data(product, customer="45678912"))

    assert Loan.objects.filter(customer=customer).exists()


def test_an_amount_outside_the_product_is_refused_in_spanish(client, asesor, customer):
    product = LoanProductFactory(max_amount=Decimal("5000.00"))
    client.force_login(asesor)

    response = client.post(
        reverse("credits:loan_create") + f"?customer={customer.pk}", _loan_data(product)
    )

    assert response.status_code == 200
    assertContains(response, "El monto debe estar entre 100.00 y 5,000.00")
    assert not Loan.objects.exists()


def test_an_unknown_customer_document_is_refused(client, asesor):
    product = LoanProductFactory()
    client.force_login(asesor)

    response = client.post(reverse("credits:loan_create"), _loan_data(product, customer="99999999"))

    assertContains(response, "No hay un cliente con ese número de documento.")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("vehicle_plate", "AB-12", "La placa debe tener 6 o 7 letras y dígitos"),
        ("vehicle_vin", "JTDBT92377123456", "El VIN debe tener 17 caracteres."),
        ("vehicle_vin", "JTDBT9237712345IO", "nunca I, O ni Q"),
    ],
)
def test_a_bad_plate_or_vin_is_refused(client, asesor, customer, field, value, error):
    product = LoanProductFactory()
    client.force_login(asesor)

    response = client.post(
        reverse("credits:loan_create") + f"?customer={customer.pk}",
        _loan_data(product, **{field: value}),
    )

    assertContains(response, error)
    assert not Loan.objects.exists()


def test_the_preview_shows_the_installment_and_totals(client, asesor):
    product = LoanProductFactory(annual_rate=Decimal("24.00"))
    client.force_login(asesor)

    response = client.get(
        reverse("credits:loan_preview"),
        {"product": product.pk, "principal": "10000", "term": "12", "start_date": "2026-01-01"},
        headers=HTMX,
    )

    assertTemplateUsed(response, "credits/partials/loan_preview.html")
    assertContains(response, "945.60")  # the French installment
    assertContains(response, "1,347.15")  # total interest; the last installment is 945.55
    assertContains(response, "11,347.15")
    assertContains(response, "01/02/2026")


def test_the_preview_answers_bad_input_with_200_and_the_error(client, asesor):
    product = LoanProductFactory(max_term=36)
    client.force_login(asesor)

    response = client.get(
        reverse("credits:loan_preview"),
        {"product": product.pk, "principal": "diez mil", "term": "48", "start_date": "2026-01-01"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assertContains(response, "Introduzca un número.")
    assertContains(response, "El plazo debe estar entre 1 y 36 cuotas")


def test_the_preview_asks_for_the_figures_before_they_are_filled(client, asesor):
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_preview"), {"principal": ""}, headers=HTMX)

    assertContains(response, 'id="preview-hint"')
    assertNotContains(response, 'id="preview-errors"')


# --- Payments ---------------------------------------------------------------------------


def test_the_same_payment_sent_twice_is_refused_until_said_to_be_another(
    client, cobranzas, current_loan
):
    """A double click on «Registrar pago» credited the loan twice."""
    client.force_login(cobranzas)
    _pay(client, current_loan, amount="10.00", reference="OP-1")

    repeated = _pay(client, current_loan, amount="10.00", reference="OP-1")
    another = _pay(client, current_loan, amount="10.00", reference="OP-1", repeat_ok="on")

    assert repeated.status_code == 200
    assertContains(repeated, "Usted registró un pago igual hace un momento")
    assertContains(repeated, 'name="repeat_ok"')
    assert another.status_code == 302
    assert Payment.objects.filter(loan=current_loan, reference="OP-1").count() == 2


def test_the_payment_form_does_not_offer_another_payment_from_the_start(
    client, cobranzas, current_loan
):
    client.force_login(cobranzas)

    response = client.get(reverse("credits:payment_create", args=[current_loan.pk]))

    assertNotContains(response, 'name="repeat_ok"')


def test_the_payment_form_shows_what_is_due(client, cobranzas, current_loan):
    client.force_login(cobranzas)

    response = client.get(reverse("credits:payment_create", args=[current_loan.pk]))

    assertContains(response, 'data-figure="with-next"')
    assertContains(response, "945.60")
    assertContains(response, "Dejar como saldo a favor")
    assertContains(response, "el crédito termina antes")


def test_a_payment_through_the_view_pays_the_installment_and_shows_its_allocation(
    client, cobranzas, current_loan
):
    client.force_login(cobranzas)

    response = _pay(client, current_loan)
    page = client.get(response.url)

    assert response.url == current_loan.get_absolute_url()
    assert _first_installment(current_loan).paid_on == _today()
    assertContains(page, "Pago de S/ 945.60 registrado: 945.60 aplicado a cuotas.")
    assertContains(page, "capital 745.60")


def test_an_overpayment_kept_as_credit_is_told_in_the_message(client, cobranzas, current_loan):
    client.force_login(cobranzas)

    response = _pay(client, current_loan, amount="1000.00")

    current_loan.refresh_from_db()
    assert current_loan.credit_balance == Decimal("54.40")
    assertContains(client.get(response.url), "54.40 a saldo a favor")


def test_an_overpayment_that_shortens_the_term_prepays_principal(client, cobranzas, current_loan):
    client.force_login(cobranzas)

    response = _pay(
        client, current_loan, amount="2000.00", overpayment=Payment.Overpayment.SHORTEN_TERM
    )

    payment = current_loan.payments.get()
    assert payment.prepaid_principal == Decimal("1054.40")
    assert current_loan.installments.filter(is_superseded=False).count() < 13
    assertContains(client.get(response.url), "1,054.40 prepagado a capital")


def test_a_transfer_needs_its_operation_number(client, cobranzas, current_loan):
    client.force_login(cobranzas)

    response = _pay(client, current_loan, source=Payment.Source.TRANSFER)

    assert response.status_code == 200
    assertContains(response, "Indique el número de operación")
    assert not current_loan.payments.exists()


def test_a_payment_keeps_its_pdf_receipt(client, cobranzas, current_loan):
    client.force_login(cobranzas)
    receipt = SimpleUploadedFile("voucher.pdf", receipts.PDF, "application/pdf")

    _pay(client, current_loan, source=Payment.Source.DEPOSIT, reference="0042", receipt=receipt)

    payment = current_loan.payments.get()
    assert payment.reference == "0042"
    assert payment.receipt.name.endswith(".pdf")


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("voucher.exe", b"MZ", "El comprobante debe ser un PDF, JPG o PNG."),
        ("voucher.pdf", b"GIF89a", "El archivo no es un PDF válido"),
        ("foto.png", b"\x89PNG\r\n\x1a\n" + b"0" * (5 * 1024 * 1024), "pesa más de 5 MB"),
        # Cut short, or a signature in front of nothing: no end of its kind.
        ("voucher.pdf", receipts.PDF[:-8], "El archivo no es un PDF válido, o está incompleto"),
        ("foto.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "no es un PNG válido, o está"),
        ("foto.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "no es un JPG válido, o está"),
        ("foto.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff", "no es un JPG válido, o está"),
    ],
)
def test_a_receipt_must_be_a_pdf_jpg_or_png_of_5_mb_at_most(
    client, cobranzas, current_loan, name, content, error
):
    client.force_login(cobranzas)

    response = _pay(client, current_loan, receipt=SimpleUploadedFile(name, content))

    assertContains(response, error)
    assert not current_loan.payments.exists()


def test_a_future_payment_date_is_refused_by_the_ledger_in_spanish(client, cobranzas, current_loan):
    client.force_login(cobranzas)

    response = _pay(client, current_loan, received_on=(_today() + timedelta(days=1)).isoformat())

    assertContains(response, "La fecha de pago no puede ser futura.")


def test_an_advisor_may_not_register_payments(client, asesor, current_loan):
    client.force_login(asesor)

    assert _pay(client, current_loan).status_code == 403


# --- Annul ------------------------------------------------------------------------------


def _applied_payment(loan: Loan) -> Payment:
    return payment_services.apply_payment(
        loan=loan,
        amount=Decimal("945.60"),
        received_on=_today(),
        source=Payment.Source.CASH,
        actor=None,
    )


def test_annulling_a_payment_needs_a_reason(client, supervisor, current_loan):
    payment = _applied_payment(current_loan)
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:payment_annul", args=[current_loan.pk, payment.pk]),
        {"reason": "", "confirm": "yes"},
        follow=True,
    )

    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED
    assertContains(response, "Indique el motivo de la anulación.")


def test_annulling_a_payment_reopens_its_installment_and_shows_the_reason(
    client, supervisor, current_loan
):
    payment = _applied_payment(current_loan)
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:payment_annul", args=[current_loan.pk, payment.pk]),
        {"reason": "Cheque sin fondos", "confirm": "yes"},
        follow=True,
    )

    payment.refresh_from_db()
    assert payment.status == Payment.Status.ANNULLED
    assert _first_installment(current_loan).paid_on is None
    assertContains(response, "Pago de S/ 945.60 anulado.")
    assertContains(response, "Cheque sin fondos")
    assertContains(response, "text-decoration-line-through")


def test_annulling_an_annulled_payment_shows_the_ledgers_error(client, supervisor, current_loan):
    payment = _applied_payment(current_loan)
    payment_services.annul_payment(payment=payment, actor=None, reason="Duplicado")
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:payment_annul", args=[current_loan.pk, payment.pk]),
        {"reason": "Otra vez", "confirm": "yes"},
        follow=True,
    )

    assertContains(response, "Este pago ya fue anulado el ")
    assertContains(response, "no se anuló otra vez.")


def test_advisors_may_not_annul_payments(client, asesor, current_loan):
    payment = _applied_payment(current_loan)
    client.force_login(asesor)

    response = client.post(
        reverse("credits:payment_annul", args=[current_loan.pk, payment.pk]),
        {"reason": "Error", "confirm": "yes"},
    )

    assert response.status_code == 403
    assertNotContains(client.get(current_loan.get_absolute_url()), "Anular pago")


def test_a_payment_is_annulled_only_under_its_own_loan(client, supervisor, make_active_loan):
    payment = _applied_payment(make_active_loan())
    other = make_active_loan()
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:payment_annul", args=[other.pk, payment.pk]),
        {"reason": "Error", "confirm": "yes"},
    )

    assert response.status_code == 404


# --- Transitions ------------------------------------------------------------------------


def _transition(client, loan, action, **data):
    # Sent from the action's confirmation page: cancelling and writing off ask there first
    # (tests/credits/test_confirm_pages.py); the other actions take no confirm field.
    confirm = {"confirm": "yes"} if action in ("cancel", "write_off") else {}
    return client.post(
        reverse("credits:loan_transition", args=[loan.pk]),
        {"action": action, **confirm, **data},
        follow=True,
    )


def test_disbursing_requires_the_disburse_permission(client, asesor, supervisor):
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)

    client.force_login(asesor)
    refused = _transition(client, loan, "disburse")
    client.force_login(supervisor)
    done = _transition(client, loan, "disburse")

    loan.refresh_from_db()
    assert refused.status_code == 403
    assert loan.status == Loan.Status.ACTIVE
    assertContains(done, "desembolsado")
    assert loan.installments.count() == 12


def test_disbursing_a_draft_is_refused_with_the_ledgers_message(client, supervisor):
    loan = LoanFactory()
    client.force_login(supervisor)

    response = _transition(client, loan, "disburse")

    assertContains(response, "Solo se desembolsa un crédito «Por desembolsar»")


def test_a_contract_signed_on_paper_makes_the_loan_ready_to_disburse(client, asesor, supervisor):
    loan = LoanFactory()

    client.force_login(asesor)
    refused = _transition(client, loan, "mark_signed", reason="En la sucursal")
    client.force_login(supervisor)
    no_reason = _transition(client, loan, "mark_signed", reason="")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.DRAFT
    done = _transition(client, loan, "mark_signed", reason="Firmado en la sucursal")

    assert refused.status_code == 403
    assertContains(no_reason, "Indique cómo se firmó el contrato")
    assertContains(done, "listo para desembolsar")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.READY_TO_DISBURSE
    assertContains(client.get(loan.get_absolute_url()), "Desembolsar")


def test_writing_off_needs_a_reason(client, supervisor, current_loan):
    client.force_login(supervisor)

    response = _transition(client, current_loan, "write_off", reason=" ")

    current_loan.refresh_from_db()
    assert current_loan.status == Loan.Status.ACTIVE
    assertContains(response, "Indique el motivo del castigo.")


def test_a_supervisor_writes_off_an_active_loan_with_a_reason(client, supervisor, current_loan):
    client.force_login(supervisor)

    _transition(client, current_loan, "write_off", reason="Cliente no ubicable")

    current_loan.refresh_from_db()
    assert current_loan.status == Loan.Status.WRITTEN_OFF


def test_an_advisor_may_not_write_off(client, asesor, current_loan):
    client.force_login(asesor)

    assert _transition(client, current_loan, "write_off", reason="x").status_code == 403


@pytest.fixture
def docuseal(settings):
    settings.DOCUSEAL_API_KEY = "key-123"
    settings.DOCUSEAL_TEMPLATE_ID = 77


def test_sending_for_signature_moves_the_draft_and_says_the_contract_is_queued(
    client, asesor, docuseal
):
    loan = LoanFactory(customer=CustomerFactory(email="rosa@example.com"))
    client.force_login(asesor)

    response = _transition(client, loan, "send_for_signature")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.AWAITING_SIGNATURE
    assert loan.contracts.get().signer_email == "rosa@example.com"
    assertContains(response, "en cola para DocuSeal, para la firma de rosa@example.com")
    assertNotContains(response, "enviado a firma")


def test_sending_for_signature_without_docuseal_says_it_is_not_configured(client, asesor):
    loan = LoanFactory(customer=CustomerFactory(email="rosa@example.com"))
    client.force_login(asesor)

    response = _transition(client, loan, "send_for_signature")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.DRAFT
    assert not loan.contracts.exists()
    assertContains(response, "DocuSeal no está configurado")
    assertContains(response, "Firmado en físico")
    assertNotContains(response, "Enviado a firma")


def test_sending_for_signature_without_an_email_shows_why_not(client, asesor):
    loan = LoanFactory(customer=CustomerFactory(email=""))
    client.force_login(asesor)

    response = _transition(client, loan, "send_for_signature")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.DRAFT
    assertContains(response, "El cliente no tiene correo electrónico")


def test_cancelling_a_draft_needs_a_reason(client, asesor):
    loan = LoanFactory(advisor=asesor)
    client.force_login(asesor)

    refused = _transition(client, loan, "cancel")
    _transition(client, loan, "cancel", reason="El cliente desistió")

    loan.refresh_from_db()
    assertContains(refused, "Indique el motivo de la anulación.")
    assert loan.status == Loan.Status.CANCELLED


@pytest.mark.parametrize(
    ("advisor", "status"),
    [
        ("another", Loan.Status.DRAFT),
        ("another", Loan.Status.READY_TO_DISBURSE),
        ("own", Loan.Status.AWAITING_SIGNATURE),
        ("own", Loan.Status.READY_TO_DISBURSE),
    ],
)
def test_an_advisor_cancels_only_their_own_draft(client, asesor, advisor, status):
    # Any advisor could annul any loan, another's signed one too (README: they create, send
    # to sign and read).
    owner = asesor if advisor == "own" else UserFactory(role="Asesor")
    loan = LoanFactory(advisor=owner, status=status)
    client.force_login(asesor)

    page = client.get(loan.get_absolute_url())
    response = _transition(client, loan, "cancel", reason="prueba")

    assert response.status_code == 403
    loan.refresh_from_db()
    assert loan.status == status
    assert "cancel" not in page.context["actions"]


def test_a_supervisor_cancels_another_advisors_loan_before_disbursement(client, supervisor, asesor):
    loan = LoanFactory(advisor=asesor, status=Loan.Status.READY_TO_DISBURSE)
    client.force_login(supervisor)

    _transition(client, loan, "cancel", reason="El cliente desistió")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.CANCELLED


def test_collections_may_not_cancel_a_loan(client, cobranzas):
    loan = LoanFactory()
    client.force_login(cobranzas)

    assert _transition(client, loan, "cancel", reason="x").status_code == 403


def test_the_credit_balance_is_applied_to_the_installments(client, cobranzas, current_loan):
    payment_services.apply_payment(
        loan=current_loan,
        amount=Decimal("1000.00"),
        received_on=_today(),
        source=Payment.Source.CASH,
        actor=None,
    )
    client.force_login(cobranzas)

    response = _transition(client, current_loan, "apply_credit")

    current_loan.refresh_from_db()
    assert current_loan.credit_balance == 0
    assertContains(response, "Saldo a favor de S/ 54.40 aplicado")


def test_an_unknown_action_is_refused(client, supervisor, current_loan):
    client.force_login(supervisor)

    response = _transition(client, current_loan, "delete")

    assert response.status_code == 200
    assertContains(response, "Elija una opción de la lista.")


# --- Participations ---------------------------------------------------------------------


def test_a_participation_over_100_percent_is_refused_with_a_message(
    client, supervisor, current_loan
):
    investor_services.add_participation(
        loan=current_loan, investor=InvestorFactory(), actor=None, share=Decimal("70")
    )
    investor = InvestorFactory(name="Fondo Sur")
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:participation_add", args=[current_loan.pk]),
        {"investor": investor.pk, "amount": "", "share": "40"},
        follow=True,
    )

    assertContains(response, "Las participaciones superarían el 100 %: queda 30 % por financiar.")
    assert current_loan.participations.count() == 1


def test_a_participation_added_through_htmx_returns_the_investor_list(
    client, supervisor, current_loan
):
    investor = InvestorFactory(name="Fondo Sur")
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:participation_add", args=[current_loan.pk]),
        {"investor": investor.pk, "amount": "2000", "share": ""},
        headers=HTMX,
    )

    assertTemplateUsed(response, "credits/partials/loan_participations.html")
    assertContains(response, "Fondo Sur")
    # 20, not Decimal's "2E+1".
    assertContains(response, "(20 %)")
    assert current_loan.participations.get().share == Decimal("20")


def test_a_participation_needs_an_amount_or_a_share_but_not_both(client, supervisor, current_loan):
    investor = InvestorFactory()
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:participation_add", args=[current_loan.pk]),
        {"investor": investor.pk, "amount": "100", "share": "10"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assertContains(response, "Indique el monto o el porcentaje, uno de los dos.")


def test_an_advisor_may_not_add_investors(client, asesor, current_loan):
    client.force_login(asesor)

    response = client.post(
        reverse("credits:participation_add", args=[current_loan.pk]),
        {"investor": InvestorFactory().pk, "share": "10"},
    )

    assert response.status_code == 403


def test_the_customer_page_links_to_their_loans_and_a_new_one(client, asesor, customer):
    client.force_login(asesor)

    response = client.get(reverse("crm:customer_detail", args=[customer.pk]))

    assertContains(response, f"{reverse('credits:loan_list')}?q={customer.document_number}")
    assertContains(response, f"{reverse('credits:loan_create')}?customer={customer.pk}")


def test_the_customer_page_hides_loan_links_from_those_without_the_permission(
    client, cobranzas, customer
):
    client.force_login(cobranzas)

    response = client.get(reverse("crm:customer_detail", args=[customer.pk]))

    assertContains(response, "Sus créditos")
    assertNotContains(response, reverse("credits:loan_create"))


@pytest.mark.parametrize("typed", ["\x00", "4567\x008912", "x" * 300, "²"])
def test_a_customer_typed_as_no_document_can_be_is_a_form_error(client, asesor, typed):
    # PostgreSQL refuses a NUL in a query's text: it never reaches one.
    client.force_login(asesor)

    response = client.post(reverse("credits:loan_create"), {"customer": typed})

    assert response.status_code == 200
    assertContains(response, "No hay un cliente con ese número de documento.")


def test_a_phone_photo_with_data_after_its_end_is_a_whole_jpg():
    from credits.forms import validate_receipt

    # A Samsung "motion photo": the JPG, then its video.
    photo = b"\xff\xd8\xff\xe1" + b"\x01" * 500 + b"\xff\xd9" + b"\x00\x00\x00\x18ftypmp42" * 400

    validate_receipt(SimpleUploadedFile("foto.jpg", photo, "image/jpeg"))


# --- The payments' list ---------------------------------------------------------------------


def _cash(loan, amount="10.00"):
    return payment_services.apply_payment(
        loan=Loan.objects.get(pk=loan.pk),
        amount=Decimal(amount),
        received_on=_today(),
        source=Payment.Source.CASH,
        actor=None,
    )


def test_only_the_newest_payment_offers_to_be_annulled(client, supervisor, current_loan):
    """Every payment carried an annul form the ledger then refused (newest first only)."""
    older, newer = _cash(current_loan), _cash(current_loan)
    client.force_login(supervisor)

    page = client.get(current_loan.get_absolute_url()).content.decode()

    assert reverse("credits:payment_annul", args=[current_loan.pk, newer.pk]) in page
    assert reverse("credits:payment_annul", args=[current_loan.pk, older.pk]) not in page
    assert "Los pagos se anulan del más reciente al más antiguo" in page


def test_a_loan_with_many_payments_lists_the_newest_and_offers_the_rest(
    client, supervisor, current_loan, monkeypatch
):
    from credits import selectors

    monkeypatch.setattr(selectors, "PAYMENTS_SHOWN", 3)
    payments = [_cash(current_loan, "1.00") for _ in range(5)]
    client.force_login(supervisor)

    page = client.get(current_loan.get_absolute_url()).content.decode()
    every = client.get(current_loan.get_absolute_url() + "?pagos=todos").content.decode()

    assert page.count('class="list-group-item payment-item"') == 3
    assert "Se muestran los 3 pagos más recientes de 5." in page
    assert f'id="payment-{payments[0].pk}"' not in page
    assert every.count('class="list-group-item payment-item"') == 5
    assert "Se muestran los" not in every
