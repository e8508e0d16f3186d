"""One very large record: its pages cost the same queries with a few rows as with many.

Each test measures a page for a record with a few rows, grows the record (bulk_create where
a service would take long, the services where the rows must add up), measures again and
compares the counts: a query per row (N+1) shows up as a difference, whatever the page's
fixed cost is today. No timings: the counts are what a slow machine cannot blur.

The pages already held to this elsewhere (the 360 page and its timeline, a conversation,
the lists, a gestión's follow-ups, the loan page's payments and investors, the portal's
statement, the bot's lookup, the effectiveness report) are not measured again here.

The admin's change and delete pages marked `xfail(strict=True)` cost a query per row
today (see each reason); when they are fixed the mark makes the test fail, so it is
removed and the test then guards the fix.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from credits.models import Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm.gestiones import examples
from crm.gestiones import services as gestion_services
from crm.gestiones.models import (
    Answer,
    Attachment,
    FollowUp,
    Gestion,
    Question,
    Survey,
    SurveyInvitation,
)
from integrations import api_clients
from recovery.models import CampaignPayment
from tests.credits.conftest import TODAY, at
from tests.factories import CustomerFactory, LoanFactory
from tests.recovery.conftest import make_campaign

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _frozen():
    """The credits tests' day: LoanFactory's loans have five installments due."""
    with at(TODAY):
        yield


def _active_loan(**kwargs) -> Loan:
    """A loan disbursed through the service at 09:00 of its start date."""
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE, **kwargs)
    disbursed_at = timezone.make_aware(datetime.combine(loan.start_date, time(9)))
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=disbursed_at)


@pytest.fixture
def make_gestion(db, asesor, supervisor):
    """Open a credit application (the example process) for a customer, worked by asesor."""
    process = examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor], supervisors=[supervisor]
    )

    def make(**kwargs) -> Gestion:
        kwargs.setdefault("customer", CustomerFactory())
        kwargs.setdefault("data", {"ingreso_mensual": "3500.00", "destino": "Consumo"})
        return gestion_services.create_gestion(gestion_type=process, agent=asesor, **kwargs)

    return make


def _queries(client, url: str, status: int = 200, **kwargs) -> list[str]:
    """The SQL one request runs, after a first request has warmed the session and caches."""
    client.get(url, **kwargs)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code)
    return [query["sql"] for query in captured.captured_queries]


def _pay(loan: Loan, amount: str, on: date) -> Payment:
    return payment_services.apply_payment(
        loan=loan, amount=Decimal(amount), received_on=on, source=Payment.Source.CASH, actor=None
    )


def _paid_and_annulled(loan: Loan, *, payments: int, annulled: int) -> None:
    """`payments` small payments a few days apart; the latest `annulled` of them annulled,
    newest first, as the ledger asks."""
    made = [_pay(loan, "50.00", date(2026, 1, 2) + timedelta(days=3 * n)) for n in range(payments)]
    for payment in reversed(made[-annulled:] if annulled else []):
        payment_services.annul_payment(payment=payment, actor=None, reason="Prueba")


# --- A loan: its schedule, its payments annulled ------------------------------------------


def test_a_loans_page_costs_the_same_queries_for_12_or_120_installments_and_annulled_payments(
    client,
    supervisor,
):
    small = _active_loan(term=12)
    _paid_and_annulled(small, payments=1, annulled=0)
    big = _active_loan(term=120, customer=small.customer)
    _paid_and_annulled(big, payments=40, annulled=15)
    client.force_login(supervisor)

    few = _queries(client, small.get_absolute_url())
    many = _queries(client, big.get_absolute_url())

    assert len(many) == len(few)
    assert big.payments.filter(status=Payment.Status.ANNULLED).count() == 15


def test_the_book_apis_loan_costs_the_same_queries_for_12_or_120_installments(client, db):
    _client, token = api_clients.create_client(name="Libro", scopes="book")
    small = _active_loan(term=12)
    big = _active_loan(term=120, customer=small.customer)
    headers = {"Authorization": f"Bearer {token}"}

    def url(loan):
        return reverse("api-v1:book_loan_detail", args=[loan.payment_code])

    few = _queries(client, url(small), headers=headers)
    many = _queries(client, url(big), headers=headers)

    assert len(many) == len(few)
    assert len(client.get(url(big), headers=headers).json()["cuotas"]) == 120


# --- A customer with many loans -----------------------------------------------------------


def test_the_collections_page_of_a_customer_costs_the_same_queries_for_1_or_12_loans(
    client,
    supervisor,
):
    first = _active_loan()
    customer = first.customer
    _pay(first, "100.00", date(2026, 2, 3))
    client.force_login(supervisor)
    url = reverse("collections_app:customer_collections", args=[customer.pk])
    few = _queries(client, url)

    for n in range(11):
        loan = _active_loan(customer=customer, principal=Decimal(5000 + 100 * n))
        _pay(loan, "100.00", date(2026, 2, 3))

    assert len(_queries(client, url)) == len(few)


def test_the_customers_gestiones_card_costs_the_same_queries_for_3_or_60_gestiones(
    client, supervisor, make_gestion, asesor
):
    customer = CustomerFactory()
    for _n in range(3):
        make_gestion(customer=customer)
    client.force_login(supervisor)
    url = reverse("gestiones:customer", args=[customer.pk])
    few = _queries(client, url, headers=HTMX)

    base = Gestion.objects.filter(customer=customer).first()
    Gestion.objects.bulk_create(
        Gestion(
            customer=customer,
            gestion_type_id=base.gestion_type_id,
            state_id=base.state_id,
            agent=asesor,
            subject=f"Gestión {n}",
        )
        for n in range(57)
    )

    assert len(_queries(client, url, headers=HTMX)) == len(few)


# --- A gestión with many documents --------------------------------------------------------


def test_a_gestions_page_costs_the_same_queries_for_1_or_30_attachments(
    client, supervisor, make_gestion, asesor, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    gestion = make_gestion()
    follow_up = FollowUp.objects.filter(gestion=gestion).first()

    def attach(count: int, start: int) -> None:
        for n in range(start, start + count):
            attachment = Attachment(follow_up=follow_up, name=f"doc{n}.pdf", uploaded_by=asesor)
            attachment.file.save(f"doc{n}.pdf", ContentFile(b"%PDF-1.4\n"), save=True)

    attach(1, 0)
    client.force_login(supervisor)
    few = _queries(client, gestion.get_absolute_url())
    attach(29, 1)

    assert len(_queries(client, gestion.get_absolute_url())) == len(few)


# --- A written-off campaign with many payments --------------------------------------------


def test_a_recovery_campaigns_page_costs_the_same_queries_for_2_or_200_payments(
    client,
    supervisor,
):
    loan = _active_loan()
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    campaign = make_campaign(loan.customer, payment_code=loan.payment_code)

    def add_payments(count: int, start: int) -> None:
        CampaignPayment.objects.bulk_create(
            CampaignPayment(
                campaign=campaign,
                amount=Decimal("1.00"),
                received_on=TODAY - timedelta(days=n % 30),
                source="cash",
                reference=f"R{n}",
                recorded_by=supervisor,
                status=CampaignPayment.Status.ANNULLED if n % 4 == 0 else "applied",
                annulled_by=supervisor if n % 4 == 0 else None,
            )
            for n in range(start, start + count)
        )

    add_payments(2, 0)
    client.force_login(supervisor)
    url = reverse("recovery:campaign_detail", args=[campaign.pk])
    few = _queries(client, url)
    add_payments(198, 2)

    assert len(_queries(client, url)) == len(few)


# --- A survey with many answers -----------------------------------------------------------


def test_a_surveys_report_costs_the_same_queries_for_3_or_300_answers(
    client, supervisor, make_gestion, asesor
):
    survey = Survey.objects.create(name="Satisfacción", intro="Cuéntenos cómo le fue.")
    scale = Question.objects.create(survey=survey, text="¿Qué tal?", kind="scale", order=1)
    choice = Question.objects.create(
        survey=survey, text="¿Canal?", kind="choice", choices="Radio\nInternet", order=2
    )
    text = Question.objects.create(
        survey=survey, text="¿Algo más?", kind="text", is_required=False, order=3
    )
    base = make_gestion()

    def answer(count: int, start: int) -> None:
        gestiones = Gestion.objects.bulk_create(
            Gestion(
                customer_id=base.customer_id,
                gestion_type_id=base.gestion_type_id,
                state_id=base.state_id,
                agent=asesor,
            )
            for _n in range(count)
        )
        invitations = SurveyInvitation.objects.bulk_create(
            SurveyInvitation(
                gestion=gestion,
                survey=survey,
                token=f"tok{start + n:08d}",
                sent_at=base.created_at,
                answered_at=base.created_at,
            )
            for n, gestion in enumerate(gestiones)
        )
        Answer.objects.bulk_create(
            answer
            for n, invitation in enumerate(invitations)
            for answer in (
                Answer(invitation=invitation, question=scale, number=1 + n % 5),
                Answer(invitation=invitation, question=choice, text=["Radio", "Internet"][n % 2]),
                Answer(invitation=invitation, question=text, text=f"Comentario {n}"),
            )
        )

    answer(1, 0)
    client.force_login(supervisor)
    url = reverse("gestiones:survey_report", args=[survey.pk])
    few = _queries(client, url)
    answer(100, 1)

    assert len(_queries(client, url)) == len(few)


# --- Django admin: what it shows of a large record ----------------------------------------


def test_the_loans_admin_page_costs_the_same_queries_for_12_or_120_installments(
    admin_client,
):
    small = _active_loan(term=12)
    big = _active_loan(term=120, customer=small.customer)

    def url(loan):
        return reverse("admin:credits_loan_change", args=[loan.pk])

    assert len(_queries(admin_client, url(big))) == len(_queries(admin_client, url(small)))


def test_the_gestions_admin_page_costs_the_same_queries_for_3_or_60_follow_ups(
    admin_client, make_gestion, asesor
):
    gestion = make_gestion()
    model = FollowUp.objects.filter(gestion=gestion).first()

    def add(count: int) -> None:
        FollowUp.objects.bulk_create(
            FollowUp(
                gestion=gestion,
                action_id=model.action_id,
                result_id=model.result_id,
                from_state_id=model.state_id,
                state_id=model.state_id,
                actor=asesor,
                notes=f"Seguimiento {n}",
            )
            for n in range(count)
        )

    add(2)
    url = reverse("admin:gestiones_gestion_change", args=[gestion.pk])
    few = _queries(admin_client, url)
    add(57)

    assert len(_queries(admin_client, url)) == len(few)


def test_the_customers_admin_delete_page_costs_the_same_queries_for_3_or_60_gestiones(
    admin_client, make_gestion, asesor
):
    """It listed every gestión (a query each) and the whole timeline, only to refuse:
    28 s for a customer with 20,000 entries. Now it is refused before collecting."""
    customer = CustomerFactory()
    for _n in range(3):
        make_gestion(customer=customer)
    url = reverse("admin:crm_customer_delete", args=[customer.pk])
    few = _queries(admin_client, url, status=403)

    base = Gestion.objects.filter(customer=customer).first()
    Gestion.objects.bulk_create(
        Gestion(
            customer=customer,
            gestion_type_id=base.gestion_type_id,
            state_id=base.state_id,
            agent=asesor,
        )
        for _n in range(57)
    )

    assert len(_queries(admin_client, url, status=403)) == len(few)


def test_a_customer_nothing_protects_may_still_be_deleted_in_admin(admin_client):
    customer = CustomerFactory()

    response = admin_client.get(reverse("admin:crm_customer_delete", args=[customer.pk]))

    assert response.status_code == 200
