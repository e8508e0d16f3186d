"""From lead to loan at its edges: a lead decided twice from its page, the money the
timeline and the applicant read, an application whose loan was cancelled, and the times
page filtered by every key."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from credits.models import Loan
from credits.services import loans as loan_services
from crm.gestiones.applications import services as application_services
from crm.gestiones.models import CreditApplication, CreditLead, Gestion
from crm.gestiones.reports.timing import services as timing_services
from crm.models import Branch, Interaction
from tests.crm.gestiones import test_applications as application_services_test
from tests.crm.gestiones.test_applications import NOW, approve
from tests.factories import CustomerFactory, LoanProductFactory


def receive(lead, **kwargs):
    return application_services_test.receive(lead, None, **kwargs)


def test_discarding_a_lead_someone_already_decided_says_so(
    client, credit_type, lead, customer, asesor
):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = receive(typed).lead
    application_services.confirm_lead(lead=waiting, actor=asesor)
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:credit_lead_discard", args=[waiting.pk]),
        {"reason": "No es el cliente"},
        follow=True,
    )

    assertContains(response, "ya está «Convertido en solicitud»")
    waiting.refresh_from_db()
    assert waiting.status == CreditLead.Status.CONVERTED


def test_confirming_a_lead_says_what_became_of_the_applicants_confirmation(
    client, credit_type, lead, customer, asesor
):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = receive(typed).lead
    client.force_login(asesor)

    response = client.post(reverse("gestiones:credit_lead_confirm", args=[waiting.pk]), follow=True)

    assertContains(response, "confirmado: solicitud abierta")
    assertContains(response, "El cliente no tiene correo: no se le envió confirmación.")


def test_the_timeline_and_the_applicant_read_amounts_as_the_screens_write_them(
    credit_type, lead, asesor
):
    application = receive({**lead, "amount": "12500.50"}).application
    gestion = approve(application.gestion, asesor)

    ours = [
        summary
        for summary in gestion.customer.interactions.values_list("summary", flat=True)
        if "Lead de crédito" in summary or "aprobada" in summary
    ]
    assert any("S/ 12,500.50 en 12 cuotas" in summary for summary in ours)
    assert any("en borrador (S/ 12,500.50, 12 cuotas, 24 % anual)" in s for s in ours)
    assert not any("PEN" in summary for summary in ours)
    assert "S/ 12,500.50" in gestion.subject
    sent = gestion.customer.interactions.get(
        kind=Interaction.Kind.EMAIL, summary__contains="Recibimos su solicitud"
    )
    assert "por S/ 12,500.50 en 12 cuotas" in sent.payload["mensaje"]


def test_an_application_changed_shows_its_old_and_new_terms_as_screens_do(
    credit_type, lead, asesor, product
):
    application = receive(lead).application

    application_services.update_application(
        application=application,
        actor=asesor,
        product=product,
        amount=Decimal("12000.5"),
        term=12,
        annual_rate=Decimal("26.5"),
    )

    change = application.gestion.customer.interactions.get(summary__contains="modificada")
    assert change.payload["monto"] == "S/ 10,000.00 → S/ 12,000.50"
    assert change.payload["tasa nominal anual (%)"] == "— → 26.5"


def test_an_application_whose_loan_was_cancelled_may_be_edited_again(
    client, credit_type, lead, asesor
):
    application = receive(lead).application
    gestion = approve(application.gestion, asesor)
    loan = gestion.loans.get()
    loan_services.change_status(
        loan=loan, to=Loan.Status.CANCELLED, actor=asesor, reason="El cliente desistió"
    )
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    assertContains(response, reverse("gestiones:application_edit", args=[gestion.pk]))


def test_an_approved_application_whose_loan_was_cancelled_gets_a_new_draft_when_saved(
    client, credit_type, lead, asesor, product
):
    # The gestión stayed in «Aprobado análisis» with a cancelled loan: nothing could be
    # signed or disbursed, and no step led back.
    application = receive(lead).application
    gestion = approve(application.gestion, asesor)
    cancelled = gestion.loans.get()
    loan_services.change_status(
        loan=cancelled, to=Loan.Status.CANCELLED, actor=asesor, reason="Monto equivocado"
    )
    client.force_login(gestion.agent)

    response = client.post(
        reverse("gestiones:application_edit", args=[gestion.pk]),
        {"product": product.pk, "amount": "8000", "term": "12", "annual_rate": ""},
        follow=True,
    )

    application.refresh_from_db()
    gestion.refresh_from_db()
    loan = application.loan
    assert loan.pk != cancelled.pk
    assert (loan.status, loan.principal) == (Loan.Status.DRAFT, Decimal("8000.00"))
    assert set(gestion.loans.values_list("pk", flat=True)) == {cancelled.pk, loan.pk}
    assert gestion.amount_approved == Decimal("8000.00")
    assertContains(response, f"se hizo el crédito {loan.payment_code} en borrador")


def test_an_approved_application_is_not_offered_for_editing(client, credit_type, lead, asesor):
    application = receive(lead).application
    gestion = approve(application.gestion, asesor)
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    assertNotContains(response, reverse("gestiones:application_edit", args=[gestion.pk]))


def test_the_application_card_says_the_amount_is_the_one_asked_for(
    client, credit_type, lead, asesor
):
    gestion = receive(lead).application.gestion
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    assertContains(response, '<dt class="col-5">Monto solicitado</dt>')


# --- The times page, filtered by every key -------------------------------------------------


@pytest.fixture
def filtered_world(credit_type, asesor, time_machine):
    time_machine.move_to(NOW, tick=False)
    branch = Branch.objects.create(name="Centro", code="centro")
    product = LoanProductFactory(name="Vehicular")
    gestion = Gestion.objects.create(
        customer=CustomerFactory(),
        gestion_type=credit_type,
        state=credit_type.initial_state(),
        outcome=credit_type.initial_state().outcome,
        branch=branch,
        agent=asesor,
        created_at=NOW - datetime.timedelta(hours=2),
        state_entered_at=NOW - datetime.timedelta(hours=2),
    )
    CreditApplication.objects.create(
        gestion=gestion,
        loan_product=product,
        amount=Decimal("10000.00"),
        term=12,
        lead_received_at=NOW - datetime.timedelta(hours=2),
    )
    timing_services.refresh_times()
    return {"product": product.pk, "branch": branch.pk, "agent": asesor.pk}


def test_the_times_filtered_by_product_branch_and_advisor_still_show_their_total(
    client, supervisor, filtered_world
):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:application_times"), filtered_world)

    assertContains(response, 'id="times-selection"')
    assert response.context["report"].total.figure.applications == 1


def test_no_breaches_say_none_without_an_order(client, supervisor, filtered_world):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:application_times"))

    assertContains(response, 'id="no-breaches"')
    assertNotContains(response, "las más antiguas primero")


def test_the_leads_to_confirm_are_found_without_accents_or_capitals(
    client, credit_type, lead, customer, asesor
):
    customer.last_name = "Ramírez Ticona"
    customer.search_text = customer.build_search_text()
    customer.save()
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    receive(typed)
    client.force_login(asesor)

    response = client.get(reverse("gestiones:credit_leads"), {"q": "RAMIREZ"})

    assertContains(response, "Rosalía")


def test_the_gestions_subject_follows_the_application_changed(credit_type, lead, asesor, product):
    application = receive(lead).application

    application_services.update_application(
        application=application,
        actor=asesor,
        product=product,
        amount=Decimal("12000"),
        term=18,
        annual_rate=None,
    )

    application.gestion.refresh_from_db()
    assert application.gestion.subject == "Consumo 24 %: S/ 12,000.00 en 18 cuotas"


def test_a_subject_someone_wrote_is_left_as_it_is(credit_type, lead, asesor, product):
    application = receive(lead).application
    Gestion.objects.filter(pk=application.gestion_id).update(subject="Cliente preferente")

    application_services.update_application(
        application=application,
        actor=asesor,
        product=product,
        amount=Decimal("12000"),
        term=18,
        annual_rate=None,
    )

    application.gestion.refresh_from_db()
    assert application.gestion.subject == "Cliente preferente"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "0", "El monto debe ser mayor que cero."),
        ("amount", "10000000000", "El monto es demasiado grande."),
        ("term", "0", "El plazo debe estar entre 1 y 600 cuotas."),
        ("term", "601", "El plazo debe estar entre 1 y 600 cuotas."),
        ("annual_rate", "-1", "La tasa no puede ser negativa."),
        ("annual_rate", "5000", "La tasa no puede pasar de 1,000 % anual."),
        ("amount", "1000000000000", "El monto es demasiado grande."),
        # No exponents, and longer than anyone types a number (lib.fields): not a number.
        ("amount", "1e12", "Introduzca un número."),
        pytest.param("amount", "9" * 5000, "Introduzca un número.", id="5000-digits"),
        ("amount", "10000.001", "Use como máximo 2 decimales."),
        ("annual_rate", "25.12345", "Use como máximo 4 decimales."),
    ],
)
def test_the_application_form_says_its_bounds_in_plain_spanish(
    client, credit_type, lead, asesor, product, field, value, message
):
    gestion = receive(lead).application.gestion
    client.force_login(gestion.agent)
    typed = {"product": product.pk, "amount": "10000", "term": "12", "annual_rate": ""}

    response = client.post(
        reverse("gestiones:application_edit", args=[gestion.pk]), {**typed, field: value}
    )

    assertContains(response, message, count=1)
    assertNotContains(response, "Asegúrese")


def test_an_approved_application_opens_no_edit_form(client, credit_type, lead, asesor):
    application = receive(lead).application
    gestion = approve(application.gestion, asesor)
    client.force_login(gestion.agent)

    response = client.get(reverse("gestiones:application_edit", args=[gestion.pk]), follow=True)

    assert response.redirect_chain[-1][0] == gestion.get_absolute_url()
    assertContains(response, "Esta solicitud ya no cambia")
