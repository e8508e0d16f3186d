"""From lead to loan: a lead becomes a customer's credit application (or waits to be
confirmed), approval makes its draft loan, the contract goes to every signer, and the
disbursement closes the gestión."""

import copy
import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest
import responses
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from credits.models import Loan, LoanContract, LoanContractSigner
from credits.services import contracts as contract_services
from credits.services import loans as loan_services
from crm.gestiones import services
from crm.gestiones.applications import selectors as application_selectors
from crm.gestiones.applications import services as application_services
from crm.gestiones.models import (
    Campaign,
    CreditApplication,
    CreditLead,
    FollowUp,
    Gestion,
    Notification,
    Outcome,
)
from crm.messages import SendStatus
from crm.models import Customer, Interaction
from integrations.models import OutboxMessage
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory, UserFactory

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(hours=30)
FIXTURES = Path(__file__).parents[2] / "integrations" / "fixtures" / "docuseal"
API = "https://docuseal.test/api"
SECRET = "s3cr3t-webhook"
PDF = b"%PDF-1.7 signed"


def receive(lead, credit_type, **kwargs):
    kwargs.setdefault("source", "calculator")
    kwargs.setdefault("received_at", NOW)
    return application_services.receive_lead(data=lead, **kwargs)


def approve(gestion, actor, now=LATER):
    """Walk the example process to «Aprobado análisis»."""
    for action_name, result_name in (
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
        ("Resolver análisis", "Aprobado"),
    ):
        gestion.refresh_from_db()
        action, result = step(gestion, action_name, result_name)
        services.record_follow_up(
            gestion=gestion, actor=actor, action=action, result=result, now=now
        )
    gestion.refresh_from_db()
    return gestion


# --- Leads --------------------------------------------------------------------------------


def test_a_lead_from_a_new_person_registers_them_and_opens_their_application(
    credit_type, lead, product
):
    intake = receive(lead, credit_type)

    customer = Customer.objects.get(document_number="41234567")
    assert customer.first_name == "Lucía"
    assert customer.channel.code == "web"
    application = intake.application
    assert intake.lead.status == CreditLead.Status.CONVERTED
    assert application.gestion.customer == customer
    assert application.gestion.gestion_type == credit_type
    assert application.gestion.amount_requested == Decimal("10000.00")
    assert application.loan_product == product
    assert (application.amount, application.term) == (Decimal("10000.00"), 12)
    assert application.source == CreditApplication.Source.CALCULATOR
    assert application.lead_received_at == NOW
    assert application.gestion.created_at == NOW


def test_a_lead_whose_names_differ_only_in_case_and_accents_is_converted_for_the_customer(
    credit_type, lead
):
    rosa = CustomerFactory(
        document_number="41234567",
        first_name="Lucía",
        last_name="Paredes Vega",
        email="lucia@example.com",
        phone="+51987654321",
    )

    intake = receive({**lead, "first_name": "LUCIA", "last_name": "paredes  vega"}, credit_type)

    assert intake.lead.status == CreditLead.Status.CONVERTED
    assert intake.application.gestion.customer == rosa
    assert Customer.objects.count() == 1


def test_a_lead_whose_data_differ_waits_to_be_confirmed_and_changes_nothing(
    credit_type, lead, customer, supervisor
):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}

    intake = receive(typed, credit_type)

    customer.refresh_from_db()
    assert intake.is_to_confirm
    assert intake.application is None
    assert intake.lead.customer == customer
    assert customer.first_name == "Rosa" and customer.email == ""
    assert not Gestion.objects.exists()
    entry = customer.interactions.get(summary__contains="por confirmar")
    assert entry.payload["Nombres"] == "Rosa → Rosalía"
    assert entry.payload["Correo electrónico"] == "— → lucia@example.com"
    assert Notification.objects.filter(recipient=supervisor, gestion=None).exists()


def test_confirming_a_lead_opens_the_application_for_that_customer_as_registered(
    credit_type, lead, customer, asesor
):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = receive(typed, credit_type).lead

    intake = application_services.confirm_lead(lead=waiting, actor=asesor, now=LATER)

    customer.refresh_from_db()
    assert customer.first_name == "Rosa"
    assert intake.lead.status == CreditLead.Status.CONVERTED
    assert intake.lead.decided_by == asesor
    assert intake.application.gestion.customer == customer
    assert intake.application.lead_received_at == NOW
    assert intake.application.gestion.created_at == LATER
    confirmed = customer.interactions.get(summary__contains="confirmado como este cliente")
    assert confirmed.payload["Nombres"] == "Rosa → Rosalía"


def test_a_decided_lead_is_not_decided_again(credit_type, lead, customer, asesor):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = receive(typed, credit_type).lead
    application_services.confirm_lead(lead=waiting, actor=asesor)

    with pytest.raises(ValidationError, match="ya está"):
        application_services.confirm_lead(lead=waiting, actor=asesor)

    assert CreditApplication.objects.count() == 1


def test_discarding_a_lead_needs_a_reason_and_leaves_it_on_the_timeline(
    credit_type, lead, customer, asesor
):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = receive(typed, credit_type).lead

    with pytest.raises(ValidationError):
        application_services.discard_lead(lead=waiting, actor=asesor, reason="  ")
    application_services.discard_lead(lead=waiting, actor=asesor, reason="No es el cliente")

    waiting.refresh_from_db()
    assert waiting.status == CreditLead.Status.DISCARDED
    assert customer.interactions.filter(summary__contains="descartado: No es el cliente").exists()
    assert not Gestion.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "50000", "El monto debe estar entre 1,000.00 y 30,000.00"),
        ("term", 48, "El plazo debe estar entre 6 y 36 cuotas"),
        ("annual_rate", "45", "La tasa debe estar entre 20 % y 30 % anual"),
        ("amount", "-5", "mayor que cero"),
        ("amount", "1e400", "demasiado grande"),
        ("amount", "NaN", "Ingrese un número"),
        ("amount", "10.005", "como máximo 2 decimales"),
        ("term", "mucho", "Ingrese el plazo"),
        ("document_number", "123", "8 dígitos"),
        ("email", "no-es-correo", "correo electrónico válido"),
        ("product", "999999", "producto de crédito activo"),
    ],
)
def test_a_lead_out_of_bounds_is_refused_in_spanish_and_writes_nothing(
    credit_type, lead, field, value, message
):
    with pytest.raises(ValidationError) as error:
        receive({**lead, field: value}, credit_type)

    assert message in " ".join(error.value.message_dict[field])
    assert not Customer.objects.exists()
    assert not CreditLead.objects.exists()


def test_the_same_lead_sent_twice_opens_one_application(credit_type, lead):
    first = receive(lead, credit_type)

    again = receive(lead, credit_type, received_at=NOW + datetime.timedelta(seconds=5))

    assert again.is_repeated
    assert again.lead == first.lead
    assert CreditApplication.objects.count() == 1
    assert CreditLead.objects.count() == 1


def test_without_a_credit_application_process_the_lead_is_refused(db, lead):
    with pytest.raises(ValidationError, match="solicitud de crédito"):
        receive(lead, None)

    assert not Customer.objects.exists()


def test_the_application_goes_to_the_least_loaded_agent(
    credit_type, lead, make_gestion, asesor, asesor2
):
    make_gestion(agent=asesor)
    make_gestion(agent=asesor)

    intake = receive(lead, credit_type)

    assert intake.application.gestion.agent == asesor2


def test_the_agent_is_notified_of_the_new_application(credit_type, lead):
    intake = receive(lead, credit_type)

    gestion = intake.application.gestion
    notification = Notification.objects.get(recipient=gestion.agent, gestion=gestion)
    assert notification.kind == Notification.Kind.ASSIGNED
    assert "Solicitud de crédito" in notification.message


def test_the_applicant_gets_a_confirmation_queued_and_the_timeline_says_queued(credit_type, lead):
    intake = receive(lead, credit_type)

    assert intake.confirmation.status == SendStatus.QUEUED
    message = OutboxMessage.objects.get(payload__to="lucia@example.com")
    assert "Recibimos su solicitud de crédito" in message.payload["subject"]
    assert "10,000.00" in message.payload["body"]
    entry = intake.application.gestion.customer.interactions.get(kind=Interaction.Kind.EMAIL)
    assert entry.summary.startswith("Correo en cola: Recibimos su solicitud de crédito")


def test_an_applicant_without_email_gets_no_confirmation_and_the_timeline_says_why(
    credit_type, lead
):
    intake = receive({**lead, "email": ""}, credit_type)

    assert intake.confirmation.status == SendStatus.NO_ADDRESS
    assert not OutboxMessage.objects.filter(destination="crm.customer_message").exists()
    assert intake.application.gestion.customer.interactions.filter(
        summary__contains="no tiene correo registrado"
    ).exists()


def test_every_step_of_the_lead_is_on_the_customer_timeline(credit_type, lead):
    intake = receive(lead, credit_type)

    summaries = list(
        intake.application.gestion.customer.interactions.values_list("summary", flat=True)
    )
    assert any("Lead de crédito" in s and "recibido (Calculadora web)" in s for s in summaries)
    assert any("abierta: Solicitud de crédito" in s for s in summaries)
    assert any("convertido en la solicitud" in s for s in summaries)


def test_a_campaign_lead_keeps_its_campaign_and_goes_to_its_agents(
    credit_type, lead, asesor, asesor2
):
    campaign = Campaign.objects.create(
        name="Feria vehicular",
        slug="feria",
        kind=Campaign.Kind.INBOUND,
        status=Campaign.Status.ACTIVE,
        gestion_type=credit_type,
    )
    campaign.agents.set([asesor2])

    intake = application_services.receive_campaign_lead(
        campaign=campaign, data=lead, received_at=NOW
    )

    gestion = intake.application.gestion
    assert gestion.campaign == campaign
    assert gestion.agent == asesor2
    assert intake.application.source == CreditApplication.Source.CAMPAIGN


def test_a_credit_campaigns_public_form_asks_for_the_credit_and_makes_a_lead(
    client, credit_type, product, asesor2, settings
):
    settings.RECAPTCHA_VERIFY_URL = "https://recaptcha.test/siteverify"
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    campaign = Campaign.objects.create(
        name="Feria vehicular",
        slug="feria",
        kind=Campaign.Kind.INBOUND,
        status=Campaign.Status.ACTIVE,
        gestion_type=credit_type,
    )
    campaign.agents.set([asesor2])
    url = reverse("campaign_form", args=["feria"])

    page = client.get(url)

    assertContains(page, 'name="amount"')
    assertContains(page, 'name="product"')
    form = {
        "document_type": "dni",
        "document_number": "41234567",
        "first_name": "Lucía",
        "last_name": "Paredes Vega",
        "phone": "987654321",
        "email": "lucia@example.com",
        "product": product.pk,
        "amount": "50000",
        "term": "12",
        "consent": "on",
        "recaptcha_token": "token",
    }
    with responses.RequestsMock() as google:
        answer = {
            "success": True,
            "score": 0.9,
            "action": "campaign",
            "hostname": "testserver",
        }
        google.add(responses.POST, settings.RECAPTCHA_VERIFY_URL, json=answer)
        google.add(responses.POST, settings.RECAPTCHA_VERIFY_URL, json=answer)
        # Above the product's limit: said on the form, nothing made.
        refused = client.post(url, form)
        assertContains(refused, "El monto debe estar entre")
        assert not CreditApplication.objects.exists()

        response = client.post(url, {**form, "amount": "12000"})

    assert response.status_code == 302
    application = CreditApplication.objects.get()
    assert application.source == CreditApplication.Source.CAMPAIGN
    assert application.gestion.campaign == campaign
    assert application.gestion.agent == asesor2
    assert application.amount == Decimal("12000.00")


# --- Approval and the draft loan ----------------------------------------------------------


def test_an_application_withdrawn_after_approval_cancels_its_waiting_loan(
    credit_type, lead, asesor
):
    application = receive(lead, credit_type).application
    gestion = approve(application.gestion, asesor)
    loan = gestion.loans.get()
    assert loan.status == Loan.Status.DRAFT

    action, result = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    services.record_follow_up(
        gestion=gestion, actor=asesor, action=action, result=result, now=LATER
    )

    loan.refresh_from_db()
    assert loan.status == Loan.Status.CANCELLED
    assert Interaction.objects.filter(
        customer=gestion.customer, summary__contains="Anulado"
    ).exists()


def test_approving_makes_a_draft_loan_linked_both_ways(credit_type, lead, asesor, product):
    application = receive({**lead, "annual_rate": "26"}, credit_type).application

    gestion = approve(application.gestion, asesor)

    application.refresh_from_db()
    loan = application.loan
    assert gestion.state.name == "Aprobado análisis"
    assert application.approved_at == LATER
    assert loan.status == Loan.Status.DRAFT
    assert (loan.product, loan.principal, loan.term) == (product, Decimal("10000.00"), 12)
    assert loan.annual_rate == Decimal("26")
    assert list(gestion.loans.all()) == [loan]
    assert loan.application == application
    assert gestion.amount_approved == Decimal("10000.00")
    assert gestion.customer.interactions.filter(summary__contains="aprobada: crédito").exists()


def test_an_approval_outside_the_product_range_is_refused_and_nothing_moves(
    credit_type, lead, asesor, product
):
    application = receive(lead, credit_type).application
    gestion = application.gestion
    for action_name, result_name in (
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ):
        gestion.refresh_from_db()
        action, result = step(gestion, action_name, result_name)
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)
    # The product's range changed after the application was made.
    product.max_rate = Decimal("22.00")
    product.annual_rate = Decimal("21.00")
    product.save()
    CreditApplication.objects.filter(pk=application.pk).update(annual_rate=Decimal("26"))
    gestion.refresh_from_db()
    action, result = step(gestion, "Resolver análisis", "Aprobado")
    steps = FollowUp.objects.count()

    with pytest.raises(ValidationError) as error:
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    assert "No se puede aprobar la solicitud" in error.value.messages[0]
    assert "La tasa debe estar entre 20 % y 22 % anual" in error.value.messages[0]
    gestion.refresh_from_db()
    application.refresh_from_db()
    assert gestion.state.name == "En estudio"
    assert application.loan is None and application.approved_at is None
    assert FollowUp.objects.count() == steps
    assert not Loan.objects.exists()


def test_a_product_that_asks_for_a_cosigner_is_not_approved_without_one(
    credit_type, lead, asesor, product
):
    product.requires_cosigner = True
    product.save()
    application = receive(lead, credit_type).application

    with pytest.raises(ValidationError, match="exige un aval"):
        approve(application.gestion, asesor)

    assert not Loan.objects.exists()


def test_the_cosigner_of_the_application_goes_to_the_loan(credit_type, lead, asesor, product):
    product.requires_cosigner = True
    product.save()
    typed = {**lead, "cosigner_name": "Jorge Paredes", "cosigner_email": "jorge@example.com"}
    application = receive(typed, credit_type).application

    approve(application.gestion, asesor)

    application.refresh_from_db()
    assert application.loan.cosigner_name == "Jorge Paredes"
    assert application.loan.cosigner_email == "jorge@example.com"


def test_the_disbursed_state_is_not_reached_by_hand_while_the_loan_waits(credit_type, lead, asesor):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    action, result = step(gestion, "Desembolsar", "Desembolso realizado")

    with pytest.raises(ValidationError, match="sola cuando se desembolsa"):
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    gestion.refresh_from_db()
    assert gestion.state.name == "Aprobado análisis"


def test_an_approved_amount_after_the_approval_must_be_the_loans(credit_type, lead, asesor):
    """A later step wrote S/ 99,999,999 as approved while the loan lent 10,000."""
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    action, result = step(gestion, "Contactar al cliente", "Contactado")

    with pytest.raises(ValidationError) as error:
        services.record_follow_up(
            gestion=gestion,
            actor=asesor,
            action=action,
            result=result,
            amount_approved=Decimal("99999999"),
        )

    assert "ya se aprobó con el crédito" in error.value.message_dict["amount_approved"][0]
    assert "S/ 10,000.00" in error.value.message_dict["amount_approved"][0]
    gestion.refresh_from_db()
    assert gestion.amount_approved == Decimal("10000.00")


def test_an_approved_amount_before_the_approval_is_refused(credit_type, lead, asesor):
    gestion = receive(lead, credit_type).application.gestion
    action, result = step(gestion, "Revisar documentos", "Documentos completos")

    with pytest.raises(ValidationError) as error:
        services.record_follow_up(
            gestion=gestion,
            actor=asesor,
            action=action,
            result=result,
            amount_approved=Decimal("6000"),
        )

    assert "con el resultado que aprueba" in error.value.message_dict["amount_approved"][0]
    gestion.refresh_from_db()
    assert gestion.amount_approved is None


def test_the_approving_step_lends_the_amount_it_approves(credit_type, lead, asesor):
    gestion = receive(lead, credit_type).application.gestion
    for action_name, result_name in (
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ):
        gestion.refresh_from_db()
        action, result = step(gestion, action_name, result_name)
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)
    gestion.refresh_from_db()
    action, result = step(gestion, "Resolver análisis", "Aprobado")

    services.record_follow_up(
        gestion=gestion, actor=asesor, action=action, result=result, amount_approved=Decimal("8000")
    )

    gestion.refresh_from_db()
    assert gestion.amount_approved == Decimal("8000.00")
    assert gestion.loans.get().principal == Decimal("8000.00")


def test_a_gestion_without_application_is_approved_as_before(make_gestion, asesor):
    gestion = approve(make_gestion(actor=asesor), asesor)

    assert gestion.state.name == "Aprobado análisis"
    assert not Loan.objects.exists()


def test_an_application_is_changed_until_it_is_approved(credit_type, lead, asesor, product):
    application = receive(lead, credit_type).application

    application_services.update_application(
        application=application,
        actor=asesor,
        product=product,
        amount=Decimal("12000.00"),
        term=18,
        annual_rate=Decimal("22"),
    )
    approve(application.gestion, asesor)

    application.refresh_from_db()
    assert (application.loan.principal, application.loan.term) == (Decimal("12000.00"), 18)
    assert application.gestion.customer.interactions.filter(
        summary__contains="modificada", payload__monto="S/ 10,000.00 → S/ 12,000.00"
    ).exists()
    with pytest.raises(ValidationError, match="ya fue aprobada"):
        application_services.update_application(
            application=application,
            actor=asesor,
            product=product,
            amount=Decimal("5000.00"),
            term=12,
            annual_rate=None,
        )


# --- Cuentas por gestión ------------------------------------------------------------------


def test_a_loan_of_the_same_customer_is_linked_and_unlinked_on_the_timeline(
    make_gestion, customer, asesor
):
    gestion = make_gestion(actor=asesor)
    loan = LoanFactory(customer=customer)

    application_services.link_loan(gestion=gestion, loan=loan, actor=asesor)
    assert list(gestion.loans.all()) == [loan]
    application_services.unlink_loan(gestion=gestion, loan=loan, actor=asesor)

    assert not gestion.loans.exists()
    summaries = list(customer.interactions.values_list("summary", flat=True))
    assert (
        f"Gestión #{gestion.pk} · Crédito {loan.payment_code} vinculado a la gestión" in summaries
    )
    assert (
        f"Gestión #{gestion.pk} · Crédito {loan.payment_code} desvinculado de la gestión"
        in summaries
    )
    assert gestion.follow_ups.filter(notes__contains="vinculado").count() == 2


def test_another_customers_loan_is_not_linked(make_gestion, asesor):
    gestion = make_gestion(actor=asesor)

    with pytest.raises(ValidationError, match="mismo cliente"):
        application_services.link_loan(gestion=gestion, loan=LoanFactory(), actor=asesor)


def test_a_cancelled_loan_is_neither_offered_nor_linked(make_gestion, customer, asesor):
    gestion = make_gestion(actor=asesor)
    cancelled = LoanFactory(customer=customer, status=Loan.Status.CANCELLED)

    assert cancelled not in application_selectors.linkable_loans(gestion)
    with pytest.raises(ValidationError, match="está anulado"):
        application_services.link_loan(gestion=gestion, loan=cancelled, actor=asesor)
    assert not gestion.loans.exists()


def test_the_loan_of_the_application_stays_linked(credit_type, lead, asesor):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)

    with pytest.raises(ValidationError, match="es el de la solicitud"):
        application_services.unlink_loan(gestion=gestion, loan=gestion.loans.get(), actor=asesor)


# --- The contract, every signer -----------------------------------------------------------


@pytest.fixture
def docuseal(settings):
    settings.DOCUSEAL_BASE_URL = API
    settings.DOCUSEAL_API_KEY = "key-123"
    settings.DOCUSEAL_TEMPLATE_ID = 77
    settings.DOCUSEAL_WEBHOOK_SECRET = SECRET
    settings.DOCUSEAL_WEBHOOK_HEADER = "X-Docuseal-Secret"
    settings.DOCUSEAL_SIGNER_ROLE = "Cliente"
    settings.DOCUSEAL_COSIGNER_ROLE = "Aval"
    settings.DOCUSEAL_LENDER_ROLE = "Prestamista"
    settings.DOCUSEAL_LENDER_SIGNER_EMAIL = "gerencia@prestamista.pe"
    settings.DOCUSEAL_LENDER_SIGNER_NAME = "Carmen Ríos (gerente)"


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def created_submitters(*signers) -> list[dict]:
    """DocuSeal's answer to a new submission: one submitter per (id, role, email)."""
    base = fixture("create_submission_response")[0]
    return [
        {**base, "id": pk, "submission_id": 5, "role": role, "email": email, "slug": f"s{pk}"}
        for pk, role, email in signers
    ]


def signed_by(submitter_id: int, *, all_done: bool) -> dict:
    event = copy.deepcopy(fixture("form_completed"))
    event["data"].update(
        id=submitter_id,
        submission_id=5,
        completed_at=f"2026-11-03T1{submitter_id % 10}:00:00Z",
    )
    event["data"]["submission"].update(id=5, status="completed" if all_done else "pending")
    return event


def post_webhook(client, capture, body: dict):
    with capture(execute=True):
        return client.post(
            reverse("credits:docuseal_webhook"),
            data=json.dumps(body),
            content_type="application/json",
            headers={"X-Docuseal-Secret": SECRET},
        )


@pytest.fixture
def draft_with_cosigner(db, product):
    product.requires_cosigner = True
    product.contract_template_id = 88
    product.save()
    return LoanFactory(
        product=product,
        customer=CustomerFactory(
            first_name="Lucía", last_name="Paredes", email="lucia@example.com"
        ),
        cosigner_name="Jorge Paredes",
        cosigner_email="jorge@example.com",
        cosigner_document="40111222",
    )


@responses.activate
def test_the_contract_asks_the_borrower_the_cosigner_and_the_lender_in_that_order(
    docuseal, draft_with_cosigner, django_capture_on_commit_callbacks
):
    responses.post(
        f"{API}/submissions",
        json=created_submitters(
            (11, "Cliente", "lucia@example.com"),
            (12, "Aval", "jorge@example.com"),
            (13, "Prestamista", "gerencia@prestamista.pe"),
        ),
    )

    with django_capture_on_commit_callbacks(execute=True):
        contract = contract_services.send_for_signature(loan=draft_with_cosigner, actor=None)

    sent = json.loads(responses.calls[0].request.body)
    assert sent["template_id"] == 88
    assert sent["order"] == "preserved"
    assert [(s["role"], s["email"]) for s in sent["submitters"]] == [
        ("Cliente", "lucia@example.com"),
        ("Aval", "jorge@example.com"),
        ("Prestamista", "gerencia@prestamista.pe"),
    ]
    borrower_fields = {f["name"]: f["default_value"] for f in sent["submitters"][0]["fields"]}
    assert borrower_fields["Aval"] == "Jorge Paredes"
    assert "fields" not in sent["submitters"][2]
    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.SENT
    assert [(s.kind, s.submitter_id) for s in contract.signers.order_by("id")] == [
        ("borrower", 11),
        ("cosigner", 12),
        ("lender", 13),
    ]


@responses.activate
def test_the_loan_is_ready_to_disburse_only_when_every_signer_signed(
    docuseal, draft_with_cosigner, client, django_capture_on_commit_callbacks
):
    responses.post(
        f"{API}/submissions",
        json=created_submitters(
            (11, "Cliente", "lucia@example.com"),
            (12, "Aval", "jorge@example.com"),
            (13, "Prestamista", "gerencia@prestamista.pe"),
        ),
    )
    responses.get("https://docuseal.com/blobs/proxy/eyJfcmFpbHMiOnsib/document.pdf", body=PDF)
    with django_capture_on_commit_callbacks(execute=True):
        contract = contract_services.send_for_signature(loan=draft_with_cosigner, actor=None)

    post_webhook(client, django_capture_on_commit_callbacks, signed_by(11, all_done=False))
    post_webhook(client, django_capture_on_commit_callbacks, signed_by(12, all_done=False))

    loan = Loan.objects.get(pk=draft_with_cosigner.pk)
    assert loan.status == Loan.Status.AWAITING_SIGNATURE
    statuses = dict(contract.signers.values_list("kind", "status"))
    assert statuses == {"borrower": "completed", "cosigner": "completed", "lender": "pending"}
    assert loan.customer.interactions.filter(
        summary__contains="Jorge Paredes (aval) firmó el contrato"
    ).exists()

    post_webhook(client, django_capture_on_commit_callbacks, signed_by(13, all_done=True))

    loan.refresh_from_db()
    contract.refresh_from_db()
    assert loan.status == Loan.Status.READY_TO_DISBURSE
    assert contract.status == LoanContract.Status.COMPLETED
    assert contract.signed_file.read() == PDF
    assert not contract.signers.exclude(status=LoanContractSigner.Status.COMPLETED).exists()


def test_a_product_that_asks_for_a_cosigner_sends_no_contract_without_one(docuseal, product):
    product.requires_cosigner = True
    product.save()
    loan = LoanFactory(product=product, customer=CustomerFactory(email="lucia@example.com"))

    with pytest.raises(ValidationError, match="exige un aval"):
        contract_services.send_for_signature(loan=loan, actor=None)

    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.DRAFT
    assert not LoanContract.objects.exists()


def test_without_a_lender_representative_only_the_borrower_signs(docuseal, settings, db):
    settings.DOCUSEAL_LENDER_SIGNER_EMAIL = ""
    loan = LoanFactory(customer=CustomerFactory(email="lucia@example.com"))

    signers = contract_services.signers_for(loan)

    assert [(s.kind, s.role) for s in signers] == [("borrower", "Cliente")]


# --- Disbursement -------------------------------------------------------------------------


def test_disbursing_the_loan_moves_the_gestion_to_desembolsado(
    credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()
    loan_services.change_status(loan=loan, to=Loan.Status.READY_TO_DISBURSE, actor=supervisor)
    disbursed_at = LATER + datetime.timedelta(days=2)

    loan_services.disburse(loan=loan, actor=supervisor, disbursed_at=disbursed_at)

    gestion.refresh_from_db()
    assert gestion.state.name == "Desembolsado"
    assert gestion.outcome == Outcome.SUCCESS
    assert gestion.closed_at == disbursed_at
    assert loan.installments.count() == 12
    moved = gestion.follow_ups.get(state__name="Desembolsado")
    assert moved.notes == f"Crédito {loan.payment_code} desembolsado"
    assert moved.actor == supervisor


def test_a_disbursed_loan_leaves_a_closed_gestion_alone(make_gestion, customer, asesor):
    gestion = make_gestion(actor=asesor)
    loan = LoanFactory(customer=customer, status=Loan.Status.READY_TO_DISBURSE)
    application_services.link_loan(gestion=gestion, loan=loan, actor=asesor)
    action, result = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    loan_services.disburse(loan=loan, actor=None)

    gestion.refresh_from_db()
    assert gestion.state.name == "Desistido"


# --- Screens ------------------------------------------------------------------------------


VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"


@pytest.fixture
def google(settings):
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            VERIFY_URL,
            json={
                "success": True,
                "score": 0.9,
                "action": "credit_lead",
                "hostname": "testserver",
            },
        )
        yield mock


def test_the_calculator_credit_form_opens_the_application(client, credit_type, lead, google):
    response = client.post(
        reverse("calculator_credit"),
        {**lead, "consent": "on", "recaptcha_token": "token"},
        follow=True,
    )

    assertContains(response, "¡Gracias, Lucía! Recibimos su solicitud de crédito")
    assertContains(response, "Le enviaremos la confirmación a su correo.")
    application = CreditApplication.objects.get()
    assert application.source == CreditApplication.Source.CALCULATOR


def test_the_calculator_credit_form_says_the_product_limits_in_spanish(
    client, credit_type, lead, google
):
    response = client.post(
        reverse("calculator_credit"),
        {**lead, "amount": "50000", "consent": "on", "recaptcha_token": "token"},
    )

    assertContains(response, "El monto debe estar entre 1,000.00 y 30,000.00")
    assert not CreditLead.objects.exists()


def test_the_calculator_credit_form_says_a_fixed_term_once(client, credit_type):
    LoanProductFactory(name="Un pago", min_term=1, max_term=1)
    LoanProductFactory(name="Anual", min_term=12, max_term=12)

    text = " ".join(client.get(reverse("calculator_credit")).content.decode().split())

    assert "en 1 cuota</li>" in text and "en 12 cuotas</li>" in text
    assert "de 1 a 1" not in text and "de 12 a 12" not in text


def test_the_calculator_credit_form_starts_from_the_figures_simulated(client, credit_type):
    response = client.get(reverse("calculator_credit"), {"amount": "15000", "term": "oops"})

    assert response.status_code == 200
    assert response.context["form"].initial == {"amount": Decimal("15000")}


@pytest.mark.parametrize("username", ["outsider", "cobranzas"])
def test_the_leads_are_for_advisors_and_supervisors_only(client, username, outsider, cobranzas):
    client.force_login(UserFactory(username=username))

    response = client.get(reverse("gestiones:credit_leads"))

    assert response.status_code == 403


def test_an_advisor_confirms_a_lead_from_its_page(client, credit_type, lead, customer, asesor):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = receive(typed, credit_type).lead
    client.force_login(asesor)

    listed = client.get(reverse("gestiones:credit_leads"))
    page = client.get(reverse("gestiones:credit_lead", args=[waiting.pk]))
    response = client.post(reverse("gestiones:credit_lead_confirm", args=[waiting.pk]), follow=True)

    assertContains(listed, "Rosalía")
    assertContains(page, "distinto")
    assertContains(response, "confirmado: solicitud abierta")
    assert CreditApplication.objects.get().gestion.customer == customer


def test_the_leads_to_confirm_are_searched_filtered_and_paged(
    client, credit_type, lead, customer, asesor, settings
):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    receive(typed, credit_type)
    receive({**typed, "first_name": "Eusebia"}, credit_type, source="walk_in")
    client.force_login(asesor)
    url = reverse("gestiones:credit_leads")

    by_name = client.get(url, {"q": "rosal"})
    by_source = client.get(url, {"source": "walk_in"})
    none = client.get(url, {"q": "nadie", "source": "nada"})
    paged = client.get(url, {"page": "999"})

    assertContains(by_name, "Rosalía")
    assertNotContains(by_name, "Eusebia")
    assertContains(by_source, "Eusebia")
    assertNotContains(by_source, "Rosalía")
    assertContains(none, "Ningún lead por confirmar coincide")
    assert paged.status_code == 200 and paged.context["page"].number == 1


def test_an_advisor_types_a_walk_in_application(client, credit_type, lead, asesor):
    client.force_login(asesor)

    response = client.post(reverse("gestiones:application_create"), lead, follow=True)

    application = CreditApplication.objects.get()
    assert application.source == CreditApplication.Source.WALK_IN
    assertContains(response, "Solicitud de crédito abierta")
    assertContains(response, "está en cola para enviarse por correo")


def test_the_walk_in_form_starts_from_a_customer(client, credit_type, customer, asesor):
    client.force_login(asesor)

    response = client.get(reverse("gestiones:application_create"), {"customer": customer.pk})

    assert response.context["form"].initial["document_number"] == customer.document_number


def test_the_gestion_page_shows_the_application_and_its_loan(client, credit_type, lead, asesor):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    client.force_login(gestion.agent)

    response = client.get(gestion.get_absolute_url())

    loan = gestion.loans.get()
    assertContains(response, 'id="gestion-application"')
    assertContains(response, loan.payment_code)
    assertContains(response, "Borrador")


def test_the_loan_page_shows_its_gestion_and_application(client, credit_type, lead, asesor):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()
    client.force_login(asesor)

    page = client.get(loan.get_absolute_url())
    card = client.get(reverse("gestiones:loan_gestiones", args=[loan.pk]))

    assertContains(page, reverse("gestiones:loan_gestiones", args=[loan.pk]))
    assertContains(card, f"Solicitud de crédito de la gestión #{gestion.pk}")
    assertContains(card, gestion.get_absolute_url())


def test_the_loan_card_shows_no_gestion_the_user_may_not_see(
    client, credit_type, lead, asesor, cobranzas
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    client.force_login(cobranzas)

    card = client.get(reverse("gestiones:loan_gestiones", args=[gestion.loans.get().pk]))

    assertNotContains(card, gestion.get_absolute_url())


def test_an_agent_links_a_loan_from_the_gestion_page(client, make_gestion, customer, asesor):
    gestion = make_gestion(agent=asesor)
    loan = LoanFactory(customer=customer)
    client.force_login(asesor)

    page = client.get(gestion.get_absolute_url())
    client.post(reverse("gestiones:loan_link", args=[gestion.pk]), {"loan": loan.pk})

    assertContains(page, 'id="link-loan-form"')
    assert list(gestion.loans.all()) == [loan]
    client.post(reverse("gestiones:loan_unlink", args=[gestion.pk, loan.pk]))
    assert not gestion.loans.exists()


def test_someone_who_does_not_work_the_gestion_cannot_link_loans(
    client, make_gestion, customer, asesor, asesor2
):
    gestion = make_gestion(agent=asesor)
    loan = LoanFactory(customer=customer)
    client.force_login(asesor2)

    response = client.post(reverse("gestiones:loan_link", args=[gestion.pk]), {"loan": loan.pk})

    assert response.status_code in (403, 404)
    assert not gestion.loans.exists()


def test_the_application_is_edited_within_the_product_limits(
    client, credit_type, lead, asesor, product
):
    application = receive(lead, credit_type).application
    client.force_login(application.gestion.agent)
    url = reverse("gestiones:application_edit", args=[application.gestion_id])

    refused = client.post(url, {"product": product.pk, "amount": "99999", "term": 12})
    client.post(url, {"product": product.pk, "amount": "15000", "term": 24})

    assertContains(refused, "El monto debe estar entre 1,000.00 y 30,000.00")
    application.refresh_from_db()
    assert (application.amount, application.term) == (Decimal("15000.00"), 24)


# --- Demo ---------------------------------------------------------------------------------


def test_the_demo_has_applications_at_every_step_of_the_funnel(demo):
    applications = CreditApplication.objects.select_related("loan", "gestion__state")
    loan_statuses = {a.loan.status for a in applications if a.loan}

    assert CreditLead.objects.filter(status=CreditLead.Status.TO_CONFIRM).count() >= 2
    assert applications.filter(approved_at__isnull=True).exists()
    assert loan_statuses >= {
        Loan.Status.DRAFT,
        Loan.Status.AWAITING_SIGNATURE,
        Loan.Status.READY_TO_DISBURSE,
        Loan.Status.ACTIVE,
    }
    assert applications.filter(gestion__state__name="Desembolsado").count() == 4
    late = [
        a
        for a in applications.filter(approved_at__isnull=False)
        if a.approved_at - a.lead_received_at > datetime.timedelta(hours=24)
    ]
    assert late
